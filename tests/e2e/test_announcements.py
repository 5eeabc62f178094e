"""/hr_umumkan and /hr_siaran over real HTTP through the emulator (SQLite and PostgreSQL).

HR composes in chat exactly as on a phone (text with Telegram's formatting entities, or a
photo with a caption), picks an audience with the buttons (all, units, supervisors, a NIP
list typed or uploaded as CSV/XLSX), previews, sends or schedules; the outbox sender delivers
through the emulator. Every test checks what the recipients' chats and HR's chat hold in the
emulator and what the database holds (announcement, recipients, outbox rows, audit).

The kill-and-restart case with 3,000 recipients is ``test_announcement_restart.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import io
import itertools
import math
import struct
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.emulator import RunningEmulator
from bot.emulator.client import EmulatorClient, EmulatorControlError
from bot.i18n import get_translator
from storage.models import (
    Announcement,
    AnnouncementRecipient,
    AuditLog,
    Draft,
    Employee,
    OutboxMessage,
    Unit,
    utcnow,
)
from tests.e2e.conftest import LiveBot, live_settings, start_live_bot, stop_live_bot
from tests.evaluations.office import (
    BOSS2_CHAT,
    BOSS_CHAT,
    HEAD_CHAT,
    HR_CHAT,
    STAFF2_CHAT,
    STAFF_CHAT,
    WIB,
    add_office,
    audit_actions,
)
from tests.storage.importing import pns_nip
from tests.support.chat import has_text, shown, with_button

pytestmark = pytest.mark.e2e

ID = get_translator("id")
Maker = async_sessionmaker[AsyncSession]

OFFICE_USERS = {
    HR_CHAT: "Admin",
    HEAD_CHAT: "Yusuf",
    BOSS_CHAT: "Sari",
    BOSS2_CHAT: "Hendra",
    STAFF_CHAT: "Rina",
    STAFF2_CHAT: "Doni",
}
# Dinas Pendidikan (added by add_school): Ani and Budi linked, Citra linked but unreachable
# (she blocked the bot before), Dedi not linked.
ANI_CHAT, BUDI_CHAT, CITRA_CHAT = 7730101, 7730102, 7730103
SCHOOL_USERS = {ANI_CHAT: "Ani", BUDI_CHAT: "Budi", CITRA_CHAT: "Citra"}
EVERYONE = {**OFFICE_USERS, **SCHOOL_USERS}
# NIPs of add_office's people (pns_nip(sequence)) and of the school.
RINA_NIP, DONI_NIP, HENDRA_NIP = pns_nip(4), pns_nip(5), pns_nip(3)
ANI_NIP, BUDI_NIP, CITRA_NIP, DEDI_NIP = pns_nip(20), pns_nip(21), pns_nip(22), pns_nip(23)
UNKNOWN_NIP = pns_nip(99)
FIRST_BULK_CHAT = 7740001


# ----------------------------------------------------------------------------- helpers
def buttons(message: dict) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b.get("callback_data", "") for row in rows for b in row]


def utf16(text: str) -> int:
    """A length in UTF-16 code units, as Telegram counts entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80\x20\x20" * width for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def wait_until(condition, timeout: float = 10.0, what: str = "condition") -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        await asyncio.sleep(0.05)


async def bot_copies(client: EmulatorClient, chat: int, text: str) -> list[dict]:
    """The bot's messages in ``chat`` showing exactly ``text`` (none if the chat does not
    exist in the emulator)."""
    try:
        messages = await client.messages(chat)
    except EmulatorControlError as err:
        if err.status == 404:
            return []
        raise
    return [m for m in messages if m["from_bot"] and shown(m) == text]


def delivered_count(emulator: RunningEmulator, chats: set[int], text: str) -> int:
    """How many bot messages showing ``text`` the chats hold (read from the state: fast)."""
    total = 0
    for chat_id in chats:
        chat = emulator.state.chats.get(chat_id)
        if chat is None:
            continue
        total += sum(
            1
            for m in list(chat.messages.values())
            if m.from_bot and (m.plain_text == text or m.plain_caption == text)
        )
    return total


async def answer_to(client: EmulatorClient, chat: int, callback_query_id: str) -> dict:
    """The bot's answer to one button press."""
    found: dict = {}

    async def answered() -> bool:
        for item in await client.callback_answers(chat):
            if item["callback_query_id"] == callback_query_id and item["answered"]:
                found.update(item["answer"] or {})
                return True
        return False

    await wait_until(answered, what="the answer to the button press")
    return found


async def add_everyone(client: EmulatorClient, users: dict[int, str] = EVERYONE) -> None:
    await asyncio.gather(*(client.create_user(chat, name) for chat, name in users.items()))


@dataclass(frozen=True)
class School:
    unit_id: int
    ani: int
    budi: int
    citra: int
    dedi: int


async def add_school(sessionmaker: Maker) -> School:
    async with sessionmaker() as session, session.begin():
        unit = Unit(name="Dinas Pendidikan")

        def person(nip: str, name: str, **values: Any) -> Employee:
            employee = Employee(nip=nip, name=name, position="Guru", unit=unit, **values)
            session.add(employee)
            return employee

        ani = person(ANI_NIP, "Ani Suryani", telegram_user_id=ANI_CHAT)
        budi = person(BUDI_NIP, "Budi Santoso", telegram_user_id=BUDI_CHAT)
        citra = person(CITRA_NIP, "Citra Lestari", telegram_user_id=CITRA_CHAT, reachable=False)
        dedi = person(DEDI_NIP, "Dedi Kurniawan")
        session.add(unit)
        await session.flush()
        return School(unit.id, ani.id, budi.id, citra.id, dedi.id)


@dataclass(frozen=True)
class Clinic:
    """A unit of ``linked`` reachable employees with emulator users, plus one not linked,
    one unreachable and one linked whose chat does not exist in the emulator (Telegram
    answers 400 chat not found: failed)."""

    unit_id: int
    chats: list[int]  # the linked, reachable ones that exist in the emulator
    failing_chat: int
    employees: dict[int, str]  # employee id -> NIP, everyone of the unit


