"""/hr_kirim in the chat, through the emulator: the figures follow what the sender really did,
the unreachable employees come as a file, and an uncertain message resent is delivered."""

from __future__ import annotations

import asyncio
import io
import time

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.i18n import get_translator
from storage.models import OutboxMessage
from storage.repositories.outbox import OutboxRepository
from tests.e2e.conftest import LiveBot
from tests.support.factories import NIP_STAFF, add_unit_with_staff

pytestmark = pytest.mark.e2e

HR = 7780001
RINA = 7780002
ID = get_translator("id")


async def settled(sessionmaker, timeout: float = 15.0) -> dict[str, int]:  # noqa: ASYNC109
    """Wait until the live bot's sender has nothing pending or in flight."""
    deadline = time.monotonic() + timeout
    while True:
        async with sessionmaker() as session:
            counts = await OutboxRepository(session).counts_by_status()
        if counts["pending"] + counts["sending"] == 0:
            return counts
        assert time.monotonic() < deadline, counts
        await asyncio.sleep(0.1)


async def test_hr_sees_the_outbox_downloads_the_unreachable_and_resends(
    live_bot: LiveBot, sessionmaker
):
    client = live_bot.client
    _, rina_id = await add_unit_with_staff(
        sessionmaker, supervisor_telegram_id=HR, supervisor_is_hr_admin=True, staff_telegram_id=RINA
    )
    await client.create_user(HR, "Yusuf")
    await client.create_user(RINA, "Rina")
    await client.block_user(RINA)
    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        await repo.enqueue(
            "notice:rina", RINA, {"text": "Pengumuman"}, kind="notice", employee_id=rina_id
        )
        await repo.enqueue("notice:hr", HR, {"text": "Pengumuman HR"}, kind="notice")
    live_bot.app.bot_data.extras["sender"].wake()
    counts = await settled(sessionmaker)
    assert (counts["sent"], counts["blocked"]) == (1, 1)  # Rina blocked the bot: a 403

    await client.send_text(HR, "/hr_kirim")
    figures = await client.wait_for_bot_message(
        HR, lambda m: m["kind"] == "text" and "WIB" in (m["plain_text"] or "")
    )
    text = figures["plain_text"]
    for line in (
        ID("Queued: {n}", n="0"),
        ID("Sent today: {n}", n="1"),
        ID("Blocked: {n}", n="1"),
        ID("Uncertain: {n}", n="0"),
        ID("Unreachable employees: {n}", n="1"),
    ):
        assert line in text, text

    # The unreachable employees, as a file in the chat.
    await client.press_button_text(HR, figures["message_id"], ID("Download unreachable employees"))
    document = await client.wait_for_bot_message(HR, lambda m: m["kind"] == "document")
    assert document["document"]["file_name"].endswith(".xlsx")
    content = await client.download_file(document["document"]["file_id"])
    rows = list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][:3] == ("Rina Marlina, S.E.", NIP_STAFF, "Dinas Perhubungan")
    assert rows[1][3] is not None  # blocked since, in WIB

    # Rina comes back; a message to her was uncertain (the connection broke off).
    await client.block_user(RINA, blocked=False)
    async with sessionmaker() as session, session.begin():
        await OutboxRepository(session).enqueue(
            "stage:rina", RINA, {"text": "Tahap mutasi berubah"}, kind="stage", employee_id=rina_id
        )
        row = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == "stage:rina")
        )
        assert row is not None
        row.status, row.last_error = "uncertain", "timed out, delivery unknown"
        uncertain_id = row.id

    await client.press_button_text(HR, figures["message_id"], ID("Refresh"))
    refreshed = await client.wait_for_bot_message(
        HR, lambda m: ID("Uncertain: {n}", n="1") in (m["plain_text"] or "")
    )
    await client.press_button_text(
        HR, refreshed["message_id"], ID("Uncertain deliveries ({n})", n="1")
    )
    listing = await client.wait_for_bot_message(
        HR, lambda m: "Rina Marlina" in (m["plain_text"] or "")
    )
    assert "stage" in listing["plain_text"]
    resend = ID("Resend")
    await client.press_button_text(HR, listing["message_id"], f"1 · {resend}")
    delivered = await client.wait_for_bot_message(RINA, timeout=10)
    assert delivered["plain_text"] == "Tahap mutasi berubah"
    await settled(sessionmaker)
    async with sessionmaker() as session:
        assert (await session.get(OutboxMessage, uncertain_id)).status == "sent"
    answers = await client.callback_answers(HR)
    assert ID("It will be sent again.") in [a["answer"]["text"] for a in answers if a["answer"]]
    emptied = await client.wait_for_bot_message(
        HR, lambda m: ID("No uncertain deliveries.") in (m["plain_text"] or "")
    )
    assert emptied["message_id"] == listing["message_id"]  # the list was edited in place


async def test_asn_without_the_role_is_refused(live_bot: LiveBot, sessionmaker):
    client = live_bot.client
    await add_unit_with_staff(sessionmaker, staff_telegram_id=RINA)
    await client.create_user(RINA, "Rina")
    await client.send_text(RINA, "/hr_kirim")
    reply = await client.wait_for_bot_message(RINA)
    assert reply["plain_text"] == ID("Sorry, this is only for HR administrators (BKPSDM).")
