"""Real flows with every logger at DEBUG through the production log set-up: no NIP, phone
number, name or typed text reaches the log (UU 27/2022).

The bot runs on the handler-test support (its HTTP layer recorded, the outbox sender
running): people link by shared contact and by activation code, strangers type their NIP and
phone number, an ASN types a question, HR looks people up by NIP, a supervisor gives an
evaluation with typed feedback, HR sends an announcement and uploads a file with an error row.
Everything the root handler writes (JSON lines) is then searched.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import logging
import re
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from telegram import Bot, Update
from telegram.ext import Application

from bot.config import Settings
from bot.delivery import Sender
from bot.evaluation_cards import NEXT, SEND, open_data
from bot.logging_setup import configure_logging
from bot.rules.periods import BEHAVIOUR, FEEDBACK, SUMMARY, WORK
from bot.rules.skp import BERAKHLAK, Rating
from storage.models import (
    Employee,
    Evaluation,
    EvaluationPeriod,
    OutboxMessage,
    Unit,
    Upload,
    utcnow,
)
from storage.repositories.codes import ActivationCodeRepository
from tests.delivery.conftest import drain
from tests.evaluations.conversation_support import answer, buttons
from tests.handlers.conftest import running_app
from tests.storage.importing import EMPLOYEE_HEADERS, csv_bytes
from tests.support.telegram import (
    TOKEN,
    CapturingRequest,
    FileServingRequest,
    callback_update,
    document_update,
    message_update,
    user_dict,
)

BOSS = 7790001  # head of unit, supervisor and HR admin
RINA = 7790002  # links by sharing her contact
ANDI = 7790003  # links with an activation code
STRANGER = 7790004
BOSS_NIP, RINA_NIP, ANDI_NIP = "197501012000031001", "198609262015051001", "199001012015051003"
RINA_PHONE = "6281234567890"
BOSS_PHONE = "6281399887766"
BAD_ROW_NIP, BAD_ROW_PHONE = "199203142019032004", "081277778888"
NAMES = ("Rina Marlina", "Yusuf Datuak", "Andi Pratama", "Budi Santoso")
TYPED = (
    "Saya mau bertanya soal mutasi saya ke Bappeda",
    "Kinerja sangat memuaskan, pertahankan ketelitiannya",
    "Apel pagi besok ditiadakan karena kegiatan wali kota",
    "tolong hubungi saya",
)
_ids = itertools.count(8_800_000)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, _env_file=None)


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """The production set-up (JSON lines, privacy filter) at DEBUG for every logger."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    loggers = [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    configure_logging(logging.DEBUG, "json", stream=stream)
    for logger in loggers:
        logger.setLevel(logging.NOTSET)
        logger.disabled = False
    for noisy in ("httpx", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.NOTSET)
    yield stream
    for handler in list(root.handlers):
        if handler not in saved_root[0]:
            root.removeHandler(handler)
    root.setLevel(saved_root[1])
    for logger, level, disabled in saved:
        logger.setLevel(level)
        logger.disabled = disabled


async def _people(sessionmaker) -> tuple[int, int, str]:
    """(Rina's id, Andi's id, Andi's activation code)."""
    async with sessionmaker() as session, session.begin():
        unit = Unit(name="Dinas Perhubungan")
        boss = Employee(
            nip=BOSS_NIP,
            name="Ir. Yusuf Datuak Rajo Mudo",
            position="Kepala Dinas",
            unit=unit,
            phone=BOSS_PHONE,
            role="hr_admin",
            telegram_user_id=BOSS,
        )
        rina = Employee(
            nip=RINA_NIP,
            name="Rina Marlina, S.E.",
            position="Analis",
            unit=unit,
            supervisor=boss,
            phone=RINA_PHONE,
        )
        andi = Employee(
            nip=ANDI_NIP, name="Andi Pratama", position="Staf", unit=unit, supervisor=boss
        )
        session.add_all([unit, boss, rina, andi])
        await session.flush()
        (issued,) = await ActivationCodeRepository(session).issue(
            [andi.id],
            expires_at=utcnow() + dt.timedelta(days=14),
            actor_label="test",
            unit=None,
            now=utcnow(),
        )
        return rina.id, andi.id, issued.code


def _contact(app: Application, user: int, phone: str) -> Update:
    message = {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": {"id": user, "type": "private", "first_name": "Rina"},
        "from": user_dict(user, "Rina Marlina"),
        "contact": {"phone_number": phone, "first_name": "Rina Marlina", "user_id": user},
    }
    return Update.de_json({"update_id": next(_ids), "message": message}, app.bot)


async def _say(app: Application, user: int, text: str) -> None:
    await app.process_update(message_update(app, user, text, first_name="Rina Marlina"))


async def _press(app: Application, user: int, data: str) -> None:
    await app.process_update(callback_update(app, user, data, message_id=500))


async def _send_the_outbox(sessionmaker) -> dict[str, int]:
    """The outbox sender delivers everything queued, through a recorded Bot API."""
    bot = Bot(TOKEN, request=CapturingRequest())
    sender = Sender(sessionmaker, per_chat_rate=100.0)  # no quiet hours
    return await drain(sender, bot, sessionmaker)


