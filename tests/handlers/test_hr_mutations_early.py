"""Layer 2: creating a mutation for someone under two years in the post asks for a reason
(kept in the audit log and the mutation's note); an unknown TMT is shown and does not block."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from telegram.ext import Application

from bot.config import Settings
from bot.i18n import get_translator
from bot.rules.talent import anniversary
from handlers.hr_mutations import EARLY_REASON_MIN
from storage.models import AuditLog, Employee, Mutation, utcnow
from tests.handlers.conftest import running_app
from tests.mutations.hr_support import add_people, buttons, count_mutations, drafts
from tests.support.telegram import TOKEN, callback_update, message_update
from tests.trainings.support import DocumentCapturingRequest

ID = get_translator("id")
HR_CHAT = 7720001  # tests.mutations.hr_support
STALE = ID("This button is no longer valid.")
REASON = "Kebutuhan mendesak formasi di Dinas Kesehatan"
UNKNOWN = ID("TMT jabatan not filled in: the years in the post are unknown.")


def wib_today() -> dt.date:
    return utcnow().astimezone(ZoneInfo("Asia/Jakarta")).date()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, _env_file=None)


@pytest.fixture
async def captured(
    settings: Settings,
) -> AsyncIterator[tuple[Application, DocumentCapturingRequest]]:
    async with running_app(settings, DocumentCapturingRequest()) as (application, request):
        request.clear()
        yield application, request


async def say(app, request, text: str) -> dict:
    request.clear()
    await app.process_update(message_update(app, HR_CHAT, text))
    (sent,) = request.sent()
    return sent


async def press(app, request, data: str) -> dict | None:
    request.clear()
    await app.process_update(callback_update(app, HR_CHAT, data))
    shown = request.sent("editMessageText") + request.sent()
    return shown[-1] if shown else None


async def set_post_since(sessionmaker, employee_id: int, since: dt.date | None) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Employee).where(Employee.id == employee_id).values(post_since=since)
        )


async def fill_to_note(app, request, staff: int) -> dict:
    """Type, unit, position, supervisor skipped, a note: what comes after the note."""
    await press(app, request, f"hrm:new:{staff}")
    await press(app, request, "hrm:type:r")
    await say(app, request, "Bappeda")
    await say(app, request, "Perencana Ahli Pertama")
    await press(app, request, "hrm:skip:n:supervisor")
    return await say(app, request, "Usul kepala dinas")


async def created_audit(sessionmaker) -> tuple[Mutation, AuditLog]:
    async with sessionmaker() as session:
        (mutation,) = (await session.scalars(select(Mutation))).all()
        entry = await session.scalar(select(AuditLog).where(AuditLog.action == "mutation_created"))
        assert entry is not None
        return mutation, entry


async def test_under_two_years_asks_for_a_reason_before_saving(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    # Two years tomorrow: still a day short of two full years.
    since = anniversary(wib_today(), -2) + dt.timedelta(days=1)
    await set_post_since(sessionmaker, people.staff, since)
    step = await fill_to_note(app, request, people.staff)
    assert "kurang dari 2 tahun" in step["text"]
    assert buttons(step) == ["hrm:stop:n"]  # no Skip, no Save yet
    short = await say(app, request, "mendesak")
    assert (
        ID("Please write the reason (at least {n} characters).", n=EARLY_REASON_MIN)
        in short["text"]
    )
    summary = await say(app, request, REASON)
    assert ID("not yet eligible for transfer") in summary["text"]
    assert "(1 tahun penuh)" in summary["text"]
    assert REASON in summary["text"]
    assert buttons(summary) == [f"hrm:create:{people.staff}", "hrm:stop:n"]
    saved = await press(app, request, f"hrm:create:{people.staff}")
    assert saved is not None
    mutation, entry = await created_audit(sessionmaker)
    assert entry.details["early_reason"] == REASON
    assert mutation.note is not None
    assert mutation.note.startswith("Usul kepala dinas")
    assert ID("Reason for a transfer before 2 years: {reason}", reason=REASON) in mutation.note


async def test_two_full_years_needs_no_reason(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    await set_post_since(sessionmaker, people.staff, anniversary(wib_today(), -2))
    summary = await fill_to_note(app, request, people.staff)
    assert buttons(summary) == [f"hrm:create:{people.staff}", "hrm:stop:n"]
    assert ID("eligible for transfer") in summary["text"]
    await press(app, request, f"hrm:create:{people.staff}")
    mutation, entry = await created_audit(sessionmaker)
    assert "early_reason" not in entry.details and mutation.note == "Usul kepala dinas"


async def test_an_unknown_tmt_is_shown_and_does_not_block(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    summary = await fill_to_note(app, request, people.staff)
    assert UNKNOWN in summary["text"]
    assert buttons(summary) == [f"hrm:create:{people.staff}", "hrm:stop:n"]
    assert await press(app, request, f"hrm:create:{people.staff}") is not None
    assert await count_mutations(sessionmaker) == 1


async def test_a_tmt_filled_in_meanwhile_asks_the_reason_at_save(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    summary = await fill_to_note(app, request, people.staff)
    assert UNKNOWN in summary["text"]
    await set_post_since(sessionmaker, people.staff, wib_today() - dt.timedelta(days=30))
    step = await press(app, request, f"hrm:create:{people.staff}")
    assert step is not None and "kurang dari 2 tahun" in step["text"]
    assert await count_mutations(sessionmaker) == 0
    assert await press(app, request, f"hrm:create:{people.staff}") is None  # not at summary
    assert request.sent("answerCallbackQuery")[0]["text"] == STALE
    summary = await say(app, request, REASON)
    assert await press(app, request, f"hrm:create:{people.staff}") is not None
    _, entry = await created_audit(sessionmaker)
    assert entry.details["early_reason"] == REASON
    assert await drafts(sessionmaker) == []
