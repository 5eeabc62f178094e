"""Layer 2: the same update delivered twice (same ``update_id``) is handled once.

``handlers.dedupe`` claims every update id in ``processed_updates`` before any other handler;
a copy of an update already claimed stops there, whether it comes after the first or at the
same time (``concurrent_updates``). An update with another id is handled as usual.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import func, select

from bot.i18n import get_translator
from handlers import dedupe
from storage.models import ProcessedUpdate, utcnow
from storage.repositories.updates import claim_update
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
    assert await processed(sessionmaker) == [update.update_id]


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
    assert await processed(sessionmaker) == [press.update_id]


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
    assert sorted(await processed(sessionmaker)) == sorted([press.update_id, again.update_id])


async def test_many_copies_at_once_run_once_each(captured, sessionmaker):
    app, request = captured
    await add_people(sessionmaker)
    request.clear()
    updates = [message_update(app, ASN_CHAT, "/help") for _ in range(3)]
    await asyncio.gather(*(app.process_update(u) for u in updates for _ in range(4)))
    assert len(request.sent()) == 3
    assert sorted(await processed(sessionmaker)) == sorted(u.update_id for u in updates)


async def test_claim_is_true_once_on_the_database(engine):
    async with engine.begin() as connection:
        assert await claim_update(connection, 2**40) is True
    async with engine.begin() as connection:
        assert await claim_update(connection, 2**40) is False
        assert await claim_update(connection, 2**40 + 1) is True


async def test_old_ids_are_pruned_at_most_once_an_hour(captured, sessionmaker, engine):
    app, _ = captured
    now = utcnow()
    async with engine.begin() as connection:
        await claim_update(connection, 1, now - dt.timedelta(days=8))
        await claim_update(connection, 2, now - dt.timedelta(days=6))
    await dedupe.prune(app, now)
    assert await processed(sessionmaker) == [2]

    async with engine.begin() as connection:
        await claim_update(connection, 3, now - dt.timedelta(days=9))
    await dedupe.prune(app, now + dt.timedelta(minutes=59))  # too soon: nothing is done
    assert sorted(await processed(sessionmaker)) == [2, 3]
    await dedupe.prune(app, now + dt.timedelta(hours=1))
    assert await processed(sessionmaker) == [2]
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 1