async def add_clinic(sessionmaker: Maker, client: EmulatorClient, linked: int) -> Clinic:
    chats = [FIRST_BULK_CHAT + n for n in range(linked)]
    failing = FIRST_BULK_CHAT + linked
    async with sessionmaker() as session, session.begin():
        unit = Unit(name="Dinas Kesehatan")
        people = [
            Employee(
                nip=f"19900101201501{1 + n % 2}{n + 1:03d}",
                name=f"Perawat {n:02d}",
                unit=unit,
                telegram_user_id=chat,
            )
            for n, chat in enumerate(chats)
        ]
        people += [
            Employee(nip="199001012015011901", name="Perawat Tanpa Akun", unit=unit),
            Employee(
                nip="199001012015011902",
                name="Perawat Memblokir",
                unit=unit,
                telegram_user_id=FIRST_BULK_CHAT + 900,
                reachable=False,
            ),
            Employee(
                nip="199001012015011903",
                name="Perawat Akun Hilang",
                unit=unit,
                telegram_user_id=failing,
            ),
        ]
        session.add_all([unit, *people])
        await session.flush()
        employees = {p.id: p.nip for p in people}
        unit_id = unit.id
    await asyncio.gather(*(client.create_user(chat, f"Perawat {chat}") for chat in chats))
    return Clinic(unit_id, chats, failing, employees)


# ----------------------------------------------------------------------------- database
async def only_announcement(sessionmaker: Maker) -> Announcement:
    async with sessionmaker() as session:
        found = list((await session.scalars(select(Announcement))).all())
    assert len(found) == 1, found
    return found[0]


async def recipient_states(sessionmaker: Maker, announcement_id: int) -> dict[int, str]:
    """employee id -> the skip reason, or their (current) outbox row's status."""
    r = AnnouncementRecipient
    async with sessionmaker() as session:
        rows = await session.execute(
            select(r.employee_id, func.coalesce(r.skipped, OutboxMessage.status))
            .outerjoin(OutboxMessage, OutboxMessage.id == r.outbox_id)
            .where(r.announcement_id == announcement_id)
        )
        return {employee_id: state for employee_id, state in rows}


async def announcement_rows(sessionmaker: Maker, announcement_id: int) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.idempotency_key.like(f"announcement:{announcement_id}:%"))
            .order_by(OutboxMessage.id)
        )
        return list(rows.all())


async def report_rows(sessionmaker: Maker) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "announcement_report")
            .order_by(OutboxMessage.id)
        )
        return list(rows.all())


async def audit_entries(sessionmaker: Maker, action: str) -> list[AuditLog]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(AuditLog).where(AuditLog.action == action))
        return list(rows.all())


async def counts(sessionmaker: Maker) -> dict[str, int]:
    async with sessionmaker() as session:
        return {
            name: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in (
                ("announcements", Announcement),
                ("recipients", AnnouncementRecipient),
                ("outbox", OutboxMessage),
                ("drafts", Draft),
                ("audit", AuditLog),
            )
        }


# ----------------------------------------------------------------------------- HR's chat
async def compose(
    client: EmulatorClient,
    text: str | None = None,
    entities: list[dict] | None = None,
    *,
    photo: bytes | None = None,
) -> dict:
    """/hr_umumkan, then the announcement; returns the audience question."""
    await client.send_text(HR_CHAT, "/hr_umumkan")
    await client.wait_for_bot_message(HR_CHAT, has_text(ID("📣 New announcement")))
    if photo is not None:
        await client.send_photo(HR_CHAT, photo, caption=text, caption_entities=entities)
    else:
        assert text is not None
        await client.send_text(HR_CHAT, text, entities=entities)
    return await client.wait_for_bot_message(HR_CHAT, with_button("umum:aud:all"))


async def press(client: EmulatorClient, message: dict, data: str) -> str:
    assert data in buttons(message), (data, buttons(message))
    pressed = await client.press_button(HR_CHAT, message["message_id"], data)
    return pressed["callback_query_id"]


async def choose(client: EmulatorClient, menu: dict, choice: str) -> dict:
    """Press an audience button that leads straight to the preview (all, supervisors);
    returns the preview's figures message."""
    await press(client, menu, f"umum:aud:{choice}")
    return await client.wait_for_bot_message(HR_CHAT, with_button("umum:send"))


async def send_now(client: EmulatorClient, preview: dict, timeout: float = 20) -> dict:  # noqa: ASYNC109
    """Press Kirim sekarang; returns HR's final report (it comes when nothing is left)."""
    await press(client, preview, "umum:send")
    return await client.wait_for_bot_message(HR_CHAT, with_button("siaran:xlsx"), timeout=timeout)


def preview_lines(total: int, deliverable: int, not_linked: int = 0, unreachable: int = 0):
    lines = [
        ID.ngettext("{n} recipient", "{n} recipients", total),
        ID.ngettext("• {n} will get the message", "• {n} will get the message", deliverable),
    ]
    if not_linked:
        lines.append(
            ID.ngettext(
                "• {n} has not linked a Telegram account",
                "• {n} have not linked a Telegram account",
                not_linked,
            )
        )
    if unreachable:
        lines.append(
            ID.ngettext(
                "• {n} cannot be reached (blocked the bot)",
                "• {n} cannot be reached (blocked the bot)",
                unreachable,
            )
        )
    return lines


def assert_preview(preview: dict, audience: str, *counts: int) -> None:
    text = shown(preview)
    assert ID("👆 Preview: exactly what recipients will get.") in text, text
    assert ID("To: {audience}", audience=audience) in text, text
    body = "\n".join(preview_lines(*counts))
    assert body in text, f"{body!r} not in {text!r}"
    # Nothing else is counted: no unreachable line when there is none, and so on.
    assert text.count("•") == body.count("•"), text


