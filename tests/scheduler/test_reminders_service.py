"""Queuing training reminders on SQLite and PostgreSQL: keys, idempotency, moves, answers."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import get_translator
from bot.reminders import enqueue_due_reminders
from storage.models import OutboxMessage, utcnow
from storage.repositories.outbox import OutboxRepository
from storage.repositories.reminders import (
    ReminderRepository,
    parse_reminder_key,
    reminder_key,
    training_key_prefix,
)
from tests.scheduler.conftest import (
    add_people,
    add_training,
    answer,
    outbox,
    set_training,
    settings,
    wib,
)

START = wib(2026, 3, 9, 9, 0)  # Monday 09:00 WIB
EPOCH = int(START.timestamp())
H7, H1, H2 = dt.timedelta(days=7), dt.timedelta(days=1), dt.timedelta(hours=2)
MINUTE = dt.timedelta(minutes=1)


async def tick(
    sessionmaker: async_sessionmaker[AsyncSession],
    now: dt.datetime,
    last_tick: dt.datetime | None = None,
    **overrides: object,
) -> int:
    async with sessionmaker() as session, session.begin():
        return await enqueue_due_reminders(session, settings(**overrides), now, last_tick=last_tick)


async def mark_all_sent(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "pending")
            .values(status="sent", sent_at=utcnow())
        )


async def test_h7_h1_and_2h_reminders_each_once_with_their_keys(sessionmaker):
    people = await add_people(sessionmaker, 2)
    training = await add_training(sessionmaker, START, people)

    assert await tick(sessionmaker, START - H7 - MINUTE) == 0
    assert await tick(sessionmaker, START - H7 + 30 * dt.timedelta(seconds=1)) == 2
    assert await tick(sessionmaker, START - H7 + MINUTE) == 0  # the next tick: nothing again
    assert await tick(sessionmaker, START - H1) == 2
    assert await tick(sessionmaker, START - H1 + MINUTE) == 0
    assert await tick(sessionmaker, START - H2) == 2
    assert await tick(sessionmaker, START - MINUTE) == 0

    rows = await outbox(sessionmaker)
    assert [row.idempotency_key for row in rows] == [
        f"reminder:{training}:{person.id}:{seconds}:{EPOCH}"
        for seconds in (604800, 86400, 7200)
        for person in people
    ]
    for row, person in zip(rows, people * 3, strict=True):
        assert row.kind == "training_reminder"
        assert row.employee_id == person.id and row.chat_id == person.chat_id
        assert row.urgent is False  # 09:00 and 07:00 WIB: no quiet hours involved
    # Never sent (no sender here), the older reminders were withdrawn as each newer one was
    # queued; once the training began nothing of it is left to send.
    assert [row.status for row in rows] == ["cancelled"] * 4 + ["pending"] * 2
    assert await tick(sessionmaker, START + MINUTE) == 0
    assert {row.status for row in await outbox(sessionmaker)} == {"cancelled"}


async def test_the_message_in_the_participants_language(sessionmaker):
    [ana] = await add_people(sessionmaker, 1, language="id")
    [ben] = await add_people(sessionmaker, 1, first_chat=7720001, language="en")
    training = await add_training(
        sessionmaker,
        START,
        [ana, ben],
        title="K3 & <Keselamatan> Kerja",
        place="Aula <Bung Hatta>",
        online_link="https://zoom.us/j/123?pwd=a&b=c",
    )
    assert await tick(sessionmaker, START - H7) == 2
    rows = {row.employee_id: row for row in await outbox(sessionmaker)}

    t = get_translator("id")
    payload = rows[ana.id].payload
    assert payload["parse_mode"] == "HTML"
    text = payload["text"]
    assert "<b>K3 &amp; &lt;Keselamatan&gt; Kerja</b>" in text
    assert "Senin, 9 Maret 2026 pukul 09.00 WIB" in text
    assert "12.00 WIB" in text  # the end, same day
    assert "Aula &lt;Bung Hatta&gt;" in text
    assert "https://zoom.us/j/123?pwd=a&amp;b=c" in text
    assert t.ngettext("{n} day", "{n} days", 7) in text
    assert payload["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": t("✅ Attending"), "callback_data": f"latih:{training}:hadir"},
                {"text": t("❌ Not attending"), "callback_data": f"latih:{training}:absen"},
            ]
        ]
    }
    english = rows[ben.id].payload["text"]
    assert "Monday, March 9, 2026 at 9:00" in english
    assert "7 days" in english


async def test_after_downtime_only_the_latest_reminder_is_sent(sessionmaker, caplog):
    people = await add_people(sessionmaker, 1)
    training = await add_training(sessionmaker, START, people)
    caplog.set_level(logging.INFO, logger="bot.reminders")
    # The bot was down from before H-7 until 20 hours before the start.
    assert await tick(sessionmaker, START - dt.timedelta(hours=20)) == 1
    [row] = await outbox(sessionmaker)
    assert row.idempotency_key == f"reminder:{training}:{people[0].id}:86400:{EPOCH}"
    assert "queued late" in caplog.text
    # And nothing of H-7 afterwards.
    assert await tick(sessionmaker, START - dt.timedelta(hours=19)) == 0


async def test_a_training_that_began_gets_nothing_and_the_drop_is_logged(sessionmaker, caplog):
    people = await add_people(sessionmaker, 3)
    training = await add_training(sessionmaker, START, people)
    caplog.set_level(logging.INFO, logger="bot.reminders")
    assert await tick(sessionmaker, START + MINUTE, last_tick=START - MINUTE) == 0
    assert await outbox(sessionmaker) == []
    dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 1
    message = dropped[0].getMessage()
    assert f"training #{training}" in message and "3 participant(s)" in message
    assert "Pegawai" not in caplog.text  # no personal data in the log
    caplog.clear()
    assert await tick(sessionmaker, START + 2 * MINUTE, last_tick=START + MINUTE) == 0
    assert "dropped" not in caplog.text


async def test_no_drop_is_logged_when_the_last_reminder_went_out(sessionmaker, caplog):
    people = await add_people(sessionmaker, 1)
    await add_training(sessionmaker, START, people)
    assert await tick(sessionmaker, START - H2) == 1
    await mark_all_sent(sessionmaker)
    caplog.set_level(logging.INFO, logger="bot.reminders")
    assert await tick(sessionmaker, START + MINUTE, last_tick=START - MINUTE) == 0
    assert "dropped" not in caplog.text


async def test_cancelled_training_declined_unlinked_and_inactive_get_nothing(sessionmaker):
    going, declined = await add_people(sessionmaker, 2)
    [unlinked] = await add_people(sessionmaker, 1, linked=False)
    [retired] = await add_people(sessionmaker, 1, first_chat=7730001, active=False)
    training = await add_training(sessionmaker, START, [going, declined, unlinked, retired])
    cancelled = await add_training(sessionmaker, START, [going])
    await set_training(sessionmaker, cancelled, cancelled_at=START - H7 - H1)
    await answer(sessionmaker, training, declined, "tidak_hadir")
    await answer(sessionmaker, training, going, "hadir")

    assert await tick(sessionmaker, START - H7) == 1
    [row] = await outbox(sessionmaker)
    assert row.employee_id == going.id
    assert f":{training}:" in row.idempotency_key
    # A participant who confirmed is reminded with a note that they did.
    assert "latih:" in str(row.payload["reply_markup"])


async def test_declining_withdraws_a_queued_reminder(sessionmaker):
    [person] = await add_people(sessionmaker, 1)
    training = await add_training(sessionmaker, START, [person])
    assert await tick(sessionmaker, START - H1) == 1
    await answer(sessionmaker, training, person, "tidak_hadir")
    assert await tick(sessionmaker, START - H1 + MINUTE) == 0
    [row] = await outbox(sessionmaker)
    assert row.status == "cancelled" and "declined" in (row.last_error or "")


async def test_a_training_moved_after_its_h7_reminder(sessionmaker):
    [person] = await add_people(sessionmaker, 1)
    training = await add_training(sessionmaker, START, [person])
    assert await tick(sessionmaker, START - H7) == 1
    await mark_all_sent(sessionmaker)

    later = START + dt.timedelta(days=3)
    await set_training(sessionmaker, training, starts_at=later, ends_at=later + H2)
    # The old H-7 is not repeated; the new time's H-7 comes at its own time.
    assert await tick(sessionmaker, START - H7 + MINUTE) == 0
    assert await tick(sessionmaker, later - H7 - MINUTE) == 0
    assert await tick(sessionmaker, later - H7) == 1
    await mark_all_sent(sessionmaker)
    # Nothing at the old H-1 time; the new H-1 at its time.
    assert await tick(sessionmaker, START - H1) == 0
    assert await tick(sessionmaker, later - H1) == 1
    keys = [row.idempotency_key for row in await outbox(sessionmaker)]
    new_epoch = int(later.timestamp())
    assert keys == [
        f"reminder:{training}:{person.id}:604800:{EPOCH}",
        f"reminder:{training}:{person.id}:604800:{new_epoch}",
        f"reminder:{training}:{person.id}:86400:{new_epoch}",
    ]


async def test_a_pending_reminder_of_the_old_time_is_withdrawn(sessionmaker):
    [person] = await add_people(sessionmaker, 1)
    training = await add_training(sessionmaker, START, [person])
    other = await add_training(sessionmaker, START, [person])
    assert await tick(sessionmaker, START - H1) == 2
    earlier = START - dt.timedelta(hours=12)
    await set_training(sessionmaker, training, starts_at=earlier, ends_at=earlier + H2)
    # The tick withdraws the old time's row and queues the new time's (H-1 of 21:00 WIB).
    assert await tick(sessionmaker, START - H1 + MINUTE) == 1
    rows = await outbox(sessionmaker)
    statuses = {(row.idempotency_key, row.status) for row in rows}
    assert statuses == {
        (reminder_key(training, person.id, H1, START), "cancelled"),
        (reminder_key(other, person.id, H1, START), "pending"),
        (reminder_key(training, person.id, H1, earlier), "pending"),
    }


async def test_cancelling_a_training_withdraws_its_queued_reminders(sessionmaker):
    people = await add_people(sessionmaker, 2)
    training = await add_training(sessionmaker, START, people)
    assert await tick(sessionmaker, START - H2) == 2
    await set_training(sessionmaker, training, cancelled_at=START - H2)
    assert await tick(sessionmaker, START - H2 + MINUTE) == 0
    assert {row.status for row in await outbox(sessionmaker)} == {"cancelled"}


async def test_urgent_when_the_2h_reminder_falls_in_quiet_hours(sessionmaker):
    [person] = await add_people(sessionmaker, 1)
    early = wib(2026, 3, 9, 6, 30)
    await add_training(sessionmaker, early, [person])
    assert await tick(sessionmaker, early - H2) == 1  # 04:30 WIB
    [row] = await outbox(sessionmaker)
    assert row.urgent is True


async def test_cancel_pending_by_prefix(sessionmaker):
    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        for key in ("reminder:1:5:604800:1", "reminder:1:6:604800:1", "reminder:12:5:7200:1"):
            await repo.enqueue(key, 7700001, {"text": key}, kind="training_reminder")
        await repo.enqueue("REMINDER:1:7:1:1", 7700001, {"text": "x"}, kind="test")
        await repo.enqueue("reminder:1:8:86400:1", 7700001, {"text": "y"}, kind="test")
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.idempotency_key == "reminder:1:8:86400:1")
            .values(status="sent")
        )
    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        assert await repo.cancel_pending("reminder:%") == 0  # no wildcards
        assert await repo.cancel_pending(training_key_prefix(1)) == 2
        assert await repo.cancel_pending(training_key_prefix(1)) == 0
    statuses = {row.idempotency_key: row.status for row in await outbox(sessionmaker)}
    assert statuses == {
        "reminder:1:5:604800:1": "cancelled",
        "reminder:1:6:604800:1": "cancelled",
        "reminder:12:5:7200:1": "pending",
        "REMINDER:1:7:1:1": "pending",
        "reminder:1:8:86400:1": "sent",
    }


async def test_due_is_one_query_for_many_participants(sessionmaker, engine):
    """No query per row: the statement count does not grow with the participants."""
    from sqlalchemy import event

    people = await add_people(sessionmaker, 40)
    for n in range(5):
        await add_training(sessionmaker, START + n * dt.timedelta(hours=3), people)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with sessionmaker() as session:
            due = await ReminderRepository(session).due(
                START - H7 + dt.timedelta(days=1), [H7, H1, H2]
            )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert len(due) == 200
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2


def test_keys_parse_back():
    key = reminder_key(12, 34, H2, START)
    assert key == f"reminder:12:34:7200:{EPOCH}"
    parsed = parse_reminder_key(key)
    assert parsed is not None and parsed.training_id == 12 and parsed.starts_at_epoch == EPOCH
    assert parse_reminder_key("stage:1:2") is None
    assert parse_reminder_key("reminder:a:b:c:d") is None