def _secrets(code: str) -> list[str]:
    return [
        BOSS_NIP,
        RINA_NIP,
        ANDI_NIP,
        BAD_ROW_NIP,
        RINA_PHONE,
        BOSS_PHONE,
        RINA_PHONE[2:],  # 81234567890, whatever the prefix
        BAD_ROW_PHONE[1:],
        code,
        *NAMES,
        *TYPED,
    ]


def _joined_digits(text: str) -> str:
    """Digits typed in groups joined again, so ``0812 3456 7890`` is found too."""
    return re.sub(r"(?<=\d)[ .\-\u00a0](?=\d)", "", text)


async def test_no_personal_data_reaches_the_log_in_real_flows(debug_log, settings, sessionmaker):
    rina_id, _andi_id, code = await _people(sessionmaker)
    async with running_app(settings, FileServingRequest()) as (app, request):
        # Linking: by shared contact, by activation code; strangers typing their numbers.
        await _say(app, RINA, "/start")
        await app.process_update(_contact(app, RINA, "+62 812-3456-7890"))
        await _say(app, ANDI, f"/start {code}")
        await _say(app, STRANGER, "NIP saya 19860926 201505 1 001, HP 0812 3456 7890")
        await app.process_update(_contact(app, STRANGER, BAD_ROW_PHONE))
        await _say(app, STRANGER, f"{TYPED[3]} di 0812-7777-8888")
        # An ASN types a question; HR looks people up by NIP and by name.
        await _say(app, RINA, TYPED[0])
        await _say(app, BOSS, "/cari 19860926 201505 1 001")
        await _say(app, BOSS, "/cari Rina Marlina")
        await _say(app, BOSS, f"/hr_mutasi {RINA_NIP}")

        # The supervisor's evaluation of Rina, with typed feedback, sent.
        await _say(app, BOSS, "/nilai")
        async with sessionmaker() as session:
            period = await session.scalar(select(EvaluationPeriod.id))
        assert period is not None
        await _press(app, BOSS, open_data(period, rina_id))
        async with sessionmaker() as session:
            evaluation = await session.scalar(
                select(Evaluation.id).where(Evaluation.employee_id == rina_id)
            )
        assert evaluation is not None
        await _press(app, BOSS, answer(evaluation, WORK, Rating.DI_ATAS))
        for value in BERAKHLAK:
            await _press(app, BOSS, answer(evaluation, value, Rating.SESUAI))
        await _press(app, BOSS, answer(evaluation, BEHAVIOUR, NEXT))
        await _say(app, BOSS, TYPED[1])
        summary = request.sent()[-1]
        assert answer(evaluation, SUMMARY, SEND) in buttons(summary)
        assert answer(evaluation, FEEDBACK, NEXT) not in buttons(summary)
        await _press(app, BOSS, answer(evaluation, SUMMARY, SEND))

        # HR's announcement to everyone.
        await _say(app, BOSS, "/hr_umumkan")
        await _say(app, BOSS, TYPED[2])
        await _press(app, BOSS, "umum:aud:all")
        await _press(app, BOSS, "umum:send")

        # HR uploads employees with an error row (a bad NIP, a name, a phone number).
        content = csv_bytes(
            [
                EMPLOYEE_HEADERS,
                [BAD_ROW_NIP[:-1] + "X", "Budi Santoso", "PNS", "Staf", "III/a", "Dinas", "", ""],
                [BAD_ROW_NIP, "Budi Santoso", "PNS", "Staf", "III/a", "", "", BAD_ROW_PHONE],
            ]
        )
        file_id = request.add_file(content)
        await app.process_update(
            document_update(app, BOSS, file_id, "pegawai.csv", len(content), "text/csv")
        )
        async with sessionmaker() as session:
            upload = await session.scalar(select(Upload))
        assert upload is not None
        if upload.status == "pending":
            await _press(app, BOSS, f"impor:{upload.id}:employees")
        sent = await _send_the_outbox(sessionmaker)

        # The flows did what they should (so the log below is of real work).
        async with sessionmaker() as session:
            linked = set(
                await session.scalars(
                    select(Employee.telegram_user_id).where(Employee.telegram_user_id.is_not(None))
                )
            )
            upload_after = await session.scalar(select(Upload))
            kinds = set(await session.scalars(select(OutboxMessage.kind)))
        assert linked == {BOSS, RINA, ANDI}
        assert upload_after is not None and upload_after.status == "rejected"
        assert {"announcement", "evaluation"} <= kinds
        assert sent["sent"] >= 4 and sent["failed"] == 0

    lines = [json.loads(line) for line in debug_log.getvalue().splitlines()]
    loggers = {line["logger"] for line in lines}
    assert any(name.startswith("telegram") for name in loggers), loggers
    # Chat ids, outbox ids and the bot id stay readable: the log is still useful.
    assert any(re.search(rf"#\d+ chat {RINA}", line["message"]) for line in lines)
    assert any("Calling Bot API endpoint `sendMessage`" in line["message"] for line in lines)
    text = "\n".join(f"{line['message']}\n{line.get('exc', '')}" for line in lines)
    found = {
        secret
        for secret in _secrets(code)
        if secret in text or secret in _joined_digits(text) or secret.lower() in text.lower()
    }
    assert found == set()
