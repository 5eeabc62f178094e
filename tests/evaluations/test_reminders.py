"""Evaluation reminders on SQLite and PostgreSQL: working days only, from 08:00 WIB, each kind
once, *due* only to supervisors with pending reports, *missing* to the supervisor's own
supervisor and to HR with the right names; and the rule itself.

Calendar used (period November 2026: opens Sun 1 Nov, deadline Mon 7 Dec 2026 = the 5th
working day of December): first working day Mon 2 Nov; *due* 3 working days before on Wed
2 Dec, 1 before on Fri 4 Dec; *missing* on Tue 8 Dec. Period October 2026 closes Fri 6 Nov.
National holidays: Fri 1 Jan 2027 (Tahun Baru), Fri 25 Dec 2026 (Natal).
"""

from __future__ import annotations

import datetime as dt
from html import escape

from bot.config import Settings
from bot.evaluation_reminders import (
    DUE,
    MISSING,
    OPENED,
    Reminder,
    enqueue_evaluation_reminders,
    reminders_on,
)
from bot.i18n import get_translator
from bot.scheduler import run_tick
from storage.repositories.days_off import DaysOffRepository
from tests.evaluations.office import (
    BOSS_CHAT,
    HEAD_CHAT,
    HR_CHAT,
    Maker,
    Office,
    add_evaluation,
    add_office,
    add_period,
    outbox,
    wib,
)
from tests.handlers.conftest import running_app
from tests.support.telegram import TOKEN, CapturingRequest

ID = get_translator("id")
EN = get_translator("en")
NOV_DEADLINE = dt.date(2026, 12, 7)


def settings(database_url: str = "sqlite://") -> Settings:
    return Settings(
        bot_token=TOKEN, database_url=database_url, default_language="id", _env_file=None
    )


async def tick(sessionmaker: Maker, now: dt.datetime) -> int:
    async with sessionmaker() as session, session.begin():
        return await enqueue_evaluation_reminders(session, settings(), now)


async def keys(sessionmaker: Maker) -> list[str]:
    return [row.idempotency_key for row in await outbox(sessionmaker)]


async def text_of(sessionmaker: Maker, key: str) -> str:
    (row,) = [row for row in await outbox(sessionmaker) if row.idempotency_key == key]
    return row.payload["text"]


async def rate_october(sessionmaker: Maker, office: Office) -> int:
    """Everyone rated for October, so that only November's reminders are in play."""
    october = await add_period(sessionmaker, 2026, 10)
    for employee, boss in (
        (office.boss, office.head),
        (office.boss2, office.head),
        (office.staff, office.boss),
        (office.staff2, office.boss),
        (office.staff3, office.boss2),
    ):
        await add_evaluation(sessionmaker, october, employee, boss)
    return october


async def november_progress(sessionmaker: Maker, office: Office) -> int:
    """November: Hendra rated Wati (done); Sari rated Rina and has Doni in draft; the head
    rated nobody. Pending: Sari (1 of 2) and the head (2 of 2)."""
    november = await add_period(sessionmaker, 2026, 11)
    await add_evaluation(sessionmaker, november, office.staff3, office.boss2)
    await add_evaluation(sessionmaker, november, office.staff, office.boss)
    await add_evaluation(sessionmaker, november, office.staff2, office.boss, submitted=False)
    return november


