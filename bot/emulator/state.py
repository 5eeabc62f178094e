"""Pure in-memory state of the Telegram Bot API emulator.

Nothing here does I/O: the aiohttp server (``server.py``) parses HTTP requests into calls on
:class:`EmulatorState`, and a chat web page can drive the same object. Every Telegram-visible
failure is raised as :class:`EmulatorError` carrying the Bot API ``error_code``/``description``.

Model: one bot; users each have a private chat (chat id == user id) holding the full history of
both directions (:class:`StoredMessage`, including edits and deletions); an update queue for
``getUpdates`` or, while a webhook is set, for the server's webhook deliverer (handed out one
update per chat at a time: :meth:`EmulatorState.webhook_take`); uploaded/sent files; bot
commands per (scope, language); fault rules; a rate limiter; a call log.
:attr:`EmulatorState.version` increases on every change and registered
listeners are called, so a server can wake long-polls.
"""

from __future__ import annotations

import base64
import bisect
import copy
import functools
import hashlib
import json
import math
import mimetypes
import random
import re
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from bot.emulator.html_check import HtmlParseError, parse_html, utf16_len

__all__ = [
    "DEFAULT_UPDATE_TYPES",
    "FAULT_KINDS",
    "MAX_CALLBACK_DATA_BYTES",
    "MAX_CAPTION_LENGTH",
    "MAX_DOWNLOAD_SIZE",
    "MAX_TEXT_LENGTH",
    "CallRecord",
    "CallbackQueryRecord",
    "Chat",
    "EmuUser",
    "EmulatorError",
    "EmulatorState",
    "FaultRule",
    "StoredFile",
    "StoredMessage",
    "UploadedFile",
    "WebhookJob",
    "bad_request",
    "image_size",
    "is_sending_method",
    "token_bot_id",
]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
MAX_COMMANDS = 100
UPDATE_HISTORY = 10_000  # updates kept for redeliver_update()

FAULT_KINDS: frozenset[str] = frozenset({"429", "403", "timeout", "slow", "500", "network"})

#: Update types delivered when ``allowed_updates`` is empty/unset (Telegram's default).
DEFAULT_UPDATE_TYPES: frozenset[str] = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)

