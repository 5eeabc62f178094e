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
