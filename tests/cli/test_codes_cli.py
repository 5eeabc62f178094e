"""``run_bot.py codes``: HR prints one-time activation codes for a unit or one NIP."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import func, select

from storage.exports.activation_codes import HEADER_ROW
from storage.models import ActivationCode, Employee, Unit
from storage.repositories.codes import ActivationCodeRepository, normalize_code
from tests.cli.test_cli import run_cli
from tests.support.factories import NIP_STAFF, NIP_SUPERVISOR, add_unit_with_staff

# Messages in English (the msgids), whatever the Indonesian catalog holds.
ENGLISH = {"DEFAULT_LANGUAGE": "en"}
CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b")
NIP_THIRD = "199203142019032004"


def _wib_today() -> str:
    return dt.datetime.now(ZoneInfo("Asia/Jakarta")).strftime("%Y%m%d")


async def _transport_unit(sessionmaker) -> dict[str, int]:
    """Dinas Perhubungan with three unlinked employees; NIP -> employee id."""
    await add_unit_with_staff(sessionmaker)
    async with sessionmaker() as session, session.begin():
        unit = await session.scalar(select(Unit).where(Unit.name == "Dinas Perhubungan"))
        assert unit is not None
        session.add(
            Employee(nip=NIP_THIRD, name="Sari Dewi", position="Pengatur Lalu Lintas", unit=unit)
        )
        await session.flush()
        rows = await session.execute(select(Employee.nip, Employee.id))
        return {nip: employee_id for nip, employee_id in rows}


def _codes_by_nip(stdout: str) -> dict[str, str]:
    found = {}
    for line in stdout.splitlines():
        nip = re.search(r"\b\d{18}\b", line)
        code = CODE.search(line)
        if nip and code:
            found[nip.group()] = code.group()
    return found


async def test_codes_for_a_unit(database_url, sessionmaker, tmp_path):
    ids = await _transport_unit(sessionmaker)
    output = tmp_path / "kode.xlsx"
    result = run_cli(
        "codes",
        "--unit",
        "dinas perhubungan",
        "--output",
        str(output),
        "--bot-username",
        "@AsnBukittinggiBot",
        database_url=database_url,
        **ENGLISH,
    )
    assert result.returncode == 0, result.stderr
    for name in ("Rina Marlina, S.E.", "Ir. Yusuf Datuak Rajo Mudo", "Sari Dewi"):
        assert name in result.stdout
    printed = _codes_by_nip(result.stdout)
    assert set(printed) == {NIP_STAFF, NIP_SUPERVISOR, NIP_THIRD}
    assert str(output) in result.stdout

    rows = list(load_workbook(output).active.iter_rows(values_only=True))
    assert "Dinas Perhubungan" in rows[0][0]
    assert "@AsnBukittinggiBot" in rows[1][0]
    header, data = rows[HEADER_ROW - 1], rows[HEADER_ROW:]
    assert header == (
        "No.",
        "Name",
        "NIP",
        "Position",
        "Work unit",
        "Activation code",
        "Valid until",
        "Link",
    )
    assert len(data) == 3
    assert [row[0] for row in data] == [1, 2, 3]
    assert {row[2]: row[5] for row in data} == printed
    for row in data:
        assert row[4] == "Dinas Perhubungan"
        assert row[7] == f"https://t.me/AsnBukittinggiBot?start={normalize_code(row[5])}"

    async with sessionmaker() as session, session.begin():
        repository = ActivationCodeRepository(session)
        for nip, code in printed.items():
            assert await repository.redeem(code, 1000 + ids[nip]) == ids[nip]
        assert await repository.redeem(printed[NIP_STAFF], 5) is None
        stored = (await session.scalars(select(ActivationCode.code_hash))).all()
    assert not any(normalize_code(code) in stored for code in printed.values())


async def test_one_nip_and_the_default_file_name(database_url, sessionmaker, tmp_path):
    await _transport_unit(sessionmaker)
    folder = tmp_path / "out"
    folder.mkdir()
    before = _wib_today()
    # A folder as --output: the file gets its default name there.
    result = run_cli(
        "codes",
        "--nip",
        "19860926 201505 1 001",
        "--output",
        str(folder),
        database_url=database_url,
        **ENGLISH,
    )
    assert result.returncode == 0, result.stderr
    assert list(_codes_by_nip(result.stdout)) == [NIP_STAFF]
    names = {f"kode-aktivasi-{NIP_STAFF}-{day}.xlsx" for day in (before, _wib_today())}
    [written] = list(folder.iterdir())
    assert written.name in names and written.name in result.stdout
    rows = list(load_workbook(written).active.iter_rows(values_only=True))
    assert [row[2] for row in rows[HEADER_ROW:]] == [NIP_STAFF]
    assert len(rows[HEADER_ROW - 1]) == 7  # no link column without the bot's username


async def test_unknown_unit_suggests_names(database_url, sessionmaker, tmp_path):
    await _transport_unit(sessionmaker)
    result = run_cli(
        "codes",
        "--unit",
        "Dinas Perhubungn",
        "--output",
        str(tmp_path / "x.xlsx"),
        database_url=database_url,
        **ENGLISH,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert '"Dinas Perhubungan"' in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "x.xlsx").exists()


async def test_already_linked_employee(database_url, sessionmaker, tmp_path):
    await add_unit_with_staff(sessionmaker, staff_telegram_id=777)
    result = run_cli(
        "codes",
        "--nip",
        NIP_STAFF,
        "--output",
        str(tmp_path / "x.xlsx"),
        database_url=database_url,
        **ENGLISH,
    )
    assert result.returncode == 1
    assert "already linked" in result.stderr and "Traceback" not in result.stderr
    unknown = run_cli("codes", "--nip", "199901012020011001", database_url=database_url, **ENGLISH)
    assert unknown.returncode == 1 and "No employee has NIP" in unknown.stderr
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ActivationCode)) == 0


async def test_unit_where_everyone_is_linked(database_url, sessionmaker, tmp_path):
    await add_unit_with_staff(sessionmaker, staff_telegram_id=777, supervisor_telegram_id=778)
    result = run_cli(
        "codes",
        "--unit",
        "Dinas Perhubungan",
        "--output",
        str(tmp_path / "x.xlsx"),
        database_url=database_url,
        **ENGLISH,
    )
    assert result.returncode == 0, result.stderr
    assert "already linked" in result.stdout
    assert not (tmp_path / "x.xlsx").exists()


async def test_linked_colleagues_are_skipped(database_url, sessionmaker, tmp_path):
    await add_unit_with_staff(sessionmaker, supervisor_telegram_id=778)
    output = tmp_path / "x.xlsx"
    result = run_cli(
        "codes",
        "--unit",
        "Dinas Perhubungan",
        "--output",
        str(output),
        database_url=database_url,
        **ENGLISH,
    )
    assert result.returncode == 0, result.stderr
    assert list(_codes_by_nip(result.stdout)) == [NIP_STAFF]
    assert "1 employee has already linked" in result.stdout


async def test_unwritable_output_makes_no_codes(database_url, sessionmaker, tmp_path):
    await add_unit_with_staff(sessionmaker)
    result = run_cli(
        "codes",
        "--nip",
        NIP_STAFF,
        "--output",
        str(tmp_path / "missing" / "x.xlsx"),
        database_url=database_url,
        **ENGLISH,
    )
    assert result.returncode == 1
    assert "Cannot write" in result.stderr and "Traceback" not in result.stderr
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ActivationCode)) == 0


def test_unit_and_nip_are_exclusive_and_one_is_required(database_url):
    both = run_cli("codes", "--unit", "X", "--nip", NIP_STAFF, database_url=database_url)
    assert both.returncode == 2 and "not allowed" in both.stderr
    neither = run_cli("codes", database_url=database_url)
    assert neither.returncode == 2
    bad_days = run_cli("codes", "--nip", NIP_STAFF, "--days", "0", database_url=database_url)
    assert bad_days.returncode == 2