_TOKEN_RE = re.compile(r"^(\d+):[A-Za-z0-9_-]{30,}$")
_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")
# As Telegram's clients: a "/" next to "<" or ">" (``</script>``) is no command.
_BOT_COMMAND_RE = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w@/<>])")
#: MessageEntity types Telegram accepts (see :func:`_check_entities` for their extra fields).
_ENTITY_TYPES: frozenset[str] = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
    }
)
_SECRET_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_LANG_RE = re.compile(r"^[a-z]{2}$")
_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_SCOPE_TYPES = {
    "default": (),
    "all_private_chats": (),
    "all_group_chats": (),
    "all_chat_administrators": (),
    "chat": ("chat_id",),
    "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)

P = ParamSpec("P")
R = TypeVar("R")


class EmulatorError(Exception):
    """A Bot API failure: becomes ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, error_code: int, description: str, *, retry_after: int | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        """The Telegram response envelope for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(reason: str) -> EmulatorError:
    """``400 Bad Request: <reason>``."""
    return EmulatorError(400, f"Bad Request: {reason}")


def token_bot_id(token: str) -> int | None:
    """The bot id encoded in a token of Telegram's shape, else ``None``."""
    m = _TOKEN_RE.match(token)
    return int(m.group(1)) if m else None


def is_sending_method(method: str) -> bool:
    """Methods that put something into a chat (default target of faults and rate limits)."""
    name = method.lower()
    return name.startswith(("send", "edit")) or name in {"copymessage", "forwardmessage"}


def _synchronized(func: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with args[0]._lock:  # type: ignore[attr-defined]
            return func(*args, **kwargs)

    return wrapper


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from a PNG, GIF or JPEG header, ``None`` if unknown."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 4 <= len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                i += 1 if marker == 0xFF else 2
                continue
            (seg_len,) = struct.unpack(">H", data[i + 2 : i + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                if i + 9 <= len(data):
                    height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                    return int(width), int(height)
                return None
            i += 2 + seg_len
    return None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _check_entities(text: str, entities: Any, what: str = "entities") -> list[dict[str, Any]]:
    """Check a list of Bot API ``MessageEntity`` dicts against ``text`` as Telegram does: a
    known ``type``, integer ``offset >= 0`` and ``length > 0`` ending within the text's UTF-16
    length, and the fields the type needs (``url`` of text_link, ``user`` with an ``id`` of
    text_mention, ``custom_emoji_id`` of custom_emoji). Returns copies holding only the fields
    Telegram keeps for each type; raises ``400 Bad Request: can't parse <what>: ...``."""

    def fail(index: int | None, reason: str) -> EmulatorError:
        where = f"entity {index}: " if index is not None else ""
        return bad_request(f"can't parse {what}: {where}{reason}")

    if not isinstance(entities, list):
        raise fail(None, "must be an Array of MessageEntity objects")
    text_length = utf16_len(text)
    checked: list[dict[str, Any]] = []
    for i, entity in enumerate(entities):
        if not isinstance(entity, dict):
            raise fail(i, "MessageEntity must be an Object")
        etype = entity.get("type")
        if not isinstance(etype, str) or etype not in _ENTITY_TYPES:
            raise fail(i, f"unsupported type {etype!r}")
        values: dict[str, int] = {}
        for key in ("offset", "length"):
            value = entity.get(key)
            if not isinstance(value, int) or isinstance(value, bool):
                raise fail(i, f'field "{key}" must be an Integer')
            values[key] = value
        offset, length = values["offset"], values["length"]
        if offset < 0:
            raise fail(i, "offset must be non-negative")
        if length <= 0:
            raise fail(i, "length must be positive")
        if offset + length > text_length:
            raise fail(
                i,
                f"offset {offset} + length {length} exceeds the text length "
                f"{text_length} (in UTF-16 code units)",
            )
        clean: dict[str, Any] = {"type": etype, "offset": offset, "length": length}
        if etype == "text_link":
            url = entity.get("url")
            if not isinstance(url, str) or not url.strip():
                raise fail(i, 'text_link needs a non-empty "url"')
            clean["url"] = url
        elif etype == "text_mention":
            user = entity.get("user")
            user_id = user.get("id") if isinstance(user, dict) else None
            if not isinstance(user_id, int) or isinstance(user_id, bool):
                raise fail(i, 'text_mention needs a "user" object with an Integer "id"')
            clean["user"] = copy.deepcopy(user)
        elif etype == "custom_emoji":
            emoji_id = entity.get("custom_emoji_id")
            if not isinstance(emoji_id, str) or not emoji_id:
                raise fail(i, 'custom_emoji needs a non-empty "custom_emoji_id"')
            clean["custom_emoji_id"] = emoji_id
        elif etype == "pre" and entity.get("language") is not None:
            if not isinstance(entity["language"], str):
                raise fail(i, 'field "language" must be a String')
            clean["language"] = entity["language"]
        checked.append(clean)
    return checked


@dataclass
class UploadedFile:
    """A file part of a multipart request (or a control-API upload)."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class EmuUser:
    """A simulated Telegram user (never a bot)."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    blocked: bool = False

    def to_api(self) -> dict[str, Any]:
        """Bot API ``User`` object."""
        return _drop_none(
            {
                "id": self.id,
                "is_bot": False,
                "first_name": self.first_name,
                "last_name": self.last_name,
                "username": self.username,
                "language_code": self.language_code,
            }
        )

    def chat_api(self) -> dict[str, Any]:
        """Bot API ``Chat`` object of this user's private chat."""
        return _drop_none(
            {
                "id": self.id,
                "type": "private",
                "first_name": self.first_name,
                "last_name": self.last_name,
                "username": self.username,
            }
        )

    def to_view(self) -> dict[str, Any]:
        """Control-API representation."""
        return {**self.to_api(), "blocked": self.blocked}


@dataclass
class StoredFile:
    """A file known to the emulator (sent by the bot or uploaded by a user)."""

    file_id: str
    file_unique_id: str
    kind: str  # document | photo | sticker | voice
    content: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def file_size(self) -> int:
        """Size in bytes."""
        return len(self.content)

    def to_file_api(self) -> dict[str, Any]:
        """Bot API ``File`` object (``getFile`` result)."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "file_path": self.file_path,
        }

    def document_api(self) -> dict[str, Any]:
        """Bot API ``Document`` object."""
        return _drop_none(
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "file_name": self.file_name,
                "mime_type": self.mime_type,
                "file_size": self.file_size,
            }
        )

    def photo_api(self) -> list[dict[str, Any]]:
        """Bot API list of ``PhotoSize`` (one size: the original)."""
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "file_size": self.file_size,
                "width": self.width or 1,
                "height": self.height or 1,
            }
        ]


@dataclass
class StoredMessage:
    """One message of a chat, from the user or from the bot, with its edit history."""

    message_id: int
    chat_id: int
    from_bot: bool
    sender: dict[str, Any]
    date: int
    kind: str  # text | document | photo | contact | sticker | voice
    text: str | None = None  # as sent (raw HTML for the bot's HTML messages)
    plain_text: str | None = None  # as displayed (tags stripped, entities decoded)
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    plain_caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    document: StoredFile | None = None
    photo: StoredFile | None = None
    contact: dict[str, Any] | None = None
    sticker: dict[str, Any] | None = None
    voice: dict[str, Any] | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)
    original: dict[str, Any] | None = None
    deleted: bool = False
    deleted_date: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def inline_markup(self) -> dict[str, Any] | None:
        """The inline keyboard attached to the message, if any."""
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            return self.reply_markup
        return None

    def callback_data(self) -> list[str]:
        """All callback_data values of the inline keyboard."""
        markup = self.inline_markup
        if not markup:
            return []
        return [
            b["callback_data"]
            for row in markup["inline_keyboard"]
            for b in row
            if "callback_data" in b
        ]

    def content_snapshot(self) -> dict[str, Any]:
        """The editable content (used for the edit history)."""
        return {
            "text": self.text,
            "plain_text": self.plain_text,
            "parse_mode": self.parse_mode,
            "entities": copy.deepcopy(self.entities),
            "caption": self.caption,
            "plain_caption": self.plain_caption,
            "caption_entities": copy.deepcopy(self.caption_entities),
            "reply_markup": copy.deepcopy(self.reply_markup),
        }

    def to_api(self, chat: dict[str, Any], reply_to: StoredMessage | None = None) -> dict[str, Any]:
        """Bot API ``Message`` object."""
        msg: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": chat,
            "date": self.date,
        }
        if self.edit_date is not None:
            msg["edit_date"] = self.edit_date
        if reply_to is not None:
            msg["reply_to_message"] = reply_to.to_api(chat)
        if self.text is not None:
            msg["text"] = self.plain_text
            if self.entities:
                msg["entities"] = copy.deepcopy(self.entities)
        if self.document is not None:
            msg["document"] = self.document.document_api()
        if self.photo is not None:
            msg["photo"] = self.photo.photo_api()
        if self.caption is not None and self.plain_caption:
            msg["caption"] = self.plain_caption
            if self.caption_entities:
                msg["caption_entities"] = copy.deepcopy(self.caption_entities)
        if self.contact is not None:
            msg["contact"] = dict(self.contact)
        if self.sticker is not None:
            msg["sticker"] = dict(self.sticker)
        if self.voice is not None:
            msg["voice"] = dict(self.voice)
        if self.inline_markup is not None:
            msg["reply_markup"] = copy.deepcopy(self.inline_markup)
        return msg

    def to_view(self) -> dict[str, Any]:
        """Control-API representation (everything a test or chat page needs)."""
        return {
            "message_id": self.message_id,
            "chat_id": self.chat_id,
            "from_bot": self.from_bot,
            "from": self.sender,
            "date": self.date,
            "kind": self.kind,
            **self.content_snapshot(),
            "document": self.document.document_api() if self.document else None,
            "photo": self.photo.photo_api() if self.photo else None,
            "contact": self.contact,
            "sticker": self.sticker,
            "voice": self.voice,
            "reply_to_message_id": self.reply_to_message_id,
            "edit_date": self.edit_date,
            "edits": copy.deepcopy(self.edits),
            "original": copy.deepcopy(self.original),
            "deleted": self.deleted,
            "deleted_date": self.deleted_date,
        }


@dataclass
class Chat:
    """A private chat between the bot and one user."""

    id: int
    user: EmuUser
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    version: int = 0
    reply_keyboard: dict[str, Any] | None = None
    force_reply: dict[str, Any] | None = None

    def to_view(self) -> dict[str, Any]:
        """Control-API summary."""
        return {
            "id": self.id,
            "type": "private",
            "user": self.user.to_view(),
            "message_count": len(self.messages),
            "version": self.version,
            "reply_keyboard": self.reply_keyboard,
            "force_reply": self.force_reply,
        }


@dataclass
class CallbackQueryRecord:
    """A button press and (once answered) the bot's answer."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    date: int
    forged: bool = False
    answered: bool = False
    answer: dict[str, Any] | None = None

    def to_view(self) -> dict[str, Any]:
        """Control-API representation."""
        return {
            "callback_query_id": self.id,
            "user_id": self.user_id,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "data": self.data,
            "date": self.date,
            "forged": self.forged,
            "answered": self.answered,
            "answer": self.answer,
        }


@dataclass
class FaultRule:
    """A simulated failure applied to matching Bot API calls."""

    id: int
    kind: str
    methods: frozenset[str] | None = None  # lower-case names; None = sending methods; "*" = all
    chat_id: int | None = None
    count: int | None = None  # remaining firings; None = unlimited
    probability: float | None = None
    retry_after: int = 5
    delay: float | None = None
    fired: int = 0

    def matches(self, method: str, chat_id: int | None) -> bool:
        """Whether this rule applies to a call (ignoring count/probability)."""
        name = method.lower()
        if self.methods is None:
            if not is_sending_method(name):
                return False
        elif "*" not in self.methods and name not in self.methods:
            return False
        return self.chat_id is None or self.chat_id == chat_id

    @property
    def effective_delay(self) -> float:
        """Seconds to wait for ``timeout``/``slow`` faults."""
        if self.delay is not None:
            return self.delay
        return 30.0 if self.kind == "timeout" else 1.0

    def to_view(self) -> dict[str, Any]:
        """Control-API representation."""
        return {
            "id": self.id,
            "kind": self.kind,
            "methods": sorted(self.methods) if self.methods is not None else None,
            "chat_id": self.chat_id,
            "count": self.count,
            "probability": self.probability,
            "retry_after": self.retry_after,
            "delay": self.effective_delay,
            "fired": self.fired,
        }


@dataclass
class CallRecord:
    """One Bot API call as seen by the emulator."""

    seq: int
    time: float
    method: str
    params: dict[str, Any]
    status: int
    ok: bool
    description: str | None = None
    fault: str | None = None
    duration: float = 0.0
    result_message_id: int | None = None  # the message a successful call sent or edited

    def to_view(self) -> dict[str, Any]:
        """Control-API representation."""
        return {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "params": self.params,
            "status": self.status,
            "ok": self.ok,
            "description": self.description,
            "fault": self.fault,
            "duration": self.duration,
            "result_message_id": self.result_message_id,
        }


class _Window:
    """Sliding-window limiter: at most ``capacity`` events per ``window`` seconds."""

    def __init__(self, per_second: float) -> None:
        self.window = max(1.0, 1.0 / per_second)
        self.capacity = max(1, round(per_second * self.window))
        self.events: deque[float] = deque()

    def retry_after(self, now: float) -> int | None:
        while self.events and self.events[0] <= now - self.window:
            self.events.popleft()
        if len(self.events) >= self.capacity:
            return max(1, math.ceil(self.events[0] + self.window - now))
        return None

    def add(self, now: float) -> None:
        self.events.append(now)


def _update_chat_id(update: dict[str, Any]) -> int | None:
    """The chat an update belongs to (its own ``chat`` or its message's), ``None`` if none."""
    payload = next((v for k, v in update.items() if k != "update_id"), None)
    if not isinstance(payload, dict):
        return None
    chat = payload.get("chat")
    if chat is None and isinstance(payload.get("message"), dict):
        chat = payload["message"].get("chat")
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    return chat_id if isinstance(chat_id, int) else None


@dataclass(eq=False)
class WebhookJob:
    """An update handed out for webhook delivery (see :meth:`EmulatorState.webhook_take`).

    ``update`` is the queued object itself (not a copy): it is confirmed by identity, since a
    redelivered copy has the same ``update_id``. ``epoch`` ties the job to the queue it came
    from, so a job that outlives :meth:`EmulatorState.reset` changes nothing."""

    update: dict[str, Any]
    chat_id: int | None
    epoch: int

    @property
    def update_id(self) -> int:
        """The update's ``update_id``."""
        return int(self.update["update_id"])


class _WebhookOutbox:
    """The update queue as the webhook deliverer sees it: a FIFO per chat, so that at most one
    update per chat is out (in flight or waiting for its retry) and the next chat with work is
    found in O(1), however long one chat's backlog is. Holds references to the objects of
    :attr:`EmulatorState.updates`, which stays the queue's source of truth."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.active = False  # a webhook is set: queued updates are fed in here
        self.pending: dict[int, deque[dict[str, Any]]] = {}  # chat id -> not handed out yet
        self.ready: deque[int] = deque()  # chats with pending updates and none out
        self.free: deque[dict[str, Any]] = deque()  # updates without a chat (not serialised)
        self.busy: set[int] = set()  # chats with an update out
        # id() -> update of each update out; survives deactivate() so that a webhook set again
        # does not hand out a second time what is still in flight.
        self.out: dict[int, dict[str, Any]] = {}

    def add(self, update: dict[str, Any], *, in_order: bool = False) -> None:
        """Queue an update at the end of its chat (``in_order``: at its ``update_id``'s place,
        for a redelivered copy)."""
        chat_id = _update_chat_id(update)
        if chat_id is None:
            self.free.append(update)
            return
        queue = self.pending.get(chat_id)
        if queue is None:
            queue = self.pending[chat_id] = deque()
            if chat_id not in self.busy:
                self.ready.append(chat_id)
        position = len(queue)
        if in_order:
            while position > 0 and queue[position - 1]["update_id"] > update["update_id"]:
                position -= 1
        queue.insert(position, update)

    def take(self) -> tuple[dict[str, Any], int | None] | None:
        """The next update to deliver and its chat (now busy), or ``None``."""
        if self.free:
            update = self.free.popleft()
            self.out[id(update)] = update
            return update, None
        if not self.ready:
            return None
        chat_id = self.ready.popleft()
        queue = self.pending[chat_id]
        update = queue.popleft()
        if not queue:
            del self.pending[chat_id]
        self.busy.add(chat_id)
        self.out[id(update)] = update
        return update, chat_id

    def done(self, update: dict[str, Any], chat_id: int | None) -> None:
        """The update is no longer out: its chat's next update may go."""
        self.out.pop(id(update), None)
        if chat_id is not None and chat_id in self.busy:
            self.busy.discard(chat_id)
            if chat_id in self.pending:
                self.ready.append(chat_id)

    def put_back(self, update: dict[str, Any], chat_id: int | None) -> None:
        """Return an update that is out to the head of its chat (it goes first)."""
        self.out.pop(id(update), None)
        if chat_id is None:
            self.free.appendleft(update)
            return
        was_busy = chat_id in self.busy
        self.busy.discard(chat_id)
        queue = self.pending.get(chat_id)
        if queue is None:
            queue = self.pending[chat_id] = deque()
        elif not was_busy:  # already waiting in ready: moved to the front below
            self.ready.remove(chat_id)
        queue.appendleft(update)
        self.ready.appendleft(chat_id)

    def clear(self) -> None:
        """Forget what is not handed out (what is out finishes on its own)."""
        self.pending.clear()
        self.ready.clear()
        self.free.clear()

    def activate(self, updates: Iterable[dict[str, Any]]) -> None:
        """A webhook was set: feed in the queue as it is (less what is still out)."""
        self.clear()
        self.active = True
        for update in updates:
            if id(update) not in self.out:
                self.add(update)

    def deactivate(self) -> None:
        """The webhook was deleted: nothing more is handed out."""
        self.clear()
        self.active = False


_UNSET: Any = object()


class EmulatorState:
    """All emulator state plus the Bot API business rules (validation, storage, updates).

    Thread-safe (an internal lock), but listeners are called synchronously from whichever
    thread mutated the state.
    """

    def __init__(
        self,
        *,
        bot_username: str = "emulator_bot",
        bot_first_name: str = "Emulator Bot",
        bot_id: int | None = None,
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = False,
        supports_inline_queries: bool = False,
        seed: int | None = None,
        first_update_id: int = 1,
        strict_html_ampersand: bool = True,
        webhook_require_https: bool = True,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.RLock()
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.bot_id: int | None = bot_id
        self.can_join_groups = can_join_groups
        self.can_read_all_group_messages = can_read_all_group_messages
        self.supports_inline_queries = supports_inline_queries
        self.strict_html_ampersand = strict_html_ampersand
        self.webhook_require_https = webhook_require_https
        self._clock = clock
        self._monotonic = monotonic
        self.rng = random.Random(seed)
        self._listeners: list[Callable[[], None]] = []
        self.version = 0
        # Update ids keep increasing across reset(): a running poller's offset stays valid.
        self._next_update_id = first_update_id
        self._seq = 0
        self._outbox_epoch = 0  # bumped by each _init_data(): jobs of an older queue are void
        self._init_data()

    def _init_data(self) -> None:
        self.users: dict[int, EmuUser] = {}
        self.chats: dict[int, Chat] = {}
        self.updates: list[dict[str, Any]] = []
        # The last UPDATE_HISTORY updates queued, by id, for redeliver_update(); and the
        # redelivered ones not handed out yet (kept whatever offset the bot confirmed).
        self.update_history: dict[int, dict[str, Any]] = {}
        self._redelivered: list[dict[str, Any]] = []
        self.allowed_updates: frozenset[str] | None = None
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.faults: list[FaultRule] = []
        self.calls: list[CallRecord] = []
        self.webhook: dict[str, Any] = {"url": ""}
        self.webhook_last_error: tuple[int, str] | None = None  # (date, message)
        self._outbox_epoch += 1
        self._outbox = _WebhookOutbox(self._outbox_epoch)
        self.global_rate: float | None = None
        self.per_chat_rate: float | None = None
        self._global_window: _Window | None = None
        self._chat_windows: dict[int, _Window] = {}
        self._file_counter = 0
        self._callback_counter = 0
        self._fault_counter = 0

    # ------------------------------------------------------------------ infrastructure
    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every state change."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        """Undo :meth:`add_listener`."""
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _changed(self, chat: Chat | None = None) -> None:
        self.version += 1
        if chat is not None:
            chat.version = self.version
        for listener in list(self._listeners):
            listener()

    def now(self) -> int:
        """Current Unix time (int), as used for message dates."""
        return int(self._clock())

    @_synchronized
    def reset(self) -> None:
        """Forget everything except configuration and the update-id counter."""
        self._init_data()
        self._changed()

    # ------------------------------------------------------------------ bot identity
    def bind_token(self, token: str) -> int:
        """Record the bot id from a request token (the number before the colon)."""
        bot_id = int(token.split(":", 1)[0])
        if self.bot_id is None:
            self.bot_id = bot_id
        return bot_id

    def bot_user(self, bot_id: int | None = None) -> dict[str, Any]:
        """The bot as a Bot API ``User`` (as it appears in ``from``)."""
        return {
            "id": bot_id if bot_id is not None else (self.bot_id or 0),
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def get_me(self, bot_id: int | None = None) -> dict[str, Any]:
        """``getMe`` result."""
        return {
            **self.bot_user(bot_id),
            "can_join_groups": self.can_join_groups,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": self.supports_inline_queries,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # ------------------------------------------------------------------ users & chats
    @_synchronized
    def create_user(
        self,
        user_id: int,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> EmuUser:
        """Create (or update) a user and its private chat. Idempotent."""
        if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
            raise bad_request("user id must be a positive integer")
        if not first_name:
            raise bad_request("first_name must be non-empty")
        user = self.users.get(user_id)
        if user is None:
            user = EmuUser(user_id, first_name, last_name, username, language_code)
            self.users[user_id] = user
            self.chats[user_id] = Chat(id=user_id, user=user)
        else:
            user.first_name = first_name
            if last_name is not None:
                user.last_name = last_name
            if username is not None:
                user.username = username
            if language_code is not None:
                user.language_code = language_code
        self._changed(self.chats[user_id])
        return user

    @_synchronized
    def set_blocked(self, user_id: int, blocked: bool = True) -> EmuUser:
        """The user blocks (or unblocks) the bot; like Telegram, a change is announced to
        the bot with a ``my_chat_member`` update."""
        user = self._user(user_id)
        if user.blocked != blocked:
            member, kicked = {"status": "member"}, {"status": "kicked", "until_date": 0}
            old, new = (member, kicked) if blocked else (kicked, member)
            self._push_update(
                "my_chat_member",
                {
                    "chat": user.chat_api(),
                    "from": user.to_api(),
                    "date": self.now(),
                    "old_chat_member": {**old, "user": self.bot_user()},
                    "new_chat_member": {**new, "user": self.bot_user()},
                },
            )
        user.blocked = blocked
        self._changed(self.chats[user_id])
        return user

    def _user(self, user_id: int) -> EmuUser:
        user = self.users.get(user_id)
        if user is None:
            raise EmulatorError(404, f"Not Found: user {user_id} does not exist")
        return user

    def get_chat(self, chat_id: int) -> Chat:
        """The chat, or ``400 Bad Request: chat not found``."""
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _message(self, chat: Chat, message_id: int) -> StoredMessage | None:
        msg = chat.messages.get(message_id)
        if msg is None or msg.deleted:
            return None
        return msg

    def message_api(self, msg: StoredMessage) -> dict[str, Any]:
        """Bot API ``Message`` for a stored message (with ``reply_to_message``)."""
        chat = self.chats[msg.chat_id]
        reply_to = None
        if msg.reply_to_message_id is not None:
            reply_to = self._message(chat, msg.reply_to_message_id)
        return msg.to_api(chat.user.chat_api(), reply_to)

    @_synchronized
    def chat_messages(self, chat_id: int, include_deleted: bool = True) -> list[dict[str, Any]]:
        """Control view of a chat's history, oldest first."""
        chat = self.chats.get(chat_id)
        if chat is None:
            raise EmulatorError(404, f"Not Found: chat {chat_id} does not exist")
        return [m.to_view() for m in chat.messages.values() if include_deleted or not m.deleted]

    def _new_message(
        self, chat: Chat, *, from_bot: bool, kind: str, **fields: Any
    ) -> StoredMessage:
        msg = StoredMessage(
            message_id=chat.next_message_id,
            chat_id=chat.id,
            from_bot=from_bot,
            sender=self.bot_user() if from_bot else chat.user.to_api(),
            date=self.now(),
            kind=kind,
            **fields,
        )
        chat.next_message_id += 1
        chat.messages[msg.message_id] = msg
        return msg

    # ------------------------------------------------------------------ updates
    def _push_update(self, kind: str, payload: dict[str, Any]) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        update = {"update_id": update_id, kind: payload}
        self.updates.append(update)
        if self._outbox.active:
            self._outbox.add(update)
        self.update_history[update_id] = update
        if len(self.update_history) > UPDATE_HISTORY:
            del self.update_history[next(iter(self.update_history))]
        return update_id

    @_synchronized
    def redeliver_update(self, update_id: int) -> dict[str, Any]:
        """Queue an update again with the same ``update_id``, as Telegram does when it did not
        see it confirmed (a poll or webhook retry). It is handed out by the next ``getUpdates``
        whatever offset the bot confirmed, in ``update_id`` order, then confirmed by the call
        after it. ``404`` for an id not queued lately. Returns the update."""
        original = self.update_history.get(update_id)
        if original is None:
            raise EmulatorError(404, f"Not Found: update {update_id} is not known")
        update = copy.deepcopy(original)
        position = bisect.bisect_right(self.updates, update_id, key=lambda u: u["update_id"])
        self.updates.insert(position, update)
        self._redelivered.append(update)
        if self._outbox.active:  # webhook mode: the copy is pushed again
            self._outbox.add(update, in_order=True)
        self._changed()
        return copy.deepcopy(update)

    @_synchronized
    def ack_updates(self, offset: int | None, allowed_updates: list[str] | None = None) -> None:
        """Apply ``getUpdates``' offset (confirm/forget) and ``allowed_updates`` setting."""
        if allowed_updates is not None:
            self.allowed_updates = frozenset(allowed_updates) if allowed_updates else None
        if offset:
            if offset > 0:
                held = {id(r) for r in self._redelivered}
                self.updates = [
                    u for u in self.updates if u["update_id"] >= offset or id(u) in held
                ]
            else:
                self.updates = self.updates[offset:]
            if self._redelivered:
                queued = {id(u) for u in self.updates}
                self._redelivered = [r for r in self._redelivered if id(r) in queued]

    @_synchronized
    def pending_updates(self, limit: int = 100) -> list[dict[str, Any]]:
        """Up to ``limit`` queued updates; updates of not-allowed types are discarded."""
        allowed = self.allowed_updates or DEFAULT_UPDATE_TYPES
        self.updates = [u for u in self.updates if self._update_type(u) in allowed]
        batch = self.updates[: max(1, min(100, limit))]
        if self._redelivered:  # handed out now: the next offset confirms them as usual
            given = {id(u) for u in batch}
            self._redelivered = [r for r in self._redelivered if id(r) not in given]
        return copy.deepcopy(batch)

    @_synchronized
    def get_updates(
        self, offset: int | None = None, limit: int = 100, allowed_updates: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Non-blocking ``getUpdates``: acknowledge by offset, then return pending updates."""
        self.ack_updates(offset, allowed_updates)
        return self.pending_updates(limit)

    @staticmethod
    def _update_type(update: dict[str, Any]) -> str:
        return next(k for k in update if k != "update_id")

    # ------------------------------------------------------------------ users act
    def _text_entities(
        self, text: str, given: Any = None, what: str = "entities"
    ) -> list[dict[str, Any]]:
        """The entities of a text (or caption) a user sends. Without ``given``: the
        ``bot_command`` entities a Telegram client detects. With ``given`` (a list of Bot API
        ``MessageEntity`` dicts, checked by :func:`_check_entities`, ``what`` naming it in
        errors): those, plus the detected bot commands that overlap none of them, sorted by
        offset."""
        detected = [
            {
                "type": "bot_command",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group(0)),
            }
            for m in _BOT_COMMAND_RE.finditer(text)
        ]
        if given is None:
            return detected
        entities = _check_entities(text, given, what)
        spans = [(e["offset"], e["offset"] + e["length"]) for e in entities]
        entities += [
            d
            for d in detected
            if not any(
                d["offset"] < end and start < d["offset"] + d["length"] for start, end in spans
            )
        ]
        return sorted(entities, key=lambda e: (e["offset"], -e["length"]))

    def _user_chat(self, user_id: int) -> Chat:
        self._user(user_id)
        return self.chats[user_id]

    def _user_message(self, chat: Chat, kind: str, **fields: Any) -> tuple[int, StoredMessage]:
        """Store a message the user sent and queue its ``message`` update."""
        msg = self._new_message(chat, from_bot=False, kind=kind, **fields)
        update_id = self._push_update("message", self.message_api(msg))
        if chat.force_reply is not None:
            chat.force_reply = None
        self._changed(chat)
        return update_id, msg

    @staticmethod
    def _check_text(text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")

    @_synchronized
    def user_send_text(
        self,
        user_id: int,
        text: str,
        reply_to_message_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> tuple[int, StoredMessage]:
        """The user sends a text message. Returns (update_id, message). ``entities`` (Bot API
        ``MessageEntity`` dicts, offsets and lengths in UTF-16 code units) is the formatting
        the user typed (bold, links...): checked like Telegram checks it (``400 Bad Request``
        otherwise) and stored sorted by offset, with the detected bot commands that overlap
        none of them; without it only bot commands are detected."""
        chat = self._user_chat(user_id)
        self._check_text(text)
        message_entities = self._text_entities(text, entities)
        if reply_to_message_id is not None and self._message(chat, reply_to_message_id) is None:
            raise bad_request("message to be replied not found")
        return self._user_message(
            chat,
            "text",
            text=text,
            plain_text=text,
            entities=message_entities,
            reply_to_message_id=reply_to_message_id,
        )

    @_synchronized
    def user_send_texts(
        self, messages: Iterable[tuple[int, str]]
    ) -> list[tuple[int, StoredMessage]]:
        """Several users each send a text message, all queued at once (load tests): every
        ``(user_id, text)`` is checked first, so an invalid one queues nothing. Returns
        ``(update_id, message)`` per message, in order."""
        batch = list(messages)
        for user_id, text in batch:
            self._user_chat(user_id)
            self._check_text(text)
        return [
            self._user_message(
                self.chats[user_id],
                "text",
                text=text,
                plain_text=text,
                entities=self._text_entities(text),
            )
            for user_id, text in batch
        ]

    @_synchronized
    def user_edit_text(self, user_id: int, message_id: int, text: str) -> tuple[int, StoredMessage]:
        """The user edits one of their text messages (``edited_message`` update)."""
        chat = self._user_chat(user_id)
        self._check_text(text)
        msg = self._message(chat, message_id)
        if msg is None or msg.from_bot or msg.kind != "text":
            raise bad_request("message to edit not found")
        before = msg.content_snapshot()
        msg.text = msg.plain_text = text
        msg.entities = self._text_entities(text)
        self._record_edit(msg, "user_edit", before)
        update_id = self._push_update("edited_message", self.message_api(msg))
        self._changed(chat)
        return update_id, msg

    def _new_file(
        self,
        kind: str,
        content: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        self._file_counter += 1
        n = self._file_counter
        digest = hashlib.sha256(f"{kind}:{n}:{len(content)}".encode()).digest()
        prefix = {"document": "BQAC", "photo": "AgAC", "sticker": "CAAC", "voice": "AwAC"}[kind]
        file_id = prefix + base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=") + f"_{n}"
        unique = "AQAD" + base64.urlsafe_b64encode(digest[24:32]).decode().rstrip("=") + f"{n}"
        ext = {"photo": ".jpg", "sticker": ".webp", "voice": ".oga"}.get(kind, "")
        if kind == "document":
            ext = ""
            if file_name and "." in file_name:
                ext = "." + file_name.rsplit(".", 1)[1][:10]
        folder = {"document": "documents", "photo": "photos", "sticker": "stickers"}.get(
            kind, "voice"
        )
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=unique,
            kind=kind,
            content=content,
            file_path=f"{folder}/file_{n}{ext}",
            file_name=file_name,
            mime_type=mime_type,
        )
        if kind == "photo":
            size = image_size(content)
            stored.width, stored.height = size if size else (1, 1)
        self.files[file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    @_synchronized
    def user_send_document(
        self,
        user_id: int,
        file_name: str,
        content: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
        caption_entities: list[dict[str, Any]] | None = None,
    ) -> tuple[int, StoredMessage]:
        """The user uploads a document (downloadable by the bot through getFile);
        ``caption_entities`` as the ``entities`` of :meth:`user_send_text`."""
        chat = self._user_chat(user_id)
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        return self._user_send_file(
            chat,
            "document",
            content,
            caption,
            caption_entities,
            file_name=file_name,
            mime_type=mime,
        )

    @_synchronized
    def user_send_photo(
        self,
        user_id: int,
        content: bytes,
        caption: str | None = None,
        caption_entities: list[dict[str, Any]] | None = None,
    ) -> tuple[int, StoredMessage]:
        """The user sends a photo; ``caption_entities`` as the ``entities`` of
        :meth:`user_send_text`."""
        chat = self._user_chat(user_id)
        return self._user_send_file(
            chat, "photo", content, caption, caption_entities, mime_type="image/jpeg"
        )

    def _user_send_file(
        self,
        chat: Chat,
        kind: str,
        content: bytes,
        caption: str | None,
        caption_entities: list[dict[str, Any]] | None,
        **file_fields: Any,
    ) -> tuple[int, StoredMessage]:
        """A user message carrying a captioned :class:`StoredFile` (document or photo); the
        caption's entities are checked before the file is stored."""
        if caption_entities and not caption:
            raise bad_request("can't parse caption_entities: there is no caption")
        entities = (
            self._text_entities(caption, caption_entities, "caption_entities") if caption else []
        )
        stored = self._new_file(kind, content, **file_fields)
        return self._user_message(
            chat,
            kind,
            caption=caption,
            plain_caption=caption,
            caption_entities=entities,
            **{kind: stored},
        )

    @_synchronized
    def user_send_contact(
        self,
        user_id: int,
        phone_number: str,
        first_name: str,
        last_name: str | None = None,
        contact_user_id: int | None = _UNSET,
    ) -> tuple[int, StoredMessage]:
        """The user shares a contact. ``contact_user_id`` defaults to the sender (own number,
        e.g. a ``request_contact`` button); pass another id for a forwarded contact, or ``None``
        for a contact that has no Telegram account."""
        chat = self._user_chat(user_id)
        if not phone_number or not first_name:
            raise bad_request("phone_number and first_name are required")
        contact = _drop_none(
            {
                "phone_number": phone_number,
                "first_name": first_name,
                "last_name": last_name,
                "user_id": user_id if contact_user_id is _UNSET else contact_user_id,
            }
        )
        return self._user_message(chat, "contact", contact=contact)

    @_synchronized
    def user_send_sticker(self, user_id: int, emoji: str = "👍") -> tuple[int, StoredMessage]:
        """The user sends a (minimal, valid) sticker."""
        return self._user_send_media(
            user_id,
            "sticker",
            b"RIFF\x00\x00\x00\x00WEBP",
            "image/webp",
            type="regular",
            width=512,
            height=512,
            is_animated=False,
            is_video=False,
            emoji=emoji,
        )

    @_synchronized
    def user_send_voice(self, user_id: int, duration: int = 1) -> tuple[int, StoredMessage]:
        """The user sends a (minimal, valid) voice note."""
        return self._user_send_media(
            user_id,
            "voice",
            b"OggS" + bytes(60),
            "audio/ogg",
            duration=duration,
            mime_type="audio/ogg",
        )

    def _user_send_media(
        self, user_id: int, kind: str, content: bytes, file_mime: str, /, **attributes: Any
    ) -> tuple[int, StoredMessage]:
        """A user message whose ``kind`` field is a plain object (sticker, voice) describing a
        new stored file: ``file_id``, ``file_unique_id``, ``attributes``, ``file_size``."""
        chat = self._user_chat(user_id)
        stored = self._new_file(kind, content, mime_type=file_mime)
        media = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            **attributes,
            "file_size": stored.file_size,
        }
        return self._user_message(chat, kind, **{kind: media})

    def chat_instance(self, chat_id: int) -> str:
        """Stable ``chat_instance`` for callback queries from a chat."""
        digest = hashlib.sha256(f"{self.bot_id}:{chat_id}".encode()).digest()
        return str(int.from_bytes(digest[:8], "big", signed=True))

    def _pressable(
        self, user_id: int, message_id: int, data: str, forge: bool
    ) -> tuple[Chat, StoredMessage | None]:
        """The chat and message of a press, checked: unless ``forge``, ``data`` must be the
        callback_data of a button on that (existing, bot-sent) message."""
        chat = self._user_chat(user_id)
        msg = self._message(chat, message_id)
        if not forge:
            if msg is None or not msg.from_bot:
                raise bad_request(f"message {message_id} not found in chat {chat.id}")
            if data not in msg.callback_data():
                raise bad_request(f"message {message_id} has no button with callback_data {data!r}")
        return chat, msg

    def _press(
        self, chat: Chat, msg: StoredMessage | None, message_id: int, data: str, forge: bool
    ) -> tuple[int, CallbackQueryRecord]:
        """Record a (checked) press and queue its ``callback_query`` update."""
        user_id = chat.user.id
        self._callback_counter += 1
        query_id = str(
            int.from_bytes(
                hashlib.sha256(f"cq:{self._callback_counter}:{user_id}".encode()).digest()[:7],
                "big",
            )
        )
        record = CallbackQueryRecord(
            id=query_id,
            user_id=user_id,
            chat_id=chat.id,
            message_id=message_id,
            data=data,
            date=self.now(),
            forged=forge,
        )
        self.callback_queries[query_id] = record
        if msg is not None:
            message = self.message_api(msg)
        else:  # InaccessibleMessage
            message = {"chat": chat.user.chat_api(), "message_id": message_id, "date": 0}
        payload = {
            "id": query_id,
            "from": chat.user.to_api(),
            "message": message,
            "chat_instance": self.chat_instance(chat.id),
            "data": data,
        }
        update_id = self._push_update("callback_query", payload)
        self._changed(chat)
        return update_id, record

    @_synchronized
    def press_button(
        self, user_id: int, message_id: int, data: str, forge: bool = False
    ) -> tuple[int, CallbackQueryRecord]:
        """The user presses an inline button. Unless ``forge``, ``data`` must be the
        callback_data of a button on that (existing, bot-sent) message."""
        chat, msg = self._pressable(user_id, message_id, data, forge)
        return self._press(chat, msg, message_id, data, forge)

    @_synchronized
    def press_buttons(
        self, presses: Iterable[tuple[int, int, str, bool]]
    ) -> list[tuple[int, CallbackQueryRecord]]:
        """Several users each press an inline button, all queued at once (load tests): every
        ``(user_id, message_id, data, forge)`` is checked first as :meth:`press_button` checks
        it, so an invalid one queues nothing. Returns ``(update_id, record)`` per press, in
        order."""
        batch = list(presses)
        checked = [
            self._pressable(user_id, message_id, data, forge)
            for user_id, message_id, data, forge in batch
        ]
        return [
            self._press(chat, msg, message_id, data, forge)
            for (chat, msg), (_user_id, message_id, data, forge) in zip(checked, batch, strict=True)
        ]

    # ------------------------------------------------------------------ validation helpers
    def parse_formatted(
        self, text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None
    ) -> tuple[str, list[dict[str, Any]], str | None]:
        """(plain text, entities, normalised parse_mode) or ``can't parse entities``."""
        if parse_mode is None or parse_mode == "":
            return text, list(entities or []), None
        mode = parse_mode.lower()
        if mode == "html":
            try:
                parsed = parse_html(text, strict_ampersand=self.strict_html_ampersand)
            except HtmlParseError as err:
                raise bad_request(f"can't parse entities: {err.reason}") from None
            return parsed.text, parsed.entities, "HTML"
        if mode in ("markdown", "markdownv2"):
            return text, [], "MarkdownV2" if mode == "markdownv2" else "Markdown"
        raise bad_request(f"unsupported parse_mode {parse_mode!r}")

    def validate_reply_markup(self, markup: Any, *, inline_only: bool = False) -> None:
        """Check a reply_markup like Telegram does."""
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request(
                    'can\'t parse inline keyboard: field "inline_keyboard" must '
                    "be an Array of Arrays"
                )
            for row in rows:
                for button in row:
                    self._validate_inline_button(button)
            return
        if inline_only:
            raise bad_request("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request(
                    'can\'t parse keyboard: field "keyboard" must be an Array of Arrays'
                )
            for row in rows:
                for button in row:
                    if isinstance(button, str):
                        continue
                    if not isinstance(button, dict) or "text" not in button:
                        raise bad_request("can't parse keyboard button: Can't find field \"text\"")
                    if not isinstance(button["text"], str):
                        raise bad_request(
                            'can\'t parse keyboard button: Field "text" must be of type String'
                        )
            return
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return
        raise bad_request("can't parse reply keyboard markup JSON object")

    @staticmethod
    def _validate_inline_button(button: Any) -> None:
        if not isinstance(button, dict):
            raise bad_request(
                "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
            )
        if "text" not in button:
            raise bad_request("can't parse inline keyboard button: Can't find field \"text\"")
        if not isinstance(button["text"], str):
            raise bad_request(
                'can\'t parse inline keyboard button: Field "text" must be of type String'
            )
        actions = [a for a in _INLINE_ACTIONS if a in button and button[a] is not None]
        if not actions:
            raise bad_request("text buttons are unallowed in the inline keyboard")
        if len(actions) > 1:
            raise bad_request(
                "can't parse inline keyboard button: exactly one of the optional fields must be "
                f"used, got {', '.join(actions)}"
            )
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                raise bad_request("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            if not isinstance(url, str) or not re.match(
                r"^(https?://[^\s/?#]+\S*|tg://\S+)$", url, re.IGNORECASE
            ):
                raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")

    def _check_can_send(self, chat: Chat) -> None:
        if chat.user.blocked:
            raise EmulatorError(403, "Forbidden: bot was blocked by the user")

    def _apply_markup_to_chat(self, chat: Chat, markup: dict[str, Any] | None) -> None:
        if not markup:
            return
        if "keyboard" in markup:
            chat.reply_keyboard = copy.deepcopy(markup)
        elif markup.get("remove_keyboard"):
            chat.reply_keyboard = None
        elif markup.get("force_reply"):
            chat.force_reply = copy.deepcopy(markup)

    def _parse_text(
        self, text: str | None, parse_mode: str | None, entities: list[dict[str, Any]] | None
    ) -> tuple[str, list[dict[str, Any]], str | None]:
        if text is None or text == "":
            raise bad_request("message text is empty")
        plain, ents, mode = self.parse_formatted(text, parse_mode, entities)
        self._check_text(plain)
        return plain, ents, mode

    def _parse_caption(
        self, caption: str, parse_mode: str | None, entities: list[dict[str, Any]] | None
    ) -> tuple[str, list[dict[str, Any]], str | None]:
        plain, ents, mode = self.parse_formatted(caption, parse_mode, entities)
        if len(plain) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        return plain, ents, mode

    def _resolve_reply(self, chat: Chat, reply_parameters: dict[str, Any] | None) -> int | None:
        if not reply_parameters:
            return None
        if not isinstance(reply_parameters, dict) or "message_id" not in reply_parameters:
            raise bad_request("can't parse reply parameters JSON object")
        target = reply_parameters["message_id"]
        other_chat = reply_parameters.get("chat_id")
        if other_chat not in (None, chat.id, str(chat.id)):
            raise bad_request("message to be replied not found")
        if not isinstance(target, int) or self._message(chat, target) is None:
            if reply_parameters.get("allow_sending_without_reply"):
                return None
            raise bad_request("message to be replied not found")
        return target

    def _check_send(
        self,
        chat: Chat,
        reply_markup: dict[str, Any] | None,
        reply_parameters: dict[str, Any] | None,
    ) -> int | None:
        """The checks every send* makes after its content; returns the id replied to."""
        if reply_markup is not None:
            self.validate_reply_markup(reply_markup)
        reply_to = self._resolve_reply(chat, reply_parameters)
        self._check_can_send(chat)
        return reply_to

    def _bot_message(
        self,
        chat: Chat,
        kind: str,
        reply_markup: dict[str, Any] | None,
        reply_to: int | None,
        extra: dict[str, Any] | None,
        **fields: Any,
    ) -> StoredMessage:
        """Store a message the bot sent (after :meth:`_check_send`)."""
        msg = self._new_message(
            chat,
            from_bot=True,
            kind=kind,
            reply_markup=copy.deepcopy(reply_markup),
            reply_to_message_id=reply_to,
            extra=dict(extra or {}),
            **fields,
        )
        self._apply_markup_to_chat(chat, reply_markup)
        self._changed(chat)
        return msg

    # ------------------------------------------------------------------ bot sends
    @_synchronized
    def send_message(
        self,
        chat_id: int,
        text: str | None,
        parse_mode: str | None = None,
        reply_markup: dict[str, Any] | None = None,
        *,
        entities: list[dict[str, Any]] | None = None,
        reply_parameters: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> StoredMessage:
        """``sendMessage``."""
        chat = self.get_chat(chat_id)
        plain, ents, mode = self._parse_text(text, parse_mode, entities)
        reply_to = self._check_send(chat, reply_markup, reply_parameters)
        return self._bot_message(
            chat,
            "text",
            reply_markup,
            reply_to,
            extra,
            text=text,
            plain_text=plain,
            parse_mode=mode,
            entities=ents,
        )

    def _resolve_file_input(self, kind: str, value: UploadedFile | str | None) -> StoredFile:
        param = "photo" if kind == "photo" else "document"
        if value is None or value == "":
            raise bad_request(f"there is no {param} in the request")
        if isinstance(value, UploadedFile):
            if kind == "photo":
                return self._new_file("photo", value.data, mime_type="image/jpeg")
            file_name = value.filename or "document"
            mime = value.content_type
            if not mime or mime == "application/octet-stream":
                mime = mimetypes.guess_type(file_name)[0] or mime or "application/octet-stream"
            return self._new_file("document", value.data, file_name=file_name, mime_type=mime)
        if re.match(r"^https?://", value, re.IGNORECASE):
            raise bad_request("failed to get HTTP URL content")
        stored = self.files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if (kind == "photo") != (stored.kind == "photo"):
            want = "Photo" if kind == "photo" else "Document"
            raise bad_request(f"can't use file of type {stored.kind.title()} as {want}")
        return stored

    @_synchronized
    def send_media(
        self,
        kind: str,
        chat_id: int,
        media: UploadedFile | str | None,
        caption: str | None = None,
        parse_mode: str | None = None,
        reply_markup: dict[str, Any] | None = None,
        *,
        caption_entities: list[dict[str, Any]] | None = None,
        reply_parameters: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> StoredMessage:
        """``sendDocument`` (kind ``document``) / ``sendPhoto`` (kind ``photo``)."""
        chat = self.get_chat(chat_id)
        plain_caption: str | None = None
        ents: list[dict[str, Any]] = []
        mode = None
        if caption is not None:
            plain_caption, ents, mode = self._parse_caption(caption, parse_mode, caption_entities)
        reply_to = self._check_send(chat, reply_markup, reply_parameters)
        stored = self._resolve_file_input(kind, media)
        return self._bot_message(
            chat,
            kind,
            reply_markup,
            reply_to,
            extra,
            caption=caption,
            plain_caption=plain_caption,
            caption_entities=ents,
            parse_mode=mode,
            **{kind: stored},
        )

    # ------------------------------------------------------------------ bot edits
    def _editable(self, chat_id: int | None, message_id: int | None) -> tuple[Chat, StoredMessage]:
        if message_id is None:
            raise bad_request("message identifier is not specified")
        if chat_id is None:
            raise bad_request("chat_id is empty")
        chat = self.get_chat(chat_id)
        msg = self._message(chat, message_id)
        if msg is None:
            raise bad_request("message to edit not found")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        return chat, msg

    def _record_edit(self, msg: StoredMessage, method: str, before: dict[str, Any]) -> None:
        if msg.original is None:
            msg.original = before
        msg.edit_date = self.now()
        # Content after the edit; ``original`` holds the content before the first edit.
        msg.edits.append({"date": msg.edit_date, "method": method, **msg.content_snapshot()})

    def _bot_edit(
        self,
        chat: Chat,
        msg: StoredMessage,
        method: str,
        reply_markup: dict[str, Any] | None,
        *,
        same_content: bool = True,
        **changes: Any,
    ) -> StoredMessage:
        """The common end of every edit* method: check the new inline keyboard, refuse a no-op
        edit, then set ``changes`` and the keyboard (omitted = removed) and record the edit."""
        if reply_markup is not None:
            self.validate_reply_markup(reply_markup, inline_only=True)
        if same_content and _canonical(reply_markup) == _canonical(msg.inline_markup):
            raise bad_request(_NOT_MODIFIED)
        self._check_can_send(chat)
        before = msg.content_snapshot()
        for name, value in changes.items():
            setattr(msg, name, value)
        msg.reply_markup = copy.deepcopy(reply_markup)
        self._record_edit(msg, method, before)
        self._changed(chat)
        return msg

    @_synchronized
    def edit_message_text(
        self,
        chat_id: int | None,
        message_id: int | None,
        text: str | None,
        parse_mode: str | None = None,
        reply_markup: dict[str, Any] | None = None,
        *,
        entities: list[dict[str, Any]] | None = None,
    ) -> StoredMessage:
        """``editMessageText`` (omitting reply_markup removes the inline keyboard)."""
        if text is None or text == "":
            raise bad_request("message text is empty")
        chat, msg = self._editable(chat_id, message_id)
        if msg.text is None:
            raise bad_request("there is no text in the message to edit")
        plain, ents, mode = self._parse_text(text, parse_mode, entities)
        same = plain == msg.plain_text and _canonical(ents) == _canonical(msg.entities)
        return self._bot_edit(
            chat,
            msg,
            "editMessageText",
            reply_markup,
            same_content=same,
            text=text,
            plain_text=plain,
            entities=ents,
            parse_mode=mode,
        )

    @_synchronized
    def edit_message_caption(
        self,
        chat_id: int | None,
        message_id: int | None,
        caption: str | None,
        parse_mode: str | None = None,
        reply_markup: dict[str, Any] | None = None,
        *,
        caption_entities: list[dict[str, Any]] | None = None,
    ) -> StoredMessage:
        """``editMessageCaption``."""
        chat, msg = self._editable(chat_id, message_id)
        if msg.kind not in ("document", "photo"):
            raise bad_request("there is no caption in the message to edit")
        plain, ents, mode = self._parse_caption(caption or "", parse_mode, caption_entities)
        same = plain == (msg.plain_caption or "") and _canonical(ents) == _canonical(
            msg.caption_entities
        )
        return self._bot_edit(
            chat,
            msg,
            "editMessageCaption",
            reply_markup,
            same_content=same,
            caption=caption,
            plain_caption=plain,
            caption_entities=ents,
            parse_mode=mode,
        )

    @_synchronized
    def edit_message_reply_markup(
        self,
        chat_id: int | None,
        message_id: int | None,
        reply_markup: dict[str, Any] | None = None,
    ) -> StoredMessage:
        """``editMessageReplyMarkup`` (omitting reply_markup removes the keyboard)."""
        chat, msg = self._editable(chat_id, message_id)
        return self._bot_edit(chat, msg, "editMessageReplyMarkup", reply_markup)

    @_synchronized
    def delete_message(self, chat_id: int, message_id: int | None) -> bool:
        """``deleteMessage`` (bots may delete both directions in private chats)."""
        chat = self.get_chat(chat_id)
        msg = self._message(chat, message_id) if message_id is not None else None
        if msg is None:
            raise bad_request("message to delete not found")
        msg.deleted = True
        msg.deleted_date = self.now()
        self._changed(chat)
        return True

    @_synchronized
    def answer_callback_query(
        self,
        callback_query_id: str | None,
        text: str | None = None,
        show_alert: bool = False,
        url: str | None = None,
        cache_time: int | None = None,
    ) -> bool:
        """``answerCallbackQuery`` (each query can be answered once)."""
        record = self.callback_queries.get(callback_query_id or "")
        if record is None or record.answered:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        record.answered = True
        record.answer = {
            "text": text,
            "show_alert": bool(show_alert),
            "url": url,
            "cache_time": cache_time,
            "date": self.now(),
        }
        self._changed(self.chats.get(record.chat_id))
        return True

    @_synchronized
    def callback_answers(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Control view of callback queries (answered or not)."""
        return [
            r.to_view()
            for r in self.callback_queries.values()
            if chat_id is None or r.chat_id == chat_id
        ]

    # ------------------------------------------------------------------ files
    @_synchronized
    def get_file(self, file_id: str | None) -> StoredFile:
        """``getFile``."""
        if not file_id:
            raise bad_request("file_id not specified")
        stored = self.files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.file_size > MAX_DOWNLOAD_SIZE:
            raise bad_request("file is too big")
        return stored

    def file_by_path(self, file_path: str) -> StoredFile | None:
        """A file by its ``file_path`` (for downloads)."""
        return self.files_by_path.get(file_path)

    # ------------------------------------------------------------------ commands
    def _scope_key(self, scope: Any) -> str:
        if scope is None:
            scope = {"type": "default"}
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise bad_request("can't parse BotCommandScope JSON object")
        stype = scope["type"]
        if stype not in _SCOPE_TYPES:
            raise bad_request("unsupported bot command scope type")
        canon: dict[str, Any] = {"type": stype}
        for key in _SCOPE_TYPES[stype]:
            value = scope.get(key)
            if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
                value = int(value)
            if key == "chat_id":
                if not isinstance(value, int) or value not in self.chats:
                    raise bad_request("chat not found")
            elif not isinstance(value, int):
                raise bad_request("invalid user_id specified")
            canon[key] = value
        return _canonical(canon)

    def _commands_key(self, scope: Any, language_code: str | None) -> tuple[str, str]:
        """The ``commands`` key of a (scope, language_code) pair, both validated."""
        scope_key = self._scope_key(scope)
        lang = language_code or ""
        if lang and not _LANG_RE.match(lang):
            raise bad_request("invalid language code specified")
        return scope_key, lang

    @_synchronized
    def set_my_commands(
        self, commands: Any, scope: Any = None, language_code: str | None = None
    ) -> bool:
        """``setMyCommands``."""
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > MAX_COMMANDS:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        cleaned: list[dict[str, str]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand: BotCommand must be an Object")
            for key in ("command", "description"):
                if key not in item:
                    raise bad_request(f"can't parse BotCommand: Can't find field \"{key}\"")
                if not isinstance(item[key], str):
                    raise bad_request(
                        f'can\'t parse BotCommand: Field "{key}" must be of type String'
                    )
            if not _COMMAND_NAME_RE.match(item["command"]):
                raise bad_request("BOT_COMMAND_INVALID")
            description = item["description"]
            if not description.strip():
                raise bad_request("command description must be non-empty")
            if len(description) > 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": item["command"], "description": description})
        key = self._commands_key(scope, language_code)
        if cleaned:
            self.commands[key] = cleaned
        else:
            self.commands.pop(key, None)
        self._changed()
        return True

    @_synchronized
    def get_my_commands(
        self, scope: Any = None, language_code: str | None = None
    ) -> list[dict[str, str]]:
        """``getMyCommands``: like Telegram, the list stored for exactly this scope+language."""
        key = self._commands_key(scope, language_code)
        return copy.deepcopy(self.commands.get(key, []))

    @_synchronized
    def delete_my_commands(self, scope: Any = None, language_code: str | None = None) -> bool:
        """``deleteMyCommands``."""
        key = self._commands_key(scope, language_code)
        self.commands.pop(key, None)
        self._changed()
        return True

    @_synchronized
    def visible_commands(self, chat_id: int, language_code: str | None = None) -> list[dict]:
        """The command menu a user sees in their private chat, resolved the way Telegram clients
        do: chat scope, then all_private_chats, then default; each first with the user's
        language, then without."""
        lang = language_code if language_code is not None else ""
        if not lang and chat_id in self.users:
            lang = self.users[chat_id].language_code or ""
        scopes = [
            _canonical({"chat_id": chat_id, "type": "chat"}),
            _canonical({"type": "all_private_chats"}),
            _canonical({"type": "default"}),
        ]
        for scope in scopes:
            for code in ([lang] if lang else []) + [""]:
                if (scope, code) in self.commands:
                    return copy.deepcopy(self.commands[(scope, code)])
        return []

    @_synchronized
    def commands_view(self) -> list[dict[str, Any]]:
        """All stored command lists."""
        return [
            {"scope": json.loads(scope), "language_code": lang, "commands": copy.deepcopy(cmds)}
            for (scope, lang), cmds in self.commands.items()
        ]

    # ------------------------------------------------------------------ webhook
    @_synchronized
    def set_webhook(
        self,
        url: str | None,
        secret_token: str | None = None,
        drop_pending_updates: bool = False,
        max_connections: int | None = None,
        allowed_updates: list[str] | None = None,
        ip_address: str | None = None,
    ) -> str:
        """``setWebhook``. Returns the result description. The server's webhook deliverer
        pushes the queue from now on (see :meth:`webhook_take`)."""
        if not url:
            return self.delete_webhook(drop_pending_updates)
        if not re.match(r"^https?://[^\s/?#]+", url, re.IGNORECASE):
            raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
        if self.webhook_require_https and not url.lower().startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if secret_token is not None and not _SECRET_TOKEN_RE.match(secret_token):
            raise bad_request("secret token contains unallowed characters")
        if max_connections is not None and not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        if drop_pending_updates:
            self.updates.clear()
            self._outbox.clear()
        if allowed_updates is not None:
            self.allowed_updates = frozenset(allowed_updates) if allowed_updates else None
        already = self.webhook.get("url") == url
        if not already:
            self.webhook_last_error = None
        self.webhook = _drop_none(
            {
                "url": url,
                "secret_token": secret_token,
                "max_connections": max_connections or 40,
                "ip_address": ip_address,
            }
        )
        if not self._outbox.active:
            self._outbox.activate(self.updates)
        self._changed()
        return "Webhook is already set" if already else "Webhook was set"

    @_synchronized
    def delete_webhook(self, drop_pending_updates: bool = False) -> str:
        """``deleteWebhook``. Returns the result description."""
        if drop_pending_updates:
            self.updates.clear()
        had = bool(self.webhook.get("url"))
        self.webhook = {"url": ""}
        self.webhook_last_error = None
        self._outbox.deactivate()  # what is in flight finishes; the rest stays for getUpdates
        self._changed()
        return "Webhook was deleted" if had else "Webhook is already deleted"

    @_synchronized
    def webhook_info(self) -> dict[str, Any]:
        """``getWebhookInfo`` result."""
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        if info["url"]:
            info["max_connections"] = self.webhook.get("max_connections", 40)
            if self.webhook.get("ip_address"):
                info["ip_address"] = self.webhook["ip_address"]
            if self.allowed_updates is not None:
                info["allowed_updates"] = sorted(self.allowed_updates)
            if self.webhook_last_error is not None:
                info["last_error_date"], info["last_error_message"] = self.webhook_last_error
        return info

    # The server's deliverer drives webhook delivery through these: take a job, POST it, then
    # confirm it (2xx), or record the failure and, after a backoff, retry it if still due, or
    # release it. A chat's next update is handed out only once its job is confirmed/released.
    @_synchronized
    def webhook_take(self) -> WebhookJob | None:
        """The next update to push to the webhook, or ``None`` (no webhook set, nothing
        queued, or every chat with queued updates has one out). Updates of types not in
        ``allowed_updates`` are discarded on the way, as ``getUpdates`` does."""
        outbox = self._outbox
        if not outbox.active:
            return None
        allowed = self.allowed_updates or DEFAULT_UPDATE_TYPES
        while (taken := outbox.take()) is not None:
            update, chat_id = taken
            if self._update_type(update) in allowed:
                return WebhookJob(update, chat_id, outbox.epoch)
            outbox.done(update, chat_id)
            self._unqueue(update)
        return None

    @_synchronized
    def webhook_confirm(self, job: WebhookJob) -> None:
        """The webhook answered 2xx: the update leaves the queue."""
        self._unqueue(job.update)
        if job.epoch == self._outbox.epoch:
            self._outbox.done(job.update, job.chat_id)
        self._changed()

    @_synchronized
    def webhook_failed(self, job: WebhookJob, message: str) -> None:
        """A delivery attempt failed: ``getWebhookInfo`` reports it as the last error."""
        if job.epoch == self._outbox.epoch:
            self.webhook_last_error = (self.now(), message)

    @_synchronized
    def webhook_due(self, job: WebhookJob) -> bool:
        """Whether a failed job is to be retried: the webhook is still set and its update still
        queued (not dropped, not reset)."""
        return (
            job.epoch == self._outbox.epoch
            and self._outbox.active
            and any(u is job.update for u in self.updates)
        )

    @_synchronized
    def webhook_release(self, job: WebhookJob) -> None:
        """Give a job up unconfirmed (webhook deleted, queue dropped, server stopping): its
        update, if still queued, is handed out again first when a webhook is set."""
        outbox = self._outbox
        if job.epoch != outbox.epoch:
            return
        if outbox.active and any(u is job.update for u in self.updates):
            outbox.put_back(job.update, job.chat_id)
        else:
            outbox.done(job.update, job.chat_id)
        self._changed()

    def _unqueue(self, update: dict[str, Any]) -> None:
        """Remove this very object (a redelivered copy has the same id) from the queue."""
        # Delivered updates are mostly near the head of the queue: a scan from there is short.
        for position, queued in enumerate(self.updates):
            if queued is update:
                del self.updates[position]
                break
        if self._redelivered:
            self._redelivered = [r for r in self._redelivered if r is not update]

    # ------------------------------------------------------------------ faults & limits
    @_synchronized
    def add_fault(
        self,
        kind: str,
        methods: Iterable[str] | None = None,
        chat_id: int | None = None,
        count: int | None = None,
        probability: float | None = None,
        retry_after: int | None = None,
        delay: float | None = None,
    ) -> FaultRule:
        """Add a fault rule (see :class:`FaultRule`)."""
        kind = str(kind)
        if kind not in FAULT_KINDS:
            raise bad_request(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if probability is not None and not 0.0 <= probability <= 1.0:
            raise bad_request("probability must be between 0 and 1")
        if count is not None and count < 1:
            raise bad_request("count must be >= 1")
        self._fault_counter += 1
        rule = FaultRule(
            id=self._fault_counter,
            kind=kind,
            methods=frozenset(m.lower() for m in methods) if methods is not None else None,
            chat_id=chat_id,
            count=count,
            probability=probability,
            retry_after=int(retry_after) if retry_after is not None else 5,
            delay=delay,
        )
        self.faults.append(rule)
        self._changed()
        return rule

    @_synchronized
    def clear_faults(self) -> None:
        """Remove all fault rules."""
        self.faults.clear()
        self._changed()

    @_synchronized
    def match_fault(self, method: str, chat_id: int | None) -> FaultRule | None:
        """The first rule that fires for this call (consumes one ``count``)."""
        for rule in self.faults:
            if rule.count is not None and rule.count <= 0:
                continue
            if not rule.matches(method, chat_id):
                continue
            if rule.probability is not None and self.rng.random() >= rule.probability:
                continue
            rule.fired += 1
            if rule.count is not None:
                rule.count -= 1
            return rule
        return None

    @_synchronized
    def set_rate_limit(
        self, global_per_second: float | None = None, per_chat_per_second: float | None = None
    ) -> None:
        """Enable/disable Telegram-like flood limits for send*/edit* methods."""
        for value in (global_per_second, per_chat_per_second):
            if value is not None and value <= 0:
                raise bad_request("rates must be positive (or null to disable)")
        self.global_rate = global_per_second
        self.per_chat_rate = per_chat_per_second
        self._global_window = _Window(global_per_second) if global_per_second else None
        self._chat_windows = {}

    @_synchronized
    def check_rate_limit(self, method: str, chat_id: int | None) -> int | None:
        """``retry_after`` seconds if this call exceeds the limits, else record it; ``None``."""
        if not is_sending_method(method):
            return None
        now = self._monotonic()
        windows: list[_Window] = []
        if self._global_window is not None:
            windows.append(self._global_window)
        if self.per_chat_rate and chat_id is not None:
            window = self._chat_windows.get(chat_id)
            if window is None:
                window = self._chat_windows[chat_id] = _Window(self.per_chat_rate)
            windows.append(window)
        waits = [w for w in (win.retry_after(now) for win in windows) if w is not None]
        if waits:
            return max(waits)
        for win in windows:
            win.add(now)
        return None

    # ------------------------------------------------------------------ call log
    @_synchronized
    def log_call(
        self,
        method: str,
        params: dict[str, Any],
        status: int,
        description: str | None = None,
        fault: str | None = None,
        duration: float = 0.0,
        started: float | None = None,
        result_message_id: int | None = None,
    ) -> CallRecord:
        """Append to the call log."""
        self._seq += 1
        record = CallRecord(
            seq=self._seq,
            time=started if started is not None else self._clock(),
            method=method,
            params=params,
            status=status,
            ok=200 <= status < 300,
            description=description,
            fault=fault,
            duration=duration,
            result_message_id=result_message_id,
        )
        self.calls.append(record)
        return record

    @_synchronized
    def call_log(self, method: str | None = None, since: int | None = None) -> list[dict[str, Any]]:
        """The call log, optionally only one method (case-insensitive) and only the calls
        logged after the one numbered ``since`` (``seq``: load tests read what is new)."""
        return [
            c.to_view()
            for c in self._calls_since(since)
            if method is None or c.method.lower() == method.lower()
        ]

    def _calls_since(self, since: int | None) -> list[CallRecord]:
        calls = self.calls
        if since is not None:
            # seq grows by one per call and the log is kept in order: skip the older ones.
            start = len(calls)
            while start > 0 and calls[start - 1].seq > since:
                start -= 1
            calls = calls[start:]
        return calls

    @_synchronized
    def send_stats(self, window: float = 1.0, since: int | None = None) -> dict[str, Any]:
        """How fast the bot sent: over the successful calls of the methods the rate limiter
        counts (:func:`is_sending_method`) logged after ``since``, their ``count``, the
        ``first``/``last`` start times and ``max_in_window``, the most whose start times fall
        in one half-open window ``[t, t + window)``, exactly (a benchmark proves with it that a
        send cap was never exceeded, whatever the phase of the cap's own windows)."""
        if not (math.isfinite(window) and window > 0):
            raise bad_request("window must be a positive number of seconds")
        times = sorted(
            c.time for c in self._calls_since(since) if c.ok and is_sending_method(c.method)
        )
        best = start = 0
        for end, t in enumerate(times):
            # The best window starts at a call: the one at ``start`` holds start..end.
            while times[start] + window <= t:
                start += 1
            best = max(best, end - start + 1)
        return {
            "count": len(times),
            "max_in_window": best,
            "window": window,
            "first": times[0] if times else None,
            "last": times[-1] if times else None,
        }

    @_synchronized
    def clear_calls(self) -> None:
        """Empty the call log."""
        self.calls.clear()
