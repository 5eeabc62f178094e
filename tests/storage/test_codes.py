"""One-time activation codes: the pure helpers, issuing, redeeming (once), the printed sheet."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from bot.i18n import get_translator
from storage.exports import activation_codes_xlsx
from storage.exports.activation_codes import HEADER_ROW
from storage.models import ActivationCode, AuditLog, Employee, Unit
from storage.repositories.codes import (
    ALPHABET,
    CODE_LENGTH,
    ISSUED_ACTION,
    ActivationCodeRepository,
    IssuedCode,
    deep_link,
    expiry_at_end_of_day,
    format_code,
    generate_code,
    hash_code,
    normalize_code,
)
from tests.conftest import ON_POSTGRES
from tests.support.factories import NIP_STAFF, add_unit_with_staff

NOW = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=1)
JAKARTA = ZoneInfo("Asia/Jakarta")


# --- pure helpers ----------------------------------------------------------------------------


def test_alphabet_has_no_look_alikes():
    assert not set("01OIL") & set(ALPHABET)
    assert ALPHABET == ALPHABET.upper() and len(set(ALPHABET)) == len(ALPHABET)
    codes = {generate_code() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)


@pytest.mark.parametrize(
    "typed",
    [
        "K7MP-Q4XR",
        "k7mp-q4xr",
        " K7MP Q4XR ",
        "K7MPQ4XR",
        "k7mp_q4xr",
        "K7-MP - Q4-XR",
        "K7MP\u2013Q4XR",
    ],
)
def test_typed_forms_normalize_to_the_code(typed):
    assert normalize_code(typed) == "K7MPQ4XR"
    assert hash_code(typed) == hashlib.sha256(b"K7MPQ4XR").hexdigest()


@pytest.mark.parametrize(
    "typed", ["", "K7MP-Q4X", "K7MP-Q4XRR", "K7MP-Q4X0", "K7MP-Q4XO", "K7MPQ4X!"]
)
def test_not_a_code(typed):
    assert normalize_code(typed) is None


def test_round_trip_and_links():
    for _ in range(50):
        code = generate_code()
        shown = format_code(code)
        assert len(shown) == CODE_LENGTH + 1 and shown[4] == "-"
        assert normalize_code(shown) == code
        assert normalize_code(shown.lower().replace("-", " ")) == code
    assert format_code("k7mpq4xr") == "K7MP-Q4XR"
    assert deep_link("@BukittinggiAsnBot", "k7mp-q4xr") == (
        "https://t.me/BukittinggiAsnBot?start=K7MPQ4XR"
    )


def test_expiry_is_the_end_of_the_local_day():
    # 2 March 2026, 23:30 WIB (16:30 UTC): 14 days -> valid through 16 March, WIB.
    late = dt.datetime(2026, 3, 2, 16, 30, tzinfo=dt.UTC)
    assert expiry_at_end_of_day(14, JAKARTA, late) == dt.datetime(2026, 3, 16, 17, 0, tzinfo=dt.UTC)


# --- database --------------------------------------------------------------------------------


async def _unit_of(sessionmaker, names: list[str], *, unit: str = "Dinas Sosial") -> list[int]:
    async with sessionmaker() as session, session.begin():
        record = Unit(name=unit)
        people = [
            Employee(nip=f"1990010120150110{i:02d}", name=name, position="Pengelola", unit=record)
            for i, name in enumerate(names, start=1)
        ]
        session.add_all([record, *people])
        await session.flush()
        return [person.id for person in people]


async def _issue(sessionmaker, ids, **kwargs) -> list[IssuedCode]:
    async with sessionmaker() as session, session.begin():
        return await ActivationCodeRepository(session).issue(ids, now=NOW, **kwargs)


async def _redeem(sessionmaker, code: str, telegram_id: int, now=None) -> int | None:
    async with sessionmaker() as session, session.begin():
        return await ActivationCodeRepository(session).redeem(code, telegram_id, now=now or LATER)


async def test_only_the_hash_is_stored(sessionmaker):
    _, staff = await add_unit_with_staff(sessionmaker)
    [issued] = await _issue(sessionmaker, [staff])
    assert issued.nip == NIP_STAFF and issued.unit == "Dinas Perhubungan"
    assert issued.expires_at == NOW + dt.timedelta(days=14)
    async with sessionmaker() as session:
        rows = (await session.execute(select(ActivationCode.__table__))).mappings().all()
    assert len(rows) == 1
    row = rows[0]
    assert row["code_hash"] == hashlib.sha256(issued.code.encode()).hexdigest()
    assert row["employee_id"] == staff and row["created_by_label"] == "cli"
    flat = " ".join(str(value) for value in row.values())
    assert issued.code not in flat and format_code(issued.code) not in flat


async def test_issue_revokes_older_unused_codes_and_is_audited(sessionmaker):
    ids = await _unit_of(sessionmaker, ["Ani", "Budi", "Citra"])
    first = await _issue(sessionmaker, ids, unit="Dinas Sosial")
    second = await _issue(sessionmaker, ids[:1], actor_label="hr:42")
    assert [code.employee_id for code in first] == ids
    assert len({code.code for code in [*first, *second]}) == 4
    assert await _redeem(sessionmaker, first[0].code, 501) is None  # replaced
    assert await _redeem(sessionmaker, first[1].code, 502) == ids[1]  # others untouched
    assert await _redeem(sessionmaker, second[0].code, 501) == ids[0]
    async with sessionmaker() as session:
        revoked = await session.scalar(
            select(func.count()).where(ActivationCode.revoked_at.is_not(None))
        )
        audits = (
            await session.scalars(
                select(AuditLog).where(AuditLog.action == ISSUED_ACTION).order_by(AuditLog.id)
            )
        ).all()
    assert revoked == 1
    assert [audit.details["count"] for audit in audits] == [3, 1]
    assert audits[0].details["unit"] == "Dinas Sosial" and "nips" not in audits[0].details
    assert audits[1].details["nips"] == ["199001012015011001"]
    assert audits[1].details["actor"] == "hr:42" and audits[1].actor_label == "hr:42"


async def test_issue_for_a_large_unit(sessionmaker):
    ids = await _unit_of(sessionmaker, [f"Pegawai {i}" for i in range(60)])
    issued = await _issue(sessionmaker, ids, unit="Dinas Sosial")
    assert len(issued) == 60 and len({code.code for code in issued}) == 60


async def test_redeem_works_once(sessionmaker):
    _, staff = await add_unit_with_staff(sessionmaker)
    [issued] = await _issue(sessionmaker, [staff])
    typed = format_code(issued.code).lower()
    assert await _redeem(sessionmaker, typed, 777) == staff
    assert await _redeem(sessionmaker, issued.code, 777) is None
    assert await _redeem(sessionmaker, issued.code, 888) is None
    async with sessionmaker() as session:
        row = await session.scalar(select(ActivationCode))
    assert row is not None and row.used_by_telegram_id == 777 and row.used_at is not None


async def test_expired_code(sessionmaker):
    _, staff = await add_unit_with_staff(sessionmaker)
    [issued] = await _issue(sessionmaker, [staff], valid_for=dt.timedelta(days=3))
    after = NOW + dt.timedelta(days=3)
    assert await _redeem(sessionmaker, issued.code, 777, now=after) is None
    just_before = after - dt.timedelta(seconds=1)
    assert await _redeem(sessionmaker, issued.code, 777, now=just_before) == staff


async def test_revoked_and_wrong_codes(sessionmaker):
    _, staff = await add_unit_with_staff(sessionmaker)
    [issued] = await _issue(sessionmaker, [staff])
    async with sessionmaker() as session, session.begin():
        await session.execute(update(ActivationCode).values(revoked_at=NOW))
    assert await _redeem(sessionmaker, issued.code, 777) is None
    assert await _redeem(sessionmaker, "not a code", 777) is None
    other = next(c for c in iter(generate_code, None) if c != issued.code)
    assert await _redeem(sessionmaker, other, 777) is None
    async with sessionmaker() as session:
        assert await session.scalar(select(ActivationCode.used_at)) is None


async def test_code_of_an_employee_linked_meanwhile_does_not_work(sessionmaker):
    _, staff = await add_unit_with_staff(sessionmaker)
    [issued] = await _issue(sessionmaker, [staff])
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Employee).where(Employee.id == staff).values(telegram_user_id=999)
        )
    assert await _redeem(sessionmaker, issued.code, 777) is None


async def test_concurrent_redemptions_only_one_wins(sessionmaker):
    _, staff = await add_unit_with_staff(sessionmaker)
    [issued] = await _issue(sessionmaker, [staff])

    async def second_redemption() -> int | None:
        async with sessionmaker() as session, session.begin():
            # On PostgreSQL it is seen as valid before trying: only the conditional UPDATE can
            # refuse it. SQLite starts every transaction with the write lock, so it waits here.
            seen_unused = await session.scalar(select(ActivationCode.used_at)) is None
            assert seen_unused is ON_POSTGRES
            return await ActivationCodeRepository(session).redeem(issued.code, 222, now=LATER)

    async with sessionmaker() as first, first.begin():
        assert await ActivationCodeRepository(first).redeem(issued.code, 111, now=LATER) == staff
        racing = asyncio.create_task(second_redemption())
        await asyncio.sleep(0.3)
        # The first redemption is not committed yet: the second one waits for it.
        assert not racing.done()
    assert await racing is None
    async with sessionmaker() as session:
        rows = (await session.execute(select(ActivationCode.used_by_telegram_id))).all()
    assert rows == [(111,)]


async def test_linked_and_inactive_employees_get_no_code(sessionmaker):
    boss, staff = await add_unit_with_staff(sessionmaker, supervisor_telegram_id=4242)
    async with sessionmaker() as session, session.begin():
        repository = ActivationCodeRepository(session)
        roster = await repository.employees_for_unit("  dinas   PERHUBUNGAN ")
        assert roster is not None and roster.unit == "Dinas Perhubungan"
        assert [c.employee_id for c in roster.eligible] == [staff]
        assert [c.employee_id for c in roster.linked] == [boss]
        assert await repository.issue([boss]) == []
        issued = await repository.issue([boss, staff])
        assert [code.employee_id for code in issued] == [staff]
        await session.execute(update(Employee).where(Employee.id == staff).values(active=False))
        assert await repository.issue([staff]) == []
        candidate = await repository.employee_by_nip(NIP_STAFF)
        assert candidate is not None and not candidate.active and not candidate.eligible
        assert await repository.employee_by_nip("199901012020011001") is None
        roster = await repository.employees_for_unit("Dinas Perhubungan")
        assert roster is not None and [c.employee_id for c in roster.employees] == [boss]
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ActivationCode)) == 1


async def test_unknown_unit_and_suggestions(sessionmaker):
    await add_unit_with_staff(sessionmaker)
    await _unit_of(sessionmaker, ["Ani"], unit="Dinas Kesehatan")
    async with sessionmaker() as session:
        repository = ActivationCodeRepository(session)
        assert await repository.employees_for_unit("Dinas Perhubungn") is None
        assert await repository.unit_suggestions("Dinas Perhubungn") == ["Dinas Perhubungan"]
        assert await repository.unit_suggestions("kesehatan") == ["Dinas Kesehatan"]
        assert await repository.unit_suggestions("Satpol PP") == []


# --- the printed sheet -----------------------------------------------------------------------


def _sheet_rows(data: bytes) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(data)).active
    return list(sheet.iter_rows(values_only=True))


def test_sheet_with_links():
    expires = expiry_at_end_of_day(14, JAKARTA, NOW)
    codes = [
        IssuedCode(
            1, "198609262015051001", "=Rina", "Analis", "Dinas Perhubungan", "K7MPQ4XR", expires
        )
    ]
    data = activation_codes_xlsx(
        codes, translator=get_translator("id"), bot_username="@AsnBot", today=NOW.date()
    )
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook.active
    rows = _sheet_rows(data)
    assert "Dinas Perhubungan" in rows[0][0] and "2 Maret 2026" in rows[0][0]
    assert "@AsnBot" in rows[1][0]
    assert len(rows[HEADER_ROW - 1]) == 8
    assert rows[HEADER_ROW] == (
        1,
        "=Rina",
        "198609262015051001",
        "Analis",
        "Dinas Perhubungan",
        "K7MP-Q4XR",
        "16 Maret 2026",
        "https://t.me/AsnBot?start=K7MPQ4XR",
    )
    code_cell = sheet.cell(row=HEADER_ROW + 1, column=6)
    assert code_cell.font.name == "Courier New" and code_cell.font.sz >= 14
    assert sheet.cell(row=HEADER_ROW + 1, column=2).data_type == "s"  # never a formula
    assert sheet.cell(row=HEADER_ROW + 1, column=8).hyperlink.target.endswith("K7MPQ4XR")
    assert sheet.page_setup.fitToWidth == 1 and sheet.sheet_properties.pageSetUpPr.fitToPage


def test_sheet_without_links_and_with_odd_expiry():
    codes = [IssuedCode(1, "1", "Rina", "", "Dinas Sosial", "K7MPQ4XR", NOW)]
    rows = _sheet_rows(
        activation_codes_xlsx(codes, translator=get_translator("en"), bot_username=None)
    )
    assert len(rows[HEADER_ROW - 1]) == 7
    assert "https" not in " ".join(str(value) for row in rows for value in row)
    assert rows[HEADER_ROW][6] == get_translator("en").datetime(NOW)