# --------------------------------------------------------------------------- the rule
def test_the_rule_names_each_reminder_on_its_day_only():
    opens, deadline = dt.date(2026, 11, 1), NOV_DEADLINE

    def on(day: dt.date, days_off: frozenset[dt.date] = frozenset()) -> list[Reminder]:
        return reminders_on(day, opens, deadline, days_off)

    assert on(dt.date(2026, 11, 1)) == []  # Sunday
    assert on(dt.date(2026, 11, 2)) == [Reminder(OPENED)]
    assert on(dt.date(2026, 11, 7)) == []  # Saturday
    assert on(dt.date(2026, 12, 1)) == [Reminder(OPENED)]  # late "opened" still allowed
    assert on(dt.date(2026, 12, 2)) == [Reminder(DUE, 3)]  # ...until the first "due"
    assert on(dt.date(2026, 12, 3)) == []
    assert on(dt.date(2026, 12, 4)) == [Reminder(DUE, 1)]
    assert on(dt.date(2026, 12, 7)) == []
    assert on(dt.date(2026, 12, 8)) == [Reminder(MISSING)]
    assert on(dt.date(2026, 12, 9)) == []
    # An HR day off moves the first working day, and the reminders counted from the deadline.
    off = frozenset({dt.date(2026, 11, 2), dt.date(2026, 12, 3)})
    assert on(dt.date(2026, 11, 2), off) == []
    assert on(dt.date(2026, 11, 3), off) == [Reminder(OPENED)]
    assert on(dt.date(2026, 12, 1), off) == [Reminder(DUE, 3)]
    assert on(dt.date(2026, 12, 4), off) == [Reminder(DUE, 1)]
    # A national holiday is no working day (1 January 2027, Friday).
    assert reminders_on(dt.date(2027, 1, 1), dt.date(2027, 1, 1), dt.date(2027, 2, 5)) == []
    assert reminders_on(dt.date(2027, 1, 4), dt.date(2027, 1, 1), dt.date(2027, 2, 5)) == [
        Reminder(OPENED)
    ]


def test_opened_waits_while_the_previous_month_is_still_rated():
    # October's deadline is Friday 6 November: /nilai shows October until then.
    def on(day: dt.date) -> list[Reminder]:
        return reminders_on(
            day, dt.date(2026, 11, 1), NOV_DEADLINE, previous_closes_on=dt.date(2026, 11, 6)
        )

    assert on(dt.date(2026, 11, 2)) == []
    assert on(dt.date(2026, 11, 6)) == []
    assert on(dt.date(2026, 11, 9)) == [Reminder(OPENED)]


# --------------------------------------------------------------------------- opened
async def test_opened_goes_to_every_supervisor_once_from_0800_on_the_first_working_day(
    sessionmaker,
):
    office = await add_office(sessionmaker)
    october = await rate_october(sessionmaker, office)
    november = await add_period(sessionmaker, 2026, 11)

    assert await tick(sessionmaker, wib(2026, 11, 8, 10)) == 0  # Sunday
    assert await tick(sessionmaker, wib(2026, 11, 9, 7, 59)) == 0  # before 08:00 WIB
    assert await keys(sessionmaker) == []
    assert await tick(sessionmaker, wib(2026, 11, 9, 8, 0)) == 4  # and HR: October is all in
    assert await tick(sessionmaker, wib(2026, 11, 9, 8, 1)) == 0  # the next tick: nothing
    assert await tick(sessionmaker, wib(2026, 11, 10, 9)) == 0  # nor the next day
    everything = await outbox(sessionmaker)
    assert f"evaluation_missing_hr:{october}:{office.hr}" in {
        row.idempotency_key for row in everything
    }
    rows = [row for row in everything if row.idempotency_key.startswith("evaluation_open:")]
    assert sorted(row.idempotency_key for row in rows) == sorted(
        f"evaluation_open:{november}:{who}" for who in (office.head, office.boss, office.boss2)
    )
    by_chat = {row.chat_id: row for row in rows}
    assert HR_CHAT not in by_chat  # HR supervises nobody
    row = by_chat[BOSS_CHAT]
    assert row.employee_id == office.boss and row.kind == "evaluation_reminder"
    assert row.urgent is False and row.payload["parse_mode"] == "HTML"
    text = row.payload["text"]
    title = ID(
        "The performance evaluation for {month} is open until {deadline}.",
        month="November 2026",
        deadline=ID.date(NOV_DEADLINE),
    )
    assert escape(title) in text
    assert "Senin, 7 Desember 2026" in text
    assert escape(ID.ngettext("You have {n} staff member to rate.", "", 2)) in text
    assert "/nilai" in text