async def assert_only(
    client: EmulatorClient, text: str, receivers: set[int], *, chats: dict = EVERYONE
) -> None:
    """Exactly ``receivers`` got ``text``, once each; nobody else (HR's chat: only the
    preview, unless HR is a receiver)."""
    for chat in chats:
        got = await bot_copies(client, chat, text)
        expected = (1 if chat in receivers else 0) + (1 if chat == HR_CHAT else 0)
        assert len(got) == expected, (chat, len(got), expected)


# ----------------------------------------------------------------------------- bots
@contextlib.asynccontextmanager
async def bot_with(
    emulator: RunningEmulator,
    database_url: str,
    *,
    delivery: dict[str, Any] | None = None,
    progress_seconds: float = 3.0,
) -> AsyncIterator[LiveBot]:
    """As the ``live_bot`` fixture, but with the outbox sender's options (``extras
    ["delivery"]``, merged over the settings by ``post_init``: they must be there before it)
    and ANNOUNCEMENT_PROGRESS_SECONDS."""
    settings = live_settings(emulator, database_url, announcement_progress_seconds=progress_seconds)
    bot = await start_live_bot(emulator, settings, delivery=delivery)
    try:
        yield bot
    finally:
        await stop_live_bot(bot)


def saturday_noon() -> dt.datetime:
    """Next Saturday 12:00 WIB: no evaluation reminder is due on a non-working day."""
    day = utcnow().astimezone(WIB).date()
    day += dt.timedelta(days=(5 - day.weekday()) % 7 or 7)
    return dt.datetime.combine(day, dt.time(12, 0), tzinfo=WIB).astimezone(dt.UTC)


# ============================================================================= 1. audiences
async def test_bold_text_to_all_is_delivered_with_its_formatting(live_bot: LiveBot, sessionmaker):
    await add_office(sessionmaker)
    client = live_bot.client
    for chat, name in (
        (HR_CHAT, "Admin"),
        (STAFF_CHAT, "Rina"),
        (BOSS_CHAT, "Sari"),
        (HEAD_CHAT, "Yusuf"),
        (STAFF2_CHAT, "Doni"),
    ):
        await client.create_user(chat, name)
    await client.send_text(HR_CHAT, "/hr_umumkan")
    await client.wait_for_bot_message(HR_CHAT, has_text(ID("📣 New announcement")))
    text = "Rapat <b> besok pukul 09.00 di aula"
    entities = [{"type": "bold", "offset": 0, "length": 5}]
    await client.send_text(HR_CHAT, text, entities=entities)
    choose = await client.wait_for_bot_message(HR_CHAT, with_button("umum:aud:all"))
    await client.press_button(HR_CHAT, choose["message_id"], "umum:aud:all")
    preview = await client.wait_for_bot_message(HR_CHAT, with_button("umum:send"))
    print(preview["plain_text"])
    await client.press_button(HR_CHAT, preview["message_id"], "umum:send")
    got = await client.wait_for_bot_message(STAFF_CHAT, has_text("Rapat <b>"), timeout=15)
    assert got["entities"] == entities
    report = await client.wait_for_bot_message(HR_CHAT, with_button("siaran:xlsx"), timeout=15)
    print(report["plain_text"])
    for m in await client.messages(HR_CHAT):
        print("---", m.get("plain_text") or m.get("plain_caption"))
    assert "announcement_sent" in await audit_actions(sessionmaker)


async def test_units_ticked_and_unticked_reach_only_the_chosen_unit(
    live_bot: LiveBot, sessionmaker
):
    office = await add_office(sessionmaker)
    school = await add_school(sessionmaker)
    client = live_bot.client
    await add_everyone(client)
    async with sessionmaker() as session:
        transport = await session.scalar(select(Unit.id).where(Unit.name == "Dinas Perhubungan"))
    text = "Pengumuman untuk guru: libur semester mulai Senin."

    menu = await compose(client, text)
    await press(client, menu, "umum:aud:units")

    def units_chosen(n: int):
        label = ID.ngettext(
            "Tap the units to tick them, then Next. {n} unit chosen.",
            "Tap the units to tick them, then Next. {n} units chosen.",
            n,
        )
        return has_text(label)

    units = await client.wait_for_bot_message(HR_CHAT, units_chosen(0))
    assert "umum:units_ok" not in buttons(units)  # nothing ticked: no Next
    await press(client, units, f"umum:unit:{transport}")
    units = await client.wait_for_bot_message(HR_CHAT, units_chosen(1))
    await press(client, units, f"umum:unit:{school.unit_id}")
    units = await client.wait_for_bot_message(HR_CHAT, units_chosen(2))
    assert "✅ Dinas Pendidikan (4)" in str(units["reply_markup"])
    await press(client, units, f"umum:unit:{transport}")  # untick
    units = await client.wait_for_bot_message(HR_CHAT, units_chosen(1))
    assert "▫️ Dinas Perhubungan (6)" in str(units["reply_markup"])
    await press(client, units, "umum:units_ok")
    preview = await client.wait_for_bot_message(HR_CHAT, with_button("umum:send"))
    assert_preview(
        preview, ID("Units: {units}", units="Dinas Pendidikan"), 4, 2, 1, 1
    )  # Ani, Budi; Dedi not linked; Citra unreachable

    report = await send_now(client, preview)
    await assert_only(client, text, {ANI_CHAT, BUDI_CHAT})
    assert ID("{sent} of {total} received it", sent="2", total="4") in shown(report)
    assert ID(
        "Not sent: {not_linked} not linked, {unreachable} unreachable",
        not_linked="1",
        unreachable="1",
    ) in shown(report)

    announcement = await only_announcement(sessionmaker)
    assert announcement.audience == {"kind": "units", "unit_ids": [school.unit_id]}
    assert announcement.status == "done" and announcement.finished_at is not None
    assert await recipient_states(sessionmaker, announcement.id) == {
        school.ani: "sent",
        school.budi: "sent",
        school.citra: "unreachable",
        school.dedi: "not_linked",
    }
    assert office.staff not in await recipient_states(sessionmaker, announcement.id)
    rows = await announcement_rows(sessionmaker, announcement.id)
    assert sorted(r.chat_id for r in rows) == [ANI_CHAT, BUDI_CHAT]
    [audit] = await audit_entries(sessionmaker, "announcement_sent")
    assert audit.details["recipients"] == 4 and audit.details["queued"] == 2


