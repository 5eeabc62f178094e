"""Handler-layer support: a PTB request object that records calls instead of sending them,
and builders for the updates Telegram would deliver."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

BOT_ID = 7000000001
TOKEN = f"{BOT_ID}:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
BOT_USER = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Bot ASN Bukittinggi",
    "username": "bukittinggi_asn_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]


class CapturingRequest(BaseRequest):
    """Answers like Telegram would and keeps every call for the test to inspect."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._message_ids = itertools.count(1000)

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, *args: Any, **kw: Any
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        self.calls.append(Call(api_method, params))
        return 200, json.dumps({"ok": True, "result": self._result(api_method, params)}).encode()

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "getUpdates":
            return []
        if method in {"sendMessage", "editMessageText", "editMessageReplyMarkup"}:
            chat_id = int(params.get("chat_id", 0))
            message = {
                "message_id": int(params.get("message_id") or next(self._message_ids)),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
            markup = params.get("reply_markup")
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup  # Telegram echoes inline keyboards only
            return message
        return True

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        return [call.params for call in self.calls if call.method == method]

    def clear(self) -> None:
        self.calls.clear()


class FileServingRequest(CapturingRequest):
    """``CapturingRequest`` that also answers ``getFile``, serves downloads, and keeps the
    files the bot sends (``sendDocument``) with their bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self.uploaded: list[tuple[str, bytes]] = []  # (file name, content) sent by the bot
        self._ids = itertools.count(1)

    def add_file(self, content: bytes) -> str:
        number = next(self._ids)
        file_id = f"BQACAgUAAxkBAAI{number:06d}"
        self.files[file_id] = (f"documents/file_{number}", content)
        return file_id

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, *args: Any, **kw: Any
    ) -> tuple[int, bytes]:
        if "/file/bot" in url:
            path = url.split("/file/bot", 1)[1].split("/", 1)[1]
            self.calls.append(Call("download", {"path": path}))
            for file_path, content in self.files.values():
                if file_path == path:
                    return 200, content
            return 404, b'{"ok": false, "error_code": 404, "description": "Not Found"}'
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        if api_method == "getFile":
            self.calls.append(Call(api_method, params))
            if str(params["file_id"]) not in self.files:
                error = {
                    "ok": False,
                    "error_code": 400,
                    "description": "Bad Request: invalid file_id",
                }
                return 400, json.dumps(error).encode()
            file_path, content = self.files[str(params["file_id"])]
            result: Any = {
                "file_id": params["file_id"],
                "file_unique_id": f"u{params['file_id']}",
                "file_size": len(content),
                "file_path": file_path,
            }
            return 200, json.dumps({"ok": True, "result": result}).encode()
        if api_method == "sendDocument":
            assert request_data is not None
            self.calls.append(Call(api_method, params))
            for name, content, *_ in request_data.multipart_data.values():
                self.uploaded.append((name, content))
            result = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT_USER,
                "document": {"file_id": "BQAC-report", "file_unique_id": "report"},
            }
            return 200, json.dumps({"ok": True, "result": result}).encode()
        return await super().do_request(url, method, request_data, *args, **kw)


_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


def user_dict(user_id: int, first_name: str = "Rina", language_code: str | None = "id") -> dict:
    user = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code:
        user["language_code"] = language_code
    return user


def _user_message(user_id: int, content: dict[str, Any], **user: Any) -> dict[str, Any]:
    return {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private", "first_name": user.get("first_name", "Rina")},
        "from": user_dict(user_id, **user),
        **content,
    }


def message_update(app: Application, user_id: int, text: str, **user: Any) -> Update:
    content: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        command = text.split()[0]
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    message = _user_message(user_id, content, **user)
    return Update.de_json({"update_id": next(_update_ids), "message": message}, app.bot)


def document_update(
    app: Application,
    user_id: int,
    file_id: str,
    file_name: str | None,
    file_size: int | None,
    mime_type: str = "text/csv",
) -> Update:
    document: dict[str, Any] = {
        "file_id": file_id,
        "file_unique_id": f"u{file_id}",
        "mime_type": mime_type,
    }
    if file_name is not None:
        document["file_name"] = file_name
    if file_size is not None:
        document["file_size"] = file_size
    message = _user_message(user_id, {"document": document})
    return Update.de_json({"update_id": next(_update_ids), "message": message}, app.bot)


def callback_update(
    app: Application, user_id: int, data: str, message_id: int = 1, text: str = "…"
) -> Update:
    message = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private"},
        "from": BOT_USER,
        "text": text,
    }
    query = {
        "id": str(next(_update_ids)),
        "from": user_dict(user_id),
        "chat_instance": "ci",
        "message": message,
        "data": data,
    }
    return Update.de_json({"update_id": next(_update_ids), "callback_query": query}, app.bot)


# Message contents that are neither text nor a document, as Telegram sends them.
STICKER = {
    "sticker": {
        "file_id": "CAACAgIAAxkBAAIstiker",
        "file_unique_id": "ustiker",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
}
VOICE = {"voice": {"file_id": "AwACAgIAAxkBAAIsuara", "file_unique_id": "usuara", "duration": 3}}
