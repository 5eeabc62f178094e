"""aiohttp application serving the Bot API (``/bot{token}/{method}``), file downloads
(``/file/bot{token}/{file_path}``) and the emulator's control API (``/_emulator/...``); while
a webhook is set, it pushes the queued updates there (``webhook.py``).

Parameters are read like the real Bot API reads them: query string, then
``application/x-www-form-urlencoded`` or ``multipart/form-data`` fields (non-string values
JSON-encoded, as PTB sends them) or a JSON object body.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.emulator.state import (
    EmulatorError,
    EmulatorState,
    StoredFile,
    StoredMessage,
    UploadedFile,
    bad_request,
    token_bot_id,
)
from bot.emulator.webhook import WebhookDeliverer

__all__ = [
    "CONTROL_PREFIX",
    "MAX_UPLOAD_SIZE",
    "EmulatorServer",
    "EmulatorThread",
    "Params",
    "RunningEmulator",
    "run_emulator",
]

_LOGGER = logging.getLogger(__name__)

CONTROL_PREFIX = "/_emulator"
MAX_UPLOAD_SIZE = 50 * 1024 * 1024
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "commands",
        "scope",
        "reply_parameters",
        "allowed_updates",
        "link_preview_options",
        "entities",
        "caption_entities",
    }
)
_INT_RE = re.compile(r"^\s*-?\d+\s*$")


@dataclass
class _Result:
    """A successful result with an optional top-level ``description`` (setWebhook etc.)."""

    result: Any
    description: str | None = None


class Params:
    """Typed access to Bot API parameters, whichever way they were encoded."""

    def __init__(self, values: dict[str, Any], files: dict[str, UploadedFile]) -> None:
        self.values = values
        self.files = files

    def has(self, name: str) -> bool:
        """Whether the parameter was sent (as a value or a file part)."""
        return name in self.values or name in self.files

    def get_str(self, name: str) -> str | None:
        """A string parameter (numbers sent in JSON bodies are converted)."""
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(value)

    def get_int(self, name: str, error: str | None = None) -> int | None:
        """An integer parameter; ``error`` is the Bad Request reason if it is malformed."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT_RE.match(value):
            return int(value)
        raise bad_request(error or f"invalid {name} specified")

    def get_float(self, name: str) -> float | None:
        """A float parameter."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str) -> bool:
        """A boolean parameter (``true``/``false``/``1``/``0``)."""
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def get_json(self, name: str, what: str | None = None) -> Any:
        """A JSON-typed parameter (object/array), decoded if sent as a string."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {what or name} JSON object") from None
        return value

    def get_chat_id(self, required: bool = True) -> int | None:
        """``chat_id``: only numeric ids of known chats exist in the emulator."""
        value = self.values.get("chat_id")
        if value is None or value == "":
            if required:
                raise bad_request("chat_id is empty")
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INT_RE.match(value):
            return int(value)
        raise bad_request("chat not found")

    def chat_id_for_matching(self) -> int | None:
        """``chat_id`` if it is a number, for fault/rate-limit matching (never raises)."""
        try:
            return self.get_chat_id(required=False)
        except EmulatorError:
            return None

    def get_input_file(self, name: str) -> UploadedFile | str | None:
        """A file parameter: an uploaded part, ``attach://<part>``, or a file_id/URL string."""
        if name in self.files and name not in self.values:
            return self.files[name]
        value = self.get_str(name)
        if value is not None and value.startswith("attach://"):
            part = value[len("attach://") :]
            if part not in self.files:
                raise bad_request(f"file attachment {part!r} not found in the request")
            return self.files[part]
        return value

    def for_log(self) -> dict[str, Any]:
        """Parameters for the call log (JSON params decoded, files summarised)."""
        out: dict[str, Any] = {}
        for key, value in self.values.items():
            if key in _JSON_PARAMS and isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            out[key] = value
        for key, upload in self.files.items():
            out[key] = {
                "file_name": upload.filename,
                "mime_type": upload.content_type,
                "size": len(upload.data),
            }
        return out