async def test_supervisors_only(live_bot: LiveBot, sessionmaker):
    office = await add_office(sessionmaker)
    await add_school(sessionmaker)
    client = live_bot.client
    await add_everyone(client)
    text = "Kepada para atasan: penilaian kinerja bulan ini ditutup Jumat."

    preview = await choose(client, await compose(client, text), "sup")
    # Yusuf (Sari and Hendra report to him), Sari (Rina, Doni), Hendra (Wati).
    assert_preview(preview, ID("Supervisors only"), 3, 3)
    await send_now(client, preview)
    await assert_only(client, text, {HEAD_CHAT, BOSS_CHAT, BOSS2_CHAT})

    announcement = await only_announcement(sessionmaker)
    assert announcement.audience == {"kind": "supervisors"}
    assert await recipient_states(sessionmaker, announcement.id) == {
        office.head: "sent",
        office.boss: "sent",
        office.boss2: "sent",
    }


def nip_csv(nips: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["No", "NIP", "Nama"])
    for n, nip in enumerate(nips, start=1):
        writer.writerow([n, nip, f"Pegawai {n}"])
    return out.getvalue().encode("utf-8-sig")


def nip_xlsx(nips: list[str]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Nama", "NIP Pegawai"])
    for n, nip in enumerate(nips, start=1):
        sheet.append([f"Pegawai {n}", nip])  # as text: 18 digits do not fit a float
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
async def test_a_nip_list_file_reaches_exactly_those_people(
    live_bot: LiveBot, sessionmaker, kind: str
):
    office = await add_office(sessionmaker)
    school = await add_school(sessionmaker)
    client = live_bot.client
    await add_everyone(client)
    text = f"Undangan sosialisasi ({kind}): hadir di aula pukul 09.00."
    if kind == "csv":
        # Rina; Citra (unreachable); Dedi (not linked); a NIP nobody has.
        nips = [RINA_NIP, CITRA_NIP, DEDI_NIP, UNKNOWN_NIP]
        name, content, mime = "daftar hadir.csv", nip_csv(nips), "text/csv"
        expected = {office.staff: "sent", school.citra: "unreachable", school.dedi: "not_linked"}
        receivers, figures = {STAFF_CHAT}, (3, 1, 1, 1)
    else:
        nips = [DONI_NIP, HENDRA_NIP, BUDI_NIP]
        name = "peserta.xlsx"
        content = nip_xlsx(nips)
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        expected = {office.staff2: "sent", office.boss2: "sent", school.budi: "sent"}
        receivers, figures = {STAFF2_CHAT, BOSS2_CHAT, BUDI_CHAT}, (3, 3)

    menu = await compose(client, text)
    await press(client, menu, "umum:aud:nips")
    await client.wait_for_bot_message(HR_CHAT, has_text("CSV"))
    await client.send_document(HR_CHAT, name, content, mime_type=mime)
    found = await client.wait_for_bot_message(
        HR_CHAT,
        has_text(
            ID.ngettext("{n} employee found in the list.", "{n} employees found in the list.", 3)
        ),
    )
    if kind == "csv":
        assert UNKNOWN_NIP in shown(found)
    preview = await client.wait_for_bot_message(HR_CHAT, with_button("umum:send"))
    assert_preview(preview, ID("NIP list ({file})", file=name), *figures)
    await send_now(client, preview)
    await assert_only(client, text, receivers)

    announcement = await only_announcement(sessionmaker)
    assert announcement.audience["kind"] == "nips"
    assert announcement.audience["file_name"] == name
    assert sorted(announcement.audience["employee_ids"]) == sorted(expected)
    assert await recipient_states(sessionmaker, announcement.id) == expected


# ============================================================================= 2, 3. content
async def test_formatting_and_html_looking_text_arrive_exactly_as_typed(
    live_bot: LiveBot, sessionmaker
):
    office = await add_office(sessionmaker)
    client = live_bot.client
    await add_everyone(client, OFFICE_USERS)
    head = "📣 Rapat koordinasi"
    middle = " besok, bawa <b>x</b> & <script>alert(1)</script> "
    link = "panduan di sini"
    text = head + middle + link
    entities = [
        # 📣 is two UTF-16 code units: the offsets are Telegram's, not Python's.
        {"type": "bold", "offset": utf16("📣 "), "length": utf16("Rapat koordinasi")},
        {"type": "italic", "offset": utf16(head + " besok, bawa "), "length": utf16("<b>x</b>")},
        {
            "type": "text_link",
            "offset": utf16(head + middle),
            "length": utf16(link),
            "url": "https://bkpsdm.bukittinggikota.go.id/panduan",
        },
    ]
    menu = await compose(client, text, entities)
    # What Telegram handed the bot: the formatting HR typed (plus any entity Telegram itself
    # detects in the text, such as a /command): recipients must get exactly this.
    [typed] = [m for m in await client.messages(HR_CHAT) if not m["from_bot"] and shown(m) == text]
    assert all(e in typed["entities"] for e in entities), typed["entities"]
    await press(client, menu, "umum:aud:nips")
    await client.wait_for_bot_message(HR_CHAT, has_text("CSV"))
    await client.send_text(HR_CHAT, f"{RINA_NIP}, {DONI_NIP}")  # typed, not a file
    preview = await client.wait_for_bot_message(HR_CHAT, with_button("umum:send"))
    assert_preview(preview, ID("NIP list ({file})", file=ID("typed in chat")), 2, 2)
    # The preview in HR's chat is the recipients' message, sent the same way.
    [copy] = await bot_copies(client, HR_CHAT, text)
    assert copy["entities"] == typed["entities"] and copy["parse_mode"] is None
    await send_now(client, preview)

    for chat in (STAFF_CHAT, STAFF2_CHAT):
        [got] = await bot_copies(client, chat, text)
        assert got["kind"] == "text"
        assert got["plain_text"] == text  # nothing was read as HTML ...
        assert got["text"] == text  # ... nor sent as HTML
        assert got["parse_mode"] is None
        assert got["entities"] == typed["entities"]
    await assert_only(client, text, {STAFF_CHAT, STAFF2_CHAT}, chats=OFFICE_USERS)

    announcement = await only_announcement(sessionmaker)
    assert announcement.content == {"text": text, "entities": typed["entities"]}
    assert await recipient_states(sessionmaker, announcement.id) == {
        office.staff: "sent",
        office.staff2: "sent",
    }
    for row in await announcement_rows(sessionmaker, announcement.id):
        assert row.payload == {"text": text, "entities": typed["entities"]}


async def test_a_photo_with_a_formatted_caption_arrives_as_that_photo(
    live_bot: LiveBot, sessionmaker
):
    office = await add_office(sessionmaker)
    client = live_bot.client
    await add_everyone(client, OFFICE_USERS)
    caption = "Jadwal apel pagi — lihat rincian"
    entities = [
        {"type": "bold", "offset": 0, "length": utf16("Jadwal apel pagi")},
        {
            "type": "text_link",
            "offset": utf16("Jadwal apel pagi — lihat "),
            "length": utf16("rincian"),
            "url": "https://bkpsdm.bukittinggikota.go.id/apel",
        },
    ]
    menu = await compose(client, caption, entities, photo=png_bytes())
    [sent_by_hr] = [m for m in await client.messages(HR_CHAT) if m["kind"] == "photo"]
    original = sent_by_hr["photo"][-1]["file_unique_id"]
    await press(client, menu, "umum:aud:nips")
    await client.wait_for_bot_message(HR_CHAT, has_text("CSV"))
    await client.send_text(HR_CHAT, f"{RINA_NIP}\n{pns_nip(2)}")  # Rina and Sari
    preview = await client.wait_for_bot_message(HR_CHAT, with_button("umum:send"))
    await send_now(client, preview)

    for chat in (STAFF_CHAT, BOSS_CHAT):
        [got] = await bot_copies(client, chat, caption)
        assert got["kind"] == "photo"
        assert got["photo"][-1]["file_unique_id"] == original  # the very same photo
        assert got["plain_caption"] == caption
        assert got["caption_entities"] == entities
    await assert_only(client, caption, {STAFF_CHAT, BOSS_CHAT}, chats=OFFICE_USERS)

    announcement = await only_announcement(sessionmaker)
    assert set(announcement.content) == {"photo", "caption", "caption_entities"}
    assert announcement.content["caption_entities"] == entities
    assert await recipient_states(sessionmaker, announcement.id) == {
        office.staff: "sent",
        office.boss: "sent",
    }


# ============================================================================= 4. access
async def test_an_asn_cannot_announce_and_nothing_is_created(live_bot: LiveBot, sessionmaker):
    await add_office(sessionmaker)
    client = live_bot.client
    await add_everyone(client, OFFICE_USERS)
    before = await counts(sessionmaker)
    refusal = ID("Sorry, this is only for HR administrators (BKPSDM).")

    await client.send_text(STAFF_CHAT, "/hr_umumkan")
    reply = await client.wait_for_bot_message(STAFF_CHAT)
    assert shown(reply) == refusal
    await client.send_text(STAFF_CHAT, "/hr_siaran")
    assert shown(await client.wait_for_bot_message(STAFF_CHAT)) == refusal
    # A typed "announcement" afterwards is not taken as one.
    await client.send_text(STAFF_CHAT, "Besok libur semua!")
    # Forged buttons change nothing either.
    for data in ("umum:aud:all", "umum:send", "siaran:resend:1", "siaran:stop:1"):
        pressed = await client.press_button(STAFF_CHAT, reply["message_id"], data, forge=True)
        answer = await answer_to(client, STAFF_CHAT, pressed["callback_query_id"])
        assert answer["text"] == refusal and answer["show_alert"] is True

    await asyncio.sleep(0.5)
    assert await counts(sessionmaker) == before
    assert "announcement_sent" not in await audit_actions(sessionmaker)
    for chat in OFFICE_USERS:
        assert await bot_copies(client, chat, "Besok libur semua!") == []


# ============================================================================= 5. scheduled
async def test_a_scheduled_announcement_survives_a_restart_and_goes_out_at_its_time(
    live_bot: LiveBot, sessionmaker
):
    clock = saturday_noon()
    live_bot.app.bot_data.extras["clock"] = lambda: clock
    office = await add_office(sessionmaker)
    client = live_bot.client
    await add_everyone(client, OFFICE_USERS)
    text = "Apel gabungan Senin pagi di lapangan Wirabraja."
    day = f"{clock.astimezone(WIB):%d/%m/%Y}"

    preview = await choose(client, await compose(client, text), "sup")
    await press(client, preview, "umum:sched")
    await client.wait_for_bot_message(HR_CHAT, has_text(ID("Send /batal to stop.")))
    await client.send_text(HR_CHAT, f"{day} 12.01")  # one minute ahead: too soon
    await client.wait_for_bot_message(
        HR_CHAT,
        has_text(ID("That time is past or too close. Choose a time at least a few minutes ahead.")),
    )
    await client.send_text(HR_CHAT, f"{day} pukul 14.00")
    planned = clock + dt.timedelta(hours=2)
    question = await client.wait_for_bot_message(HR_CHAT, with_button("umum:sched_ok"))
    assert shown(question) == ID.ngettext(
        "Send on {when} to {n} recipient?",
        "Send on {when} to {n} recipients?",
        3,
        when=ID.datetime(planned),
    )
    await press(client, question, "umum:sched_ok")
    confirmation = await client.wait_for_bot_message(HR_CHAT, has_text("🕒"))
    assert ID.ngettext(
        "🕒 Announcement #{id} is scheduled for {when}, to {n} recipient.",
        "🕒 Announcement #{id} is scheduled for {when}, to {n} recipients.",
        3,
        id=1,
        when=ID.datetime(planned),
    ) in shown(confirmation)
    await asyncio.sleep(1.1)  # a progress pass and a sender round: neither may start it
    announcement = await only_announcement(sessionmaker)
    assert announcement.status == "scheduled" and announcement.send_at == planned
    assert announcement.progress_message_id is None
    rows = await announcement_rows(sessionmaker, announcement.id)
    assert len(rows) == 3
    assert {(r.status, r.not_before) for r in rows} == {("pending", planned)}
    [audit] = await audit_entries(sessionmaker, "announcement_scheduled")
    assert audit.details["send_at"] == planned.isoformat()

    await stop_live_bot(live_bot)
    # Still planned after the stop, exactly as confirmed.
    assert (await only_announcement(sessionmaker)).send_at == planned
    # The typed time has minute resolution and the sender's due check (not_before) uses the
    # real time, not the application clock: move the announcement and its rows to a few
    # seconds from now, so the restarted bot has to wait for it, and then send it.
    due = utcnow() + dt.timedelta(seconds=3)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Announcement).where(Announcement.id == announcement.id).values(send_at=due)
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([r.id for r in rows]))
            .values(not_before=due)
        )
    restarted = await start_live_bot(live_bot.emulator, live_bot.settings)  # real clock
    try:
        receivers = {HEAD_CHAT, BOSS_CHAT, BOSS2_CHAT}
        for chat in receivers:
            await client.wait_for_bot_message(chat, has_text(text), timeout=15)
        report = await client.wait_for_bot_message(HR_CHAT, with_button("siaran:xlsx"), timeout=15)
        assert ID("{sent} of {total} received it", sent="3", total="3") in shown(report)
    finally:
        await stop_live_bot(restarted)

    await assert_only(client, text, receivers, chats=OFFICE_USERS)
    # Nothing left before its time: every send to a recipient, and HR's progress message.
    sending = ID("📣 Announcement #{id}: sending", id=1)
    calls = [
        c
        for c in await client.calls("sendMessage")
        if int(c["params"]["chat_id"]) in receivers or sending in str(c["params"].get("text"))
    ]
    assert len(calls) == 4, calls  # the three, and HR's progress message
    assert min(c["time"] for c in calls) >= due.timestamp() - 0.01, (calls, due)
    final = await only_announcement(sessionmaker)
    assert final.status == "done" and final.finished_at is not None
    assert await recipient_states(sessionmaker, final.id) == {
        office.head: "sent",
        office.boss: "sent",
        office.boss2: "sent",
    }