async def test_opened_in_the_supervisors_language_and_not_to_the_unreachable(sessionmaker):
    office = await add_office(sessionmaker, boss_language="en")
    await rate_october(sessionmaker, office)
    november = await add_period(sessionmaker, 2026, 11)
    assert await tick(sessionmaker, wib(2026, 11, 9, 9)) == 4
    text = await text_of(sessionmaker, f"evaluation_open:{november}:{office.boss}")
    assert "The performance evaluation for November 2026 is open until Monday, December 7" in text
    assert "You have 2 staff members to rate." in text


async def test_unreachable_supervisors_get_no_reminder(sessionmaker):
    office = await add_office(sessionmaker, boss_reachable=False)
    await rate_october(sessionmaker, office)
    november = await add_period(sessionmaker, 2026, 11)
    assert await tick(sessionmaker, wib(2026, 11, 9, 9)) == 3
    assert f"evaluation_open:{november}:{office.boss}" not in await keys(sessionmaker)


async def test_after_downtime_opened_goes_out_late_until_the_first_due_reminder(sessionmaker):
    office = await add_office(sessionmaker)
    await rate_october(sessionmaker, office)
    november = await november_progress(sessionmaker, office)
    # The bot was down from before 2 November until Wednesday 2 December: "due" takes over.
    await tick(sessionmaker, wib(2026, 12, 2, 9))
    found = await keys(sessionmaker)
    assert not [key for key in found if key.startswith(f"evaluation_open:{november}:")]
    assert f"evaluation_due:{november}:{office.boss}:3" in found


async def test_a_late_opened_on_a_later_working_day(sessionmaker):
    office = await add_office(sessionmaker)
    await rate_october(sessionmaker, office)
    november = await add_period(sessionmaker, 2026, 11)
    assert await tick(sessionmaker, wib(2026, 11, 12, 9)) == 3  # down until 12 November
    assert f"evaluation_open:{november}:{office.boss}" in await keys(sessionmaker)


# --------------------------------------------------------------------------- days off
async def test_nothing_on_weekends_national_holidays_or_hr_days_off(sessionmaker):
    office = await add_office(sessionmaker)
    await rate_october(sessionmaker, office)
    november = await add_period(sessionmaker, 2026, 11)
    async with sessionmaker() as session, session.begin():
        await DaysOffRepository(session).add(dt.date(2026, 11, 9), "Cuti bersama (uji)")
    assert await tick(sessionmaker, wib(2026, 11, 9, 9)) == 0  # HR's day off
    assert await tick(sessionmaker, wib(2026, 11, 7, 9)) == 0  # Saturday
    assert await tick(sessionmaker, wib(2026, 11, 8, 9)) == 0  # Sunday
    assert await keys(sessionmaker) == []
    assert await tick(sessionmaker, wib(2026, 11, 10, 9)) == 4  # the next working day (+ HR)
    assert f"evaluation_open:{november}:{office.boss}" in await keys(sessionmaker)


async def test_nothing_on_a_national_holiday(sessionmaker):
    office = await add_office(sessionmaker)
    january = await add_period(sessionmaker, 2027, 1)
    assert await tick(sessionmaker, wib(2027, 1, 1, 10)) == 0  # Tahun Baru, a Friday
    assert await tick(sessionmaker, wib(2026, 12, 25, 10)) == 0  # Natal
    assert await keys(sessionmaker) == []
    assert await tick(sessionmaker, wib(2027, 1, 4, 10)) > 0  # Monday
    found = await keys(sessionmaker)
    # December is still being rated (until its deadline in January): its "opened" goes out;
    # January's waits until then.
    assert [key for key in found if key.startswith("evaluation_open:")]
    assert f"evaluation_open:{january}:{office.boss}" not in found