def _envelope_ok(result: Any, description: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return body


def _json_response(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        status=status,
        content_type="application/json",
    )


def _error_response(error_code: int, description: str) -> web.Response:
    return _json_response(EmulatorError(error_code, description).to_dict(), error_code)


def _file_response(stored: StoredFile, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=stored.content,
        content_type=stored.mime_type or "application/octet-stream",
        headers=headers,
    )


def _too_many_requests(retry_after: int) -> EmulatorError:
    return EmulatorError(
        429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
    )


#: The entities parameter that goes with each formatted-text parameter.
_ENTITIES_PARAM = {"text": "entities", "caption": "caption_entities"}


class EmulatorServer:
    """The HTTP side of the emulator. Bind it to a loop with :meth:`start`.

    Webhook delivery (see :class:`WebhookDeliverer`): ``webhook_backends`` are URLs to
    deliver to round-robin instead of the registered webhook (a load balancer's bot
    processes); ``webhook_timeout`` is how long a webhook may take to answer (Telegram: 60 s);
    a failed delivery is retried after ``webhook_retry_initial`` seconds, doubling up to
    ``webhook_retry_max``. All can be changed later through the control API.
    """

    def __init__(
        self,
        state: EmulatorState | None = None,
        *,
        tokens: Iterable[str] | None = None,
        shutdown_timeout: float = 2.0,
        webhook_backends: Iterable[str] | None = None,
        webhook_timeout: float = 60.0,
        webhook_retry_initial: float = 0.2,
        webhook_retry_max: float = 5.0,
        **state_options: Any,
    ) -> None:
        self.state = state if state is not None else EmulatorState(**state_options)
        token_list = list(tokens) if tokens is not None else None
        self.tokens: frozenset[str] | None = frozenset(token_list) if token_list else None
        if token_list and self.state.bot_id is None:
            self.state.bot_id = int(token_list[0].split(":", 1)[0])
        self.shutdown_timeout = shutdown_timeout
        self.deliverer = WebhookDeliverer(
            self.state,
            timeout=webhook_timeout,
            retry_initial=webhook_retry_initial,
            retry_max=webhook_retry_max,
            backends=webhook_backends,
        )
        self.app = self._make_app()
        self.runner: web.AppRunner | None = None
        self.host: str | None = None
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._change = asyncio.Event()
        self._closing = asyncio.Event()
        self._poll_generation = 0
        self._methods: dict[str, tuple[str, Callable[[Params, int], Awaitable[Any]]]] = {
            name.lower(): (name, handler)
            for name, handler in (
                ("getMe", self._get_me),
                ("getUpdates", self._get_updates),
                ("sendMessage", self._send_message),
                ("editMessageText", self._edit_message_text),
                ("editMessageCaption", self._edit_message_caption),
                ("editMessageReplyMarkup", self._edit_message_reply_markup),
                ("deleteMessage", self._delete_message),
                ("answerCallbackQuery", self._answer_callback_query),
                ("sendDocument", self._send_document),
                ("sendPhoto", self._send_photo),
                ("getFile", self._get_file),
                ("setMyCommands", self._set_my_commands),
                ("getMyCommands", self._get_my_commands),
                ("deleteMyCommands", self._delete_my_commands),
                ("setWebhook", self._set_webhook),
                ("deleteWebhook", self._delete_webhook),
                ("getWebhookInfo", self._get_webhook_info),
                ("sendChatAction", self._send_chat_action),
            )
        }

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on ``host:port`` in the running loop (port 0 picks a free port)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._closing.clear()
        self.state.add_listener(self._on_state_change)
        await self.deliverer.start()
        self.runner = web.AppRunner(
            self.app, access_log=None, shutdown_timeout=self.shutdown_timeout
        )
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port)
        await site.start()
        self.host = host
        self.port = int(self.runner.addresses[0][1])

    async def stop(self) -> None:
        """Wake pending long polls/delays and shut the server down."""
        self._closing.set()
        self._notify()
        self.state.remove_listener(self._on_state_change)
        await self.deliverer.stop()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def root_url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def _on_state_change(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            self._notify()
        else:
            loop.call_soon_threadsafe(self._notify)

    def _notify(self) -> None:
        event, self._change = self._change, asyncio.Event()
        event.set()
        self.deliverer.wake()

    async def _wait_until(self, predicate: Callable[[], bool], within: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, within)
        while True:
            event = self._change
            if predicate():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing.is_set():
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def _sleep(self, delay: float) -> None:
        """Sleep, but end early when the server shuts down."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), max(0.0, delay))

    def token_ok(self, token: str) -> bool:
        """Whether a token is accepted."""
        if self.tokens is not None:
            return token in self.tokens
        return token_bot_id(token) is not None

    # ------------------------------------------------------------------ app
    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD_SIZE + 2 * 1024 * 1024)
        r = app.router
        r.add_route("*", "/bot{token}/{method}", self._handle_bot_api)
        r.add_get("/file/bot{token}/{file_path:.+}", self._handle_download)
        c = CONTROL_PREFIX
        r.add_get(f"{c}/health", self._c_health)
        r.add_post(f"{c}/reset", self._c_reset)
        r.add_post(f"{c}/users", self._c_create_user)
        r.add_get(f"{c}/users", self._c_users)
        r.add_post(f"{c}/block", self._c_block)
        r.add_post(f"{c}/messages", self._c_send_text)
        r.add_post(f"{c}/messages/batch", self._c_send_texts)
        r.add_post(f"{c}/edited_messages", self._c_edit_text)
        r.add_post(f"{c}/stickers", self._c_send_sticker)
        r.add_post(f"{c}/voices", self._c_send_voice)
        r.add_post(f"{c}/contacts", self._c_send_contact)
        r.add_post(f"{c}/documents", self._c_send_document)
        r.add_post(f"{c}/photos", self._c_send_photo)
        r.add_post(f"{c}/callback_queries", self._c_press_button)
        r.add_post(f"{c}/callback_queries/batch", self._c_press_buttons)
        r.add_get(f"{c}/callback_answers", self._c_callback_answers)
        r.add_get(f"{c}/chats", self._c_chats)
        r.add_get(f"{c}/chats/{{chat_id}}", self._c_chat)
        r.add_get(f"{c}/chats/{{chat_id}}/messages", self._c_chat_messages)
        r.add_get(f"{c}/calls", self._c_calls)
        r.add_delete(f"{c}/calls", self._c_clear_calls)
        r.add_get(f"{c}/commands", self._c_commands)
        r.add_get(f"{c}/updates", self._c_updates)
        r.add_post(f"{c}/updates/{{update_id}}/redeliver", self._c_redeliver_update)
        r.add_post(f"{c}/faults", self._c_add_fault)
        r.add_get(f"{c}/faults", self._c_faults)
        r.add_delete(f"{c}/faults", self._c_clear_faults)
        r.add_post(f"{c}/rate_limit", self._c_rate_limit)
        r.add_get(f"{c}/stats/sends", self._c_send_stats)
        r.add_get(f"{c}/webhook/backends", self._c_webhook_backends)
        r.add_post(f"{c}/webhook/backends", self._c_set_webhook_backends)
        r.add_get(f"{c}/webhook/deliveries", self._c_webhook_deliveries)
        r.add_get(f"{c}/webhook/settings", self._c_webhook_settings)
        r.add_post(f"{c}/webhook/settings", self._c_set_webhook_settings)
        r.add_get(f"{c}/files/{{file_id}}", self._c_file)
        return app

    # ------------------------------------------------------------------ Bot API
    async def _read_params(self, request: web.Request) -> Params:
        values: dict[str, Any] = dict(request.query.items())
        files: dict[str, UploadedFile] = {}
        if request.can_read_body:
            ctype = request.content_type
            try:
                if ctype == "application/json":
                    raw = await request.read()
                    if raw.strip():
                        try:
                            body = json.loads(raw)
                        except ValueError:
                            raise bad_request("can't parse JSON encoded request body") from None
                        if not isinstance(body, dict):
                            raise bad_request("JSON request body must be an object")
                        values.update(body)
                elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                    form = await request.post()
                    for key, value in form.items():
                        if isinstance(value, web.FileField):
                            files[key] = UploadedFile(
                                value.filename, value.content_type, value.file.read()
                            )
                        else:
                            values[key] = value
                else:
                    await request.read()
            except web.HTTPRequestEntityTooLarge:
                raise EmulatorError(413, "Request Entity Too Large") from None
        return Params(values, files)

    async def _handle_bot_api(self, request: web.Request) -> web.StreamResponse:
        started_wall, started = time.time(), time.monotonic()
        token = request.match_info["token"]
        method_name = request.match_info["method"]
        entry = self._methods.get(method_name.lower())
        log_name = entry[0] if entry else method_name
        params = Params({}, {})
        fault_kind: str | None = None

        def log(status: int, description: str | None, result: Any = None) -> None:
            self._log(
                log_name, params, status, description, fault_kind, started, started_wall, result
            )

        try:
            if not self.token_ok(token):
                raise EmulatorError(401, "Unauthorized")
            bot_id = self.state.bind_token(token)
            if entry is None:
                raise EmulatorError(404, "Not Found: method not found")
            params = await self._read_params(request)
            chat_id = params.chat_id_for_matching()
            fault = self.state.match_fault(log_name, chat_id)
            if fault is not None:
                fault_kind = fault.kind
                if fault.kind == "429":
                    raise _too_many_requests(fault.retry_after)
                if fault.kind == "403":
                    raise EmulatorError(403, "Forbidden: bot was blocked by the user")
                if fault.kind == "500":
                    raise EmulatorError(500, "Internal Server Error")
                if fault.kind == "network":
                    log(0, "connection dropped")
                    return await self._drop_connection(request)
                if fault.kind == "slow":
                    await self._sleep(fault.effective_delay)
            retry_after = self.state.check_rate_limit(log_name, chat_id)
            if retry_after is not None:
                raise _too_many_requests(retry_after)
            outcome = await entry[1](params, bot_id)
            if not isinstance(outcome, _Result):
                outcome = _Result(outcome)
            status, body = 200, _envelope_ok(outcome.result, outcome.description)
            if fault is not None and fault.kind == "timeout":
                # Processed (recorded) but the answer comes too late: "uncertain delivery".
                log(status, None, outcome.result)
                await self._sleep(fault.effective_delay)
                return _json_response(body, status)
        except EmulatorError as err:
            status, body = err.error_code, err.to_dict()
        except Exception as exc:  # pragma: no cover - a bug in the emulator itself
            _LOGGER.exception("emulator failure in %s", log_name)
            status = 500
            body = {"ok": False, "error_code": 500, "description": f"Internal Server Error: {exc}"}
        log(status, body.get("description"), body.get("result"))
        return _json_response(body, status)

    def _log(
        self,
        method: str,
        params: Params,
        status: int,
        description: str | None,
        fault: str | None,
        started: float,
        started_wall: float,
        result: Any = None,
    ) -> None:
        message_id = result.get("message_id") if isinstance(result, dict) else None
        self.state.log_call(
            method,
            params.for_log(),
            status,
            description,
            fault,
            duration=time.monotonic() - started,
            started=started_wall,
            result_message_id=message_id if isinstance(message_id, int) else None,
        )

    async def _drop_connection(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.abort()
        # The response can no longer be written: aiohttp sees a premature client disconnect
        # and the client sees the connection closed without an answer.
        return web.Response(status=500)

    async def _get_me(self, p: Params, bot_id: int) -> Any:
        return self.state.get_me(bot_id)

    async def _get_updates(self, p: Params, bot_id: int) -> Any:
        if self.state.webhook.get("url"):
            raise EmulatorError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = p.get_int("offset")
        limit = p.get_int("limit") or 100
        limit = max(1, min(100, limit))
        timeout = max(0.0, p.get_float("timeout") or 0.0)
        allowed = p.get_json("allowed_updates", "allowed_updates")
        if allowed is not None and (
            not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed)
        ):
            raise bad_request("can't parse allowed_updates JSON object")
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # terminates an older waiting getUpdates (Telegram answers it 409)
        self.state.ack_updates(offset, allowed)
        updates: list[dict[str, Any]] = []

        def ready() -> bool:
            nonlocal updates
            if generation != self._poll_generation:
                return True
            updates = self.state.pending_updates(limit)
            return bool(updates)

        await self._wait_until(ready, timeout)
        if generation != self._poll_generation:
            raise EmulatorError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot "
                "instance is running",
            )
        return updates

    @staticmethod
    def _chat_id(p: Params) -> int:
        chat_id = p.get_chat_id()
        assert chat_id is not None
        return chat_id

    @staticmethod
    def _formatted(p: Params, name: str) -> dict[str, Any]:
        """``text``/``caption``, ``parse_mode`` and the entities as keyword arguments."""
        entities = _ENTITIES_PARAM[name]
        return {
            name: p.get_str(name),
            "parse_mode": p.get_str("parse_mode"),
            entities: p.get_json(entities),
        }

    def _common_send(self, p: Params) -> dict[str, Any]:
        markup = p.get_json("reply_markup", "reply keyboard markup")
        reply_parameters = p.get_json("reply_parameters", "reply parameters")
        reply_to = p.get_int("reply_to_message_id")
        if reply_parameters is None and reply_to is not None:
            reply_parameters = {
                "message_id": reply_to,
                "allow_sending_without_reply": p.get_bool("allow_sending_without_reply"),
            }
        extra = {
            k: p.values[k]
            for k in ("disable_notification", "protect_content", "message_effect_id")
            if k in p.values
        }
        link_preview = p.get_json("link_preview_options")
        if link_preview is not None:
            extra["link_preview_options"] = link_preview
        return {"reply_markup": markup, "reply_parameters": reply_parameters, "extra": extra}

    def _send(
        self,
        p: Params,
        send: Callable[..., StoredMessage],
        formatted: str,
        media: str | None = None,
    ) -> Any:
        """send*: ``send(chat_id[, the media file], **formatted params, **common options)``."""
        args: list[Any] = [self._chat_id(p)]
        if media is not None:
            args.append(p.get_input_file(media))
        msg = send(*args, **self._formatted(p, formatted), **self._common_send(p))
        return self.state.message_api(msg)

    async def _send_message(self, p: Params, bot_id: int) -> Any:
        return self._send(p, self.state.send_message, "text")

    async def _send_media(self, kind: str, p: Params) -> Any:
        return self._send(p, functools.partial(self.state.send_media, kind), "caption", kind)

    async def _send_document(self, p: Params, bot_id: int) -> Any:
        return await self._send_media("document", p)

    async def _send_photo(self, p: Params, bot_id: int) -> Any:
        return await self._send_media("photo", p)

    @staticmethod
    def _message_id(p: Params) -> int | None:
        return p.get_int("message_id", "message identifier is not specified")

    def _edit(
        self, p: Params, edit: Callable[..., StoredMessage], formatted: str | None = None
    ) -> Any:
        """editMessage*: ``edit(chat_id, message_id, reply_markup=..., **formatted params)``."""
        if p.has("inline_message_id"):
            raise bad_request("inline messages are not supported by the emulator")
        message_id = self._message_id(p)
        chat_id = p.get_chat_id(required=False)
        kwargs: dict[str, Any] = {
            "reply_markup": p.get_json("reply_markup", "reply keyboard markup")
        }
        if formatted is not None:
            kwargs.update(self._formatted(p, formatted))
        return self.state.message_api(edit(chat_id, message_id, **kwargs))

    async def _edit_message_text(self, p: Params, bot_id: int) -> Any:
        return self._edit(p, self.state.edit_message_text, "text")

    async def _edit_message_caption(self, p: Params, bot_id: int) -> Any:
        return self._edit(p, self.state.edit_message_caption, "caption")

    async def _edit_message_reply_markup(self, p: Params, bot_id: int) -> Any:
        return self._edit(p, self.state.edit_message_reply_markup)

    async def _delete_message(self, p: Params, bot_id: int) -> Any:
        chat_id = self._chat_id(p)
        return self.state.delete_message(chat_id, self._message_id(p))

    async def _answer_callback_query(self, p: Params, bot_id: int) -> Any:
        return self.state.answer_callback_query(
            p.get_str("callback_query_id"),
            p.get_str("text"),
            p.get_bool("show_alert"),
            p.get_str("url"),
            p.get_int("cache_time"),
        )

    async def _get_file(self, p: Params, bot_id: int) -> Any:
        return self.state.get_file(p.get_str("file_id")).to_file_api()

    @staticmethod
    def _commands_scope(p: Params) -> tuple[Any, str | None]:
        """(scope, language_code) of the *MyCommands methods."""
        return p.get_json("scope", "BotCommandScope"), p.get_str("language_code")

    async def _set_my_commands(self, p: Params, bot_id: int) -> Any:
        commands = p.get_json("commands", "commands")
        return self.state.set_my_commands(
            commands if commands is not None else [], *self._commands_scope(p)
        )

    async def _get_my_commands(self, p: Params, bot_id: int) -> Any:
        return self.state.get_my_commands(*self._commands_scope(p))

    async def _delete_my_commands(self, p: Params, bot_id: int) -> Any:
        return self.state.delete_my_commands(*self._commands_scope(p))

    async def _set_webhook(self, p: Params, bot_id: int) -> Any:
        allowed = p.get_json("allowed_updates", "allowed_updates")
        description = self.state.set_webhook(
            p.get_str("url"),
            p.get_str("secret_token"),
            p.get_bool("drop_pending_updates"),
            p.get_int("max_connections"),
            allowed,
            p.get_str("ip_address"),
        )
        return _Result(True, description)

    async def _delete_webhook(self, p: Params, bot_id: int) -> Any:
        return _Result(True, self.state.delete_webhook(p.get_bool("drop_pending_updates")))

    async def _get_webhook_info(self, p: Params, bot_id: int) -> Any:
        return self.state.webhook_info()

    async def _send_chat_action(self, p: Params, bot_id: int) -> Any:
        chat = self.state.get_chat(self._chat_id(p))
        if not p.get_str("action"):
            raise bad_request("action is empty")
        if chat.user.blocked:
            raise EmulatorError(403, "Forbidden: bot was blocked by the user")
        return True

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        if not self.token_ok(request.match_info["token"]):
            return _error_response(401, "Unauthorized")
        stored = self.state.file_by_path(request.match_info["file_path"])
        if stored is None:
            return _error_response(404, "Not Found")
        return _file_response(stored)

    # ------------------------------------------------------------------ control API
    @staticmethod
    async def _body(request: web.Request, *required: str) -> dict[str, Any]:
        """The JSON object body, which must hold non-null ``required`` fields."""
        raw = await request.read()
        body: Any = {}
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                raise EmulatorError(400, "request body must be JSON") from None
            if not isinstance(body, dict):
                raise EmulatorError(400, "request body must be a JSON object")
        missing = [n for n in required if body.get(n) is None]
        if missing:
            raise EmulatorError(400, f"missing field(s): {', '.join(missing)}")
        return body

    @staticmethod
    def _optional(body: dict[str, Any], name: str, convert: Callable[[Any], Any]) -> Any:
        """``convert(body[name])``, or ``None`` when the field is absent or null."""
        value = body.get(name)
        return None if value is None else convert(value)

    @classmethod
    def _optional_int(cls, body: dict[str, Any], name: str) -> int | None:
        return None if body.get(name) is None else cls._int_field(body, name)

    @staticmethod
    def _int_field(body: dict[str, Any], name: str) -> int:
        value = body.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and _INT_RE.match(value):
                return int(value)
            raise EmulatorError(400, f"field {name!r} must be an integer")
        return value

    @staticmethod
    def _control(
        handler: Callable[[EmulatorServer, web.Request], Awaitable[Any]],
    ) -> Callable[[EmulatorServer, web.Request], Awaitable[web.StreamResponse]]:
        async def wrapper(self: EmulatorServer, request: web.Request) -> web.StreamResponse:
            try:
                result = await handler(self, request)
            except EmulatorError as err:
                return _json_response(
                    {"ok": False, "error_code": err.error_code, "error": err.description},
                    err.error_code,
                )
            if isinstance(result, web.StreamResponse):
                return result
            return _json_response(result)

        return wrapper

    @_control
    async def _c_health(self, request: web.Request) -> Any:
        return {
            "ok": True,
            "version": self.state.version,
            "bot": self.state.get_me() if self.state.bot_id is not None else None,
            "base_url": f"{self.root_url}/bot",
            "base_file_url": f"{self.root_url}/file/bot",
        }

    @_control
    async def _c_reset(self, request: web.Request) -> Any:
        self.state.reset()
        self.deliverer.clear()
        return {"ok": True}

    @_control
    async def _c_create_user(self, request: web.Request) -> Any:
        body = await self._body(request, "id")
        user = self.state.create_user(
            self._int_field(body, "id"),
            body.get("first_name") or "Test",
            body.get("last_name"),
            body.get("username"),
            body.get("language_code"),
        )
        return {"user": user.to_view(), "chat": self.state.chats[user.id].to_view()}

    @_control
    async def _c_users(self, request: web.Request) -> Any:
        return [u.to_view() for u in self.state.users.values()]

    @_control
    async def _c_block(self, request: web.Request) -> Any:
        body = await self._body(request, "user_id")
        user = self.state.set_blocked(
            self._int_field(body, "user_id"), bool(body.get("blocked", True))
        )
        return user.to_view()

    @staticmethod
    def _sent(sent: tuple[int, StoredMessage], file_field: str | None = None) -> dict[str, Any]:
        """The answer to a user action: ids of the update and message (and of the file in the
        message's ``file_field``)."""
        update_id, msg = sent
        result: dict[str, Any] = {"update_id": update_id, "message_id": msg.message_id}
        if file_field is not None:
            stored = getattr(msg, file_field)
            assert stored is not None
            result["file_id"] = stored.file_id
        return result

    @_control
    async def _c_send_text(self, request: web.Request) -> Any:
        body = await self._body(request, "user_id", "text")
        return self._sent(
            self.state.user_send_text(
                self._int_field(body, "user_id"),
                body["text"],
                self._optional_int(body, "reply_to_message_id"),
                body.get("entities"),
            )
        )

    @_control
    async def _c_send_texts(self, request: web.Request) -> Any:
        body = await self._body(request, "messages")
        items = body["messages"]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise EmulatorError(400, "messages must be a list of {user_id, text} objects")
        batch = []
        for item in items:
            if item.get("text") is None:
                raise EmulatorError(400, "missing field(s): text")
            batch.append((self._int_field(item, "user_id"), item["text"]))
        sent = self.state.user_send_texts(batch)
        # Queued at once, on the clock of the call log: load tests measure replies against it.
        return {"time": time.time(), "sent": [self._sent(one) for one in sent]}

    @_control
    async def _c_edit_text(self, request: web.Request) -> Any:
        body = await self._body(request, "user_id", "message_id", "text")
        return self._sent(
            self.state.user_edit_text(
                self._int_field(body, "user_id"), self._int_field(body, "message_id"), body["text"]
            )
        )

    @_control
    async def _c_send_sticker(self, request: web.Request) -> Any:
        body = await self._body(request, "user_id")
        return self._sent(
            self.state.user_send_sticker(
                self._int_field(body, "user_id"), body.get("emoji") or "👍"
            )
        )

    @_control
    async def _c_send_voice(self, request: web.Request) -> Any:
        body = await self._body(request, "user_id")
        return self._sent(
            self.state.user_send_voice(
                self._int_field(body, "user_id"), int(body.get("duration") or 1)
            )
        )

    @_control
    async def _c_send_contact(self, request: web.Request) -> Any:
        body = await self._body(request, "user_id", "phone_number", "first_name")
        kwargs: dict[str, Any] = {}
        if "contact_user_id" in body:
            kwargs["contact_user_id"] = self._optional_int(body, "contact_user_id")
        return self._sent(
            self.state.user_send_contact(
                self._int_field(body, "user_id"),
                str(body["phone_number"]),
                body["first_name"],
                body.get("last_name"),
                **kwargs,
            )
        )

    @staticmethod
    def _b64(body: dict[str, Any]) -> bytes:
        try:
            return base64.b64decode(body.get("content") or "", validate=True)
        except (binascii.Error, ValueError):
            raise EmulatorError(400, "field 'content' must be base64") from None

    @_control
    async def _c_send_document(self, request: web.Request) -> Any:
        body = await self._body(request, "user_id", "file_name", "content")
        sent = self.state.user_send_document(
            self._int_field(body, "user_id"),
            body["file_name"],
            self._b64(body),
            body.get("mime_type"),
            body.get("caption"),
            body.get("caption_entities"),
        )
        return self._sent(sent, "document")

    @_control
    async def _c_send_photo(self, request: web.Request) -> Any:
        body = await self._body(request, "user_id", "content")
        sent = self.state.user_send_photo(
            self._int_field(body, "user_id"),
            self._b64(body),
            body.get("caption"),
            body.get("caption_entities"),
        )
        return self._sent(sent, "photo")

    @_control
    async def _c_press_button(self, request: web.Request) -> Any:
        body = await self._body(request, "user_id", "message_id", "data")
        update_id, record = self.state.press_button(
            self._int_field(body, "user_id"),
            self._int_field(body, "message_id"),
            str(body["data"]),
            bool(body.get("forge", False)),
        )
        return {"update_id": update_id, "callback_query_id": record.id}

    @_control
    async def _c_press_buttons(self, request: web.Request) -> Any:
        body = await self._body(request, "presses")
        items = body["presses"]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise EmulatorError(
                400, "presses must be a list of {user_id, message_id, data} objects"
            )
        batch = []
        for item in items:
            if item.get("data") is None:
                raise EmulatorError(400, "missing field(s): data")
            batch.append(
                (
                    self._int_field(item, "user_id"),
                    self._int_field(item, "message_id"),
                    str(item["data"]),
                    bool(item.get("forge", False)),
                )
            )
        pressed = self.state.press_buttons(batch)
        # Queued at once, on the clock of the call log: load tests measure answers against it.
        return {
            "time": time.time(),
            "pressed": [
                {"update_id": update_id, "callback_query_id": record.id}
                for update_id, record in pressed
            ],
        }

    @staticmethod
    def _query_int(request: web.Request, name: str) -> int | None:
        value = request.query.get(name)
        if value is None or value == "":
            return None
        if not _INT_RE.match(value):
            raise EmulatorError(400, f"query parameter {name!r} must be an integer")
        return int(value)

    @_control
    async def _c_callback_answers(self, request: web.Request) -> Any:
        return self.state.callback_answers(self._query_int(request, "chat_id"))

    @_control
    async def _c_chats(self, request: web.Request) -> Any:
        return [c.to_view() for c in self.state.chats.values()]

    def _chat_or_404(self, request: web.Request) -> int:
        raw = request.match_info["chat_id"]
        if not _INT_RE.match(raw):
            raise EmulatorError(400, "chat id must be an integer")
        chat_id = int(raw)
        if chat_id not in self.state.chats:
            raise EmulatorError(404, f"chat {chat_id} does not exist")
        return chat_id

    @_control
    async def _c_chat(self, request: web.Request) -> Any:
        chat_id = self._chat_or_404(request)
        chat = self.state.chats[chat_id]
        return {
            **chat.to_view(),
            "commands": self.state.visible_commands(chat_id),
        }

    @_control
    async def _c_chat_messages(self, request: web.Request) -> Any:
        chat_id = self._chat_or_404(request)
        since = self._query_int(request, "since")
        wait = float(request.query.get("wait") or 0)
        include_deleted = request.query.get("include_deleted", "1").lower() not in ("0", "false")
        if since is not None and wait > 0:
            chat = self.state.chats[chat_id]
            await self._wait_until(lambda: chat.version > since, min(wait, 60.0))
        chat = self.state.chats.get(chat_id)
        if chat is None:  # reset while waiting
            raise EmulatorError(404, f"chat {chat_id} does not exist")
        return {
            "chat_id": chat_id,
            "version": chat.version,
            "messages": self.state.chat_messages(chat_id, include_deleted),
        }

    @_control
    async def _c_calls(self, request: web.Request) -> Any:
        return self.state.call_log(
            request.query.get("method") or None, self._query_int(request, "since")
        )

    @_control
    async def _c_clear_calls(self, request: web.Request) -> Any:
        self.state.clear_calls()
        return {"ok": True}

    @_control
    async def _c_commands(self, request: web.Request) -> Any:
        entries = self.state.commands_view()
        scope = request.query.get("scope")
        if scope:
            try:
                wanted = json.loads(scope)
            except ValueError:
                raise EmulatorError(400, "scope must be JSON") from None
            entries = [e for e in entries if e["scope"] == wanted]
        if "language_code" in request.query:
            entries = [e for e in entries if e["language_code"] == request.query["language_code"]]
        return entries

    @_control
    async def _c_updates(self, request: web.Request) -> Any:
        return list(self.state.updates)

    @_control
    async def _c_redeliver_update(self, request: web.Request) -> Any:
        raw = request.match_info["update_id"]
        if not _INT_RE.match(raw):
            raise EmulatorError(400, "update id must be an integer")
        return self.state.redeliver_update(int(raw))

    @_control
    async def _c_add_fault(self, request: web.Request) -> Any:
        body = await self._body(request, "kind")
        methods = body.get("methods")
        if methods is not None and (
            not isinstance(methods, list) or not all(isinstance(m, str) for m in methods)
        ):
            raise EmulatorError(400, "methods must be a list of method names")
        try:
            rule = self.state.add_fault(
                str(body["kind"]),
                methods,
                self._optional_int(body, "chat_id"),
                self._optional_int(body, "count"),
                self._optional(body, "probability", float),
                self._optional(body, "retry_after", int),
                self._optional(body, "delay", float),
            )
        except (TypeError, ValueError) as exc:
            raise EmulatorError(400, f"invalid fault: {exc}") from None
        return rule.to_view()

    @_control
    async def _c_faults(self, request: web.Request) -> Any:
        return [f.to_view() for f in self.state.faults]

    @_control
    async def _c_clear_faults(self, request: web.Request) -> Any:
        self.state.clear_faults()
        return {"ok": True}

    @_control
    async def _c_rate_limit(self, request: web.Request) -> Any:
        body = await self._body(request)
        try:
            self.state.set_rate_limit(
                self._optional(body, "global_per_second", float),
                self._optional(body, "per_chat_per_second", float),
            )
        except (TypeError, ValueError) as exc:
            raise EmulatorError(400, f"invalid rate limit: {exc}") from None
        return {
            "global_per_second": self.state.global_rate,
            "per_chat_per_second": self.state.per_chat_rate,
        }

    @_control
    async def _c_send_stats(self, request: web.Request) -> Any:
        raw = request.query.get("window") or "1.0"
        try:
            window = float(raw)
        except ValueError:
            raise EmulatorError(400, "query parameter 'window' must be a number") from None
        return self.state.send_stats(window, self._query_int(request, "since"))

    @_control
    async def _c_webhook_backends(self, request: web.Request) -> Any:
        return self.deliverer.backends_view()

    @_control
    async def _c_set_webhook_backends(self, request: web.Request) -> Any:
        urls = (await self._body(request)).get("urls")
        if urls is not None and not isinstance(urls, list):
            raise EmulatorError(400, "urls must be a list of URLs (or null)")
        self.deliverer.set_backends(urls)
        return self.deliverer.backends_view()

    @_control
    async def _c_webhook_deliveries(self, request: web.Request) -> Any:
        return self.deliverer.deliveries(
            self._query_int(request, "since"), self._query_int(request, "update_id")
        )

    @_control
    async def _c_webhook_settings(self, request: web.Request) -> Any:
        return self.deliverer.settings()

    @_control
    async def _c_set_webhook_settings(self, request: web.Request) -> Any:
        body = await self._body(request)
        try:
            return self.deliverer.configure(
                timeout=self._optional(body, "timeout", float),
                retry_initial=self._optional(body, "retry_initial", float),
                retry_max=self._optional(body, "retry_max", float),
            )
        except (TypeError, ValueError) as exc:
            raise EmulatorError(400, f"invalid webhook settings: {exc}") from None

    @_control
    async def _c_file(self, request: web.Request) -> Any:
        stored = self.state.files.get(request.match_info["file_id"])
        if stored is None:
            raise EmulatorError(404, "file not found")
        file_name = stored.file_name or stored.file_path.rsplit("/", 1)[-1]
        return _file_response(stored, {"X-File-Name": file_name})


class _ServerUrls:
    """The addresses of a started :class:`EmulatorServer` (``self.server``)."""

    server: EmulatorServer

    @property
    def port(self) -> int:
        """The bound TCP port."""
        assert self.server.port is not None, "emulator not started"
        return self.server.port

    @property
    def root_url(self) -> str:
        """``http://host:port``."""
        return self.server.root_url

    @property
    def base_url(self) -> str:
        """PTB ``base_url`` (PTB appends the token)."""
        return f"{self.root_url}/bot"

    @property
    def base_file_url(self) -> str:
        """PTB ``base_file_url``."""
        return f"{self.root_url}/file/bot"

    @property
    def control_url(self) -> str:
        """Root of the control API."""
        return f"{self.root_url}{CONTROL_PREFIX}"


@dataclass
class RunningEmulator(_ServerUrls):
    """What :func:`run_emulator` yields."""

    server: EmulatorServer
    client: Any  # EmulatorClient (imported lazily to keep server importable on its own)

    @property
    def state(self) -> EmulatorState:
        """Direct access to the in-memory state (same event loop)."""
        return self.server.state


@contextlib.asynccontextmanager
async def run_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    state: EmulatorState | None = None,
    tokens: Iterable[str] | None = None,
    **state_options: Any,
) -> AsyncIterator[RunningEmulator]:
    """Run the emulator in the current event loop for the duration of the ``async with``."""
    from bot.emulator.client import EmulatorClient

    server = EmulatorServer(state, tokens=tokens, **state_options)
    await server.start(host, port)
    client = EmulatorClient(f"{server.root_url}{CONTROL_PREFIX}")
    try:
        yield RunningEmulator(server, client)
    finally:
        await client.aclose()
        await server.stop()


class EmulatorThread(_ServerUrls):
    """The emulator in a background thread with its own event loop (for bots in subprocesses
    or synchronous test code). Talk to it over HTTP (``EmulatorClient(control_url)``)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        state: EmulatorState | None = None,
        tokens: Iterable[str] | None = None,
        **state_options: Any,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.server = EmulatorServer(state, tokens=tokens, **state_options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def state(self) -> EmulatorState:
        """The state (mutations from other threads are locked, but prefer the control API)."""
        return self.server.state

    def start(self, timeout: float = 10.0) -> EmulatorThread:
        """Start serving; returns once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name="telegram-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("emulator thread did not start in time")
        if self._error is not None:
            raise RuntimeError("emulator thread failed to start") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self.server.start(self.host, self.requested_port))
            except BaseException as exc:
                self._error = exc
                return
            finally:
                self._ready.set()
            loop.run_forever()
            loop.run_until_complete(self.server.stop())
        finally:
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and join the thread."""
        if self._thread is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
