"""Shared helpers for the trainings tests (layer 2 and end to end)."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.request import RequestData

from storage.models import (
    Draft,
    Employee,
    OutboxMessage,
    Training,
    TrainingParticipant,
    Unit,
    utcnow,
)
from tests.storage.importing import pns_nip
from tests.support.factories import add_unit_with_staff
from tests.support.telegram import BOT_USER, Call, CapturingRequest

Maker = async_sessionmaker[AsyncSession]


class DocumentCapturingRequest(CapturingRequest):
    """``CapturingRequest`` that also keeps the files the bot sends (name, bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.uploaded: list[tuple[str, bytes]] = []

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, *args: Any, **kw: Any
    ) -> tuple[int, bytes]:
        if url.endswith("/sendDocument"):
            assert request_data is not None
            params = dict(request_data.parameters)
            self.calls.append(Call("sendDocument", params))
            for name, content, *_ in request_data.multipart_data.values():
                self.uploaded.append((name, content))
            result = {
                "message_id": 4242,
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT_USER,
                "document": {"file_id": "BQAC-attendance", "file_unique_id": "attendance"},
            }
            return 200, json.dumps({"ok": True, "result": result}).encode()
        return await super().do_request(url, method, request_data, *args, **kw)


# --------------------------------------------------------------------------- people
@dataclass(frozen=True)
class People:
    hr: int  # employee ids
    staff: int
    other: int  # linked, in another unit, not in the trainings made by add_training
    unlinked: int  # in the other unit, no Telegram account
    other_unit: int
    other_unit_name: str = "Dinas Kesehatan"


HR_CHAT = 7710001
ASN_CHAT = 7710002
OTHER_CHAT = 7710003
OTHER_NIP = pns_nip(1)
UNLINKED_NIP = pns_nip(2)


async def add_people(
    sessionmaker: Maker,
    *,
    hr_chat: int = HR_CHAT,
    asn_chat: int = ASN_CHAT,
    other_chat: int = OTHER_CHAT,
    staff_name: str = "Rina Marlina, S.E.",
) -> People:
    """Dinas Perhubungan: the head (an HR admin) and one staff member; Dinas Kesehatan: one
    linked and one unlinked employee."""
    hr, staff = await add_unit_with_staff(
        sessionmaker,
        staff_name=staff_name,
        staff_telegram_id=asn_chat,
        supervisor_telegram_id=hr_chat,
        supervisor_is_hr_admin=True,
    )
    async with sessionmaker() as session, session.begin():
        unit = Unit(name="Dinas Kesehatan")
        other = Employee(nip=OTHER_NIP, name="Andi Saputra", unit=unit, telegram_user_id=other_chat)
        unlinked = Employee(nip=UNLINKED_NIP, name="Budi Santoso", unit=unit)
        session.add_all([unit, other, unlinked])
        await session.flush()
        return People(hr, staff, other.id, unlinked.id, unit.id)


async def add_training(
    sessionmaker: Maker,
    participants: list[int],
    *,
    code: str = "DIK-1",
    title: str = "Pelatihan Pelayanan Publik",
    starts_in: dt.timedelta = dt.timedelta(days=3),
    hours: float = 8,
    place: str = "Aula Balai Kota",
    online_link: str | None = None,
    cancelled: bool = False,
    attendance: dict[int, str] | None = None,
) -> int:
    starts_at = utcnow().replace(microsecond=0) + starts_in
    async with sessionmaker() as session, session.begin():
        training = Training(
            code=code,
            title=title,
            starts_at=starts_at,
            ends_at=starts_at + dt.timedelta(hours=hours),
            place=place,
            online_link=online_link,
            cancelled_at=utcnow() if cancelled else None,
            cancel_reason="Narasumber berhalangan" if cancelled else None,
        )
        session.add(training)
        await session.flush()
        for employee_id in participants:
            answer = (attendance or {}).get(employee_id, "unknown")
            session.add(
                TrainingParticipant(
                    training_id=training.id,
                    employee_id=employee_id,
                    attendance=answer,
                    responded_at=utcnow() if answer != "unknown" else None,
                    absence_reason="Sakit" if answer == "tidak_hadir" else None,
                )
            )
        return training.id


async def answers(sessionmaker: Maker, training_id: int) -> dict[int, tuple[str, str | None]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(
                TrainingParticipant.employee_id,
                TrainingParticipant.attendance,
                TrainingParticipant.absence_reason,
            ).where(TrainingParticipant.training_id == training_id)
        )
        return {employee_id: (attendance, reason) for employee_id, attendance, reason in rows}


async def outbox(sessionmaker: Maker, prefix: str = "") -> dict[str, OutboxMessage]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.idempotency_key.like(f"{prefix}%"))
            .order_by(OutboxMessage.id)
        )
        return {row.idempotency_key: row for row in rows}


async def drafts(sessionmaker: Maker) -> list[tuple[int, str, str]]:
    async with sessionmaker() as session:
        rows = await session.execute(select(Draft.telegram_user_id, Draft.flow, Draft.step))
        return [tuple(row) for row in rows]  # type: ignore[misc]


def buttons(params: dict[str, Any]) -> list[str]:
    """The callback data of a sent or edited message's inline keyboard."""
    markup = params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def labels(params: dict[str, Any]) -> list[str]:
    markup = params.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
