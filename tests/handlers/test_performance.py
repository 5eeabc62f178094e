"""Layer 2: /kinerja — the reader's own results of the last 12 months, and their chart."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import AsyncIterator

import pytest
from PIL import Image
from telegram.ext import Application

from bot.config import Settings
from bot.evaluations import month_name
from bot.i18n import get_translator
from bot.rules.periods import add_months
from bot.rules.skp import PREDICATE_LABELS, RATING_LABELS, Predicate, Rating
from handlers.performance import FEEDBACK_SHOWN, history_html, month_axis, recent
from storage.models import Employee, Evaluation, EvaluationPeriod
from storage.repositories.evaluations import HistoryItem
from tests.evaluations.reports_support import (
    A1_CHAT,
    B1_CHAT,
    BOSS_A_CHAT,
    HR_CHAT,
    MediaCapturingRequest,
    add_org,
    wib_today,
)
from tests.handlers.conftest import running_app
from tests.support.telegram import TOKEN, message_update

ID = get_translator("id")
UNLINKED_CHAT = 8819999


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, _env_file=None)


@pytest.fixture
async def captured(settings: Settings) -> AsyncIterator[tuple[Application, MediaCapturingRequest]]:
    async with running_app(settings, MediaCapturingRequest()) as (application, request):
        request.clear()
        yield application, request


async def kinerja(app, request, user: int) -> tuple[list[dict], list[bytes]]:
    request.clear()
    await app.process_update(message_update(app, user, "/kinerja"))
    photos = [content for method, _, content in request.uploaded if method == "sendPhoto"]
    return request.sent(), photos


def _month(today: dt.date, delta: int) -> tuple[int, int]:
    return add_months(today.year, today.month, delta)


async def test_the_reader_sees_their_own_results_and_a_chart(captured, sessionmaker):
    app, request = captured
    await add_org(sessionmaker)
    today = wib_today()
    sent, photos = await kinerja(app, request, A1_CHAT)
    (text,) = [m["text"] for m in sent]
    # a1: this month Sangat Baik, last month Baik with feedback; newest first.
    this_month = month_name(ID, *_month(today, 0))
    last_month = month_name(ID, *_month(today, -1))
    assert text.index(this_month) < text.index(last_month)
    assert ID(PREDICATE_LABELS[Predicate.SANGAT_BAIK]) in text
    assert ID(PREDICATE_LABELS[Predicate.BAIK]) in text
    assert (
        ID(
            "Work results: {work} · Work behaviour: {behaviour}",
            work=ID(RATING_LABELS[Rating.SESUAI]),
            behaviour=ID(RATING_LABELS[Rating.SESUAI]),
        )
        in text
    )
    assert "Pertahankan &amp; tingkatkan &lt;kinerja&gt;." in text  # escaped
    # Nobody else's evaluations: a2's feedback, b1's "Rapi.", a3's draft.
    assert "HYPERLINK" not in text and "Rapi." not in text
    (photo_call,) = request.sent("sendPhoto")
    assert photo_call["chat_id"] == A1_CHAT
    (chart,) = photos
    image = Image.open(io.BytesIO(chart))
    image.load()
    assert image.format == "PNG" and 300 <= image.size[0] <= 1600


async def test_another_employee_sees_only_theirs(captured, sessionmaker):
    app, request = captured
    await add_org(sessionmaker)
    sent, photos = await kinerja(app, request, B1_CHAT)
    (text,) = [m["text"] for m in sent]
    assert "Rapi." in text and "Pertahankan" not in text
    assert ID(PREDICATE_LABELS[Predicate.SANGAT_BAIK]) not in text  # a1's this month
    assert len(photos) == 1


async def test_no_results_yet_and_not_linked(captured, sessionmaker):
    app, request = captured
    await add_org(sessionmaker)
    for chat in (HR_CHAT, BOSS_A_CHAT):  # rated by nobody
        sent, photos = await kinerja(app, request, chat)
        (reply,) = sent
        assert reply["text"] == ID(
            "You have no performance results of the last {n} months yet. They appear here "
            "once your supervisor has sent the monthly evaluation.",
            n="12",
        )
        assert photos == []
    sent, photos = await kinerja(app, request, UNLINKED_CHAT)
    (reply,) = sent
    assert "/start" in reply["text"] and photos == []


async def test_drafts_and_old_results_are_not_shown(captured, sessionmaker):
    app, request = captured
    org = await add_org(sessionmaker)
    today = wib_today()
    async with sessionmaker() as session, session.begin():
        old = _month(today, -12)  # thirteen months ago counting this one
        period = EvaluationPeriod(
            year=old[0],
            month=old[1],
            opens_on=dt.date(*old, 1),
            closes_on=dt.date(*old, 28),
            status="locked",
        )
        session.add(period)
        await session.flush()
        session.add(
            Evaluation(
                period_id=period.id,
                employee_id=org.a3,
                evaluator_id=org.boss_a,
                status="submitted",
                work_result="di_atas",
                behaviour="di_atas",
                predicate="sangat_baik",
                feedback="Tiga belas bulan lalu",
                behaviour_ratings={},
            )
        )
    async with sessionmaker() as session, session.begin():
        a3 = await session.get(Employee, org.a3)
        assert a3 is not None
        a3.telegram_user_id = UNLINKED_CHAT
    sent, photos = await kinerja(app, request, UNLINKED_CHAT)
    (reply,) = sent  # a3 has a draft last month and a result 13 months ago: neither counts
    assert "Tiga belas" not in reply["text"] and photos == []


def _item(year: int, month: int, predicate: str | None = "baik", feedback: str | None = None):
    return HistoryItem(year, month, "sesuai", "sesuai", predicate, feedback, None)


def test_the_last_twelve_months_and_the_chart_axis():
    today = dt.date(2026, 11, 20)
    items = [_item(2025, 10), _item(2025, 11), _item(2026, 2), _item(2026, 11)]
    kept = recent(items, today)
    # December 2025 to November 2026: twelve months.
    assert [(i.year, i.month) for i in kept] == [(2026, 2), (2026, 11)]
    assert [(i.year, i.month) for i in recent([_item(2025, 12)], today)] == [(2025, 12)]
    assert recent([_item(2026, 12)], today) == []
    axis = month_axis(kept)
    assert axis == [(2026, month) for month in range(2, 12)]
    assert month_axis([]) == []


def test_a_long_history_stays_within_one_message():
    items = [_item(2026, m, feedback="sangat panjang " * 200) for m in range(1, 13)]
    text = history_html(items, ID)
    assert len(text) <= 4096
    # Feedback is shortened, not cut inside a tag.
    assert text.count("<i>") == text.count("</i>")
    shown = re.findall(r"<i>(.*?)</i>", text)
    assert shown and all(len(part) <= FEEDBACK_SHOWN and part.endswith("…") for part in shown)
