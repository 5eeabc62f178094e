"""HR's evaluation reports on a real database: the queries, the XLSX, Ingatkan, Buka kembali."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.config import Settings
from bot.evaluation_reports import (
    NudgeOutcome,
    ReopenOutcome,
    is_locked,
    nudge,
    parse_month,
    recap,
    reopen,
    reopening_end,
)
from bot.evaluations import is_open_for
from bot.i18n import get_translator
from bot.rules.skp import BERAKHLAK, BERAKHLAK_LABELS, PREDICATE_LABELS, RATING_LABELS, Predicate
from bot.rules.skp import Rating as R
from bot.rules.workdays import is_working_day
from storage.exports.evaluations import (
    evaluation_headers,
    evaluations_workbook,
    predicates_by_unit,
)
from storage.models import AuditLog, DayOff, EvaluationReopening
from storage.repositories.evaluation_reports import EvaluationReportRepository
from storage.repositories.evaluations import EvaluationRepository
from tests.evaluations.reports_support import BOSS_A_CHAT, INJECTION, add_org, outbox
from tests.storage.importing import pns_nip

ID = get_translator("id")
EN = get_translator("en")
# A Wednesday: the 3rd working day after it is the next Monday.
WEDNESDAY = dt.date(2026, 9, 9)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(bot_token="", database_url=database_url, _env_file=None)


# --------------------------------------------------------------------------- queries
async def test_progress_pending_and_distribution(sessionmaker):
    org = await add_org(sessionmaker)
    async with sessionmaker() as session:
        reports = EvaluationReportRepository(session)
        progress = {p.unit: (p.submitted, p.total) for p in await reports.progress(org.locked)}
        assert progress == {"Bappeda": (2, 3), "Dinas Perhubungan": (2, 3)}  # not BKPSDM
        pending = await reports.pending_supervisors(org.locked)
        assert [(p.supervisor_id, p.pending, p.total, p.unit) for p in pending] == [
            (org.boss_b, 1, 2, "Bappeda"),  # same count: by name ("Dra." < "Ir.")
            (org.boss_a, 1, 4, "Dinas Perhubungan"),
        ]
        assert [p.can_be_told for p in pending] == [False, True]
        assert await reports.distribution(org.locked) == {
            "baik": 2,
            "sangat_baik": 1,
            "sangat_kurang": 1,
            "kurang": 1,  # a4 left (inactive) but was rated: every evaluation counts
        }
        assert await reports.status_counts(org.locked) == {"submitted": 5, "draft": 1}

        # The open period is separate.
        progress = {p.unit: (p.submitted, p.total) for p in await reports.progress(org.open)}
        assert progress == {"Bappeda": (0, 3), "Dinas Perhubungan": (1, 3)}
        pending = await reports.pending_supervisors(org.open)
        assert [(p.supervisor_id, p.pending) for p in pending] == [
            (org.boss_a, 3),
            (org.boss_b, 2),
        ]
        assert await reports.distribution(org.open) == {"sangat_baik": 1}
        assert (await reports.pending_of(org.open, org.b1)) is None  # rates nobody
        assert (await reports.latest_period()).id == org.open
        assert [p.id for p in await reports.recent_periods()] == [org.open, org.locked]


async def test_every_evaluation_of_the_period_is_a_row(sessionmaker):
    org = await add_org(sessionmaker)
    async with sessionmaker() as session:
        rows = await EvaluationReportRepository(session).rows(org.locked)
    assert [(r.unit, r.name, r.status) for r in rows] == [
        ("Bappeda", "Dedi Kurniawan", "submitted"),
        ("Bappeda", "Dra. Fitri <Yanti>", "submitted"),
        ("Dinas Perhubungan", "Andi Saputra", "submitted"),
        ("Dinas Perhubungan", "Budi Santoso", "draft"),
        ("Dinas Perhubungan", "Cici Purnama", "submitted"),
        ("Dinas Perhubungan", "Rina Marlina, S.E.", "submitted"),
    ]
    dedi = rows[0]
    assert (dedi.evaluator_name, dedi.evaluator_nip) == ("Dra. Fitri <Yanti>", pns_nip(2))
    assert dedi.ratings == dict.fromkeys(BERAKHLAK, "sesuai")
    assert predicates_by_unit(rows) == {
        "Bappeda": {"baik": 1, "sangat_baik": 1},
        "Dinas Perhubungan": {"sangat_kurang": 1, "kurang": 1, "baik": 1},
    }


# --------------------------------------------------------------------------- XLSX
async def test_the_workbook_holds_exactly_the_evaluations(sessionmaker):
    org = await add_org(sessionmaker)
    async with sessionmaker() as session:
        reports = EvaluationReportRepository(session)
        rows = await reports.rows(org.locked)
        progress = await reports.progress(org.locked)
        pending = await reports.pending_supervisors(org.locked)
    content = evaluations_workbook(rows, ID, progress=progress, pending=pending)
    book = load_workbook(io.BytesIO(content))
    assert [sheet.title for sheet in book.worksheets] == [
        ID("Evaluations"),
        ID("Units"),
        ID("Pending"),
    ]
    evaluations, units, waiting = book.worksheets
    table = list(evaluations.iter_rows(values_only=True))
    header = list(table[0])
    assert header == evaluation_headers(ID)
    assert len(header) == 9 + len(BERAKHLAK) + 4
    assert header[9:16] == [ID(BERAKHLAK_LABELS[v]) for v in BERAKHLAK]
    assert header[-1] == ID("Submitted at ({zone})", zone="WIB")
    body = [dict(zip(header, row, strict=True)) for row in table[1:]]
    assert len(body) == 6
    assert {row[ID("Period")] for row in body} == {org.locked_key}
    andi = next(row for row in body if row[ID("Name")] == "Andi Saputra")
    assert andi[ID("NIP")] == pns_nip(4)  # text: all 18 digits kept
    assert andi[ID("Unit")] == "Dinas Perhubungan"
    assert andi[ID("Position")] == "Pengemudi"
    assert andi[ID("Evaluator")] == "Ir. Yusuf Datuak Rajo Mudo"
    assert andi[ID("Evaluator NIP")] == pns_nip(1)
    assert andi[ID("Status")] == ID("Submitted")
    below = ID(RATING_LABELS[R.DI_BAWAH])
    assert andi[ID("Work results")] == below
    assert all(andi[ID(BERAKHLAK_LABELS[v])] == below for v in BERAKHLAK)
    assert andi[ID("Work behaviour")] == below
    assert andi[ID("Predicate")] == ID(PREDICATE_LABELS[Predicate.SANGAT_KURANG])
    # Formula injection: the feedback stays text (openpyxl reads a formula as "=…" with
    # data type "f"; a text cell has data type "s").
    assert andi[ID("Feedback")] == INJECTION
    row_number = 1 + [r[3] for r in table].index("Andi Saputra")
    feedback_cell = evaluations.cell(row=row_number, column=header.index(ID("Feedback")) + 1)
    assert feedback_cell.data_type == "s"
    assert andi[header[-1]] == dt.datetime(*map(int, org.locked_key.split("-")), 20, 9, 30)
    budi = next(row for row in body if row[ID("Name")] == "Budi Santoso")
    assert budi[ID("Status")] == ID("Draft")
    assert budi[ID("Predicate")] is None and budi[header[-1]] is None
    assert budi[ID(BERAKHLAK_LABELS[BERAKHLAK[0]])] == ID(RATING_LABELS[R.SESUAI])
    assert budi[ID(BERAKHLAK_LABELS[BERAKHLAK[1]])] is None

    unit_rows = list(units.iter_rows(values_only=True))
    assert unit_rows[0][:4] == (ID("Unit"), ID("Submitted"), ID("Staff to rate"), ID("Share"))
    by_unit = {row[0]: row[1:] for row in unit_rows[1:]}
    assert by_unit["Dinas Perhubungan"][:3] == (2, 3, pytest.approx(2 / 3))
    # Predicates best first: Sangat Baik, Baik, Butuh Perbaikan, Kurang, Sangat Kurang.
    assert by_unit["Dinas Perhubungan"][3:] == (0, 1, 0, 1, 1)
    assert by_unit["Bappeda"][3:] == (1, 1, 0, 0, 0)
    pending_rows = list(waiting.iter_rows(min_row=2, values_only=True))
    assert [(row[0], row[3], row[4]) for row in pending_rows] == [
        ("Dra. Fitri <Yanti>", 1, 2),
        ("Ir. Yusuf Datuak Rajo Mudo", 1, 4),
    ]


def test_an_empty_workbook_has_the_headers_only():
    book = load_workbook(io.BytesIO(evaluations_workbook([], EN)))
    evaluations = book.worksheets[0]
    assert evaluations.max_row == 1
    assert next(evaluations.iter_rows(values_only=True))[0] == "Period"


# --------------------------------------------------------------------------- periods
def test_months_are_written_yyyy_mm():
    assert parse_month("2026-11") == (2026, 11)
    assert parse_month(" 2026-3 ") == (2026, 3)
    for bad in ("2026-13", "2026-00", "11-2026", "2026/11", "November", "", "1999-01"):
        assert parse_month(bad) is None, bad


async def test_reopening_lasts_until_the_third_working_day_after_today(sessionmaker):
    async with sessionmaker() as session:
        assert await reopening_end(session, WEDNESDAY) == dt.date(2026, 9, 14)  # Monday
    async with sessionmaker() as session, session.begin():
        session.add(DayOff(day=dt.date(2026, 9, 11), name="Cuti bersama"))
    async with sessionmaker() as session:
        assert await reopening_end(session, WEDNESDAY) == dt.date(2026, 9, 15)
    for offset in range(14):  # whatever the day, three working days later
        day = WEDNESDAY + dt.timedelta(days=offset)
        async with sessionmaker() as session:
            end = await reopening_end(session, day)
        between = [day + dt.timedelta(days=n) for n in range(1, (end - day).days + 1)]
        working = [d for d in between if is_working_day(d, {dt.date(2026, 9, 11)})]
        assert len(working) == 3 and working[-1] == end


async def test_the_recap_of_a_locked_period(sessionmaker):
    org = await add_org(sessionmaker)
    async with sessionmaker() as session:
        period = await EvaluationRepository(session).period(org.locked)
        assert period is not None
        today = period.closes_on + dt.timedelta(days=3)
        data = await recap(session, period, today)
    assert data.locked and is_locked(period, today)
    assert (data.submitted, data.total, data.drafts) == (4, 6, 1)
    assert not data.open_for_all
    assert [data.open_for(p) for p in data.pending] == [False, False]


# --------------------------------------------------------------------------- Ingatkan
async def test_a_reminder_is_queued_once_a_day(sessionmaker, settings):
    org = await add_org(sessionmaker)
    async with sessionmaker() as session:
        period = await EvaluationRepository(session).period(org.open)
    assert period is not None
    today = period.opens_on
    async with sessionmaker() as session, session.begin():
        first = await nudge(session, settings, period, org.boss_a, today)
    async with sessionmaker() as session, session.begin():
        second = await nudge(session, settings, period, org.boss_a, today)
    async with sessionmaker() as session, session.begin():
        tomorrow = await nudge(session, settings, period, org.boss_a, today + dt.timedelta(1))
    assert [first.outcome, second.outcome, tomorrow.outcome] == [
        NudgeOutcome.QUEUED,
        NudgeOutcome.ALREADY,
        NudgeOutcome.QUEUED,
    ]
    rows = await outbox(sessionmaker)
    assert [row.idempotency_key for row in rows] == [
        f"evaluation_nudge:{org.open_key}:{org.boss_a}:{today.isoformat()}",
        f"evaluation_nudge:{org.open_key}:{org.boss_a}:{(today + dt.timedelta(1)).isoformat()}",
    ]
    assert rows[0].chat_id == BOSS_A_CHAT and rows[0].kind == "evaluation_nudge"
    assert "/nilai" in rows[0].payload["text"]
    assert ID.date(period.closes_on) in rows[0].payload["text"]

    async with sessionmaker() as session, session.begin():
        unlinked = await nudge(session, settings, period, org.boss_b, today)
        nobody = await nudge(session, settings, period, org.a1, today)
    assert unlinked.outcome is NudgeOutcome.UNREACHABLE
    assert nobody.outcome is NudgeOutcome.NOTHING_PENDING
    assert len(await outbox(sessionmaker)) == 2


async def test_no_reminder_while_the_period_is_locked_for_them(sessionmaker, settings):
    org = await add_org(sessionmaker)
    async with sessionmaker() as session, session.begin():
        period = await EvaluationRepository(session).period(org.locked)
        assert period is not None
        today = period.closes_on + dt.timedelta(days=2)
        result = await nudge(session, settings, period, org.boss_a, today)
    assert result.outcome is NudgeOutcome.CLOSED
    assert await outbox(sessionmaker) == []


# --------------------------------------------------------------------------- Buka kembali
async def test_reopening_for_one_supervisor(sessionmaker, settings):
    org = await add_org(sessionmaker)
    async with sessionmaker() as session:
        period = await EvaluationRepository(session).period(org.locked)
    assert period is not None
    today = period.closes_on + dt.timedelta(days=1)
    async with sessionmaker() as session, session.begin():
        result = await reopen(session, settings, period, org.boss_a, today, actor_id=org.hr)
        until = result.until
    async with sessionmaker() as session, session.begin():
        again = await reopen(session, settings, period, org.boss_a, today, actor_id=org.hr)
    assert result.outcome is ReopenOutcome.REOPENED and result.told == 1
    assert again.outcome is ReopenOutcome.ALREADY and again.until == until
    async with sessionmaker() as session:
        assert await is_open_for(session, settings, org.locked, org.boss_a, today)
        assert await is_open_for(session, settings, org.locked, org.boss_a, until)
        after = until + dt.timedelta(days=1)
        assert not await is_open_for(session, settings, org.locked, org.boss_a, after)
        assert not await is_open_for(session, settings, org.locked, org.boss_b, today)
        reopenings = list(await session.scalars(select(EvaluationReopening)))
        assert [(r.evaluator_id, r.until, r.created_by_id) for r in reopenings] == [
            (org.boss_a, until, org.hr)
        ]
        audit = list(await session.scalars(select(AuditLog)))
        assert [(a.action, a.actor_id, a.entity_id) for a in audit] == [
            ("evaluation_reopened", org.hr, str(org.locked))
        ]
        assert audit[0].details["until"] == until.isoformat()
    (told,) = await outbox(sessionmaker)
    assert told.chat_id == BOSS_A_CHAT and told.kind == "evaluation_reopened"
    assert ID.date(until) in told.payload["text"]


async def test_reopening_for_all_and_what_is_refused(sessionmaker, settings):
    org = await add_org(sessionmaker)
    async with sessionmaker() as session:
        locked = await EvaluationRepository(session).period(org.locked)
        opened = await EvaluationRepository(session).period(org.open)
    assert locked is not None and opened is not None
    today = opened.opens_on
    async with sessionmaker() as session, session.begin():
        not_locked = await reopen(session, settings, opened, None, today, actor_id=org.hr)
        nothing = await reopen(session, settings, locked, org.b1, today, actor_id=org.hr)
    assert not_locked.outcome is ReopenOutcome.NOT_LOCKED
    assert nothing.outcome is ReopenOutcome.NOTHING_PENDING
    async with sessionmaker() as session, session.begin():
        everyone = await reopen(session, settings, locked, None, today, actor_id=org.hr)
    # Both supervisors have staff pending; only Boss A is on Telegram.
    assert everyone.outcome is ReopenOutcome.REOPENED and everyone.told == 1
    async with sessionmaker() as session, session.begin():
        assert await is_open_for(session, settings, org.locked, org.boss_a, today)
        assert await is_open_for(session, settings, org.locked, org.boss_b, today)
        # Reopened for all already reaches that day: one supervisor changes nothing.
        one = await reopen(session, settings, locked, org.boss_b, today, actor_id=org.hr)
        assert one.outcome is ReopenOutcome.ALREADY
        reports = EvaluationReportRepository(session)
        assert await reports.reopened_for_all_until(org.locked) == everyone.until
        data = await recap(session, locked, today)
        assert data.open_for_all
    assert len(await outbox(sessionmaker)) == 1