# ============================================================================= 6. cancel
async def send_to_clinic(
    client: EmulatorClient, clinic: Clinic, text: str, *, progress: bool = True
) -> dict:
    """HR announces ``text`` to the clinic's unit; returns the first progress message (or
    the confirmation)."""
    menu = await compose(client, text)
    await press(client, menu, "umum:aud:units")
    units = await client.wait_for_bot_message(HR_CHAT, with_button("umum:unit:"))
    await press(client, units, f"umum:unit:{clinic.unit_id}")
    units = await client.wait_for_bot_message(HR_CHAT, with_button("umum:units_ok"))
    await press(client, units, "umum:units_ok")
    preview = await client.wait_for_bot_message(HR_CHAT, with_button("umum:send"))
    await press(client, preview, "umum:send")
    if not progress:
        return await client.wait_for_bot_message(HR_CHAT, has_text("✅"))
    return await client.wait_for_bot_message(HR_CHAT, with_button("siaran:cancel:"))


async def cancel_from(client: EmulatorClient, message: dict) -> tuple[dict, int]:
    """Batalkan on ``message``, then Ya; returns the answer and how many were stopped."""
    await press(client, message, "siaran:cancel:1")
    ask = await client.wait_for_bot_message(HR_CHAT, with_button("siaran:stop:1"))
    assert "siaran:show:1" in buttons(ask)
    await press(client, ask, "siaran:stop:1")

    def stopped_text(answer: dict) -> bool:
        return answer["message_id"] == ask["message_id"] and not buttons(answer)

    answer = await client.wait_for_bot_message(HR_CHAT, stopped_text)
    stopped = int("".join(ch for ch in shown(answer).rsplit(":", 1)[-1] if ch.isdigit()))
    assert shown(answer) == ID.ngettext(
        "Announcement #{id} is cancelled: {n} message stopped.",
        "Announcement #{id} is cancelled: {n} messages stopped.",
        stopped,
        id=1,
    )
    return answer, stopped


