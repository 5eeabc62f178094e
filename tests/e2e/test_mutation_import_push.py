"""HR uploads a mutations file in chat; the people concerned are pushed each change once.

Over real HTTP through the emulator: the upload (getFile + download), the import, the
notices queued right after it, and the outbox sender delivering them.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.i18n import get_translator
from bot.mutations import stage_label
from bot.scheduler import EXTRAS_LAST_TICK
from handlers.uploads import notices_text
from storage.models import Employee, Mutation, MutationEvent, OutboxMessage
from tests.e2e.conftest import LiveBot
from tests.storage.importing import MUTATION_HEADERS, csv_bytes
from tests.support.factories import NIP_STAFF, add_target_unit, add_unit_with_staff

pytestmark = pytest.mark.e2e

HR = 8890001  # the unit head of Dinas Perhubungan, an HR admin: Rina's supervisor
ASN = 8890002  # Rina
HEAD = 8890003  # the head of Bappeda, Rina's supervisor after the move
ID = get_translator("id")
DECREE = ["800.1.3.3/45/BKPSDM-2026", "05/02/2026", "01/03/2026"]


def mutations_file(stage: str, *, decree: bool = False, note: str = "") -> bytes:
    row = [
        NIP_STAFF,
        "Rotasi",
        "Dinas Perhubungan",
        "Analis Transportasi",
        "Bappeda",
        "Perencana Ahli Pertama",
        stage,
        *(DECREE if decree else ["", "", ""]),
        note,
    ]
    return csv_bytes([MUTATION_HEADERS, row])


async def setting(live_bot: LiveBot, sessionmaker, stage: str) -> dict[str, int]:
    """Rina's rotation to Bappeda at ``stage``, its history already told; Bappeda has a
    linked head. Waits for the scheduler's first tick, so no tick runs during the test."""
    boss_id, staff_id = await add_unit_with_staff(
        sessionmaker, staff_telegram_id=ASN, supervisor_telegram_id=HR, supervisor_is_hr_admin=True
    )
    now = dt.datetime.now(dt.UTC)
    async with sessionmaker() as session, session.begin():
        _unit, head, _clerk = add_target_unit(session, head_telegram_id=HEAD)
        mutation = Mutation(
            employee_id=staff_id,
            mutation_type="rotasi",
            from_unit="Dinas Perhubungan",
            from_position="Analis Transportasi",
            to_unit="Bappeda",
            to_position="Perencana Ahli Pertama",
            external=False,
            stage=stage,
            stage_changed_at=now,
            sk_number=DECREE[0] if stage == "sk_terbit" else None,
            sk_date=dt.date(2026, 2, 5) if stage == "sk_terbit" else None,
            tmt_date=dt.date(2026, 3, 1) if stage == "sk_terbit" else None,
        )
        mutation.events = [
            MutationEvent(
                from_stage=None, to_stage=stage, changed_at=now, changed_by_label="cli",
                notified_at=now,
            )
        ]  # fmt: skip
        session.add(mutation)
        await session.flush()
        ids = {"boss": boss_id, "staff": staff_id, "head": head.id, "mutation": mutation.id}
    client = live_bot.client
    for user, name in ((HR, "Yusuf"), (ASN, "Rina"), (HEAD, "Fitri")):
        await client.create_user(user, name)
    for _ in range(200):
        if live_bot.app.bot_data.extras.get(EXTRAS_LAST_TICK) is not None:
            break
        await asyncio.sleep(0.05)
    return ids


async def outbox_count(sessionmaker) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def test_an_uploaded_stage_change_is_pushed_once(live_bot: LiveBot, sessionmaker):
    await setting(live_bot, sessionmaker, "diusulkan")
    client = live_bot.client
    content = mutations_file("Verifikasi", note="Berkas diterima lengkap")

    await client.send_document(HR, "mutasi.csv", content, "text/csv")
    report = await client.wait_for_bot_message(HR)
    assert report["plain_text"].splitlines() == [
        "Impor mutasi berhasil: 1 baris (0 baru, 1 diperbarui, 0 tidak berubah).",
        notices_text(1, ID),
    ]
    push = await client.wait_for_bot_message(ASN)
    assert stage_label("verifikasi", ID) in push["plain_text"]
    assert push["parse_mode"] == "HTML"

    # The same file again: nothing changes, nobody is told anything new.
    await client.send_document(HR, "mutasi.csv", content, "text/csv")
    again = await client.wait_for_bot_message(HR)
    assert again["plain_text"] == (
        "Impor mutasi berhasil: 1 baris (0 baru, 0 diperbarui, 1 tidak berubah)."
    )
    await asyncio.sleep(1.0)  # time for a wrongly queued message to arrive
    assert len(await client.bot_messages(ASN)) == 1
    assert await outbox_count(sessionmaker) == 1


async def test_the_new_supervisor_is_told_when_a_file_reaches_pelantikan(
    live_bot: LiveBot, sessionmaker
):
    ids = await setting(live_bot, sessionmaker, "sk_terbit")
    client = live_bot.client
    await client.send_document(HR, "mutasi.csv", mutations_file("Pelantikan", decree=True))
    report = await client.wait_for_bot_message(HR, lambda m: "Impor mutasi" in m["plain_text"])
    assert report["plain_text"].splitlines()[1] == notices_text(3, ID)

    joined = await client.wait_for_bot_message(HEAD)
    assert joined["plain_text"].startswith("👋 Rina Marlina, S.E.")
    assert "Perencana Ahli Pertama (Bappeda)" in joined["plain_text"]
    left = await client.wait_for_bot_message(HR, lambda m: m["plain_text"].startswith("🚪"))
    assert "Rina Marlina, S.E." in left["plain_text"]
    push = await client.wait_for_bot_message(ASN)
    assert stage_label("pelantikan", ID) in push["plain_text"]
    async with sessionmaker() as session:
        staff = await session.get(Employee, ids["staff"])
        assert staff is not None and staff.supervisor_id == ids["head"]


async def test_a_backward_file_is_refused_and_tells_nobody(live_bot: LiveBot, sessionmaker):
    await setting(live_bot, sessionmaker, "sk_terbit")
    client = live_bot.client
    await client.send_document(HR, "mutasi.csv", mutations_file("Verifikasi"))
    report = await client.wait_for_bot_message(HR)
    lines = report["plain_text"].splitlines()
    assert lines[0].startswith("Tidak ada data yang diimpor: ditemukan 1 masalah.")
    assert lines[2].startswith("Baris 2, kolom Tahap: ")
    assert "sk_terbit" in lines[2] and "verifikasi" in lines[2]
    await asyncio.sleep(0.5)
    assert await client.bot_messages(ASN) == []
    assert await outbox_count(sessionmaker) == 0
