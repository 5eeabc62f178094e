"""A hand-made organisation with evaluations in two periods, for HR's reports and /kinerja.

Dinas Perhubungan: Boss A (linked, no supervisor) rates a1, a2, a3 and a4 (inactive), and
Boss B. Bappeda: Boss B (unlinked, rated by Boss A) rates b1 and b2. BKPSDM: the HR admin
(no supervisor, rates nobody). Expected to be rated (active, with a supervisor): Perhubungan
a1, a2, a3 = 3; Bappeda Boss B, b1, b2 = 3.

``LOCKED`` (last month, status locked):
    a1 submitted Baik · a2 submitted Sangat Kurang (feedback "=HYPERLINK(…)") · a3 draft ·
    Boss B submitted Sangat Baik · b1 submitted Baik (by Boss B) · b2 nothing ·
    a4 (inactive) submitted Kurang.
    → Perhubungan 2/3, Bappeda 2/3; pending: Boss A 1 of 4, Boss B 1 of 2;
      distribution Baik 2, Sangat Baik 1, Sangat Kurang 1, Kurang 1; 6 rows.
``OPEN`` (this month, status open, the real window):
    a1 submitted Sangat Baik; the rest pending → Boss A 3 of 4, Boss B 2 of 2.

Periods are built relative to today (WIB), so nothing depends on the date the tests run.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.request import RequestData

from bot.rules.periods import add_months, period_window
from bot.rules.skp import BERAKHLAK
from storage.models import (
    Employee,
    Evaluation,
    EvaluationPeriod,
    OutboxMessage,
    Unit,
    utcnow,
)
from tests.storage.importing import pns_nip
from tests.support.telegram import BOT_USER, Call, CapturingRequest

Maker = async_sessionmaker[AsyncSession]
WIB = ZoneInfo("Asia/Jakarta")

HR_CHAT = 8810001
BOSS_A_CHAT = 8810002
A1_CHAT = 8810003
B1_CHAT = 8810004
ASN_CHAT = A1_CHAT
INJECTION = '=HYPERLINK("http://evil.example","klik")'


def wib_today() -> dt.date:
    return utcnow().astimezone(WIB).date()


@dataclass(frozen=True)
class Org:
    hr: int
    boss_a: int
    boss_b: int
    a1: int
    a2: int
    a3: int
    a4: int
    b1: int
    b2: int
    locked: int  # period ids
    open: int
    locked_key: str
    open_key: str


def _ratings(value: str) -> dict[str, str]:
    return dict.fromkeys(BERAKHLAK, value)


async def add_org(sessionmaker: Maker, *, today: dt.date | None = None) -> Org:
    today = today or wib_today()
    with_rating = {
        "baik": ("sesuai", "sesuai"),
        "sangat_baik": ("di_atas", "di_atas"),
        "sangat_kurang": ("di_bawah", "di_bawah"),
        "kurang": ("sesuai", "di_bawah"),
    }
    async with sessionmaker() as session, session.begin():
        dishub, bappeda, bkpsdm = (
            Unit(name="Dinas Perhubungan"),
            Unit(name="Bappeda"),
            Unit(name="BKPSDM"),
        )
        hr = Employee(
            nip=pns_nip(0),
            name="Hj. Nurhayati, S.IP.",
            position="Kepala Bidang",
            unit=bkpsdm,
            role="hr_admin",
            telegram_user_id=HR_CHAT,
        )
        boss_a = Employee(
            nip=pns_nip(1),
            name="Ir. Yusuf Datuak Rajo Mudo",
            position="Kepala Dinas Perhubungan",
            unit=dishub,
            telegram_user_id=BOSS_A_CHAT,
        )
        boss_b = Employee(
            nip=pns_nip(2),
            name="Dra. Fitri <Yanti>",
            position="Kepala Bappeda",
            unit=bappeda,
            supervisor=boss_a,
        )
        a1 = Employee(
            nip=pns_nip(3),
            name="Rina Marlina, S.E.",
            position="Analis Transportasi",
            unit=dishub,
            supervisor=boss_a,
            telegram_user_id=A1_CHAT,
        )
        a2 = Employee(nip=pns_nip(4), name="Andi Saputra", position="Pengemudi", unit=dishub,
                      supervisor=boss_a)  # fmt: skip
        a3 = Employee(nip=pns_nip(5), name="Budi Santoso", position="Pengatur", unit=dishub,
                      supervisor=boss_a)  # fmt: skip
        a4 = Employee(nip=pns_nip(6), name="Cici Purnama", position="Pengatur", unit=dishub,
                      supervisor=boss_a, active=False)  # fmt: skip
        b1 = Employee(
            nip=pns_nip(7),
            name="Dedi Kurniawan",
            position="Perencana",
            unit=bappeda,
            supervisor=boss_b,
            telegram_user_id=B1_CHAT,
        )
        b2 = Employee(nip=pns_nip(8), name="Euis Sartika", position="Perencana", unit=bappeda,
                      supervisor=boss_b)  # fmt: skip
        session.add_all([dishub, bappeda, bkpsdm, hr, boss_a, boss_b, a1, a2, a3, a4, b1, b2])

        last = add_months(today.year, today.month, -1)
        locked = EvaluationPeriod(
            year=last[0],
            month=last[1],
            opens_on=dt.date(*last, 1),
            closes_on=dt.date(today.year, today.month, 1) - dt.timedelta(days=1),
            status="locked",
        )
        window = period_window(today.year, today.month)
        opened = EvaluationPeriod(
            year=today.year,
            month=today.month,
            opens_on=window.opens_on,
            closes_on=window.closes_on,
            status="open",
        )
        session.add_all([locked, opened])
        await session.flush()
        submitted_at = dt.datetime(*last, 20, 2, 30, tzinfo=dt.UTC)  # 09.30 WIB

        def evaluation(
            period: EvaluationPeriod,
            who: Employee,
            by: Employee,
            predicate: str | None,
            feedback: str | None = None,
        ) -> Evaluation:
            if predicate is None:  # a draft, two answers in
                return Evaluation(
                    period_id=period.id,
                    employee_id=who.id,
                    evaluator_id=by.id,
                    status="draft",
                    work_result="sesuai",
                    behaviour_ratings={BERAKHLAK[0]: "sesuai"},
                    current_step=BERAKHLAK[1],
                )
            work, behaviour = with_rating[predicate]
            return Evaluation(
                period_id=period.id,
                employee_id=who.id,
                evaluator_id=by.id,
                status="submitted",
                work_result=work,
                behaviour_ratings=_ratings(behaviour),
                behaviour=behaviour,
                predicate=predicate,
                feedback=feedback,
                submitted_at=submitted_at,
            )

        session.add_all(
            [
                evaluation(locked, a1, boss_a, "baik", "Pertahankan & tingkatkan <kinerja>."),
                evaluation(locked, a2, boss_a, "sangat_kurang", INJECTION),
                evaluation(locked, a3, boss_a, None),
                evaluation(locked, boss_b, boss_a, "sangat_baik"),
                evaluation(locked, b1, boss_b, "baik", "Rapi."),
                evaluation(locked, a4, boss_a, "kurang"),
                evaluation(opened, a1, boss_a, "sangat_baik"),
            ]
        )
        await session.flush()
        return Org(
            hr=hr.id,
            boss_a=boss_a.id,
            boss_b=boss_b.id,
            a1=a1.id,
            a2=a2.id,
            a3=a3.id,
            a4=a4.id,
            b1=b1.id,
            b2=b2.id,
            locked=locked.id,
            open=opened.id,
            locked_key=f"{last[0]:04d}-{last[1]:02d}",
            open_key=f"{today.year:04d}-{today.month:02d}",
        )


async def outbox(sessionmaker: Maker) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


class MediaCapturingRequest(CapturingRequest):
    """``CapturingRequest`` that also answers ``sendDocument`` / ``sendPhoto`` and keeps the
    files sent: ``uploaded`` holds (method, file name, bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.uploaded: list[tuple[str, str, bytes]] = []

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, *args: Any, **kw: Any
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        if api_method not in ("sendDocument", "sendPhoto"):
            return await super().do_request(url, method, request_data, *args, **kw)
        assert request_data is not None
        params = dict(request_data.parameters)
        self.calls.append(Call(api_method, params))
        for name, content, *_ in request_data.multipart_data.values():
            self.uploaded.append((api_method, name, content))
        chart = {"file_id": "AgAC-chart", "file_unique_id": "chart", "width": 9, "height": 7}
        media: dict[str, Any] = (
            {"document": {"file_id": "BQAC-report", "file_unique_id": "report"}}
            if api_method == "sendDocument"
            else {"photo": [chart]}
        )
        result = {
            "message_id": 4343,
            "date": int(time.time()),
            "chat": {"id": int(params["chat_id"]), "type": "private"},
            "from": BOT_USER,
            **media,
        }
        return 200, json.dumps({"ok": True, "result": result}).encode()
