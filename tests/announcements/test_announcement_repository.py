"""Layer 2 (storage, SQLite and PostgreSQL): ``AnnouncementRepository`` and the outbox calls
it relies on: audiences, creating, figures, cancelling, resending, HR's file rows."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from storage.models import Employee
from storage.repositories.announcements import (
    AnnouncementRepository,
    AudienceCount,
    Candidate,
    outbox_key,
)
from storage.repositories.outbox import OutboxRepository
from tests.announcements.org import (
    HR_CHAT,
    NUR_CHAT,
    RINA_CHAT,
    SARI_CHAT,
    YUSUF_CHAT,
    Maker,
    Org,
    add_org,
    announcement_row,
    failed,
    outbox_rows,
    recipient_rows,
    sent,
    set_outbox,
)

NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)  # 10.00 WIB
SEND_AT = NOW + dt.timedelta(hours=1)
CONTENT = {
    "text": "Rapat koordinasi besok pukul 09.00 di aula",
    "entities": [{"type": "bold", "offset": 0, "length": 5}],
}


@pytest.fixture
async def org(sessionmaker: Maker) -> Org:
    return await add_org(sessionmaker)


async def create(
    sessionmaker: Maker,
    org: Org,
    audience: dict,
    *,
    scheduled: bool = False,
    send_at: dt.datetime = SEND_AT,
    content: dict = CONTENT,
) -> tuple[int, AudienceCount]:
    async with sessionmaker() as session, session.begin():
        return await AnnouncementRepository(session).create(
            created_by_id=org.hr,
            chat_id=HR_CHAT,
            content=content,
            audience=audience,
            send_at=send_at,
            scheduled=scheduled,
            now=NOW,
        )


async def finish(sessionmaker: Maker, announcement_id: int, at: dt.datetime) -> bool:
    async with sessionmaker() as session, session.begin():
        return await AnnouncementRepository(session).finish(announcement_id, at)


# --------------------------------------------------------------------------- audiences
async def test_count_and_candidates_per_audience(sessionmaker, org):
    cases = [
        # (audience, expected active members, not linked, unreachable)
        ({"kind": "all"}, [org.yusuf, org.sari, org.rina, org.wati, org.hr, org.nur], 1, 1),
        (
            {"kind": "units", "unit_ids": [org.transport]},
            [org.yusuf, org.sari, org.rina, org.wati],
            1,
            1,
        ),
        ({"kind": "units", "unit_ids": [org.hr_unit, org.health]}, [org.hr, org.nur], 0, 0),
        ({"kind": "units", "unit_ids": []}, [], 0, 0),
        # Rina's only report is retired and dr. Lestari retired: neither is a supervisor.
        ({"kind": "supervisors"}, [org.yusuf, org.sari], 0, 1),
        (
            {"kind": "nips", "employee_ids": [org.rina, org.wati, org.ahmad, org.nur]},
            [org.rina, org.wati, org.nur],
            1,
            0,
        ),
    ]
    async with sessionmaker() as session:
        repository = AnnouncementRepository(session)
        for audience, members, not_linked, unreachable in cases:
            count = await repository.count(audience)
            assert count == AudienceCount(len(members), not_linked, unreachable), audience
            assert count.deliverable == len(members) - not_linked - unreachable
            candidates = await repository.candidates(audience)
            assert [c.employee_id for c in candidates] == sorted(members), audience


async def test_candidates_carry_chat_and_reachability(sessionmaker, org):
    async with sessionmaker() as session:
        candidates = await AnnouncementRepository(session).candidates(
            {"kind": "units", "unit_ids": [org.transport]}
        )
    assert candidates == [
        Candidate(org.yusuf, YUSUF_CHAT, True),
        Candidate(org.sari, SARI_CHAT, False),
        Candidate(org.rina, RINA_CHAT, True),
        Candidate(org.wati, None, True),
    ]


async def test_unknown_audience_kind_is_refused(sessionmaker, org):
    async with sessionmaker() as session:
        with pytest.raises(ValueError, match="unknown audience kind"):
            await AnnouncementRepository(session).count({"kind": "everyone"})


async def test_units_and_nip_lookup(sessionmaker, org):
    async with sessionmaker() as session:
        repository = AnnouncementRepository(session)
        units = await repository.units()
        names = await repository.unit_names([org.transport, org.health])
        found = await repository.employee_ids_by_nip(
            [org.nips[org.rina], org.nips[org.ahmad], "199001012020121001"]
        )
    # Active employees only (the retired are not counted; Kesehatan has only Nur left).
    assert [(u.name, u.employees) for u in units] == [
        ("BKPSDM", 1),
        ("Dinas Kesehatan", 1),
        ("Dinas Perhubungan", 4),
    ]
    assert names == ["Dinas Kesehatan", "Dinas Perhubungan"]
    assert found == {org.nips[org.rina]: org.rina}


# --------------------------------------------------------------------------- creating
async def test_create_stores_recipients_and_one_outbox_row_per_deliverable(sessionmaker, org):
    announcement_id, count = await create(sessionmaker, org, {"kind": "all"}, scheduled=True)
    assert count == AudienceCount(6, 1, 1)

    stored = await announcement_row(sessionmaker, announcement_id)
    assert stored.status == "scheduled"
    assert stored.send_at == SEND_AT and stored.created_at == NOW
    assert stored.content == CONTENT and stored.audience == {"kind": "all"}
    assert stored.created_by_id == org.hr and stored.chat_id == HR_CHAT
    assert stored.finished_at is None and stored.progress_message_id is None

    rows = await outbox_rows(sessionmaker)
    chats = {org.yusuf: YUSUF_CHAT, org.rina: RINA_CHAT, org.hr: HR_CHAT, org.nur: NUR_CHAT}
    assert sorted(row.employee_id for row in rows) == sorted(chats)
    for row in rows:
        assert row.idempotency_key == f"announcement:{announcement_id}:{row.employee_id}"
        assert row.chat_id == chats[row.employee_id]
        assert row.payload == CONTENT
        assert row.not_before == SEND_AT
        assert row.kind == "announcement"
        assert row.status == "pending" and row.urgent is False

    recipients = await recipient_rows(sessionmaker, announcement_id)
    by_id = {row.id: row.employee_id for row in rows}
    assert {
        r.employee_id: (r.skipped, by_id.get(r.outbox_id) if r.outbox_id else None)
        for r in recipients
    } == {
        org.yusuf: (None, org.yusuf),
        org.sari: ("unreachable", None),
        org.rina: (None, org.rina),
        org.wati: ("not_linked", None),
        org.hr: (None, org.hr),
        org.nur: (None, org.nur),
    }
    assert all(r.first_outbox_id is None for r in recipients)


async def test_create_now_is_sending_and_outbox_keys_are_per_announcement(sessionmaker, org):
    first, _ = await create(sessionmaker, org, {"kind": "supervisors"}, send_at=NOW)
    second, count = await create(sessionmaker, org, {"kind": "supervisors"}, send_at=NOW)
    assert first != second
    assert (await announcement_row(sessionmaker, second)).status == "sending"
    assert count == AudienceCount(2, 0, 1)
    keys = [row.idempotency_key for row in await outbox_rows(sessionmaker)]
    # Sari is unreachable: Yusuf alone, once per announcement.
    assert keys == [outbox_key(first, org.yusuf), outbox_key(second, org.yusuf)]
    assert outbox_key(second, org.yusuf) == f"announcement:{second}:{org.yusuf}"
    assert outbox_key(2, 5, resend=True) == "announcement:2:5:ulang"


async def test_create_with_nobody_to_deliver_to(sessionmaker, org):
    announcement_id, count = await create(
        sessionmaker, org, {"kind": "nips", "employee_ids": [org.wati, org.ahmad]}
    )
    assert count == AudienceCount(1, 1, 0) and count.deliverable == 0
    assert await outbox_rows(sessionmaker) == []
    async with sessionmaker() as session:
        figures = (await AnnouncementRepository(session).figures([announcement_id]))[
            announcement_id
        ]
    assert figures.by_state == {"not_linked": 1}
    assert figures.queued == 0 and figures.waiting == 0


# --------------------------------------------------------------------------- figures
async def test_figures_follow_the_outbox_rows(sessionmaker, org):
    announcement_id, _ = await create(sessionmaker, org, {"kind": "all"})
    other_id, _ = await create(sessionmaker, org, {"kind": "units", "unit_ids": [org.health]})
    async with sessionmaker() as session:
        figures = await AnnouncementRepository(session).figures([announcement_id, other_id])
    assert figures[announcement_id].by_state == {"pending": 4, "not_linked": 1, "unreachable": 1}
    assert figures[announcement_id].total == 6
    assert figures[announcement_id].queued == 4
    assert figures[announcement_id].waiting == 4

    rows = await recipient_rows(sessionmaker, announcement_id)
    first_rows = {r.employee_id: r.outbox_id for r in rows if r.outbox_id}
    await set_outbox(sessionmaker, first_rows[org.yusuf], **sent(NOW))
    await set_outbox(sessionmaker, first_rows[org.rina], **failed())
    await set_outbox(sessionmaker, first_rows[org.hr], status="blocked")
    await set_outbox(sessionmaker, first_rows[org.nur], status="sending", lease_owner="x")
    async with sessionmaker() as session:
        repository = AnnouncementRepository(session)
        figures = await repository.figures([announcement_id, other_id])
        assert await repository.figures([]) == {}
    mine = figures[announcement_id]
    assert mine.by_state == {
        "sent": 1,
        "failed": 1,
        "blocked": 1,
        "sending": 1,
        "not_linked": 1,
        "unreachable": 1,
    }
    assert (mine.get("sent"), mine.get("uncertain"), mine.waiting, mine.queued) == (1, 0, 1, 4)
    # The other announcement's row for Nur is its own, still pending.
    assert figures[other_id].by_state == {"pending": 1}


async def test_sent_since_is_the_earliest_delivery_and_the_count_of_the_round(sessionmaker, org):
    announcement_id, _ = await create(sessionmaker, org, {"kind": "all"})
    rows = {r.employee_id: r.outbox_id for r in await recipient_rows(sessionmaker, announcement_id)}
    async with sessionmaker() as session:
        assert await AnnouncementRepository(session).sent_since(announcement_id, NOW) == (None, 0)
    await set_outbox(sessionmaker, rows[org.rina], **sent(NOW + dt.timedelta(seconds=9)))
    await set_outbox(sessionmaker, rows[org.yusuf], **sent(NOW + dt.timedelta(seconds=2)))
    async with sessionmaker() as session:
        repository = AnnouncementRepository(session)
        assert await repository.sent_since(announcement_id, NOW) == (
            NOW + dt.timedelta(seconds=2),
            2,
        )
        # A later round (the resend) counts only what was sent since it began.
        later = NOW + dt.timedelta(seconds=5)
        assert await repository.sent_since(announcement_id, later) == (
            NOW + dt.timedelta(seconds=9),
            1,
        )


# --------------------------------------------------------------------------- cancelling
async def test_cancel_stops_only_what_has_not_left(sessionmaker, org):
    announcement_id, _ = await create(sessionmaker, org, {"kind": "all"}, send_at=NOW)
    rows = {r.employee_id: r.outbox_id for r in await recipient_rows(sessionmaker, announcement_id)}
    lease = NOW + dt.timedelta(minutes=1)
    await set_outbox(sessionmaker, rows[org.yusuf], **sent(NOW))
    # In flight: claimed and marked (the request may have left): left alone.
    await set_outbox(
        sessionmaker,
        rows[org.rina],
        status="sending",
        lease_owner="sender-1",
        lease_until=lease,
        attempt_started_at=NOW,
    )
    # Claimed but not yet marked: it has not left, so it is stopped.
    await set_outbox(
        sessionmaker, rows[org.hr], status="sending", lease_owner="sender-1", lease_until=lease
    )
    # Nur's is still pending.
    later = NOW + dt.timedelta(seconds=30)
    async with sessionmaker() as session, session.begin():
        stopped = await AnnouncementRepository(session).cancel(announcement_id, org.hr, later)
    assert stopped == 2

    states = {row.employee_id: row for row in await outbox_rows(sessionmaker)}
    assert states[org.yusuf].status == "sent"
    assert states[org.rina].status == "sending"
    assert states[org.rina].lease_owner == "sender-1"
    for employee in (org.hr, org.nur):
        assert states[employee].status == "cancelled"
        assert states[employee].last_error == f"announcement #{announcement_id} cancelled"
        assert states[employee].lease_owner is None and states[employee].lease_until is None

    stored = await announcement_row(sessionmaker, announcement_id)
    assert stored.status == "cancelled"
    assert stored.cancelled_at == later and stored.cancelled_by_id == org.hr

    async with sessionmaker() as session, session.begin():
        again = await AnnouncementRepository(session).cancel(announcement_id, org.hr, NOW)
    assert again is None
    assert {row.employee_id: row.status for row in await outbox_rows(sessionmaker)} == {
        org.yusuf: "sent",
        org.rina: "sending",
        org.hr: "cancelled",
        org.nur: "cancelled",
    }
    assert (await announcement_row(sessionmaker, announcement_id)).cancelled_at == later


async def test_a_scheduled_one_can_be_cancelled_a_finished_one_cannot(sessionmaker, org):
    scheduled, _ = await create(sessionmaker, org, {"kind": "supervisors"}, scheduled=True)
    finished, _ = await create(sessionmaker, org, {"kind": "units", "unit_ids": [org.health]})
    assert await finish(sessionmaker, finished, NOW) is True
    assert await finish(sessionmaker, finished, NOW) is False  # once
    async with sessionmaker() as session, session.begin():
        repository = AnnouncementRepository(session)
        assert await repository.cancel(scheduled, org.hr, NOW) == 1
        assert await repository.cancel(finished, org.hr, NOW) is None
        assert await repository.cancel(999_999, org.hr, NOW) is None
    assert (await announcement_row(sessionmaker, finished)).status == "done"
    statuses = {row.employee_id: row.status for row in await outbox_rows(sessionmaker)}
    assert statuses == {org.yusuf: "cancelled", org.nur: "pending"}


async def test_cancel_unsent_directly(sessionmaker, org):
    async with sessionmaker() as session, session.begin():
        keys = await OutboxRepository(session).enqueue_many(
            [("k:1", RINA_CHAT, org.rina), ("k:2", NUR_CHAT, org.nur)],
            {"text": "Halo"},
            kind="test",
        )
    await set_outbox(sessionmaker, keys["k:2"], status="failed")
    async with sessionmaker() as session, session.begin():
        changed = await OutboxRepository(session).cancel_unsent(list(keys.values()), "stop")
    assert changed == 1
    assert [(r.idempotency_key, r.status) for r in await outbox_rows(sessionmaker)] == [
        ("k:1", "cancelled"),
        ("k:2", "failed"),
    ]


# --------------------------------------------------------------------------- resending
async def test_resend_failed_once_after_it_finished(sessionmaker, org):
    announcement_id, _ = await create(sessionmaker, org, {"kind": "all"}, send_at=NOW)
    first = {
        r.employee_id: r.outbox_id for r in await recipient_rows(sessionmaker, announcement_id)
    }
    for employee in (org.yusuf, org.rina, org.hr):
        await set_outbox(sessionmaker, first[employee], **failed())
    await set_outbox(sessionmaker, first[org.nur], **sent(NOW))
    # Yusuf unlinked his account since: he cannot get the second try.
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Employee).where(Employee.id == org.yusuf).values(telegram_user_id=None)
        )
    later = NOW + dt.timedelta(minutes=10)

    async with sessionmaker() as session, session.begin():
        # Still sending: not yet.
        assert (
            await AnnouncementRepository(session).resend_failed(announcement_id, org.hr, later)
            is None
        )
    assert len(await outbox_rows(sessionmaker)) == 4

    assert await finish(sessionmaker, announcement_id, NOW + dt.timedelta(minutes=5))
    async with sessionmaker() as session, session.begin():
        result = await AnnouncementRepository(session).resend_failed(announcement_id, org.hr, later)
    assert result == (2, 1)

    rows = await outbox_rows(sessionmaker)
    new = [row for row in rows if row.idempotency_key.endswith(":ulang")]
    assert sorted((row.employee_id, row.idempotency_key) for row in new) == sorted(
        [
            (org.rina, f"announcement:{announcement_id}:{org.rina}:ulang"),
            (org.hr, f"announcement:{announcement_id}:{org.hr}:ulang"),
        ]
    )
    for row in new:
        assert row.payload == CONTENT and row.not_before == later and row.status == "pending"
        assert row.chat_id == {org.rina: RINA_CHAT, org.hr: HR_CHAT}[row.employee_id]
        assert row.kind == "announcement"

    recipients = {r.employee_id: r for r in await recipient_rows(sessionmaker, announcement_id)}
    new_ids = {row.employee_id: row.id for row in new}
    for employee in (org.rina, org.hr):
        assert recipients[employee].outbox_id == new_ids[employee]
        assert recipients[employee].first_outbox_id == first[employee]
    for employee in (org.yusuf, org.nur):
        assert recipients[employee].outbox_id == first[employee]
        assert recipients[employee].first_outbox_id is None

    stored = await announcement_row(sessionmaker, announcement_id)
    assert stored.status == "sending"
    assert stored.resent_at == later and stored.resent_by_id == org.hr
    assert stored.finished_at is None and stored.progress_message_id is None

    # Once: neither while sending again, nor after it finished again.
    async with sessionmaker() as session, session.begin():
        assert (
            await AnnouncementRepository(session).resend_failed(announcement_id, org.hr, later)
            is None
        )
    assert await finish(sessionmaker, announcement_id, later + dt.timedelta(minutes=1))
    for employee in (org.rina, org.hr):
        await set_outbox(sessionmaker, new_ids[employee], **failed())
    async with sessionmaker() as session, session.begin():
        assert (
            await AnnouncementRepository(session).resend_failed(announcement_id, org.hr, later)
            is None
        )
    assert len(await outbox_rows(sessionmaker)) == 6


async def test_resend_of_a_cancelled_one_is_refused(sessionmaker, org):
    announcement_id, _ = await create(sessionmaker, org, {"kind": "all"}, send_at=NOW)
    rows = {r.employee_id: r.outbox_id for r in await recipient_rows(sessionmaker, announcement_id)}
    await set_outbox(sessionmaker, rows[org.rina], **failed())
    async with sessionmaker() as session, session.begin():
        assert await AnnouncementRepository(session).cancel(announcement_id, org.hr, NOW) == 3
    assert await finish(sessionmaker, announcement_id, NOW)
    assert (await announcement_row(sessionmaker, announcement_id)).status == "cancelled"
    async with sessionmaker() as session, session.begin():
        assert (
            await AnnouncementRepository(session).resend_failed(announcement_id, org.hr, NOW)
            is None
        )
    assert len(await outbox_rows(sessionmaker)) == 4


# --------------------------------------------------------------------------- HR's file
async def test_recipients_sorted_by_unit_then_name_with_their_state(sessionmaker, org):
    announcement_id, _ = await create(sessionmaker, org, {"kind": "all"}, send_at=NOW)
    rows = {r.employee_id: r.outbox_id for r in await recipient_rows(sessionmaker, announcement_id)}
    await set_outbox(sessionmaker, rows[org.rina], **sent(NOW))
    await set_outbox(sessionmaker, rows[org.yusuf], **failed("Forbidden: user is deactivated"))
    async with sessionmaker() as session:
        found = await AnnouncementRepository(session).recipients(announcement_id)
    assert [(r.unit, r.name, r.state) for r in found] == [
        ("BKPSDM", "Zainal Arifin", "pending"),
        ("Dinas Kesehatan", "Nur Aini", "pending"),
        ("Dinas Perhubungan", "Rina Marlina", "sent"),
        ("Dinas Perhubungan", "Sari Dewi", "unreachable"),
        ("Dinas Perhubungan", "Wati", "not_linked"),
        ("Dinas Perhubungan", "Yusuf Datuak", "failed"),
    ]
    by_name = {r.name: r for r in found}
    assert by_name["Rina Marlina"].nip == org.nips[org.rina]
    assert by_name["Rina Marlina"].sent_at == NOW
    assert by_name["Yusuf Datuak"].error == "Forbidden: user is deactivated"
    assert by_name["Wati"].sent_at is None and by_name["Wati"].error is None
    assert not any(r.resent for r in found)


# --------------------------------------------------------------------------- enqueue_many
async def test_enqueue_many_is_idempotent(sessionmaker, org):
    payload = {"photo": {"file_id": "AgAC-photo"}, "caption": "Apel pagi"}
    recipients = [("a:1", RINA_CHAT, org.rina), ("a:2", NUR_CHAT, org.nur)]
    due = NOW + dt.timedelta(hours=2)
    async with sessionmaker() as session, session.begin():
        first = await OutboxRepository(session).enqueue_many(
            recipients, payload, kind="announcement", not_before=due
        )
    assert set(first) == {"a:1", "a:2"}
    async with sessionmaker() as session, session.begin():
        again = await OutboxRepository(session).enqueue_many(
            recipients, payload, kind="announcement", not_before=due
        )
        mixed = await OutboxRepository(session).enqueue_many(
            [("a:2", NUR_CHAT, org.nur), ("a:3", HR_CHAT, org.hr)], payload, kind="announcement"
        )
        assert await OutboxRepository(session).enqueue_many([], payload, kind="x") == {}
    assert again == {}
    assert list(mixed) == ["a:3"]
    rows = await outbox_rows(sessionmaker)
    assert [(r.idempotency_key, r.id) for r in rows[:2]] == sorted(first.items())
    assert [r.idempotency_key for r in rows] == ["a:1", "a:2", "a:3"]
    assert rows[0].not_before == due and rows[0].payload == payload


async def test_enqueue_many_validates_the_payload(sessionmaker, org):
    async with sessionmaker() as session:
        repository = OutboxRepository(session)
        with pytest.raises(ValueError):
            await repository.enqueue_many([("b:1", RINA_CHAT, org.rina)], {"text": ""}, kind="x")
        with pytest.raises(ValueError, match="does not go with"):
            await repository.enqueue_many(
                [("b:1", RINA_CHAT, org.rina)],
                {"text": "Hai", "caption_entities": [{"type": "bold", "offset": 0, "length": 1}]},
                kind="x",
            )
        with pytest.raises(ValueError, match="exclude each other"):
            await repository.enqueue_many(
                [("b:1", RINA_CHAT, org.rina)],
                {
                    "text": "Hai",
                    "parse_mode": "HTML",
                    "entities": [{"type": "bold", "offset": 0, "length": 1}],
                },
                kind="x",
            )