async def test_cancelling_in_the_middle_stops_the_rest(emulator, database_url, sessionmaker):
    rate = 5.0  # sends per second: 60 recipients would take 12 s, so there is time to cancel
    # Rows marked in flight at once (wave_seconds 1): what a cancel can no longer stop. The
    # batch is larger (50): only the rows at the head of the sender's queue may be marked.
    wave = math.ceil(rate * 1.0)
    async with bot_with(emulator, database_url, delivery={"global_rate": rate}) as bot:
        client = bot.client
        await add_office(sessionmaker)
        await client.create_user(HR_CHAT, "Admin")
        clinic = await add_clinic(sessionmaker, client, 60)
        chats = set(clinic.chats)
        text = "Vaksinasi massal: seluruh tenaga kesehatan wajib hadir."
        progress = await send_to_clinic(client, clinic, text)

        async def some_arrived() -> bool:
            return delivered_count(emulator, chats, text) >= 5

        await wait_until(some_arrived, 15, "the first recipients")
        at_press = delivered_count(emulator, chats, text)
        _, stopped = await cancel_from(client, progress)
        # The progress message's last edit and the report (same title, with the XLSX button)
        # may come in either order.
        cancelled = has_text(ID("📣 Announcement #{id}: cancelled", id=1))
        report_button = with_button("siaran:xlsx")
        done = await client.wait_for_bot_message(
            HR_CHAT, lambda m: cancelled(m) and not report_button(m), timeout=15
        )
        report = await client.wait_for_bot_message(HR_CHAT, report_button, timeout=15)
        final = delivered_count(emulator, chats, text)
        await asyncio.sleep(0.5)
        assert delivered_count(emulator, chats, text) == final, "sent after the final report"
        # Only the rows already marked in flight when the cancel committed still went: "at
        # most about a second's worth" (handlers/broadcasts.py), one wave more for the time
        # the press takes to arrive.
        assert final - at_press <= 2 * wave, (at_press, final)
        assert stopped >= len(chats) - final - 1, (stopped, final)

    announcement = await only_announcement(sessionmaker)
    assert announcement.status == "cancelled"
    assert announcement.cancelled_at is not None and announcement.finished_at is not None
    rows = await announcement_rows(sessionmaker, announcement.id)
    assert len(rows) == 61  # the 60, and the one whose chat does not exist
    statuses = [r.status for r in rows]
    assert set(statuses) <= {"sent", "cancelled", "failed"}, set(statuses)
    sent = statuses.count("sent")
    assert sent == final  # what the emulator holds is what the database says
    assert statuses.count("cancelled") == stopped
    assert sent + stopped + statuses.count("failed") == len(rows)
    assert all(r.last_error == "announcement #1 cancelled" for r in rows if r.status == "cancelled")
    states = list((await recipient_states(sessionmaker, announcement.id)).values())
    assert len(states) == 63
    assert states.count("not_linked") == 1 and states.count("unreachable") == 1
    # HR: one final report; the progress message, edited in place, shows the same figures.
    assert len(await report_rows(sessionmaker)) == 1
    assert ID("sent {n}", n=str(sent)) in shown(report)
    assert ID("stopped {n}", n=str(stopped)) in shown(report)
    assert ID("{sent} of {total} received it", sent=str(sent), total="63") in shown(report)
    assert "siaran:resend:1" not in buttons(report)  # nothing to resend once cancelled
    assert shown(done) == shown(report)
    assert done["message_id"] == progress["message_id"]
    [audit] = await audit_entries(sessionmaker, "announcement_cancelled")
    assert audit.details == {"stopped": stopped}
    assert audit.entity_id == str(announcement.id)