# --------------------------------------------------------------------------- due
async def test_due_reminders_only_to_supervisors_with_pending_reports_each_once(sessionmaker):
    office = await add_office(sessionmaker)
    await rate_october(sessionmaker, office)
    november = await november_progress(sessionmaker, office)
    await tick(sessionmaker, wib(2026, 11, 2, 9))  # "opened"
    before = set(await keys(sessionmaker))

    def due(found: list[str], days: int) -> set[str]:
        return {k for k in found if k.startswith(f"evaluation_due:{november}:")} - before

    assert await tick(sessionmaker, wib(2026, 12, 2, 7, 30)) == 0
    await tick(sessionmaker, wib(2026, 12, 2, 9))
    found = await keys(sessionmaker)
    assert due(found, 3) == {
        f"evaluation_due:{november}:{office.boss}:3",
        f"evaluation_due:{november}:{office.head}:3",
    }  # not Hendra: he rated Wati
    text = await text_of(sessionmaker, f"evaluation_due:{november}:{office.boss}:3")
    assert "Doni &lt;Saputra&gt;" in text  # pending (a draft), escaped
    assert "Rina" not in text  # submitted
    heading = ID.ngettext(
        "The performance evaluation for {month} closes in {n} working day, on {deadline}.",
        "The performance evaluation for {month} closes in {n} working days, on {deadline}.",
        3,
        month="November 2026",
        deadline=ID.date(NOV_DEADLINE),
    )
    assert escape(heading) in text
    head_text = await text_of(sessionmaker, f"evaluation_due:{november}:{office.head}:3")
    assert "Sari Dewi, S.T." in head_text and "Hendra Putra" in head_text

    assert await tick(sessionmaker, wib(2026, 12, 2, 15)) == 0  # twice: nothing new
    assert await tick(sessionmaker, wib(2026, 12, 3, 9)) == 0  # no reminder that day
    await tick(sessionmaker, wib(2026, 12, 4, 9))
    found = await keys(sessionmaker)
    assert {k for k in found if k.endswith(":1") and k.startswith("evaluation_due:")} == {
        f"evaluation_due:{november}:{office.boss}:1",
        f"evaluation_due:{november}:{office.head}:1",
    }
    assert await tick(sessionmaker, wib(2026, 12, 4, 10)) == 0


async def test_a_due_reminder_whose_day_passed_is_not_sent_late(sessionmaker):
    office = await add_office(sessionmaker)
    await rate_october(sessionmaker, office)
    november = await november_progress(sessionmaker, office)
    await tick(sessionmaker, wib(2026, 12, 3, 9))  # down on 2 December
    assert not [k for k in await keys(sessionmaker) if k.startswith("evaluation_due:")]
    await tick(sessionmaker, wib(2026, 12, 4, 9))  # back: the 1-day one goes out
    found = await keys(sessionmaker)
    assert f"evaluation_due:{november}:{office.boss}:1" in found
    assert f"evaluation_due:{november}:{office.boss}:3" not in found


