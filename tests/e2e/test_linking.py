"""Linking and access, as people do it in the chat (through the emulator, real HTTP)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest
from sqlalchemy import func, select

from bot.linking import MAX_FAILED_ATTEMPTS
from storage.models import AuditLog, Employee, LinkAttempt
from storage.repositories.codes import ActivationCodeRepository, format_code
from tests.e2e.conftest import LiveBot, start_live_bot, stop_live_bot
from tests.support.factories import NIP_STAFF, NIP_SUPERVISOR, add_unit_with_staff

pytestmark = pytest.mark.e2e

RINA = 7770001  # the staff member, phone 6281234567890
OTHER = 7770002
HR = 7770003
STAFF_PHONE = "+62 812-3456-7890"


async def linked_nip(sessionmaker, telegram_user_id: int) -> str | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(Employee.nip).where(Employee.telegram_user_id == telegram_user_id)
        )


async def issue_code(sessionmaker, nip: str, **kwargs) -> str:
    async with sessionmaker() as session, session.begin():
        employee_id = await session.scalar(select(Employee.id).where(Employee.nip == nip))
        (issued,) = await ActivationCodeRepository(session).issue([employee_id], **kwargs)
    return issued.code


async def test_start_asks_for_the_phone_with_a_contact_button(live_bot: LiveBot):
    client = live_bot.client
    await client.create_user(OTHER, "Budi")
    await client.send_text(OTHER, "/start")
    reply = await client.wait_for_bot_message(OTHER)
    assert "Bagikan nomor HP" in reply["plain_text"]
    keyboard = (await client.chat(OTHER))["reply_keyboard"]
    assert keyboard["keyboard"][0][0]["request_contact"] is True


async def test_own_contact_links_and_greets_by_name(live_bot: LiveBot, sessionmaker):
    await add_unit_with_staff(sessionmaker)
    client = live_bot.client
    await client.create_user(RINA, "Rina")
    await client.send_contact(RINA, STAFF_PHONE, "Rina")
    reply = await client.wait_for_bot_message(RINA)
    assert "berhasil ditautkan" in reply["plain_text"]
    assert "Rina Marlina, S.E." in reply["plain_text"]
    assert "Analis Transportasi, Dinas Perhubungan" in reply["plain_text"]
    assert "/saya" in reply["plain_text"] and "/hr_audit" not in reply["plain_text"]
    assert await linked_nip(sessionmaker, RINA) == NIP_STAFF
    assert (await client.chat(RINA))["reply_keyboard"] is None  # the contact button is gone
    async with sessionmaker() as session:
        actions = (await session.scalars(select(AuditLog.action))).all()
    assert "account_linked" in actions


async def test_someone_elses_contact_is_refused(live_bot: LiveBot, sessionmaker):
    await add_unit_with_staff(sessionmaker)
    client = live_bot.client
    await client.create_user(OTHER, "Budi")
    await client.send_contact(OTHER, STAFF_PHONE, "Rina", contact_user_id=RINA)
    reply = await client.wait_for_bot_message(OTHER)
    assert "nomor Bapak/Ibu sendiri" in reply["plain_text"]
    assert await linked_nip(sessionmaker, OTHER) is None


async def test_unknown_phone_reveals_nothing(live_bot: LiveBot, sessionmaker):
    await add_unit_with_staff(sessionmaker)
    client = live_bot.client
    await client.create_user(OTHER, "Budi")
    await client.send_contact(OTHER, "081299990000", "Budi")
    unknown = (await client.wait_for_bot_message(OTHER))["plain_text"]
    await client.send_text(OTHER, "/start ABCD-EFGH")
    wrong_code = (await client.wait_for_bot_message(OTHER))["plain_text"]
    first_line = "belum dapat ditautkan"
    assert first_line in unknown and first_line in wrong_code
    assert unknown.splitlines()[0] == wrong_code.splitlines()[0]
    assert "4 kali" in unknown and "3 kali" in wrong_code


async def test_code_works_once(live_bot: LiveBot, sessionmaker):
    await add_unit_with_staff(sessionmaker)
    code = await issue_code(sessionmaker, NIP_STAFF)
    client = live_bot.client
    await client.create_user(RINA, "Rina")
    await client.send_text(RINA, f"/start {code}")  # the deep link's form
    assert "berhasil ditautkan" in (await client.wait_for_bot_message(RINA))["plain_text"]
    assert await linked_nip(sessionmaker, RINA) == NIP_STAFF

    await client.create_user(OTHER, "Budi")
    await client.send_text(OTHER, f"/start {format_code(code).lower()}")
    assert "belum dapat ditautkan" in (await client.wait_for_bot_message(OTHER))["plain_text"]
    assert await linked_nip(sessionmaker, OTHER) is None


async def test_typed_code_with_dash_and_expiry(live_bot: LiveBot, sessionmaker):
    await add_unit_with_staff(sessionmaker)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=15)
    expired = await issue_code(sessionmaker, NIP_STAFF, now=old)
    client = live_bot.client
    await client.create_user(RINA, "Rina")
    await client.send_text(RINA, f"/start {format_code(expired)}")
    assert "belum dapat ditautkan" in (await client.wait_for_bot_message(RINA))["plain_text"]
    fresh = await issue_code(sessionmaker, NIP_STAFF)
    await client.send_text(RINA, f"/start {format_code(fresh)}")
    assert "berhasil ditautkan" in (await client.wait_for_bot_message(RINA))["plain_text"]


async def test_sixth_failed_attempt_is_refused_even_after_a_restart(
    live_bot: LiveBot, sessionmaker
):
    await add_unit_with_staff(sessionmaker)
    client = live_bot.client
    await client.create_user(OTHER, "Budi")
    for attempt in range(MAX_FAILED_ATTEMPTS):
        await client.send_text(OTHER, f"/start WRONG{attempt:03d}")
        await client.wait_for_bot_message(OTHER)
    # A restart must not forget the failures: they are in the database.
    await stop_live_bot(live_bot)
    restarted = await start_live_bot(live_bot.emulator, live_bot.settings)
    try:
        code = await issue_code(sessionmaker, NIP_STAFF)
        await client.send_text(OTHER, f"/start {code}")  # even a good code waits
        reply = await client.wait_for_bot_message(OTHER)
        assert "Terlalu banyak percobaan" in reply["plain_text"]
        assert "WIB" in reply["plain_text"]
        assert await linked_nip(sessionmaker, OTHER) is None
        # An hour later the limit is lifted.
        async with sessionmaker() as session, session.begin():
            for attempt in (await session.scalars(select(LinkAttempt))).all():
                attempt.at -= dt.timedelta(minutes=61)
        await client.send_text(OTHER, f"/start {code}")
        assert "berhasil ditautkan" in (await client.wait_for_bot_message(OTHER))["plain_text"]
    finally:
        await stop_live_bot(restarted)


async def test_one_employee_one_account(live_bot: LiveBot, sessionmaker):
    await add_unit_with_staff(sessionmaker)
    client = live_bot.client
    await client.create_user(RINA, "Rina")
    await client.send_contact(RINA, STAFF_PHONE, "Rina")
    await client.wait_for_bot_message(RINA)
    # A second Telegram account with the same (re-registered) number.
    await client.create_user(OTHER, "Rina baru")
    await client.send_contact(OTHER, STAFF_PHONE, "Rina")
    reply = await client.wait_for_bot_message(OTHER)
    assert "sudah terhubung dengan akun Telegram lain" in reply["plain_text"]
    assert await linked_nip(sessionmaker, OTHER) is None
    assert await linked_nip(sessionmaker, RINA) == NIP_STAFF
    # And one account, one employee: a linked account cannot take another record.
    code = await issue_code_for_supervisor(sessionmaker)
    await client.send_text(RINA, f"/start {code}")
    await client.wait_for_bot_message(RINA)
    assert await linked_nip(sessionmaker, RINA) == NIP_STAFF


async def issue_code_for_supervisor(sessionmaker) -> str:
    return await issue_code(sessionmaker, NIP_SUPERVISOR)


async def test_menus_and_help_follow_the_role(live_bot: LiveBot, sessionmaker):
    await add_unit_with_staff(
        sessionmaker, staff_telegram_id=RINA, supervisor_telegram_id=HR, supervisor_is_hr_admin=True
    )
    client = live_bot.client
    for user in (RINA, HR, OTHER):
        await client.create_user(user, "X")
        await client.send_text(user, "/help")
    asn_help = (await client.wait_for_bot_message(RINA))["plain_text"]
    hr_help = (await client.wait_for_bot_message(HR))["plain_text"]
    stranger_help = (await client.wait_for_bot_message(OTHER))["plain_text"]
    assert "/saya" in asn_help and "/hr_audit" not in asn_help and "/cari" not in asn_help
    assert "/hr_audit" in hr_help and "/cari" in hr_help and "/hr_impor" in hr_help
    assert "/saya" not in stranger_help and "/bahasa" in stranger_help

    for user in (RINA, HR):
        await client.send_text(user, "/start")
        await client.wait_for_bot_message(user)
    asn_menu = [c["command"] for c in (await client.chat(RINA))["commands"]]
    hr_menu = [c["command"] for c in (await client.chat(HR))["commands"]]
    stranger_menu = [c["command"] for c in (await client.chat(OTHER))["commands"]]
    assert asn_menu == ["start", "help", "bahasa", "status", "kinerja", "saya", "pelatihan"]
    assert {"cari", "hr_audit", "hr_lepas", "hr_admin", "hr_impor"} <= set(hr_menu)
    assert stranger_menu == ["start", "help", "bahasa"]


async def test_asn_cannot_use_hr_commands(live_bot: LiveBot, sessionmaker):
    await add_unit_with_staff(sessionmaker, staff_telegram_id=RINA)
    client = live_bot.client
    await client.create_user(RINA, "Rina")
    for command in ("/hr_audit", f"/hr_lepas {NIP_SUPERVISOR}", "/cari yusuf"):
        await client.send_text(RINA, command)
        reply = await client.wait_for_bot_message(RINA)
        assert "khusus admin BKPSDM" in reply["plain_text"], command
    await client.create_user(OTHER, "Budi")
    await client.send_text(OTHER, "/saya")
    assert "tautkan" in (await client.wait_for_bot_message(OTHER))["plain_text"]


async def test_my_card_masks_numbers(live_bot: LiveBot, sessionmaker):
    await add_unit_with_staff(sessionmaker, staff_telegram_id=RINA)
    client = live_bot.client
    await client.create_user(RINA, "Rina")
    await client.send_text(RINA, "/saya")
    card = (await client.wait_for_bot_message(RINA))["plain_text"]
    assert "Rina Marlina, S.E." in card and "Ir. Yusuf Datuak Rajo Mudo" in card
    assert NIP_STAFF not in card and "1986" in card and "1001" in card
    assert "6281234567890" not in card and "62812" in card


async def test_hr_finds_unlinks_and_the_person_is_told(live_bot: LiveBot, sessionmaker):
    await add_unit_with_staff(
        sessionmaker, staff_telegram_id=RINA, supervisor_telegram_id=HR, supervisor_is_hr_admin=True
    )
    client = live_bot.client
    await client.create_user(RINA, "Rina")
    await client.create_user(HR, "Yusuf")
    await client.send_text(HR, "/cari marlina")
    card = await client.wait_for_bot_message(HR)
    assert NIP_STAFF in card["plain_text"] and "terhubung" in card["plain_text"]
    await client.press_button_text(HR, card["message_id"], "🔓 Lepas tautan Telegram")
    confirm = await client.wait_for_bot_message(HR)
    await client.press_button_text(HR, confirm["message_id"], "✅ Ya")
    done = await client.wait_for_bot_message(HR)
    assert "dilepas" in done["plain_text"]
    told = await client.wait_for_bot_message(RINA, timeout=15)
    assert "/start" in told["plain_text"]
    assert await linked_nip(sessionmaker, RINA) is None
    # The old confirmation button (its message was edited since) does nothing now.
    async with sessionmaker() as session:
        rina_id = await session.scalar(select(Employee.id).where(Employee.nip == NIP_STAFF))
    await client.press_button(HR, confirm["message_id"], f"hr:unlink!:{rina_id}", forge=True)
    await asyncio.sleep(0.3)
    async with sessionmaker() as session:
        unlinks = await session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "account_unlinked")
        )
    assert unlinks == 1


async def test_hr_grants_the_role_in_chat_and_the_menu_follows(live_bot: LiveBot, sessionmaker):
    await add_unit_with_staff(
        sessionmaker, staff_telegram_id=RINA, supervisor_telegram_id=HR, supervisor_is_hr_admin=True
    )
    client = live_bot.client
    await client.create_user(RINA, "Rina")
    await client.create_user(HR, "Yusuf")
    await client.send_text(HR, f"/hr_admin {NIP_STAFF}")
    card = await client.wait_for_bot_message(HR)
    await client.press_button_text(HR, card["message_id"], "⭐ Jadikan admin BKPSDM")
    confirm = await client.wait_for_bot_message(HR)
    await client.press_button_text(HR, confirm["message_id"], "✅ Ya")
    await client.wait_for_bot_message(HR)
    menu = [c["command"] for c in (await client.chat(RINA))["commands"]]
    assert "hr_audit" in menu
    await client.send_text(RINA, "/hr_audit")
    audit = await client.wait_for_bot_message(RINA, lambda m: "Log audit" in m["plain_text"])
    assert "memberi peran admin BKPSDM" in audit["plain_text"]


async def test_blocking_the_bot_marks_the_employee_unreachable(live_bot: LiveBot, sessionmaker):
    await add_unit_with_staff(sessionmaker, staff_telegram_id=RINA)
    client = live_bot.client
    await client.create_user(RINA, "Rina")
    await client.block_user(RINA, True)
    for _ in range(100):
        async with sessionmaker() as session:
            reachable = await session.scalar(
                select(Employee.reachable).where(Employee.telegram_user_id == RINA)
            )
        if reachable is False:
            break
        await asyncio.sleep(0.05)
    assert reachable is False
    await client.block_user(RINA, False)
    for _ in range(100):
        async with sessionmaker() as session:
            reachable = await session.scalar(
                select(Employee.reachable).where(Employee.telegram_user_id == RINA)
            )
        if reachable:
            break
        await asyncio.sleep(0.05)
    assert reachable is True


async def test_language_choice_changes_later_replies(live_bot: LiveBot, sessionmaker):
    await add_unit_with_staff(sessionmaker, staff_telegram_id=RINA)
    client = live_bot.client
    await client.create_user(RINA, "Rina")
    await client.send_text(RINA, "/bahasa")
    question = await client.wait_for_bot_message(RINA)
    await client.press_button(RINA, question["message_id"], "bahasa:en")
    await client.wait_for_bot_message(RINA)
    await client.send_text(RINA, "/saya")
    card = (await client.wait_for_bot_message(RINA))["plain_text"]
    assert "Position: Analis Transportasi" in card
    menu = (await client.chat(RINA))["commands"]
    assert menu[0]["description"] == "Start and link your account"


async def test_logs_never_hold_a_full_phone_number_or_nip(
    live_bot: LiveBot, sessionmaker, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    await add_unit_with_staff(sessionmaker, supervisor_telegram_id=HR, supervisor_is_hr_admin=True)
    client = live_bot.client
    await client.create_user(OTHER, "Budi")
    await client.send_contact(OTHER, "081299990000", "Budi")  # unknown number
    await client.wait_for_bot_message(OTHER)
    await client.create_user(RINA, "Rina")
    await client.send_contact(RINA, STAFF_PHONE, "Rina")
    await client.wait_for_bot_message(RINA)
    await client.create_user(HR, "Yusuf")
    await client.send_text(HR, f"/cari {NIP_STAFF}")
    await client.wait_for_bot_message(HR)
    await client.send_text(HR, f"/hr_lepas {NIP_STAFF}")
    await client.wait_for_bot_message(HR)
    logged = caplog.text
    for secret in (NIP_STAFF, NIP_SUPERVISOR, "6281234567890", "6281299990000", "081299990000"):
        assert secret not in logged
