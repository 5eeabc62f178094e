"""Bad input, a fixed corpus (issue 9, item 4): every role gets hostile text, stale and forged
buttons, non-text messages, edited messages and documents of every wrong kind.

For each input: no unhandled exception (the error handlers record none), no traceback in a
reply, every request a valid Telegram call (lengths, callback data, HTML), and where the input
is refused the guarded tables are unchanged.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openpyxl import Workbook

from bot.config import Settings
from bot.evaluation_cards import NEXT, SEND, open_data
from bot.rules.periods import BEHAVIOUR, SUMMARY, WORK
from bot.rules.skp import Rating
from storage.importers import MAX_FILE_BYTES
from tests.badinput.bad_input_harness import (
    EXPLORE,
    ROLES,
    STRANGER,
    Bot,
    assert_unchanged,
    buttons,
    check_outbox,
    document,
    feed,
    message,
    press,
    running_bot,
    snapshot,
    text_message,
    texts,
)
from tests.evaluations.conversation_support import answer
from tests.evaluations.office import BOSS_CHAT, HR_CHAT, STAFF_CHAT, Maker
from tests.storage.importing import EMPLOYEE_HEADERS, csv_bytes, pns_nip
from tests.support.telegram import STICKER, VOICE

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
async def bot(settings: Settings, sessionmaker: Maker) -> AsyncIterator[Bot]:
    async with running_bot(settings, sessionmaker) as running:
        yield running


# --------------------------------------------------------------------------- text
TEXTS = [
    "asdf qwerty zxcv",
    "😀🎉🇮🇩👨‍👩‍👧‍👦" * 20,
    "x" * 4096,
    "😀" * 4096,
    "<b>tebal",
    "</code>",
    "&amp; &lt; & &#x110000; &#0;",
    "*_[`~]()_*",
    "<script>alert(1)</script>",
    "\u202e\u200b\u0000\ufeff",
    " ",
    "/",
    "/nonexistent_command arg",
    "/start " + "A" * 300,
    "/start <b>",
    "/cari",
    "/cari " + "%" * 50,
    "/cari ' OR 1=1 --",
    "/hr_lepas 999999999999999999999",
    "/hr_lepas abc",
    "/hr_admin <b>",
    "/bahasa xx",
    "/start 2147483648",
    "/cari 999999999999999999",
    "/hr_mutasi 999999999999999999",
    "/hr_pembinaan 2147483648",
    "/hr_pelatihan 2147483648",
    "/kinerja 2147483648",
    "/hr_rekap 2147483648",
    "/hr_talenta 2147483648",
    "/hr_rotasi 2147483648",
    "/hr_audit 2147483648",
    "/pelatihan 2147483648",
    "batal",
    "/batal",
]


@pytest.mark.parametrize("role", list(ROLES))
async def test_hostile_text_from_every_role_changes_nothing(bot: Bot, role: str):
    user = ROLES[role]
    for value in TEXTS:
        before = await snapshot(bot.sessionmaker)
        await feed(bot, text_message(bot.app, user, value))
        assert_unchanged(before, await snapshot(bot.sessionmaker))


EDITED = ("/nilai", "/hr_siaran", "/start", "/cari Rina", "ubah <b>", "x" * 4096, "/hr_umumkan")


@pytest.mark.parametrize("role", list(ROLES))
async def test_edited_messages_are_harmless(bot: Bot, role: str):
    user = ROLES[role]
    before = await snapshot(bot.sessionmaker)
    for value in EDITED:
        if role == "hr" and value == "/hr_umumkan":
            continue  # the known bug below
        await feed(bot, text_message(bot.app, user, value, edited=True))
    assert_unchanged(before, await snapshot(bot.sessionmaker))


async def test_an_edit_in_the_middle_of_a_conversation_is_not_an_answer(bot: Bot):
    await feed(bot, text_message(bot.app, HR_CHAT, "/hr_umumkan"))
    await feed(bot, text_message(bot.app, BOSS_CHAT, "/nilai"))
    before = await snapshot(bot.sessionmaker)
    for user in (HR_CHAT, BOSS_CHAT):
        for value in ("Rapat <b>besok</b>", "😀" * 100, "batal"):
            await feed(bot, text_message(bot.app, user, value, edited=True))
    assert_unchanged(before, await snapshot(bot.sessionmaker))


async def test_an_edited_hr_umumkan_keeps_the_draft_in_progress(bot: Bot):
    await feed(bot, text_message(bot.app, HR_CHAT, "/hr_umumkan"))
    await feed(bot, text_message(bot.app, HR_CHAT, "Rapat koordinasi besok"))
    await feed(bot, press(bot.app, HR_CHAT, "umum:aud:all"))
    before = await snapshot(bot.sessionmaker)
    await feed(bot, text_message(bot.app, HR_CHAT, "/hr_umumkan", edited=True))
    assert_unchanged(before, await snapshot(bot.sessionmaker))


# --------------------------------------------------------------------------- other messages
LOCATION = {"location": {"latitude": -0.3055, "longitude": 100.3692}}
PHOTO = {
    "photo": [{"file_id": "AgACfoto", "file_unique_id": "ufoto", "width": 90, "height": 90}],
    "caption": "<b>foto</b> " + "y" * 1000,
}
VIDEO_NOTE = {
    "video_note": {"file_id": "DQACbulat", "file_unique_id": "ubulat", "length": 240, "duration": 2}
}


def contact_of(user_id: int, phone: str = "+6281234567890") -> dict[str, Any]:
    return {"contact": {"phone_number": phone, "first_name": "Orang Lain", "user_id": user_id}}


NON_TEXT = {
    "sticker": STICKER,
    "voice": VOICE,
    "location": LOCATION,
    "photo": PHOTO,
    "video_note": VIDEO_NOTE,
    "contact_of_someone_else": contact_of(STAFF_CHAT + 12345),
    "contact_without_user": {"contact": {"phone_number": "+6281100000000", "first_name": "X"}},
    "contact_of_a_linked_asn": contact_of(STAFF_CHAT),
}


@pytest.mark.parametrize("role", list(ROLES))
async def test_stickers_voice_location_and_foreign_contacts(bot: Bot, role: str):
    user = ROLES[role]
    for kind, content in NON_TEXT.items():
        before = await snapshot(bot.sessionmaker)
        await feed(bot, message(bot.app, user, content))
        try:
            assert_unchanged(before, await snapshot(bot.sessionmaker))
        except AssertionError as error:
            raise AssertionError(f"{kind} from {role}: {error}") from None


async def test_non_text_in_the_middle_of_the_conversations(bot: Bot):
    await feed(bot, text_message(bot.app, HR_CHAT, "/hr_umumkan"))
    await feed(bot, text_message(bot.app, BOSS_CHAT, "/nilai"))
    for content in NON_TEXT.values():
        for user in (HR_CHAT, BOSS_CHAT):
            before = await snapshot(bot.sessionmaker)
            await feed(bot, message(bot.app, user, content))
            after = await snapshot(bot.sessionmaker)
            if "photo" not in content:  # a photo with a caption is an announcement's content
                assert_unchanged(before, after)


# --------------------------------------------------------------------------- injection shown
async def test_an_injected_name_is_shown_escaped_in_cari_tim_and_nilai(bot: Bot):
    shown = await feed(bot, text_message(bot.app, HR_CHAT, "/cari script"))
    for data in [b for b in buttons(shown) if b.startswith("hr:")]:
        await feed(bot, press(bot.app, HR_CHAT, data))
    await feed(bot, text_message(bot.app, HR_CHAT, "/cari Budi"))
    await feed(bot, text_message(bot.app, HR_CHAT, f"/cari {pns_nip(8)}"))
    team = await feed(bot, text_message(bot.app, BOSS_CHAT, "/tim"))
    assert any("script" in t for t in texts(team))
    listed = await feed(bot, text_message(bot.app, BOSS_CHAT, "/nilai"))
    assert any("script" in t or "Budi" in t for t in [*texts(listed), str(listed)])
    for data in buttons(listed):
        await feed(bot, press(bot.app, BOSS_CHAT, data))
    await feed(bot, text_message(bot.app, HR_CHAT, "/hr_rekap"))
    await feed(bot, text_message(bot.app, HR_CHAT, "/hr_talenta"))
    await feed(bot, text_message(bot.app, HR_CHAT, "/hr_mutasi " + pns_nip(8)))


async def _open_evaluation(bot: Bot, employee: int) -> int:
    from sqlalchemy import select

    from storage.models import Evaluation, EvaluationPeriod

    await feed(bot, text_message(bot.app, BOSS_CHAT, "/nilai"))
    async with bot.sessionmaker() as session:
        period = await session.scalar(select(EvaluationPeriod.id).order_by(EvaluationPeriod.id))
    assert period is not None
    await feed(bot, press(bot.app, BOSS_CHAT, open_data(period, employee)))
    async with bot.sessionmaker() as session:
        evaluation = await session.scalar(
            select(Evaluation.id).where(Evaluation.employee_id == employee)
        )
    assert evaluation is not None
    return evaluation


FEEDBACK = [
    "<b>Bagus</b> tapi </code> &amp; *_[ perlu <script>",
    "😀" * 999,
    "&#x110000; & < >",
]


@pytest.mark.parametrize("feedback", FEEDBACK, ids=["html", "emoji", "entities"])
async def test_hostile_feedback_in_nilai_is_stored_verbatim_and_shown_escaped(bot: Bot, feedback):
    # Rina (linked) gets the notice with the feedback on Kirim.
    evaluation = await _open_evaluation(bot, bot.office.staff)
    await feed(bot, press(bot.app, BOSS_CHAT, answer(evaluation, WORK, Rating.SESUAI)))
    from bot.rules.skp import BERAKHLAK

    for value in BERAKHLAK:
        await feed(bot, press(bot.app, BOSS_CHAT, answer(evaluation, value, Rating.SESUAI)))
    await feed(bot, press(bot.app, BOSS_CHAT, answer(evaluation, BEHAVIOUR, NEXT)))
    summary = await feed(bot, text_message(bot.app, BOSS_CHAT, feedback))
    assert summary
    send = [b for b in buttons(summary) if b.startswith(f"nl:{evaluation}:")]
    assert send
    from sqlalchemy import select

    from storage.models import Evaluation

    async with bot.sessionmaker() as session:
        stored = await session.scalar(
            select(Evaluation.feedback).where(Evaluation.id == evaluation)
        )
    assert stored == feedback
    # Kirim: the notice to the employee carries the feedback, and must be valid too.
    await feed(bot, press(bot.app, BOSS_CHAT, answer(evaluation, SUMMARY, SEND)))
    assert await check_outbox(bot.sessionmaker) >= 1


ANNOUNCEMENTS = [
    "<b>Rapat</b> </code> &amp; *_[ <script>alert(1)</script>",
    "x" * 4096,
    "😀" * 4096,
]


@pytest.mark.parametrize("content", ANNOUNCEMENTS, ids=["html", "long", "emoji"])
async def test_hostile_announcement_text_previews_as_valid_html(bot: Bot, content: str):
    await feed(bot, text_message(bot.app, HR_CHAT, "/hr_umumkan"))
    await feed(bot, text_message(bot.app, HR_CHAT, content))
    for audience in ("all", "sup"):
        await feed(bot, press(bot.app, HR_CHAT, f"umum:aud:{audience}"))
        await feed(bot, press(bot.app, HR_CHAT, "umum:back"))
    await feed(bot, press(bot.app, HR_CHAT, "umum:aud:all"))
    await feed(bot, press(bot.app, HR_CHAT, "umum:send"))
    assert await check_outbox(bot.sessionmaker) >= 1


# --------------------------------------------------------------------------- buttons
FORGED_IDS = ("0", "1", "2", "999999999", "999999999999999999", "-1", "abc", "", "1:2:3:4:5:6")
BEYOND_INT32 = ("2147483648", "999999999999999999")
SWEEP_STRETCH = 20
# Buttons naming an id beyond the 32-bit INTEGER columns (2**31 - 1): such a press must be a
# stale button on both databases (PostgreSQL would refuse the number in a query).
INT32_OVERFLOW = re.compile(
    r"^(siaran:(show|cancel|stop|xlsx|resend):N|impor:N:[a-z]+|latih:N:(hadir|absen|lewati)"
    r"|tal:(m|dl):N|rot:dl:N|hrm:new:N|rkp:dl:N|kirim:(r|i):N|hr:[a-z]+!?:N)$"
)


def overflows(data: str) -> bool:
    for big in BEYOND_INT32:
        if big in data and INT32_OVERFLOW.match(data.replace(big, "N")):
            return True
    return False


def forged_callback_data(bot: Bot, role: str | None = None) -> list[str]:
    """Callback data for every prefix the bot handles: stale, forged, malformed.

    Every role presses every prefix with the real ids; the forged ids are shared out between
    the roles (each forged id is pressed by two of them) unless ``EXPLORE`` asks for all of
    them by everyone."""
    office = bot.office
    real = [str(office.staff), str(office.boss), str(office.hr), str(office.staff3)]
    forged = list(dict.fromkeys([*FORGED_IDS, *BEYOND_INT32]))
    if role is not None and not EXPLORE:
        turn = list(ROLES).index(role)
        forged = [
            value
            for index, value in enumerate(forged)
            if index % len(ROLES) in (turn, (turn + 1) % len(ROLES))
        ]
    ids = [*forged, *real]
    data: list[str] = []
    actions = {
        "umum:": ["aud", "unit", "page", "units_ok", "send", "sched", "sched_ok", "back", "stop"],
        "siaran:": ["list", "show", "cancel", "stop", "xlsx", "resend"],
        "hrp:": ["list", "pick", "give", "done"],
        "mut:": ["riwayat", "x"],
        "impor:": ["employees", "mutations", "trainings", "competencies", "formations", "batal"],
        "latih:": ["hadir", "absen", "lewati", "riwayat"],
        "hrl:": ["list", "show", "new", "stop", "x!"],
        "tal:": ["m", "b", "dl"],
        "rot:": ["dl"],
        "hrm:": ["go", "new", "skip", "save", "stop", "x!"],
        "rkp:": ["dl", "nd", "ro", "ry", "rx"],
        "kirim:": ["home", "xlsx", "r", "i", "ra", "ia"],
        "hr:": ["card", "unlink", "unlink!", "grant", "grant!", "revoke", "revoke!"],
        "nl:": ["p", "o"],
        "bahasa:": ["xx", "", "<b>"],
    }
    for prefix, names in actions.items():
        for name in names:
            data.append(f"{prefix}{name}")
            for value in ids:
                data.append(f"{prefix}{name}:{value}")
            if prefix == "impor:":
                data += [f"impor:{value}:{name}" for value in ids]
            if prefix == "latih:":
                data += [f"latih:{value}:{name}" for value in ids]
    data += [
        *[f"nl:o:1:{employee}" for employee in (*real, office.boss2, bot.injected)],
        f"nl:o:999999999999:{office.hr}",
        "nl:1:w:s",
        "nl:999999999999:zz:zzz",
        "nl:p:9999",
        "mut:riwayat",
        "latih:riwayat",
        "",
        "x" * 64,
        "😀" * 16,
        "umum:" + "9" * 59,
        ":::::",
    ]
    return [d for d in dict.fromkeys(data) if len(d.encode()) <= 64]


@pytest.mark.parametrize("role", list(ROLES))
async def test_forged_and_stale_buttons_from_every_role_change_nothing(bot: Bot, role: str):
    user = ROLES[role]
    own_reports = {
        "supervisor": (bot.office.staff, bot.office.staff2, bot.injected),
        "supervisor2": (bot.office.staff3,),
        "head": (bot.office.boss, bot.office.boss2),
    }.get(role, ())
    legitimate = {f"nl:o:1:{employee}" for employee in own_reports}
    if role == "hr":  # confirmed unlink/grant/revoke of real people are HR's to do
        everyone = range(1, bot.injected + 1)  # every employee there is
        legitimate |= {
            f"hr:{action}!:{employee}"
            for action in ("unlink", "grant", "revoke")
            for employee in everyone
        }
    presses = [d for d in forged_callback_data(bot, role) if d not in legitimate]
    before = await snapshot(bot.sessionmaker)
    # The tables are compared after every few presses (a snapshot costs as much as a press);
    # a change names the presses of that stretch.
    for start in range(0, len(presses), SWEEP_STRETCH):
        stretch = presses[start : start + SWEEP_STRETCH]
        for data in stretch:
            try:
                calls = await feed(bot, press(bot.app, user, data))
            except AssertionError as error:
                raise AssertionError(f"{data!r} by {role}: {error}") from None
            answered = [c for c in calls if c.method == "answerCallbackQuery"]
            assert len(answered) <= 1, data
            if role != "hr":  # HR may download what HR may download
                assert not [c for c in calls if c.method == "sendDocument"], data
        # Presses from the wrong role or with wrong ids may be audited, nothing else.
        after = await snapshot(bot.sessionmaker)
        if role == "hr" and any(d.startswith(("hrl:", "hrm:", "umum:")) for d in stretch):
            before["drafts"] = after["drafts"]  # HR's own buttons may start or end HR's flows
        try:
            assert_unchanged(before, after)
        except AssertionError as error:
            raise AssertionError(f"one of {stretch!r} by {role}: {error}") from None
        before = after


OVERFLOW_PRESSES = [
    *(f"siaran:{action}:{big}" for action in ("show", "cancel", "stop", "xlsx", "resend")
      for big in BEYOND_INT32),
    *(f"impor:{big}:{kind}" for kind in ("employees", "batal") for big in BEYOND_INT32),
    *(f"{data}:{big}" for data in ("tal:m", "tal:dl", "rot:dl", "hrm:new", "rkp:dl", "kirim:r",
      "kirim:i", "hr:card", "hr:unlink", "hr:unlink!", "hr:grant", "hr:grant!", "hr:revoke",
      "hr:revoke!") for big in BEYOND_INT32),
]  # fmt: skip
OVERFLOW_CASES = {
    "hr": [*OVERFLOW_PRESSES, *(f"latih:{big}:{answer}" for answer in ("hadir", "absen", "lewati")
           for big in BEYOND_INT32)],
    **{role: [f"latih:{big}:{answer}" for answer in ("hadir", "absen", "lewati")
              for big in BEYOND_INT32] for role in ("staff", "supervisor")},
}  # fmt: skip


@pytest.mark.parametrize("role", list(OVERFLOW_CASES))
async def test_an_id_beyond_int32_is_a_stale_button(bot: Bot, role: str):
    for data in OVERFLOW_CASES[role]:
        assert overflows(data)
        before = await snapshot(bot.sessionmaker)
        calls = await feed(bot, press(bot.app, ROLES[role], data))
        assert len([c for c in calls if c.method == "answerCallbackQuery"]) == 1, data
        try:
            assert_unchanged(before, await snapshot(bot.sessionmaker))
        except AssertionError as error:
            raise AssertionError(f"{data!r} by {role}: {error}") from None


# --------------------------------------------------------------------------- documents
def _zip_not_xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "bukan excel")
    return buffer.getvalue()


def _xlsx_with_formulas_and_numbers() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(EMPLOYEE_HEADERS)
    row = ["=1+1", '=HYPERLINK("http://x","klik")'] + ["=A1"] * (len(EMPLOYEE_HEADERS) - 2)
    sheet.append(row)
    numbers = [198801012012011001, "Nomor Sebagai Angka"] + [""] * (len(EMPLOYEE_HEADERS) - 2)
    sheet.append(numbers)
    sheet.append([1.98801012012011e17, "Notasi Ilmiah"] + [""] * (len(EMPLOYEE_HEADERS) - 2))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
OLE2 = bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 504
DOCUMENTS: dict[str, tuple[bytes, str | None, str | None]] = {
    "pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "pegawai.pdf", "application/pdf"),
    "xls_ole2": (OLE2, "pegawai.xls", "application/vnd.ms-excel"),
    "ole2_named_xlsx": (OLE2, "pegawai.xlsx", "application/vnd.ms-excel"),
    "zip_not_xlsx": (
        _zip_not_xlsx(),
        "pegawai.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "image": (PNG, "foto.png", "image/png"),
    "image_named_csv": (PNG, "pegawai.csv", "text/csv"),
    "empty": (b"", "pegawai.csv", "text/csv"),
    "no_name": (b"NIP;Nama\n", None, None),
    "wrong_headers": (csv_bytes([["foo", "bar"], ["1", "2"]]), "pegawai.csv", "text/csv"),
    "utf16": ("NIP;Nama\n199001;Ä\n".encode("utf-16"), "pegawai.csv", "text/csv"),
    "latin1": (";".join(EMPLOYEE_HEADERS).encode() + b"\n\xe9\xe8;\xff\n", "p.csv", "text/csv"),
    "bad_quotes": (
        (";".join(EMPLOYEE_HEADERS) + '\n"1988";"unterminated\n"x""y";\n').encode(),
        "pegawai.csv",
        "text/csv",
    ),
    "nul_bytes": (b"\x00" * 2048, "pegawai.csv", "text/csv"),
    "html_name": (b"<b>x</b>", "<b>bad</b> & </code>.csv", "text/csv"),
    "formulas_and_numbers": (
        _xlsx_with_formulas_and_numbers(),
        "pegawai.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
}


async def _send_document(bot: Bot, user: int, name: str, *, size: int | None = None) -> list:
    content, file_name, mime = DOCUMENTS[name]
    file_id = bot.request.add_file(content)
    announced = len(content) if size is None else size
    return await feed(bot, document(bot.app, user, file_id, file_name, announced, mime))


@pytest.mark.parametrize("role", ["hr", "staff", "stranger", "supervisor"])
async def test_documents_of_every_wrong_kind_change_nothing(bot: Bot, role: str):
    for name in DOCUMENTS:
        before = await snapshot(bot.sessionmaker)
        calls = await _send_document(bot, ROLES[role], name)
        for data in [b for b in buttons(calls) if b.startswith("impor:")]:
            calls += await feed(bot, press(bot.app, ROLES[role], data))
        try:
            assert_unchanged(before, await snapshot(bot.sessionmaker))
        except AssertionError as error:
            raise AssertionError(f"{name} from {role}: {error}") from None
        if role != "hr":  # only HR's files are ever fetched
            assert not [c for c in calls if c.method in {"getFile", "download"}], name


@pytest.mark.parametrize("user", [HR_CHAT, STRANGER])
async def test_a_file_over_the_limit_is_refused_without_a_download(bot: Bot, user: int):
    before = await snapshot(bot.sessionmaker)
    calls = await _send_document(bot, user, "wrong_headers", size=MAX_FILE_BYTES + 1)
    assert not [c for c in calls if c.method in {"getFile", "download"}]
    assert_unchanged(before, await snapshot(bot.sessionmaker))


@pytest.mark.parametrize("name", ["pdf", "empty", "zip_not_xlsx", "utf16", "bad_quotes"])
async def test_wrong_documents_as_an_announcement_nip_list(bot: Bot, name: str):
    await feed(bot, text_message(bot.app, HR_CHAT, "/hr_umumkan"))
    await feed(bot, text_message(bot.app, HR_CHAT, "Rapat besok"))
    await feed(bot, press(bot.app, HR_CHAT, "umum:aud:nips"))
    before = await snapshot(bot.sessionmaker)
    await _send_document(bot, HR_CHAT, name)
    after = await snapshot(bot.sessionmaker)
    assert after["announcements"] == before["announcements"]
    assert after["outbox"] == before["outbox"]


# --------------------------------------------------------------------------- the checks bite
async def test_the_harness_notices_an_unhandled_exception(bot: Bot):
    from telegram.ext import MessageHandler, filters

    async def boom(update: object, context: object) -> None:
        raise RuntimeError("boom")

    bot.app.add_handler(MessageHandler(filters.Regex("^meledak$"), boom), group=-100)
    with pytest.raises(AssertionError, match="unhandled"):
        await feed(bot, text_message(bot.app, STAFF_CHAT, "meledak"))


@pytest.mark.parametrize(
    "params",
    [
        {"chat_id": 1, "text": "<b>tebal", "parse_mode": "HTML"},
        {"chat_id": 1, "text": "a & b", "parse_mode": "HTML"},
        {"chat_id": 1, "text": "x" * 4097},
        {"chat_id": 1, "text": "Traceback (most recent call last):\n ..."},
        {"chat_id": 1, "caption": "y" * 1025},
        {
            "chat_id": 1,
            "text": "ok",
            "reply_markup": {"inline_keyboard": [[{"text": "b", "callback_data": "x" * 65}]]},
        },
    ],
    ids=["unclosed", "ampersand", "long_text", "traceback", "long_caption", "long_callback"],
)
def test_the_harness_rejects_an_invalid_request(params: dict[str, Any]):
    from tests.badinput.bad_input_harness import check_calls
    from tests.support.telegram import Call

    with pytest.raises(AssertionError):
        check_calls([Call("sendMessage", params)])