# ============================================================================= 7. resend
async def test_resending_the_failed_ones_reaches_each_once(live_bot: LiveBot, sessionmaker):
    office = await add_office(sessionmaker)
    client = live_bot.client
    missing = {STAFF2_CHAT: "Doni", BOSS2_CHAT: "Hendra"}
    # Doni and Hendra are linked, but their chats do not exist: 400 chat not found.
    await add_everyone(client, {c: n for c, n in OFFICE_USERS.items() if c not in missing})
    text = "Pemutakhiran data kepegawaian paling lambat tanggal 20."

    preview = await choose(client, await compose(client, text), "all")
    assert_preview(preview, ID("All ASN"), 7, 6, 1)  # Wati is not linked
    report = await send_now(client, preview)
    assert ID("failed {n}", n="2") in shown(report)
    resend = "siaran:resend:1"
    assert resend in buttons(report)
    rows = await announcement_rows(sessionmaker, 1)
    failed = [r for r in rows if r.status == "failed"]
    assert sorted(r.chat_id for r in failed) == sorted(missing)
    assert all("chat not found" in (r.last_error or "").lower() for r in failed)

    await add_everyone(client, missing)  # they start the bot after all
    await press(client, report, resend)
    await client.wait_for_bot_message(
        HR_CHAT,
        has_text(
            ID.ngettext(
                "Announcement #{id}: {n} failed message is being sent again.",
                "Announcement #{id}: {n} failed messages are being sent again.",
                2,
                id=1,
            )
        ),
    )
    again = await press(client, report, resend)  # a second tap
    answer = await answer_to(client, HR_CHAT, again)
    assert answer["show_alert"] is True
    assert answer["text"] == ID("The failed messages can be resent once, after sending finished.")
    second = await client.wait_for_bot_message(HR_CHAT, with_button("siaran:xlsx"), timeout=15)
    assert second["message_id"] != report["message_id"]
    assert ID("{sent} of {total} received it", sent="6", total="7") in shown(second)
    assert "siaran:resend:1" not in buttons(second)  # once only
    await asyncio.sleep(0.5)

    # HR (a recipient too), Yusuf, Sari, Rina: still one copy; Doni and Hendra: one now.
    await assert_only(client, text, set(OFFICE_USERS), chats=OFFICE_USERS)
    resent = [
        r for r in await announcement_rows(sessionmaker, 1) if r.idempotency_key.endswith(":ulang")
    ]
    assert sorted(r.chat_id for r in resent) == sorted(missing)
    assert {r.status for r in resent} == {"sent"}
    async with sessionmaker() as session:
        r = AnnouncementRecipient
        found = await session.execute(
            select(r.employee_id, r.first_outbox_id).where(r.first_outbox_id.is_not(None))
        )
        moved = {employee_id: first for employee_id, first in found}
    assert moved == {
        office.staff2: next(r.id for r in failed if r.chat_id == STAFF2_CHAT),
        office.boss2: next(r.id for r in failed if r.chat_id == BOSS2_CHAT),
    }
    states = await recipient_states(sessionmaker, 1)
    assert list(states.values()).count("sent") == 6 and states[office.staff3] == "not_linked"
    assert [r.idempotency_key for r in await report_rows(sessionmaker)] == [
        "announcement-report:1:first",
        "announcement-report:1:resend",
    ]
    [audit] = await audit_entries(sessionmaker, "announcement_resent")
    assert audit.details == {"queued": 2, "unreachable": 0}


