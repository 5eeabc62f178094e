"""/hr_kirim through ``Application.process_update`` with captured requests, on both databases."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.app import build_application
from bot.config import Settings
from bot.i18n import get_translator
from handlers import delivery_status
from storage.models import Employee, OutboxMessage, Unit, utcnow
from storage.repositories.outbox import OutboxRepository
from tests.support.factories import NIP_STAFF, NIP_SUPERVISOR, add_unit_with_staff
from tests.support.telegram import (
    BOT_USER,
    TOKEN,
    Call,
    CapturingRequest,
    callback_update,
    message_update,
)

HR = 5560001
STAFF = 5560002
ID = get_translator("id")


def is_status_command(handler: object) -> bool:
    return isinstance(handler, CommandHandler) and delivery_status.COMMAND in handler.commands


class Recorder(CapturingRequest):
    """Captures calls; keeps the documents the bot sends, with their bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.uploaded: list[tuple[str, bytes]] = []
        self._ids = itertools.count(5000)

    async def do_request(self, url, method, request_data=None, *args, **kw):  # type: ignore[no-untyped-def]
        if url.rsplit("/", 1)[-1] != "sendDocument":
            return await super().do_request(url, method, request_data, *args, **kw)
        assert request_data is not None
        params = dict(request_data.parameters)
        self.calls.append(Call("sendDocument", params))
        for name, content, *_ in (request_data.multipart_data or {}).values():
            self.uploaded.append((name, content))
        result = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": int(params["chat_id"]), "type": "private"},
            "from": BOT_USER,
            "document": {"file_id": "BQAC-unreachable", "file_unique_id": "unreachable"},
        }
        return 200, json.dumps({"ok": True, "result": result}).encode()


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[tuple[Application, Recorder]]:
    settings = Settings(bot_token=TOKEN, database_url=database_url, _env_file=None)
    request = Recorder()
    application = build_application(settings, request=request)
    application.bot_data.extras["delivery"] = {"enabled": False}
    await application.initialize()
    assert application.post_init is not None and application.post_shutdown is not None
    await application.post_init(application)
    try:
        yield application, request
    finally:
        await application.shutdown()
        await application.post_shutdown(application)


@pytest.fixture
async def people(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """An HR admin (HR) and a linked employee without the role (STAFF)."""
    return await add_unit_with_staff(
        sessionmaker,
        supervisor_telegram_id=HR,
        supervisor_is_hr_admin=True,
        staff_telegram_id=STAFF,
    )


async def put(
    sessionmaker: async_sessionmaker[AsyncSession],
    key: str,
    status: str,
    *,
    chat_id: int = 9990001,
    employee_id: int | None = None,
    sent_at: dt.datetime | None = None,
    kind: str = "reminder",
    created_at: dt.datetime | None = None,
) -> int:
    """An outbox row in ``status`` (written directly: the sender is tested elsewhere)."""
    async with sessionmaker() as session, session.begin():
        await OutboxRepository(session).enqueue(
            key, chat_id, {"text": key}, kind=kind, employee_id=employee_id
        )
        query = select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
        row = await session.scalar(query)
        assert row is not None
        row.status = status
        row.sent_at = sent_at
        if created_at is not None:
            row.created_at = row.not_before = created_at
        if status == "sending":
            row.lease_owner, row.lease_until = "elsewhere", utcnow() + dt.timedelta(minutes=1)
        return row.id


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """Button text -> callback_data."""
    rows = message["reply_markup"]["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def press(app: Application, user: int, data: str) -> None:
    await app.process_update(callback_update(app, user, data))


def alerts(request: Recorder) -> list[str]:
    return [c.get("text", "") for c in request.sent("answerCallbackQuery") if c.get("show_alert")]


# ---------------------------------------------------------------------------- tests
def test_the_local_day_starts_at_midnight_wib_not_utc():
    # 18:30 UTC on the 11th is already 01:30 WIB on the 12th.
    start = delivery_status.today_start(ID, dt.datetime(2026, 1, 11, 18, 30, tzinfo=dt.UTC))
    assert start == dt.datetime(2026, 1, 11, 17, 0, tzinfo=dt.UTC)
    start = delivery_status.today_start(ID, dt.datetime(2026, 1, 11, 16, 59, tzinfo=dt.UTC))
    assert start == dt.datetime(2026, 1, 10, 17, 0, tzinfo=dt.UTC)


async def test_registered_before_the_fallback(app):
    application, _ = app
    group = application.handlers[0]
    mine = next(i for i, h in enumerate(group) if is_status_command(h))
    catch_all = next(
        i for i, h in enumerate(group) if isinstance(h, CallbackQueryHandler) and h.pattern is None
    )
    assert mine < catch_all


async def test_only_hr_sees_the_figures(app, people):
    application, request = app
    await application.process_update(message_update(application, STAFF, "/hr_kirim"))
    (reply,) = request.sent()
    assert reply["text"] == ID("Sorry, this is only for HR administrators (BKPSDM).")
    request.clear()

    # A forged button from someone without the role does nothing but refuse.
    await press(application, STAFF, "kirim:xlsx")
    assert alerts(request) == [ID("Sorry, this is only for HR administrators (BKPSDM).")]
    assert not request.sent("sendDocument")


async def test_figures_count_queued_sent_today_failed_blocked_uncertain(app, people, sessionmaker):
    application, request = app
    _, staff_id = people
    t = ID
    midnight = delivery_status.today_start(t, utcnow())
    for n in range(1234):  # a thousands separator in the figure
        await put(sessionmaker, f"p{n}", "pending")
    await put(sessionmaker, "s1", "sending")
    await put(sessionmaker, "today1", "sent", sent_at=midnight)
    await put(sessionmaker, "today2", "sent", sent_at=utcnow())
    await put(sessionmaker, "yesterday", "sent", sent_at=midnight - dt.timedelta(seconds=1))
    await put(sessionmaker, "f1", "failed")
    await put(sessionmaker, "b1", "blocked")
    await put(sessionmaker, "b2", "blocked")
    await put(sessionmaker, "u1", "uncertain")
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Employee).where(Employee.id == staff_id).values(reachable=False)
        )

    await application.process_update(message_update(application, HR, "/hr_kirim"))

    (reply,) = request.sent()
    text = reply["text"]
    assert reply["parse_mode"] == "HTML"
    for line in (
        t("Queued: {n}", n="1.235"),
        t("Sent today: {n}", n="2"),
        t("Failed: {n}", n="1"),
        t("Blocked: {n}", n="2"),
        t("Uncertain: {n}", n="1"),
        t("Unreachable employees: {n}", n="1"),
    ):
        assert line in text, text
    assert "WIB" in text  # as of when
    labels = buttons(reply)
    assert labels[t("Download unreachable employees")] == "kirim:xlsx"
    assert labels[t("Uncertain deliveries ({n})", n="1")] == "kirim:list"
    assert all(len(data.encode()) <= 64 for data in labels.values())


