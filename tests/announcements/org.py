"""A small city for the announcement tests: three units, linked and unlinked people, one who
blocked the bot, and inactive ones (retired) who must never get anything.

Dinas Perhubungan: Yusuf (head, supervises Sari), Sari (supervisor of Rina and Wati; blocked
the bot), Rina (her only own report, Ahmad, is retired), Wati (not linked), Ahmad (retired).
BKPSDM: Zainal (HR). Dinas Kesehatan: Nur (a nurse) whose supervisor, dr. Lestari, retired.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Announcement, AnnouncementRecipient, Employee, OutboxMessage, Unit
from tests.storage.importing import pns_nip

Maker = async_sessionmaker[AsyncSession]

YUSUF_CHAT = 8810001
SARI_CHAT = 8810002
RINA_CHAT = 8810003
AHMAD_CHAT = 8810005
HR_CHAT = 8810006
NUR_CHAT = 8810007
LESTARI_CHAT = 8810008


@dataclass(frozen=True)
class Org:
    transport: int
    hr_unit: int
    health: int
    yusuf: int
    sari: int
    rina: int
    wati: int
    ahmad: int
    hr: int
    nur: int
    lestari: int
    nips: dict[int, str]  # employee id -> NIP


async def add_org(sessionmaker: Maker) -> Org:
    async with sessionmaker() as session, session.begin():
        transport = Unit(name="Dinas Perhubungan")
        hr_unit = Unit(name="BKPSDM")
        health = Unit(name="Dinas Kesehatan")
        session.add_all([transport, hr_unit, health])

        def person(n: int, name: str, unit: Unit, **values: Any) -> Employee:
            employee = Employee(nip=pns_nip(n), name=name, position="Staf", unit=unit, **values)
            session.add(employee)
            return employee

        yusuf = person(1, "Yusuf Datuak", transport, telegram_user_id=YUSUF_CHAT)
        sari = person(
            2, "Sari Dewi", transport, supervisor=yusuf, telegram_user_id=SARI_CHAT, reachable=False
        )
        rina = person(3, "Rina Marlina", transport, supervisor=sari, telegram_user_id=RINA_CHAT)
        wati = person(4, "Wati", transport, supervisor=sari)
        ahmad = person(
            5, "Ahmad", transport, supervisor=rina, telegram_user_id=AHMAD_CHAT, active=False
        )
        hr = person(6, "Zainal Arifin", hr_unit, role="hr_admin", telegram_user_id=HR_CHAT)
        lestari = person(8, "dr. Lestari", health, telegram_user_id=LESTARI_CHAT, active=False)
        nur = person(7, "Nur Aini", health, supervisor=lestari, telegram_user_id=NUR_CHAT)
        await session.flush()
        everyone = (yusuf, sari, rina, wati, ahmad, hr, nur, lestari)
        return Org(
            transport.id,
            hr_unit.id,
            health.id,
            yusuf.id,
            sari.id,
            rina.id,
            wati.id,
            ahmad.id,
            hr.id,
            nur.id,
            lestari.id,
            {employee.id: employee.nip for employee in everyone},
        )


async def outbox_rows(sessionmaker: Maker) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def recipient_rows(sessionmaker: Maker, announcement_id: int) -> list[AnnouncementRecipient]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(AnnouncementRecipient)
            .where(AnnouncementRecipient.announcement_id == announcement_id)
            .order_by(AnnouncementRecipient.employee_id)
        )
        return list(rows.all())


async def announcement_row(sessionmaker: Maker, announcement_id: int) -> Announcement:
    async with sessionmaker() as session:
        found = await session.get(Announcement, announcement_id)
        assert found is not None
        return found


async def announcements(sessionmaker: Maker) -> list[Announcement]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Announcement).order_by(Announcement.id))).all())


async def set_outbox(sessionmaker: Maker, outbox_id: int, **values: Any) -> None:
    """Put one outbox row in a state, as the sender would have."""
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(**values)
        )


def sent(at: dt.datetime) -> dict[str, Any]:
    return {"status": "sent", "sent_at": at, "telegram_message_id": 555}


def failed(reason: str = "Bad Request: chat not found") -> dict[str, Any]:
    return {"status": "failed", "last_error": reason, "attempts": 1}