# ============================================================================= 8. progress
def progress_times(calls: list[dict], message_id: int) -> list[float]:
    """When HR's progress message was sent, then edited (the emulator's call log)."""
    return [
        c["time"]
        for c in calls
        if c["ok"]
        and str(c["params"].get("chat_id")) == str(HR_CHAT)
        and (
            (
                c["method"] == "editMessageText"
                and str(c["params"].get("message_id")) == str(message_id)
            )
            or (c["method"] == "sendMessage" and c.get("result_message_id") == message_id)
        )
    ]


def longest_silence(calls: list[dict], message_id: int, chats: set[int]) -> float:
    """The longest time without a progress update while the recipients' messages went out
    (from the first to the last of them)."""
    sends = [
        c["time"]
        for c in calls
        if c["method"] == "sendMessage" and c["ok"] and int(c["params"]["chat_id"]) in chats
    ]
    start, end = min(sends), max(sends)
    points = sorted(
        {start, end} | {t for t in progress_times(calls, message_id) if start <= t <= end}
    )
    return max(b - a for a, b in itertools.pairwise(points))


async def test_progress_is_one_message_edited_at_most_every_interval_and_the_file_matches(
    emulator, database_url, sessionmaker
):
    interval = 1.0  # ANNOUNCEMENT_PROGRESS_SECONDS
    # The default batch (50) is more than the 30 recipients: all of them are claimed at once
    # and wait in the sender's queue; HR's progress must not wait behind them.
    # 30 at 5/s: six seconds of sending, long enough that a progress stuck behind the queue
    # would go silent far longer than the bound below, whatever the machine's jitter.
    delivery = {"global_rate": 5.0}
    async with bot_with(
        emulator, database_url, delivery=delivery, progress_seconds=interval
    ) as bot:
        client = bot.client
        await add_office(sessionmaker)
        await client.create_user(HR_CHAT, "Admin")
        clinic = await add_clinic(sessionmaker, client, 30)
        text = "Pelatihan pertolongan pertama untuk seluruh perawat."
        progress = await send_to_clinic(client, clinic, text)
        sending = ID("📣 Announcement #{id}: sending", id=1)
        assert sending in shown(progress)
        report = await client.wait_for_bot_message(HR_CHAT, with_button("siaran:xlsx"), timeout=20)
        assert ID("📣 Announcement #{id}: finished", id=1) in shown(report)
        assert ID("{sent} of {total} received it", sent="30", total="33") in shown(report)
        assert ID("sent {n}", n="30") in shown(report) and ID("failed {n}", n="1") in shown(report)
        assert "siaran:resend:1" in buttons(report)

        # One progress message, edited in place, ending with the final figures (the last
        # edit may come just after the report: both take a turn in HR's chat).
        async def final_figures_shown() -> bool:
            message = await client.message(HR_CHAT, progress["message_id"])
            return shown(message) == shown(report)

        await wait_until(final_figures_shown, 5, "the final figures on the progress message")
        message = await client.message(HR_CHAT, progress["message_id"])
        started = [m for m in await client.bot_messages(HR_CHAT) if sending in str(m["original"])]
        assert [m["message_id"] for m in started] == [message["message_id"]]
        assert shown(message) == shown(report)
        assert message["reply_markup"] is None  # no cancel button once finished
        assert all("%" in shown(edit) for edit in message["edits"][:-1]), message["edits"]
        calls = await client.calls()
        times = progress_times(calls, message["message_id"])
        assert len(times) - 1 == len(message["edits"]) >= 2
        gaps = [round(b - a, 2) for a, b in itertools.pairwise(times)]
        # Not more often than the interval, measured where the emulator received them (a
        # little scheduling jitter allowed); the last edit (the final figures) is not held.
        assert min(gaps[:-1]) >= interval - 0.3, gaps
        # ... and not much less often either while the messages go out (the job runs every
        # second: about two seconds apart at most; stuck behind the queue it would be six).
        silence = longest_silence(calls, message["message_id"], set(clinic.chats))
        assert silence <= 3.5 * interval, f"no progress for {silence:.1f} s while sending"

        # /hr_siaran lists it.
        await client.send_text(HR_CHAT, "/hr_siaran")
        listing = await client.wait_for_bot_message(HR_CHAT, with_button("siaran:show:1"))
        assert "#1 · " in shown(listing) and ID("finished") in shown(listing)
        assert ID("sent {n}", n="30") in shown(listing)

        # The file: a row per recipient with their delivery.
        await press(client, report, "siaran:xlsx:1")
        document = await client.wait_for_bot_message(HR_CHAT, lambda m: m["kind"] == "document")
    assert document["document"]["file_name"] == ID("announcement-{id}.xlsx", id=1)
    data = await client.download_file(document["document"]["file_id"])
    rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    assert rows[0][:5] == (ID("No."), ID("NIP"), ID("Name"), ID("Unit"), ID("Delivery"))
    by_nip = {row[1]: row for row in rows[1:]}
    assert len(by_nip) == len(rows) - 1 == 33
    states = await recipient_states(sessionmaker, 1)
    labels = {
        "sent": ID("sent"),
        "failed": ID("failed"),
        "not_linked": ID("account not linked"),
        "unreachable": ID("unreachable (blocked the bot before)"),
    }
    assert set(by_nip) == set(clinic.employees.values())
    for employee_id, nip in clinic.employees.items():
        row = by_nip[nip]
        assert row[3] == "Dinas Kesehatan"
        assert row[4] == labels[states[employee_id]], (nip, row, states[employee_id])
        assert isinstance(row[5], dt.datetime) == (states[employee_id] == "sent"), row
    assert [r[4] for r in by_nip.values()].count(ID("sent")) == 30
    [failed] = [r for r in by_nip.values() if r[4] == ID("failed")]
    assert "chat not found" in failed[7].lower()
