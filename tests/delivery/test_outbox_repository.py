"""The outbox repository on SQLite and PostgreSQL: idempotency, leases, outcomes."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Employee, Unit, utcnow
from storage.repositories.outbox import OutboxRepository, validate_payload
from tests.conftest import ON_POSTGRES
from tests.delivery.conftest import enqueue, row_by_key, rows
from tests.support.factories import add_unit_with_staff

CHAT = 5550001
LEASE = dt.timedelta(seconds=60)


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    owner: str,
    limit: int = 10,
    now: dt.datetime | None = None,
    lease: dt.timedelta = LEASE,
) -> list[str]:
    async with sessionmaker() as session, session.begin():
        claimed = await OutboxRepository(session).claim(owner, limit, lease, now or utcnow())
    return [c.idempotency_key for c in claimed]


async def test_duplicate_key_is_a_no_op_inside_a_transaction_that_commits_other_work(
    sessionmaker: async_sessionmaker[AsyncSession],
):
    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        assert await repo.enqueue("stage:1:verifikasi", CHAT, {"text": "a"}, kind="stage")
        assert not await repo.enqueue("stage:1:verifikasi", CHAT, {"text": "b"}, kind="stage")
        session.add(Unit(name="Dinas Sosial"))  # the caller's own change still commits
    assert not await enqueue(sessionmaker, "stage:1:verifikasi", CHAT, {"text": "c"})

    async with sessionmaker() as session:
        assert await session.scalar(select(Unit.name)) == "Dinas Sosial"
    [row] = await rows(sessionmaker)
    assert (row.payload, row.status, row.attempts) == ({"text": "a"}, "pending", 0)


async def test_claim_respects_not_before_urgency_and_leases(
    sessionmaker: async_sessionmaker[AsyncSession],
):
    now = utcnow()
    await enqueue(sessionmaker, "old", CHAT, not_before=now - dt.timedelta(minutes=5))
    # Another chat: on PostgreSQL a chat being sent to stays with its sender (a test below).
    await enqueue(sessionmaker, "later", CHAT + 1, not_before=now + dt.timedelta(seconds=30))
    await enqueue(sessionmaker, "urgent", CHAT, urgent=True, not_before=now)

    assert await claim(sessionmaker, "a", now=now) == ["urgent", "old"]
    assert await claim(sessionmaker, "b", now=now) == []  # leased to "a"
    # The lease has not run out when "later" becomes due: only "later" is claimable.
    assert await claim(sessionmaker, "b", now=now + dt.timedelta(seconds=30)) == ["later"]
    # Once a's lease has run out its rows come back (a crashed sender's rows).
    expired = now + LEASE + dt.timedelta(seconds=1)
    assert await claim(sessionmaker, "c", now=expired) == ["urgent", "old"]
    row = await row_by_key(sessionmaker, "old")
    assert (row.status, row.lease_owner) == ("sending", "c")
    assert row.lease_until == expired + LEASE


async def test_claim_limit(sessionmaker: async_sessionmaker[AsyncSession]):
    for n in range(5):
        await enqueue(sessionmaker, f"m{n}", CHAT + n)
    assert await claim(sessionmaker, "a", limit=3) == ["m0", "m1", "m2"]
    assert await claim(sessionmaker, "b", limit=3) == ["m3", "m4"]


async def test_expired_lease_is_reclaimed_and_the_stale_owner_cannot_mark(
    sessionmaker: async_sessionmaker[AsyncSession],
):
    now = utcnow()
    await enqueue(sessionmaker, "k", CHAT, not_before=now)
    assert await claim(sessionmaker, "crashed", now=now) == ["k"]
    later = now + LEASE + dt.timedelta(seconds=1)
    assert await claim(sessionmaker, "next", now=later) == ["k"]
    row = await row_by_key(sessionmaker, "k")

    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        assert not await repo.mark_sent(row.id, "crashed", 1)
        assert not await repo.mark_failed(row.id, "crashed", "x")
        assert not await repo.mark_uncertain(row.id, "crashed", "x")
        assert not await repo.mark_blocked(row.id, "crashed", "x")
        assert await repo.retry_later(row.id, "crashed", "x", 1) is None
        assert not await repo.release(row.id, "crashed")
        assert await repo.mark_sent(row.id, "next", 77)
        assert not await repo.mark_sent(row.id, "next", 78)  # once final, nobody marks it

    row = await row_by_key(sessionmaker, "k")
    assert (row.status, row.telegram_message_id, row.lease_owner) == ("sent", 77, "next")
    assert row.sent_at is not None and row.lease_until is None


async def test_rows_marked_in_flight_by_a_crashed_sender_become_uncertain_not_resent(
    sessionmaker: async_sessionmaker[AsyncSession],
):
    now = utcnow()
    for key in ("started", "waiting"):
        await enqueue(sessionmaker, key, CHAT, not_before=now)
    await enqueue(sessionmaker, "elsewhere", CHAT + 1, not_before=now)
    assert await claim(sessionmaker, "crashed", now=now) == ["started", "waiting", "elsewhere"]
    ids = {r.idempotency_key: r.id for r in await rows(sessionmaker)}
    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        # Only rows still leased by the caller are marked.
        assert await repo.mark_started([ids["started"], ids["elsewhere"]], "other", now) == set()
        marked = await repo.mark_started([ids["started"], ids["elsewhere"]], "crashed", now)
        assert marked == {ids["started"], ids["elsewhere"]}
        # A finished row clears its mark as its outcome is recorded.
        assert await repo.mark_sent(ids["elsewhere"], "crashed", 9)
    assert (await row_by_key(sessionmaker, "started")).attempt_started_at == now
    assert (await row_by_key(sessionmaker, "elsewhere")).attempt_started_at is None

    # The sender dies; its lease runs out. The marked row may have reached Telegram: it is
    # uncertain, never claimed again; the unmarked one is claimed as before.
    later = now + LEASE + dt.timedelta(seconds=1)
    assert await claim(sessionmaker, "next", now=later) == ["waiting"]
    row = await row_by_key(sessionmaker, "started")
    assert (row.status, row.last_error) == ("uncertain", "sender stopped during delivery")
    assert row.lease_until is None
    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        assert not await repo.mark_sent(row.id, "crashed", 1)  # too late for the old owner
        assert [e.idempotency_key for e in await repo.uncertain()] == ["started"]
        # HR resends it: claimed afresh, without the old mark.
        assert await repo.resolve_uncertain(row.id, resend=True, now=later)
    assert await claim(sessionmaker, "next", now=later) == ["started"]
    assert (await row_by_key(sessionmaker, "started")).attempt_started_at is None


async def test_retry_release_and_outcomes_clear_the_in_flight_mark(
    sessionmaker: async_sessionmaker[AsyncSession],
):
    now = utcnow()
    for n in range(5):
        await enqueue(sessionmaker, f"m{n}", CHAT + n, not_before=now)
    assert len(await claim(sessionmaker, "s", now=now)) == 5
    ids = [r.id for r in await rows(sessionmaker)]
    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        assert await repo.mark_started(ids, "s", now) == set(ids)
        assert await repo.retry_later(ids[0], "s", "Bad Gateway", 0, now=now) == "pending"
        assert await repo.release(ids[1], "s", not_before=now)
        assert await repo.mark_sent_many([(ids[2], 21, now), (ids[3], 22, now)], "s") == {
            ids[2],
            ids[3],
        }
        assert await repo.mark_sent_many([(ids[4], 23, now)], "other") == set()
    stored = {r.id: r for r in await rows(sessionmaker)}
    assert [stored[i].attempt_started_at for i in ids[:4]] == [None] * 4
    assert stored[ids[4]].attempt_started_at == now  # not ours to record: left alone
    assert [(stored[i].status, stored[i].telegram_message_id) for i in ids[2:4]] == [
        ("sent", 21),
        ("sent", 22),
    ]
    assert stored[ids[2]].sent_at == now and stored[ids[2]].lease_until is None
    # The retried and the released rows are claimed again, not made uncertain.
    later = now + LEASE + dt.timedelta(seconds=1)
    assert sorted(await claim(sessionmaker, "t", now=later)) == ["m0", "m1"]
    assert (await row_by_key(sessionmaker, "m4")).status == "uncertain"


async def test_retry_later_backs_off_and_fails_at_the_cap(
    sessionmaker: async_sessionmaker[AsyncSession],
):
    now = utcnow()
    await enqueue(sessionmaker, "k", CHAT, not_before=now)
    row_id = (await row_by_key(sessionmaker, "k")).id
    for attempt in (1, 2, 3):
        assert await claim(sessionmaker, "s", now=now) == ["k"]
        async with sessionmaker() as session, session.begin():
            status = await OutboxRepository(session).retry_later(
                row_id, "s", "Internal Server Error", 30, max_attempts=3, now=now
            )
        assert status == ("pending" if attempt < 3 else "failed")
        if status == "pending":
            assert await claim(sessionmaker, "s", now=now) == []  # backing off
            now += dt.timedelta(seconds=30)
    row = await row_by_key(sessionmaker, "k")
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.last_error == "Internal Server Error (gave up after 3 attempts)"
    assert await claim(sessionmaker, "s", now=now + dt.timedelta(days=1)) == []


async def test_release_gives_the_row_back_without_counting_an_attempt(
    sessionmaker: async_sessionmaker[AsyncSession],
):
    now = utcnow()
    await enqueue(sessionmaker, "k", CHAT, not_before=now)
    await claim(sessionmaker, "s", now=now)
    row_id = (await row_by_key(sessionmaker, "k")).id
    async with sessionmaker() as session, session.begin():
        assert await OutboxRepository(session).release(
            row_id, "s", not_before=now + dt.timedelta(seconds=5), reason="429"
        )
    assert await claim(sessionmaker, "s", now=now) == []
    assert await claim(sessionmaker, "s", now=now + dt.timedelta(seconds=5)) == ["k"]
    assert (await row_by_key(sessionmaker, "k")).attempts == 0


async def test_mark_blocked_makes_the_employee_unreachable_and_blocks_the_chats_rows(
    sessionmaker: async_sessionmaker[AsyncSession],
):
    _, staff_id = await add_unit_with_staff(sessionmaker, staff_telegram_id=CHAT)
    now = utcnow()
    await enqueue(sessionmaker, "first", CHAT, employee_id=staff_id, not_before=now)
    await enqueue(sessionmaker, "second", CHAT, not_before=now + dt.timedelta(hours=1))
    await enqueue(sessionmaker, "other", CHAT + 1, not_before=now + dt.timedelta(hours=1))
    assert await claim(sessionmaker, "s", now=now) == ["first"]
    first = await row_by_key(sessionmaker, "first")
    async with sessionmaker() as session, session.begin():
        assert await OutboxRepository(session).mark_blocked(
            first.id, "s", "Forbidden: bot was blocked by the user", now=now
        )

    statuses = {r.idempotency_key: r.status for r in await rows(sessionmaker)}
    assert statuses == {"first": "blocked", "second": "blocked", "other": "pending"}
    async with sessionmaker() as session:
        employee = await session.get(Employee, staff_id)
        assert employee is not None
        assert not employee.reachable and employee.blocked_at == now


async def test_counts_uncertain_list_and_hr_resolution(
    sessionmaker: async_sessionmaker[AsyncSession],
):
    now = utcnow()
    for key in ("a", "b", "c"):
        await enqueue(sessionmaker, key, CHAT, not_before=now)
    await claim(sessionmaker, "s", now=now)
    ids = {r.idempotency_key: r.id for r in await rows(sessionmaker)}
    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        await repo.mark_uncertain(ids["a"], "s", "timed out")
        await repo.mark_uncertain(ids["b"], "s", "timed out")
        await repo.mark_sent(ids["c"], "s", 5)
    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        counts = await repo.counts_by_status()
        assert counts["uncertain"] == 2 and counts["sent"] == 1 and counts["failed"] == 0
        assert [e.idempotency_key for e in await repo.uncertain()] == ["a", "b"]
        assert (await repo.uncertain())[0].last_error == "timed out"
        assert await repo.resolve_uncertain(ids["a"], resend=True, now=now)
        assert await repo.resolve_uncertain(ids["b"], resend=False)
        assert not await repo.resolve_uncertain(ids["c"], resend=True)  # not uncertain
    assert await claim(sessionmaker, "s2", now=now) == ["a"]
    assert (await row_by_key(sessionmaker, "b")).status == "cancelled"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"text": ""},
        {"text": "a", "photo": {"file_id": "x"}},
        {"photo": {}},
        {"photo": {"file_id": "x", "path": "y"}},
        {"document": {"bytes_b64": "eA=="}},  # no filename
        {"text": "a", "parse_mode": "html"},
        {"text": "a", "reply_markup": {"keyboard": [["a"]]}},
        {"text": "a", "extra": object()},
    ],
)
def test_malformed_payloads_are_refused(payload: dict):
    with pytest.raises(ValueError):
        validate_payload(payload)


@pytest.mark.skipif(not ON_POSTGRES, reason="SKIP LOCKED is PostgreSQL's; SQLite has one sender")
async def test_concurrent_claims_with_skip_locked_never_share_a_row(
    sessionmaker: async_sessionmaker[AsyncSession],
):
    now = utcnow()
    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        for n in range(40):  # one chat each: see the next test for chats being sent to
            await repo.enqueue(f"m{n}", CHAT + n, {"text": f"m{n}"}, kind="t", not_before=now)

    # Two open transactions: the first holds its row locks while the second claims.
    async with sessionmaker() as first, first.begin():
        held = await OutboxRepository(first).claim("one", 15, LEASE, now)
        async with sessionmaker() as second, second.begin():
            other = await OutboxRepository(second).claim("two", 15, LEASE, now)
    assert len(held) == len(other) == 15
    assert not {c.id for c in held} & {c.id for c in other}

    # Many claimers at once take the rest, each row exactly once.
    results = await asyncio.gather(*(claim(sessionmaker, f"c{n}", 3, now) for n in range(6)))
    taken = [key for keys in results for key in keys]
    assert len(taken) == len(set(taken)) == 10
    assert await claim(sessionmaker, "late", 50, now) == []


async def test_a_chat_another_sender_is_sending_to_stays_with_it(
    sessionmaker: async_sessionmaker[AsyncSession],
):
    """PostgreSQL (several senders): the rows of a chat with rows leased to a sender are left
    to it, so one process keeps that chat's pace; an expired lease frees the chat."""
    if not ON_POSTGRES:
        pytest.skip("one sender on SQLite")
    now = utcnow()
    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        for n in range(3):
            await repo.enqueue(f"busy{n}", CHAT, {"text": f"b{n}"}, kind="t", not_before=now)
        await repo.enqueue("free", CHAT + 1, {"text": "f"}, kind="t", not_before=now)
    assert await claim(sessionmaker, "one", 1, now) == ["busy0"]
    assert await claim(sessionmaker, "two", 10, now) == ["free"]
    # The sender holding a chat may claim more of it.
    assert await claim(sessionmaker, "one", 1, now) == ["busy1"]
    later = now + LEASE + dt.timedelta(seconds=1)  # "one" died: its lease ran out
    assert sorted(await claim(sessionmaker, "two", 10, later)) == [
        "busy0",
        "busy1",
        "busy2",
        "free",
    ]
