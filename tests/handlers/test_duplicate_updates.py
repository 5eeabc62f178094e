"""Layer 2: the same update delivered twice (same ``update_id``) is handled once.

``handlers.dedupe`` remembers every update id before any other handler (and claims it in
``processed_updates`` on PostgreSQL); a copy of an update already taken on stops there,
whether it comes after the first or at the same time (``concurrent_updates``). An update
with another id is handled as usual.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest
from sqlalchemy import func, select

from bot.i18n import get_translator
from bot.scheduler import housekeeping
from handlers import dedupe
from storage.models import ProcessedUpdate, utcnow
from storage.repositories.updates import claim_update
from tests.conftest import ON_POSTGRES
from tests.support.telegram import callback_update, message_update
from tests.trainings.support import (
    ASN_CHAT,
    add_people,
    add_training,
    answers,
    drafts,
    labels,
)

ID = get_translator("id")


async def processed(sessionmaker) -> list[int]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(ProcessedUpdate.update_id)))


def claimed(*update_ids: int) -> list[int]:
    """What ``processed_updates`` holds after these updates: claimed there on PostgreSQL
    only (SQLite is one process: the ids stay in memory)."""
    return sorted(update_ids) if ON_POSTGRES else []


async def test_a_message_delivered_twice_is_answered_once(captured, sessionmaker, caplog):
    app, request = captured
    people = await add_people(sessionmaker)
    await add_training(sessionmaker, [people.staff])
    update = message_update(app, ASN_CHAT, "/pelatihan")
    await app.process_update(update)
    first = request.sent()
    assert len(first) == 2  # the header and the training's card
    request.clear()
    with caplog.at_level(logging.INFO, logger="handlers.dedupe"):
        await app.process_update(update)
    assert request.calls == []
    (record,) = [r for r in caplog.records if r.name == "handlers.dedupe"]
    assert record.levelno == logging.INFO
    assert record.getMessage() == f"update {update.update_id} delivered again: ignored"
    assert await processed(sessionmaker) == claimed(update.update_id)


async def test_a_button_press_delivered_twice_at_once_runs_once(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff])
    request.clear()
    press = callback_update(app, ASN_CHAT, f"latih:{training}:absen")
    await asyncio.gather(app.process_update(press), app.process_update(press))
    assert len(request.sent("answerCallbackQuery")) == 1
    (prompt,) = request.sent()
    assert labels(prompt) == [ID("⏭ Skip")]
    assert len(await drafts(sessionmaker)) == 1
    assert await processed(sessionmaker) == claimed(press.update_id)


async def test_an_rsvp_delivered_twice_is_saved_and_answered_once_another_press_runs(
    captured, sessionmaker
):
    app, request = captured
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff])
    request.clear()
    press = callback_update(app, ASN_CHAT, f"latih:{training}:hadir")
    await app.process_update(press)
    await app.process_update(press)
    (answer,) = request.sent("answerCallbackQuery")
    assert answer["text"] == ID("Thank you. Your answer is saved: attending.")
    assert len(request.sent("editMessageText")) == 1
    assert (await answers(sessionmaker, training))[people.staff] == ("hadir", None)

    again = callback_update(app, ASN_CHAT, f"latih:{training}:hadir")  # a new press: new id
    assert again.update_id != press.update_id
    await app.process_update(again)
    assert len(request.sent("answerCallbackQuery")) == 2
    assert sorted(await processed(sessionmaker)) == claimed(press.update_id, again.update_id)


async def test_many_copies_at_once_run_once_each(captured, sessionmaker):
    app, request = captured
    await add_people(sessionmaker)
    request.clear()
    updates = [message_update(app, ASN_CHAT, "/help") for _ in range(3)]
    await asyncio.gather(*(app.process_update(u) for u in updates for _ in range(4)))
    assert len(request.sent()) == 3
    assert sorted(await processed(sessionmaker)) == claimed(*(u.update_id for u in updates))


async def test_claim_is_true_once_on_the_database(engine):
    async with engine.begin() as connection:
        assert await claim_update(connection, 2**40) is True
    async with engine.begin() as connection:
        assert await claim_update(connection, 2**40) is False
        assert await claim_update(connection, 2**40 + 1) is True


async def test_old_ids_are_pruned_at_most_once_an_hour(captured, sessionmaker, engine):
    if not ON_POSTGRES:
        pytest.skip("SQLite keeps the ids in memory: the table stays empty")
    app, _ = captured
    now = utcnow()
    async with engine.begin() as connection:
        await claim_update(connection, 1, now - dt.timedelta(days=8))
        await claim_update(connection, 2, now - dt.timedelta(days=6))
    await housekeeping(app, now)
    assert await processed(sessionmaker) == [2]

    async with engine.begin() as connection:
        await claim_update(connection, 3, now - dt.timedelta(days=9))
    await housekeeping(app, now + dt.timedelta(minutes=59))  # too soon: nothing is done
    assert sorted(await processed(sessionmaker)) == [2, 3]
    await housekeeping(app, now + dt.timedelta(hours=1))
    assert await processed(sessionmaker) == [2]
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 1


async def test_a_copy_another_process_claimed_is_not_handled(captured, sessionmaker, engine):
    """PostgreSQL: the id is in ``processed_updates`` (another process took it on)."""
    if not ON_POSTGRES:
        pytest.skip("one process on SQLite: no other process claims")
    app, request = captured
    people = await add_people(sessionmaker)
    await add_training(sessionmaker, [people.staff])
    update = message_update(app, ASN_CHAT, "/pelatihan")
    async with engine.begin() as connection:
        assert await claim_update(connection, update.update_id) is True
    request.clear()
    await app.process_update(update)
    assert request.calls == []


def test_memory_keeps_the_last_ids_only():
    recent = dedupe.RecentUpdates(size=3)
    assert [recent.add(i) for i in (1, 2, 3, 1)] == [True, True, True, False]
    assert recent.add(4) is True  # 1 is forgotten
    assert recent.add(1) is True and recent.add(4) is False
    recent.forget(4)
    assert recent.add(4) is True
