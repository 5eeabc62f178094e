"""Async HTTP client for the emulator's control API (``/_emulator/...``), used by tests."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx

__all__ = ["EmulatorClient", "EmulatorControlError", "MessagePredicate", "format_chat"]

MessagePredicate = Callable[[dict[str, Any]], bool]
_UNSET: Any = object()


class EmulatorControlError(RuntimeError):
    """A control-API call failed (``status`` and the emulator's ``error`` text)."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(f"emulator control API error {status}: {error}")
        self.status = status
        self.error = error


def _b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def _buttons(markup: dict[str, Any] | None) -> list[str]:
    if not markup:
        return []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    labels = []
    for row in rows:
        for button in row:
            if isinstance(button, str):
                labels.append(button)
            else:
                action = button.get("callback_data") or button.get("url") or ""
                labels.append(f"{button.get('text')}" + (f"={action}" if action else ""))
    return labels


def format_chat(messages: Iterable[dict[str, Any]]) -> str:
    """Human-readable transcript of a chat (for assertion messages)."""
    lines = []
    for m in messages:
        who = "bot " if m["from_bot"] else "user"
        body = m.get("plain_text") or m.get("plain_caption") or ""
        if m["kind"] != "text":
            body = f"[{m['kind']}] {body}".rstrip()
        flags = []
        if m.get("edits"):
            flags.append(f"edited x{len(m['edits'])}")
        if m.get("deleted"):
            flags.append("deleted")
        buttons = _buttons(m.get("reply_markup"))
        line = f"  #{m['message_id']} {who}: {body!r}"
        if buttons:
            line += f" buttons={buttons}"
        if flags:
            line += f" ({', '.join(flags)})"
        lines.append(line)
    return "\n".join(lines) if lines else "  (no messages)"


class EmulatorClient:
    """Control-API client. ``base_url`` is the emulator root (``http://127.0.0.1:P``) or its
    control URL (``.../_emulator``)."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        url = base_url.rstrip("/")
        if not url.endswith("/_emulator"):
            url += "/_emulator"
        self.control_url = url
        self._http = httpx.AsyncClient(base_url=url, timeout=timeout, trust_env=False)
        # (chat_id) -> {(message_id, number_of_edits)} already returned by wait_for_bot_message
        self._seen: dict[int, set[tuple[int, int]]] = {}

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> EmulatorClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        request_timeout: float | None = None,
    ) -> Any:
        kwargs: dict[str, Any] = {}
        if request_timeout is not None:
            kwargs["timeout"] = request_timeout
        response = await self._http.request(
            method,
            path,
            json=json_body,
            params={k: v for k, v in (params or {}).items() if v is not None},
            **kwargs,
        )
        if response.status_code >= 400:
            try:
                error = response.json().get("error") or response.text
            except ValueError:
                error = response.text
            raise EmulatorControlError(response.status_code, error)
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    async def _post(self, path: str, **body: Any) -> Any:
        """``POST`` the keyword arguments as a JSON object (``None`` values included)."""
        return await self._call("POST", path, json_body=body)

    # ------------------------------------------------------------------ general
    async def health(self) -> dict[str, Any]:
        """``GET /_emulator/health``."""
        return await self._call("GET", "/health")

    async def reset(self) -> None:
        """``POST /_emulator/reset``: forget users, chats, updates, files, faults, calls..."""
        await self._call("POST", "/reset")
        self._seen.clear()

    # ------------------------------------------------------------------ users
    async def create_user(
        self,
        user_id: int,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> dict[str, Any]:
        """``POST /_emulator/users`` (idempotent). Returns ``{"user": ..., "chat": ...}``."""
        return await self._post(
            "/users",
            id=user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )

    async def users(self) -> list[dict[str, Any]]:
        """``GET /_emulator/users``."""
        return await self._call("GET", "/users")

    async def block_user(self, user_id: int, blocked: bool = True) -> dict[str, Any]:
        """``POST /_emulator/block``: the user blocks (or unblocks) the bot."""
        return await self._post("/block", user_id=user_id, blocked=blocked)

    # ------------------------------------------------------------------ the user acts
    async def send_text(
        self,
        user_id: int,
        text: str,
        reply_to_message_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """``POST /_emulator/messages``. Returns ``{"update_id", "message_id"}``.
        ``entities``: Bot API ``MessageEntity`` dicts (offsets and lengths in UTF-16 code
        units) for formatting the user typed (bold, text_link...); a bad one is refused with
        400. Without them only bot commands are detected."""
        body: dict[str, Any] = {"user_id": user_id, "text": text}
        if reply_to_message_id is not None:
            body["reply_to_message_id"] = reply_to_message_id
        if entities is not None:
            body["entities"] = entities
        return await self._post("/messages", **body)

    async def send_texts(self, messages: Iterable[tuple[int, str]]) -> dict[str, Any]:
        """``POST /_emulator/messages/batch``: each ``(user_id, text)`` sent at once (all or
        nothing). Returns ``{"time": <emulator clock, as in the call log>, "sent": [{"update_id",
        "message_id"}, ...]}``."""
        return await self._post(
            "/messages/batch",
            messages=[{"user_id": user_id, "text": text} for user_id, text in messages],
        )

    async def edit_text(self, user_id: int, message_id: int, text: str) -> dict[str, Any]:
        """``POST /_emulator/edited_messages`` (an ``edited_message`` update)."""
        return await self._post(
            "/edited_messages", user_id=user_id, message_id=message_id, text=text
        )

    async def send_sticker(self, user_id: int, emoji: str = "👍") -> dict[str, Any]:
        """``POST /_emulator/stickers``."""
        return await self._post("/stickers", user_id=user_id, emoji=emoji)

    async def send_voice(self, user_id: int, duration: int = 1) -> dict[str, Any]:
        """``POST /_emulator/voices``."""
        return await self._post("/voices", user_id=user_id, duration=duration)

    async def send_contact(
        self,
        user_id: int,
        phone_number: str,
        first_name: str,
        last_name: str | None = None,
        contact_user_id: int | None = _UNSET,
    ) -> dict[str, Any]:
        """``POST /_emulator/contacts``. ``contact_user_id`` defaults to ``user_id`` (sharing
        one's own contact); another id = a forwarded contact; ``None`` = no Telegram account."""
        body: dict[str, Any] = {
            "user_id": user_id,
            "phone_number": phone_number,
            "first_name": first_name,
            "last_name": last_name,
        }
        if contact_user_id is not _UNSET:
            body["contact_user_id"] = contact_user_id
        return await self._post("/contacts", **body)

    async def send_document(
        self,
        user_id: int,
        file_name: str,
        content: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
        caption_entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """``POST /_emulator/documents``. Returns ``{"update_id", "message_id", "file_id"}``.
        ``caption_entities`` as the ``entities`` of :meth:`send_text`."""
        body: dict[str, Any] = {
            "user_id": user_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "content": _b64(content),
            "caption": caption,
        }
        if caption_entities is not None:
            body["caption_entities"] = caption_entities
        return await self._post("/documents", **body)

    async def send_photo(
        self,
        user_id: int,
        content: bytes,
        caption: str | None = None,
        caption_entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """``POST /_emulator/photos``. Returns ``{"update_id", "message_id", "file_id"}``.
        ``caption_entities`` as the ``entities`` of :meth:`send_text`."""
        body: dict[str, Any] = {"user_id": user_id, "content": _b64(content), "caption": caption}
        if caption_entities is not None:
            body["caption_entities"] = caption_entities
        return await self._post("/photos", **body)

    async def press_button(
        self, user_id: int, message_id: int, data: str, forge: bool = False
    ) -> dict[str, Any]:
        """``POST /_emulator/callback_queries``. Returns ``{"update_id", "callback_query_id"}``.
        Without ``forge`` the data must belong to a button of that message."""
        return await self._post(
            "/callback_queries", user_id=user_id, message_id=message_id, data=data, forge=forge
        )

    async def press_buttons(
        self, presses: Iterable[tuple[int, int, str]] | Iterable[tuple[int, int, str, bool]]
    ) -> dict[str, Any]:
        """``POST /_emulator/callback_queries/batch``: each ``(user_id, message_id, data)`` (or
        ``(..., forge)``) pressed at once, checked as :meth:`press_button` checks one (all or
        nothing). Returns ``{"time": <emulator clock, as in the call log>, "pressed":
        [{"update_id", "callback_query_id"}, ...]}``."""
        body = []
        for press in presses:
            user_id, message_id, data, *forge = press
            item: dict[str, Any] = {"user_id": user_id, "message_id": message_id, "data": data}
            if forge and forge[0]:
                item["forge"] = True
            body.append(item)
        return await self._post("/callback_queries/batch", presses=body)

    async def press_button_text(
        self, user_id: int, message_id: int, button_text: str
    ) -> dict[str, Any]:
        """Press the inline button labelled ``button_text`` on a message."""
        message = await self.message(user_id, message_id)
        markup = message.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if button.get("text") == button_text and "callback_data" in button:
                    return await self.press_button(user_id, message_id, button["callback_data"])
        raise AssertionError(
            f"no callback button {button_text!r} on message #{message_id}; buttons: "
            f"{_buttons(markup)}"
        )

    # ------------------------------------------------------------------ reading
    async def chats(self) -> list[dict[str, Any]]:
        """``GET /_emulator/chats``."""
        return await self._call("GET", "/chats")

    async def chat(self, chat_id: int) -> dict[str, Any]:
        """``GET /_emulator/chats/{chat_id}`` (summary, reply keyboard, visible commands)."""
        return await self._call("GET", f"/chats/{chat_id}")

    async def chat_history(
        self,
        chat_id: int,
        *,
        include_deleted: bool = True,
        since: int | None = None,
        wait: float | None = None,
    ) -> dict[str, Any]:
        """``GET /_emulator/chats/{chat_id}/messages`` -> ``{"version", "messages"}``. With
        ``since`` and ``wait`` it long-polls until the chat's version exceeds ``since``."""
        params = {
            "include_deleted": "1" if include_deleted else "0",
            "since": since,
            "wait": wait,
        }
        return await self._call(
            "GET",
            f"/chats/{chat_id}/messages",
            params=params,
            request_timeout=(wait or 0) + 10.0,
        )

    async def messages(self, chat_id: int, include_deleted: bool = True) -> list[dict[str, Any]]:
        """All messages of a chat (both directions), oldest first."""
        return (await self.chat_history(chat_id, include_deleted=include_deleted))["messages"]

    async def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """One message of a chat."""
        for m in await self.messages(chat_id):
            if m["message_id"] == message_id:
                return m
        raise AssertionError(f"message #{message_id} not found in chat {chat_id}")

    async def bot_messages(
        self, chat_id: int, include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        """Messages the bot sent to the chat (not deleted ones unless asked)."""
        return [m for m in await self.messages(chat_id, include_deleted) if m["from_bot"]]

    async def last_bot_message(self, chat_id: int) -> dict[str, Any] | None:
        """The newest non-deleted bot message, or ``None``."""
        messages = await self.bot_messages(chat_id)
        return messages[-1] if messages else None

    async def mark_seen(self, chat_id: int) -> None:
        """Make :meth:`wait_for_bot_message` ignore everything currently in the chat."""
        seen = self._seen.setdefault(chat_id, set())
        for m in await self.messages(chat_id):
            seen.add((m["message_id"], len(m["edits"])))

    async def wait_for_bot_message(
        self,
        chat_id: int,
        predicate: MessagePredicate | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - a deadline for the whole wait
    ) -> dict[str, Any]:
        """Wait for a bot message (or a new edit of one) not returned before by this client and
        matching ``predicate``; returns its control view. Raises ``AssertionError`` with the
        chat transcript on timeout."""
        seen = self._seen.setdefault(chat_id, set())
        deadline = time.monotonic() + timeout
        version: int | None = None
        history: dict[str, Any] = {"messages": []}
        while True:
            remaining = deadline - time.monotonic()
            try:
                history = await self.chat_history(
                    chat_id,
                    since=version,
                    wait=max(0.0, min(remaining, 5.0)) if version is not None else None,
                )
            except EmulatorControlError as err:
                if err.status != 404 or remaining <= 0:
                    raise
                await asyncio.sleep(min(0.05, max(remaining, 0)))
                continue
            version = history["version"]
            for m in history["messages"]:
                if not m["from_bot"] or m["deleted"]:
                    continue
                key = (m["message_id"], len(m["edits"]))
                if key in seen:
                    continue
                if predicate is None or predicate(m):
                    seen.add(key)
                    return m
            if time.monotonic() >= deadline:
                what = "a matching bot message" if predicate else "a new bot message"
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what} in chat {chat_id}; chat:\n"
                    + format_chat(history["messages"])
                )

    async def callback_answers(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """``GET /_emulator/callback_answers``: callback queries and the bot's answers."""
        return await self._call("GET", "/callback_answers", params={"chat_id": chat_id})

    async def calls(
        self, method: str | None = None, since: int | None = None
    ) -> list[dict[str, Any]]:
        """``GET /_emulator/calls``: the Bot API call log (optionally one method, and only the
        calls after the one whose ``seq`` is ``since``)."""
        return await self._call("GET", "/calls", params={"method": method, "since": since})

    async def clear_calls(self) -> None:
        """``DELETE /_emulator/calls``."""
        await self._call("DELETE", "/calls")

    async def commands(
        self, scope: dict[str, Any] | None = None, language_code: str | None = None
    ) -> list[dict[str, Any]]:
        """``GET /_emulator/commands``: stored command lists (optionally filtered)."""
        params = {
            "scope": json.dumps(scope) if scope is not None else None,
            "language_code": language_code,
        }
        return await self._call("GET", "/commands", params=params)

    async def updates(self) -> list[dict[str, Any]]:
        """``GET /_emulator/updates``: updates not yet confirmed by the bot."""
        return await self._call("GET", "/updates")

    async def redeliver_update(self, update_id: int) -> dict[str, Any]:
        """``POST /_emulator/updates/{update_id}/redeliver``: queue that update again with the
        same ``update_id`` (as Telegram does after a poll or webhook retry); the next
        ``getUpdates`` hands it out whatever offset the bot confirmed. Returns the update."""
        return await self._post(f"/updates/{update_id}/redeliver")

    async def download_file(self, file_id: str) -> bytes:
        """``GET /_emulator/files/{file_id}``: raw bytes of any known file."""
        return await self._call("GET", f"/files/{file_id}")

    # ------------------------------------------------------------------ webhook delivery
    async def set_webhook_backends(self, urls: Iterable[str] | None) -> dict[str, Any]:
        """``POST /_emulator/webhook/backends``: while a webhook is set, deliver its updates
        round-robin to these URLs (bot processes behind a load balancer) instead of the
        registered URL, which is then never contacted; ``None`` or ``[]`` delivers to the
        webhook again. A backend refusing the connection is skipped. Returns as
        :meth:`webhook_backends`."""
        return await self._post("/webhook/backends", urls=list(urls) if urls else None)

    async def webhook_backends(self) -> dict[str, Any]:
        """``GET /_emulator/webhook/backends``: ``{"urls": [...], "backends": [{"url",
        "delivered", "failed", "refused"}, ...]}`` (counts since the backends were set)."""
        return await self._call("GET", "/webhook/backends")

    async def deliveries(
        self, since: int | None = None, update_id: int | None = None
    ) -> list[dict[str, Any]]:
        """``GET /_emulator/webhook/deliveries``: webhook delivery attempts, oldest first
        (the last 100,000), each ``{"seq", "update_id", "url", "status", "error", "started",
        "duration"}``; ``status`` is ``None`` when nothing answered, ``error`` ``None`` on
        2xx. Only those after the attempt numbered ``since``, only one update's if asked."""
        return await self._call(
            "GET", "/webhook/deliveries", params={"since": since, "update_id": update_id}
        )

    async def webhook_settings(self) -> dict[str, float]:
        """``GET /_emulator/webhook/settings``: ``{"timeout", "retry_initial",
        "retry_max"}`` in seconds."""
        return await self._call("GET", "/webhook/settings")

    async def set_webhook_settings(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - the webhook's, not this call's
        retry_initial: float | None = None,
        retry_max: float | None = None,
    ) -> dict[str, float]:
        """``POST /_emulator/webhook/settings``: how long a webhook may take to answer, and
        the retry backoff of a failed delivery (``None`` keeps a value). Returns them all."""
        return await self._post(
            "/webhook/settings", timeout=timeout, retry_initial=retry_initial, retry_max=retry_max
        )

    async def send_stats(self, window: float = 1.0, since: int | None = None) -> dict[str, Any]:
        """``GET /_emulator/stats/sends``: over the successful send*/edit*/copy/forward calls
        of the call log (after ``seq`` ``since``), ``{"count", "max_in_window", "window",
        "first", "last"}``; ``max_in_window`` is the most calls started within any half-open
        ``[t, t + window)``."""
        return await self._call("GET", "/stats/sends", params={"window": window, "since": since})

    # ------------------------------------------------------------------ faults & limits
    async def add_fault(
        self,
        kind: str,
        methods: list[str] | None = None,
        chat_id: int | None = None,
        count: int | None = None,
        probability: float | None = None,
        retry_after: int | None = None,
        delay: float | None = None,
    ) -> dict[str, Any]:
        """``POST /_emulator/faults``. ``kind``: 429, 403, timeout, slow, 500, network."""
        return await self._post(
            "/faults",
            kind=kind,
            methods=methods,
            chat_id=chat_id,
            count=count,
            probability=probability,
            retry_after=retry_after,
            delay=delay,
        )

    async def faults(self) -> list[dict[str, Any]]:
        """``GET /_emulator/faults``."""
        return await self._call("GET", "/faults")

    async def clear_faults(self) -> None:
        """``DELETE /_emulator/faults``."""
        await self._call("DELETE", "/faults")

    async def set_rate_limit(
        self, global_per_second: float | None = None, per_chat_per_second: float | None = None
    ) -> dict[str, Any]:
        """``POST /_emulator/rate_limit`` (``None`` disables a limit)."""
        return await self._post(
            "/rate_limit",
            global_per_second=global_per_second,
            per_chat_per_second=per_chat_per_second,
        )