async def test_english_reader_gets_english_figures(app, people, sessionmaker):
    application, request = app
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Employee).where(Employee.telegram_user_id == HR).values(language="en")
        )
    await application.process_update(message_update(application, HR, "/hr_kirim"))
    (reply,) = request.sent()
    assert reply["text"].startswith("<b>Outgoing messages</b>")
    assert "Queued: 0" in reply["text"]


async def test_unreachable_employees_come_as_xlsx_in_wib(app, people, sessionmaker):
    application, request = app
    _, staff_id = people
    blocked_at = dt.datetime(2026, 1, 11, 18, 30, tzinfo=dt.UTC)  # 12 Jan, 01.30 WIB
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Employee)
            .where(Employee.id == staff_id)
            .values(reachable=False, blocked_at=blocked_at, name="Rina <Marlina> & Co")
        )
        other_unit = Unit(name="Bappeda")
        session.add_all(
            [
                other_unit,
                Employee(  # unreachable but no longer active: not listed
                    nip="199001012015011001",
                    name="Pensiun",
                    unit=other_unit,
                    reachable=False,
                    active=False,
                ),
                Employee(  # unreachable, time unknown
                    nip="199101012015012002",
                    name="Ani",
                    unit=other_unit,
                    reachable=False,
                ),
            ]
        )

    await press(application, HR, "kirim:xlsx")

    (sent,) = request.sent("sendDocument")
    assert sent["chat_id"] == HR
    assert sent["caption"] == ID.ngettext(
        "{n} employee cannot be reached: they blocked the bot or left the chat.",
        "{n} employees cannot be reached: they blocked the bot or left the chat.",
        2,
    )
    ((name, content),) = request.uploaded
    assert name.startswith("pegawai-tidak-terjangkau-") and name.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(content)).active
    rows = [tuple(cell.value for cell in row) for row in sheet.iter_rows()]
    assert rows == [
        (ID("Name"), ID("NIP"), ID("Work unit"), ID("Blocked since ({zone})", zone="WIB")),
        ("Ani", "199101012015012002", "Bappeda", None),
        ("Rina <Marlina> & Co", NIP_STAFF, "Dinas Perhubungan", dt.datetime(2026, 1, 12, 1, 30)),
    ]
    assert NIP_SUPERVISOR not in {row[1] for row in rows}


async def test_nobody_unreachable_is_an_alert_not_an_empty_file(app, people):
    application, request = app
    await press(application, HR, "kirim:xlsx")
    assert alerts(request) == [ID("Every employee can be reached.")]
    assert not request.sent("sendDocument")


