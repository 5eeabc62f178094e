"""Shared pieces of the bad-input suite (issue 9, item 4).

One running application (requests captured, downloads served) over the office of
``tests.evaluations.office`` plus one employee whose name is an HTML/Markdown injection.
Every error the application's error handlers see is recorded; every request the bot makes is
checked against Telegram's limits and its HTML dialect.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from telegram import Update
from telegram.ext import Application

from bot.config import Settings
from bot.emulator.html_check import strip_html, validate_html
from storage.models import Employee
from tests.evaluations.conversation_support import CLOCK
from tests.evaluations.office import (
    BOSS2_CHAT,
    BOSS_CHAT,
    HEAD_CHAT,
    HR_CHAT,
    STAFF2_CHAT,
    STAFF_CHAT,
    Maker,
    Office,
    add_office,
)
from tests.handlers.conftest import running_app
from tests.storage.importing import pns_nip
from tests.support.telegram import Call, FileServingRequest, user_dict

# BAD_INPUT_EXPLORE=1: every forged button by every role, and more hypothesis examples, drawn
# anew; without it the suite is the reproducible, CI-sized sample.
EXPLORE = bool(os.environ.get("BAD_INPUT_EXPLORE"))
STRANGER = 7739999  # nobody's Telegram account
INJECTED_NAME = "<script>alert(1)</script> </code> &amp; *_[ <b>Budi"
INJECTED_POSITION = "Staf <i>Umum & Keuangan"
ROLES = {
    "hr": HR_CHAT,
    "supervisor": BOSS_CHAT,
    "supervisor2": BOSS2_CHAT,
    "head": HEAD_CHAT,
    "staff": STAFF_CHAT,
    "staff2": STAFF2_CHAT,
    "stranger": STRANGER,
}
TEXT_MAX = 4096
CAPTION_MAX = 1024
CALLBACK_DATA_MAX = 64
ALERT_MAX = 200
# The tables a refused input must leave alone.
GUARDED_TABLES = (
    "employees",
    "mutations",
    "evaluations",
    "outbox",
    "drafts",
    "announcements",
    "audit_log",
)
TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/', "Error:", "Exception")


@dataclass
class Bot:
    app: Application
    request: FileServingRequest
    sessionmaker: Maker
    office: Office
    injected: int  # the employee whose name is an injection (Bu Sari's report)
    errors: list[BaseException] = field(default_factory=list)


@asynccontextmanager
async def running_bot(settings: Settings, sessionmaker: Maker) -> AsyncIterator[Bot]:
    office = await add_office(sessionmaker)
    async with sessionmaker() as session, session.begin():
        boss = await session.get(Employee, office.boss)
        assert boss is not None
        injected = Employee(
            nip=pns_nip(8),
            name=INJECTED_NAME,
            position=INJECTED_POSITION,
            unit_id=boss.unit_id,
            supervisor_id=office.boss,
        )
        session.add(injected)
        await session.flush()
        injected_id = injected.id
    async with running_app(settings, FileServingRequest()) as (application, request):
        application.bot_data.extras["clock"] = lambda: CLOCK
        bot = Bot(application, request, sessionmaker, office, injected_id)

        async def record(update: object, context: Any) -> None:
            bot.errors.append(context.error)

        application.add_error_handler(record)
        request.clear()
        yield bot


# --------------------------------------------------------------------------- updates
_ids = itertools.count(40_000_000)


def message_dict(user: int, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": {"id": user, "type": "private", "first_name": "Uji"},
        "from": user_dict(user, "Uji"),
        **content,
    }


def message(app: Application, user: int, content: dict[str, Any], *, edited: bool = False):
    key = "edited_message" if edited else "message"
    body = message_dict(user, content)
    if edited:
        body["edit_date"] = int(time.time())
    return Update.de_json({"update_id": next(_ids), key: body}, app.bot)


def text_message(app: Application, user: int, text: str, *, edited: bool = False) -> Update:
    content: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        command = text.split()[0] if text.split() else text
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return message(app, user, content, edited=edited)


def press(app: Application, user: int, data: str, message_id: int = 500) -> Update:
    query = {
        "id": str(next(_ids)),
        "from": user_dict(user),
        "chat_instance": "ci",
        "message": {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": user, "type": "private"},
            "from": {"id": 7000000001, "is_bot": True, "first_name": "Bot"},
            "text": "…",
        },
        "data": data,
    }
    return Update.de_json({"update_id": next(_ids), "callback_query": query}, app.bot)


def document(
    app: Application,
    user: int,
    file_id: str,
    file_name: str | None,
    file_size: int | None,
    mime_type: str | None,
) -> Update:
    doc: dict[str, Any] = {"file_id": file_id, "file_unique_id": f"u{file_id}"}
    if mime_type is not None:
        doc["mime_type"] = mime_type
    if file_name is not None:
        doc["file_name"] = file_name
    if file_size is not None:
        doc["file_size"] = file_size
    return message(app, user, {"document": doc})


async def feed(bot: Bot, update: Update) -> list[Call]:
    """Process one update; the requests it made (already checked)."""
    bot.request.clear()
    await bot.app.process_update(update)
    calls = list(bot.request.calls)
    check_calls(calls)
    assert_no_errors(bot)
    return calls


def assert_no_errors(bot: Bot) -> None:
    errors, bot.errors[:] = list(bot.errors), []
    assert not errors, f"unhandled: {errors!r}"


# --------------------------------------------------------------------------- checks
def _shown_length(text: str, parse_mode: str | None) -> int:
    return len(strip_html(text) if parse_mode == "HTML" else text)


def check_calls(calls: list[Call]) -> None:
    """Every request is one Telegram would accept, and none shows a traceback."""
    for call in calls:
        params = call.params
        parse_mode = params.get("parse_mode")
        for key, limit in (("text", TEXT_MAX), ("caption", CAPTION_MAX)):
            value = params.get(key)
            if value is None or call.method == "answerCallbackQuery":
                continue
            assert isinstance(value, str), (call.method, key, value)
            if parse_mode == "HTML":
                problem = validate_html(value)
                assert problem is None, f"{call.method} {key}: {problem}: {value[:300]!r}"
            assert _shown_length(value, parse_mode) <= limit, (call.method, key, len(value))
            if call.method == "sendMessage" or call.method == "editMessageText":
                assert value.strip(), f"{call.method} with an empty text"
            for marker in TRACEBACK_MARKERS[:2]:
                assert marker not in value, f"traceback shown: {value[:300]!r}"
        if call.method == "answerCallbackQuery":
            alert = params.get("text") or ""
            assert len(alert) <= ALERT_MAX, alert
            assert "Traceback" not in alert
        markup = params.get("reply_markup")
        if isinstance(markup, dict):
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    assert button.get("text"), button
                    data = button.get("callback_data")
                    if data is not None:
                        assert 1 <= len(data.encode()) <= CALLBACK_DATA_MAX, data


def texts(calls: list[Call]) -> list[str]:
    return [
        str(c.params.get("text") or c.params.get("caption") or "")
        for c in calls
        if c.method in {"sendMessage", "editMessageText", "sendDocument", "sendPhoto"}
    ]


def buttons(calls: list[Call]) -> list[str]:
    found = []
    for call in calls:
        markup = call.params.get("reply_markup")
        if isinstance(markup, dict):
            for row in markup.get("inline_keyboard", []):
                found += [b["callback_data"] for b in row if "callback_data" in b]
    return found


# --------------------------------------------------------------------------- database
async def snapshot(sessionmaker: Maker) -> dict[str, list[tuple]]:
    """Every row of the guarded tables, in primary-key order."""
    found: dict[str, list[tuple]] = {}
    async with sessionmaker() as session:
        for table in GUARDED_TABLES:
            rows = await session.execute(text(f"SELECT * FROM {table} ORDER BY id"))
            found[table] = [tuple(row) for row in rows]
    return found


def assert_unchanged(
    before: dict[str, list[tuple]], after: dict[str, list[tuple]], *, audit_may_grow: bool = True
) -> None:
    """Nothing changed; a refusal may only add audit entries (denied presses are audited)."""
    for table in GUARDED_TABLES:
        if table == "audit_log" and audit_may_grow:
            assert after[table][: len(before[table])] == before[table], table
            continue
        assert after[table] == before[table], f"{table} changed"


async def employee_names(sessionmaker: Maker) -> list[str]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(Employee.name).order_by(Employee.id)))


async def check_outbox(sessionmaker: Maker) -> int:
    """Every queued message is a valid Telegram call too; how many there are."""
    from storage.models import OutboxMessage

    async with sessionmaker() as session:
        rows = list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())
    calls = []
    for row in rows:
        payload = dict(row.payload)
        method = "sendMessage" if "text" in payload else "sendDocument"
        calls.append(Call(method, payload))
    check_calls(calls)
    return len(rows)
