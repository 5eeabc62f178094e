"""The command line as HR and operators use it: real processes, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.models import AuditLog, Employee
from tests.support.factories import NIP_STAFF, add_unit_with_staff

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, database_url: str | None = None, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    if database_url:
        environment["DATABASE_URL"] = database_url
    environment.update(env)
    return subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_lists_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("run", "db", "import", "demo", "admin"):
        assert command in result.stdout


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_missing_or_malformed_token_is_one_clear_sentence(token, tmp_path):
    env = {"BOT_TOKEN": token} if token else {}
    result = run_cli("run", database_url=f"sqlite:///{tmp_path}/x.db", **env)
    assert result.returncode == 2
    assert "@BotFather" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_default_command_is_run(tmp_path):
    result = run_cli(database_url=f"sqlite:///{tmp_path}/x.db")
    assert result.returncode == 2 and "@BotFather" in result.stderr


def test_bad_setting_is_reported_without_traceback(tmp_path):
    result = run_cli("db", "upgrade", database_url=f"sqlite:///{tmp_path}/x.db", TIMEZONE="Nowhere")
    assert result.returncode == 2
    assert "TIMEZONE" in result.stderr and "Traceback" not in result.stderr


def test_db_upgrade_creates_the_sqlite_file_under_its_folder(tmp_path):
    target = tmp_path / "nested" / "bot.db"
    result = run_cli("db", "upgrade", database_url=f"sqlite:///{target}")
    assert result.returncode == 0, result.stderr
    assert "mutakhir" in result.stdout
    assert target.exists()
    again = run_cli("db", "upgrade", database_url=f"sqlite:///{target}")
    assert again.returncode == 0


async def test_admin_add_and_remove(database_url, sessionmaker):
    await add_unit_with_staff(sessionmaker)
    spaced = "19860926 201505 1 001"
    added = run_cli("admin", "add", spaced, database_url=database_url)
    assert added.returncode == 0, added.stderr
    assert "sekarang menjadi admin" in added.stdout
    again = run_cli("admin", "add", NIP_STAFF, database_url=database_url)
    assert "sudah menjadi admin" in again.stdout
    async with sessionmaker() as session:
        employee = await session.scalar(select(Employee).where(Employee.nip == NIP_STAFF))
        assert employee is not None and employee.role == "hr_admin"
    removed = run_cli("admin", "remove", NIP_STAFF, database_url=database_url)
    assert removed.returncode == 0
    async with sessionmaker() as session:
        employee = await session.scalar(select(Employee).where(Employee.nip == NIP_STAFF))
        assert employee is not None and employee.role == "asn"
        actions = (await session.scalars(select(AuditLog.action).order_by(AuditLog.id))).all()
    assert actions == ["hr_admin_granted", "hr_admin_withdrawn"]


def test_admin_unknown_nip(database_url):
    result = run_cli("admin", "add", "199001012015011001", database_url=database_url)
    assert result.returncode == 1
    assert "Tidak ada pegawai" in result.stderr


async def test_demo_loads_once(database_url, sessionmaker):
    first = run_cli("demo", database_url=database_url)
    assert first.returncode == 0, first.stderr
    assert "Data demo dimuat" in first.stdout
    async with sessionmaker() as session:
        employees = await session.scalar(select(func.count()).select_from(Employee))
    assert employees is not None and employees >= 300
    second = run_cli("demo", database_url=database_url)
    assert second.returncode == 0
    assert "tidak dimuat" in second.stdout
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Employee)) == employees


async def test_readme_examples_import_in_order_and_are_idempotent(database_url, sessionmaker):
    examples = ROOT / "examples"
    for name in ("pegawai", "mutasi", "pelatihan"):
        result = run_cli("import", str(examples / f"{name}.csv"), database_url=database_url)
        assert result.returncode == 0, result.stderr
        assert f"Impor {name} berhasil" in result.stdout
    again = run_cli("import", str(examples / "pegawai.csv"), database_url=database_url)
    assert "0 baru, 0 diperbarui, 3 tidak berubah" in again.stdout
    async with sessionmaker() as session:
        fitri = await session.scalar(select(Employee).where(Employee.nip == "199003152022452001"))
        assert fitri is not None and fitri.employee_type == "PPPK"
        assert fitri.phone is None
        rina = await session.scalar(select(Employee).where(Employee.nip == NIP_STAFF))
        assert rina is not None and rina.phone == "6281234567890"


def test_bad_rows_are_all_reported_and_nothing_is_written(database_url, tmp_path):
    bad = tmp_path / "pegawai.csv"
    bad.write_text(
        "NIP,Nama,Jenis,Jabatan,Golongan,Unit Kerja,NIP Atasan,No HP\n"
        "198609262015051001,Rina,PNS,Analis,III/b,Dinas Sosial,,\n"
        "19860926201505100X,Budi,PNS,Analis,III/b,Dinas Sosial,,\n"
        "198609262015131002,Sari,PNS,Analis,III/b,Dinas Sosial,199901012020011001,0812\n",
        encoding="utf-8",
    )
    result = run_cli("import", str(bad), "--kind", "employees", database_url=database_url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Tidak ada data yang diimpor")
    assert any(line.strip().startswith("Baris 3, kolom NIP") for line in lines)
    assert any("Baris 4, kolom NIP:" in line for line in lines)
    assert any("Baris 4, kolom NIP Atasan" in line for line in lines)
    assert any("Baris 4, kolom No HP" in line for line in lines)
    check = run_cli("admin", "add", "198609262015051001", database_url=database_url)
    assert check.returncode == 1  # row 2 was valid but was not written either


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "kosong"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 40, "CSV"),
        (b"Nama Lengkap,Alamat\nRina,Jl. Sudirman\n", "NIP"),
    ],
)
def test_broken_files_get_a_clear_message(database_url, tmp_path, content, expected):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    result = run_cli("import", str(path), database_url=database_url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert expected in result.stderr


def test_huge_junk_file_is_refused_before_reading(database_url, tmp_path):
    path = tmp_path / "junk.xlsx"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    result = run_cli("import", str(path), database_url=database_url)
    assert result.returncode == 1
    assert "terlalu besar" in result.stderr and "Traceback" not in result.stderr


def test_missing_file(database_url, tmp_path):
    result = run_cli("import", str(tmp_path / "nope.csv"), database_url=database_url)
    assert result.returncode == 1 and "tidak ditemukan" in result.stderr


def test_unreachable_database_is_one_clear_line():
    url = "postgresql://postgres:secret@127.0.0.1:1/bot"
    result = run_cli("db", "upgrade", database_url=url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Basis data" in result.stderr and "127.0.0.1:1" in result.stderr
    assert "secret" not in result.stderr
