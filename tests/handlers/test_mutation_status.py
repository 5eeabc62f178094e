"""Layer 2: /status and /mutasi for a linked ASN, and the Riwayat button (requests captured)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from bot.emulator.html_check import strip_html, validate_html
from bot.i18n import get_translator
from bot.rules.stages import MutationType, Stage
from handlers.mutation_status import HISTORY, HISTORY_SHOWN, MESSAGE_MAX
from storage.models import Employee, utcnow
from tests.mutations.status_support import add_mutation
from tests.support.factories import add_unit_with_staff
from tests.support.telegram import callback_update, message_update

ID, EN = get_translator("id"), get_translator("en")
STAFF = 5560001
BOSS = 5560002
STRANGER = 5560009
HR_CONTACT = "BKPSDM Kota Bukittinggi"  # the default setting
LINK_FIRST = ID("Please link your Telegram account first: send /start and share your phone number.")


def buttons(message: dict) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row]


def plain(message: dict) -> str:
    text = message["text"]
    assert len(text) <= MESSAGE_MAX
    if message.get("parse_mode") == "HTML":
        assert validate_html(text) is None, validate_html(text)
        return strip_html(text)
    return text


async def people(sessionmaker) -> tuple[int, int]:
    """(supervisor id, staff id): both linked."""
    return await add_unit_with_staff(
        sessionmaker, staff_telegram_id=STAFF, supervisor_telegram_id=BOSS
    )


def ago(days: int) -> dt.datetime:
    return utcnow() - dt.timedelta(days=days)


async def status(app, request, command: str = "/status", user: int = STAFF) -> list[dict]:
    request.clear()
    await app.process_update(message_update(app, user, command))
    return request.sent()


async def press_history(app, request, user: int = STAFF) -> tuple[list[dict], list[dict]]:
    """(messages sent, callback answers)."""
    request.clear()
    await app.process_update(callback_update(app, user, HISTORY))
    return request.sent(), request.sent("answerCallbackQuery")


# --------------------------------------------------------------------------- nothing in process
async def test_no_mutation_gets_a_polite_sentence_and_no_button(captured, sessionmaker):
    app, request = captured
    await people(sessionmaker)
    (reply,) = await status(app, request)
    assert reply["chat_id"] == STAFF
    assert reply["text"] == ID(
        "You have no transfer (mutasi) in process at the moment. "
        "For questions about transfers, please contact {hr_contact}.",
        hr_contact=HR_CONTACT,
    )
    assert reply["text"].startswith("Saat ini Bapak/Ibu tidak sedang dalam proses mutasi.")
    assert HR_CONTACT in reply["text"]
    assert buttons(reply) == []


async def test_no_active_mutation_but_a_past_one_keeps_the_history_button(captured, sessionmaker):
    app, request = captured
    _, staff = await people(sessionmaker)
    await add_mutation(sessionmaker, staff, stage=Stage.SELESAI, to_unit="Bappeda")
    (reply,) = await status(app, request)
    assert reply["text"].startswith("Saat ini Bapak/Ibu tidak sedang dalam proses mutasi.")
    assert buttons(reply) == [HISTORY]
    sent, (answer,) = await press_history(app, request)
    assert "show_alert" not in answer or not answer["show_alert"]
    (history,) = sent
    assert history["chat_id"] == STAFF
    text = plain(history)
    assert text.startswith("Riwayat mutasi Bapak/Ibu:")
    assert "Rotasi: Analis Kebijakan, Bappeda" in text
    assert "✅ Selesai — " in text


# --------------------------------------------------------------------------- active mutations
async def test_one_active_mutation_is_one_card_with_the_history_button(captured, sessionmaker):
    app, request = captured
    _, staff = await people(sessionmaker)
    await add_mutation(
        sessionmaker,
        staff,
        stage=Stage.PERTIMBANGAN_TPK,
        to_unit="Dinas Pariwisata <b>& Kebudayaan",
    )
    (card,) = await status(app, request)
    assert card["chat_id"] == STAFF
    assert card["parse_mode"] == "HTML"
    assert "Dinas Pariwisata &lt;b&gt;&amp; Kebudayaan" in card["text"]
    text = plain(card)
    assert text.startswith("🔁 Rotasi\nDari: Analis Transportasi, Dinas Perhubungan")
    assert "Tahap: Pertimbangan Tim Penilai Kinerja (TPK)" in text
    assert "▶️ Pertimbangan Tim Penilai Kinerja (TPK) — sejak" in text
    assert "▫️ Pertimbangan teknis (Pertek BKN)" not in text  # a move inside the city
    assert buttons(card) == [HISTORY]

    sent, (answer,) = await press_history(app, request)
    assert not answer.get("show_alert")
    (nothing,) = sent
    assert nothing["chat_id"] == STAFF
    assert nothing["text"] == "Bapak/Ibu belum memiliki riwayat mutasi."


async def test_one_active_and_one_cancelled_shows_one_card_and_the_cancelled_in_history(
    captured, sessionmaker
):
    app, request = captured
    _, staff = await people(sessionmaker)
    await add_mutation(
        sessionmaker,
        staff,
        stage=Stage.DIBATALKAN,
        to_unit="Inspektorat",
        note="Formasi <penuh> & ditunda",
        started=ago(200),
    )
    await add_mutation(
        sessionmaker,
        staff,
        stage=Stage.DIKEMBALIKAN,
        mutation_type=MutationType.ANTAR_INSTANSI,
        to_unit="Pemerintah Kota Padang",
        note="Berkas belum lengkap",
        missing_documents=("SKP 2025", "Surat lolos butuh"),
    )
    (card,) = await status(app, request)
    text = plain(card)
    assert "Pemerintah Kota Padang" in text and "Inspektorat" not in text
    assert "Mutasi antar-instansi" in text
    assert "⚠️ Dikembalikan (berkas belum lengkap) — sejak" in text
    assert "  • SKP 2025\n  • Surat lolos butuh" in text
    assert "Mohon serahkan dokumen yang kurang ke BKPSDM Kota Bukittinggi:" in text
    assert "▫️ Pertimbangan teknis (Pertek BKN)" in text  # between governments
    assert buttons(card) == [HISTORY]

    sent, answers = await press_history(app, request)
    assert len(answers) == 1
    (history,) = sent
    history_text = plain(history)
    assert "Formasi &lt;penuh&gt; &amp; ditunda" in history["text"]
    heading, _, head, outcome, reason = history_text.splitlines()
    assert heading == "Riwayat mutasi Bapak/Ibu:"
    assert head == "Rotasi: Analis Kebijakan, Inspektorat"
    assert outcome.startswith("❌ Dibatalkan — ")
    assert reason == "Alasan: Formasi <penuh> & ditunda"
    assert "Pemerintah Kota Padang" not in history_text


async def test_several_active_mutations_come_newest_first_after_a_heading(captured, sessionmaker):
    app, request = captured
    _, staff = await people(sessionmaker)
    await add_mutation(
        sessionmaker, staff, stage=Stage.VERIFIKASI, to_unit="Bappeda", started=ago(60)
    )
    await add_mutation(
        sessionmaker, staff, stage=Stage.SK_TERBIT, to_unit="Dinas Sosial", started=ago(10)
    )
    heading, newest, older = await status(app, request)
    assert heading["text"] == ID.ngettext(
        "Your transfer in process:", "Your {n} transfers in process, newest first:", 2
    )
    assert heading["text"] == "2 mutasi Bapak/Ibu yang sedang diproses, terbaru lebih dulu:"
    assert buttons(heading) == []
    assert "Dinas Sosial" in plain(newest) and "SK Nomor 800.1.3.3/45/BKPSDM-2026" in plain(newest)
    assert "Bappeda" in plain(older)
    assert buttons(newest) == [] and buttons(older) == [HISTORY]


async def test_mutasi_is_the_same_as_status(captured, sessionmaker):
    app, request = captured
    _, staff = await people(sessionmaker)
    await add_mutation(sessionmaker, staff, stage=Stage.DIUSULKAN)
    by_status = await status(app, request, "/status")
    by_alias = await status(app, request, "/mutasi")
    assert [(m["text"], buttons(m)) for m in by_alias] == [
        (m["text"], buttons(m)) for m in by_status
    ]
    assert "▶️ Diusulkan — sejak" in plain(by_alias[0])


async def test_only_the_readers_own_mutations_are_shown(captured, sessionmaker):
    app, request = captured
    boss, _ = await people(sessionmaker)
    await add_mutation(sessionmaker, boss, stage=Stage.VERIFIKASI, to_unit="Sekretariat Daerah")
    await add_mutation(sessionmaker, boss, stage=Stage.SELESAI, to_unit="Inspektorat")
    (reply,) = await status(app, request)
    assert reply["text"].startswith("Saat ini Bapak/Ibu tidak sedang dalam proses mutasi.")
    assert buttons(reply) == []
    (nothing,), _ = await press_history(app, request)  # a forged press: still their own
    assert nothing["text"] == ID("You have no past transfers.")


# --------------------------------------------------------------------------- who may ask
@pytest.mark.parametrize("command", ["/status", "/mutasi"])
async def test_unlinked_user_is_asked_to_link_first(captured, command):
    app, request = captured
    (reply,) = await status(app, request, command, user=STRANGER)
    assert reply["text"] == LINK_FIRST
    assert "/start" in reply["text"]


async def test_history_button_from_an_unlinked_user_is_refused(captured, sessionmaker):
    app, request = captured
    _, staff = await people(sessionmaker)
    await add_mutation(sessionmaker, staff, stage=Stage.SELESAI)
    sent, (answer,) = await press_history(app, request, user=STRANGER)
    assert sent == []
    assert answer["show_alert"] is True and answer["text"] == LINK_FIRST
    # Unlinked after the card was sent: the server checks again.
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Employee).where(Employee.id == staff).values(telegram_user_id=None)
        )
    sent, (answer,) = await press_history(app, request)
    assert sent == [] and answer["show_alert"] is True


# --------------------------------------------------------------------------- language
async def test_english_after_the_user_chose_english(captured, sessionmaker):
    app, request = captured
    _, staff = await people(sessionmaker)
    await add_mutation(sessionmaker, staff, stage=Stage.VERIFIKASI, started=ago(40))
    await add_mutation(
        sessionmaker, staff, stage=Stage.DIBATALKAN, note="Withdrawn", started=ago(300)
    )
    await app.process_update(callback_update(app, STAFF, "bahasa:en"))
    (card,) = await status(app, request)
    text = plain(card)
    assert text.startswith("🔁 Rotation\nFrom: Analis Transportasi, Dinas Perhubungan")
    assert "Stage: Document verification" in text
    assert "▶️ Document verification — since" in text
    assert EN("BKPSDM is checking the documents.") in text
    sent, _ = await press_history(app, request)
    history = plain(sent[0])
    assert history.startswith("Your past transfers:")
    assert "❌ Cancelled — " in history and "Reason: Withdrawn" in history


async def test_english_no_mutation_sentence(captured, sessionmaker):
    app, request = captured
    await people(sessionmaker)
    await app.process_update(callback_update(app, STAFF, "bahasa:en"))
    (reply,) = await status(app, request)
    assert reply["text"] == (
        "You have no transfer (mutasi) in process at the moment. "
        f"For questions about transfers, please contact {HR_CONTACT}."
    )


# --------------------------------------------------------------------------- Telegram's limits
async def test_a_long_history_is_capped_and_says_how_many_more(captured, sessionmaker):
    app, request = captured
    _, staff = await people(sessionmaker)
    for number in range(HISTORY_SHOWN + 2):
        await add_mutation(
            sessionmaker,
            staff,
            stage=Stage.SELESAI if number % 2 else Stage.DIBATALKAN,
            to_unit=f"Unit {number:02d}",
            note="Alasan",
            started=ago(1000 - number * 20),
        )
    (reply,) = await status(app, request)
    assert buttons(reply) == [HISTORY]
    (history,), _ = await press_history(app, request)
    text = plain(history)
    shown = [line for line in text.splitlines() if line.startswith("Rotasi: ")]
    assert len(shown) == HISTORY_SHOWN
    # Most recently ended first: the last two added come first, the first two are left out.
    assert shown[0].endswith("Unit 11") and shown[-1].endswith("Unit 02")
    assert text.endswith("… dan 2 mutasi sebelumnya tidak ditampilkan.")


async def test_a_history_of_long_entries_stays_under_telegrams_limit(captured, sessionmaker):
    app, request = captured
    _, staff = await people(sessionmaker)
    for number in range(8):
        await add_mutation(
            sessionmaker,
            staff,
            stage=Stage.DIBATALKAN,
            to_unit=f"{number} " + "Unit <&> " * 22,
            to_position="Jabatan & " * 20,
            note="Alasan <panjang> & rinci " * 40,
            started=ago(500 - number),
        )
    (history,), _ = await press_history(app, request)
    text = plain(history)  # ≤ 4096 characters, valid HTML
    shown = len([line for line in text.splitlines() if line.startswith("Rotasi: ")])
    assert 1 <= shown < 8
    more = ID.ngettext(
        "… and {n} earlier transfer not shown.", "… and {n} earlier transfers not shown.", 8 - shown
    )
    assert text.endswith(more)


async def test_a_card_too_long_for_one_message_is_cut_between_lines(captured, sessionmaker):
    app, request = captured
    _, staff = await people(sessionmaker)
    await add_mutation(
        sessionmaker,
        staff,
        stage=Stage.DIKEMBALIKAN,
        to_unit="Dinas <Pariwisata> & Kebudayaan " * 6,
        missing_documents=[f"Dokumen {n} & <lampiran> " + "x" * 170 for n in range(20)],
        note="Alasan & <catatan> " * 50,
    )
    (card,) = await status(app, request)
    text = plain(card)  # ≤ 4096 characters, valid HTML
    assert text.endswith("\n…")
    assert "Dikembalikan (berkas belum lengkap)" in text
    assert buttons(card) == [HISTORY]