# --------------------------------------------------------------------------- missing
async def test_missing_goes_to_the_supervisors_supervisor_and_hr_once(sessionmaker):
    office = await add_office(sessionmaker)
    await rate_october(sessionmaker, office)
    november = await november_progress(sessionmaker, office)
    assert await tick(sessionmaker, wib(2026, 12, 8, 7)) == 0
    await tick(sessionmaker, wib(2026, 12, 8, 9))
    rows = [r for r in await outbox(sessionmaker) if r.idempotency_key.startswith("evaluation_m")]
    assert {(r.idempotency_key, r.chat_id) for r in rows} == {
        (f"evaluation_missing:{november}:{office.head}", HEAD_CHAT),
        (f"evaluation_missing_hr:{november}:{office.hr}", HR_CHAT),
    }
    head = await text_of(sessionmaker, f"evaluation_missing:{november}:{office.head}")
    line = ID(
        "{name}: {missing} of {total} not rated", name="Sari Dewi, S.T.", missing="1", total="2"
    )
    assert escape(line) in head
    assert "Hendra" not in head  # he rated everyone
    assert escape(ID("The performance evaluation for {month} closed on {deadline}.",
                     month="November 2026", deadline=ID.date(NOV_DEADLINE))) in head  # fmt: skip

    hr = await text_of(sessionmaker, f"evaluation_missing_hr:{november}:{office.hr}")
    unit = ID(
        "{name}: {missing} of {total} not rated", name="Dinas Perhubungan", missing="3", total="5"
    )
    assert escape(unit) in hr
    assert escape(ID.ngettext("{n} evaluation is missing in all", "", 3)) in hr
    assert "/hr_rekap" in hr and len(hr) <= 4096

    assert await tick(sessionmaker, wib(2026, 12, 8, 16)) == 0  # twice: nothing new
    assert await tick(sessionmaker, wib(2026, 12, 9, 9)) == 0  # only on its day


async def test_missing_is_not_sent_late_and_hr_hears_when_all_is_in(sessionmaker):
    office = await add_office(sessionmaker)
    october = await rate_october(sessionmaker, office)
    await november_progress(sessionmaker, office)
    await tick(sessionmaker, wib(2026, 12, 9, 9))  # down on 8 December
    assert not [k for k in await keys(sessionmaker) if k.startswith("evaluation_missing")]
    # October was complete: on its "missing" day (Mon 9 Nov) HR hears that, nobody else.
    await tick(sessionmaker, wib(2026, 11, 9, 9))
    rows = [r for r in await outbox(sessionmaker) if r.idempotency_key.startswith("evaluation_m")]
    assert [(r.idempotency_key, r.chat_id) for r in rows] == [
        (f"evaluation_missing_hr:{october}:{office.hr}", HR_CHAT)
    ]
    done = ID("Every evaluation for {month} was submitted.", month="Oktober 2026")
    assert escape(done) in rows[0].payload["text"]


async def test_a_long_list_stays_within_one_message(sessionmaker):
    from storage.models import Employee, Unit
    from tests.storage.importing import pns_nip

    office = await add_office(sessionmaker)
    async with sessionmaker() as session, session.begin():
        for n in range(60):  # 60 units with one supervisor and one report each, all pending
            unit = Unit(name=f"Unit Kerja Dengan Nama Yang Cukup Panjang Nomor {n:02d}")
            boss = Employee(
                nip=pns_nip(100 + 2 * n),
                name=f"Kepala Seksi Dengan Nama Panjang Sekali Nomor {n:02d}",
                unit=unit,
                supervisor_id=office.head,
            )
            staff = Employee(nip=pns_nip(101 + 2 * n), name=f"Staf {n}", unit=unit, supervisor=boss)
            session.add_all([unit, boss, staff])
    november = await add_period(sessionmaker, 2026, 11)
    await tick(sessionmaker, wib(2026, 12, 8, 9))
    head = await text_of(sessionmaker, f"evaluation_missing:{november}:{office.head}")
    hr = await text_of(sessionmaker, f"evaluation_missing_hr:{november}:{office.hr}")
    for text in (head, hr):
        assert len(text) <= 4096
        more = [line for line in text.splitlines() if line.startswith("…")]
        assert len(more) == 1  # "…and N more."


# --------------------------------------------------------------------------- the tick
async def test_the_scheduler_tick_queues_them_and_counts_them(sessionmaker, database_url):
    office = await add_office(sessionmaker)
    await rate_october(sessionmaker, office)
    async with running_app(settings(database_url), CapturingRequest()) as (app, _request):
        assert await run_tick(app, wib(2026, 11, 9, 6)) == 0
        assert await run_tick(app, wib(2026, 11, 9, 9)) == 4
        assert await run_tick(app, wib(2026, 11, 9, 9, 1)) == 0
    assert len(await keys(sessionmaker)) == 4