async def test_uncertain_rows_are_listed_and_resent_or_ignored_one_by_one(
    app, people, sessionmaker
):
    application, request = app
    _, staff_id = people
    when = dt.datetime(2026, 1, 12, 2, 0, tzinfo=dt.UTC)  # 09.00 WIB
    first = await put(
        sessionmaker, "u1", "uncertain", employee_id=staff_id, chat_id=STAFF, created_at=when
    )
    second = await put(
        sessionmaker,
        "u2",
        "uncertain",
        chat_id=HR,
        kind="stage",
        created_at=when + dt.timedelta(hours=1),
    )
    third = await put(
        sessionmaker, "u3", "uncertain", chat_id=424242, created_at=when + dt.timedelta(hours=2)
    )

    await press(application, HR, "kirim:list")
    (listing,) = request.sent("editMessageText")
    text = listing["text"]
    assert "1. <code>reminder</code> — Rina Marlina, S.E. — 12 Jan 2026 09.00 WIB" in text
    assert "2. <code>stage</code> — Ir. Yusuf Datuak Rajo Mudo — 12 Jan 2026 10.00 WIB" in text
    assert ID("unknown recipient (chat {chat})", chat=424242) in text
    labels = buttons(listing)
    resend, ignore = ID("Resend"), ID("Ignore")
    assert labels[f"1 · {resend}"] == f"kirim:r:{first}"
    assert labels[f"2 · {ignore}"] == f"kirim:i:{second}"
    assert labels[ID("Resend all ({n})", n="3")] == f"kirim:ra:{third}:3"
    request.clear()

    await press(application, HR, f"kirim:r:{first}")
    await press(application, HR, f"kirim:i:{second}")
    async with sessionmaker() as session:
        status = dict((await session.execute(select(OutboxMessage.id, OutboxMessage.status))).all())
    assert (status[first], status[second], status[third]) == ("pending", "cancelled", "uncertain")
    answers = [c.get("text") for c in request.sent("answerCallbackQuery")]
    assert answers == [ID("It will be sent again."), ID("Ignored.")]
    last = request.sent("editMessageText")[-1]
    assert "Rina" not in last["text"] and "424242" in last["text"]
    assert ID("Resend all ({n})", n="1") not in buttons(last)  # one left: no bulk buttons
    request.clear()

    # The same button again: no longer uncertain, so it is stale.
    await press(application, HR, f"kirim:r:{first}")
    assert alerts(request) == [ID("This button is no longer valid.")]
    async with sessionmaker() as session:
        assert (await session.get(OutboxMessage, first)).status == "pending"


async def test_bulk_buttons_act_on_the_list_shown_or_refuse_if_it_changed(
    app, people, sessionmaker
):
    application, request = app
    ids = [await put(sessionmaker, f"u{n}", "uncertain") for n in range(12)]

    await press(application, HR, "kirim:list")
    (listing,) = request.sent("editMessageText")
    assert ID("… and {n} more", n="4") in listing["text"]  # 8 listed of 12
    ignore_all = buttons(listing)[ID("Ignore all ({n})", n="12")]
    resend_all = buttons(listing)[ID("Resend all ({n})", n="12")]
    request.clear()

    # One of them is resolved meanwhile (another HR admin): the bulk button is stale.
    async with sessionmaker() as session, session.begin():
        await OutboxRepository(session).resolve_uncertain(ids[0], resend=False)
    await press(application, HR, ignore_all)
    assert alerts(request) == [ID("The list has changed; here it is again.")]
    async with sessionmaker() as session:
        assert await OutboxRepository(session).uncertain_ids() == ids[1:]
    refreshed = request.sent("editMessageText")[-1]
    resend_all = buttons(refreshed)[ID("Resend all ({n})", n="11")]
    request.clear()

    # A row that becomes uncertain after the list was shown is not swept along.
    late = await put(sessionmaker, "late", "uncertain")
    await press(application, HR, resend_all)
    assert [c.get("text") for c in request.sent("answerCallbackQuery")] == [
        ID.ngettext("{n} message will be sent again.", "{n} messages will be sent again.", 11)
    ]
    async with sessionmaker() as session:
        counts = await OutboxRepository(session).counts_by_status()
        assert await OutboxRepository(session).uncertain_ids() == [late]
    assert (counts["pending"], counts["cancelled"], counts["uncertain"]) == (11, 1, 1)


@pytest.mark.parametrize(
    "data", ["kirim:r:", "kirim:r:abc", "kirim:zz", "kirim:ra:5", "kirim:ia:5:0", "kirim:r:1:2"]
)
async def test_malformed_buttons_are_stale(app, people, data):
    application, request = app
    await press(application, HR, data)
    assert alerts(request) == [ID("This button is no longer valid.")]
