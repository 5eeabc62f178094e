"""``run_bot.py data export|erase``: a person's data on request, as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import func, select

from storage.models import AuditLog, Employee, Evaluation, TelegramUser
from tests.cli.test_cli import ROOT
from tests.privacy.support import RINA_CHAT, RINA_NIP, add_person

SPACED = "19860926 201505 1 001"
ENGLISH = {"DEFAULT_LANGUAGE": "en"}


def data_cli(
    *args: str, database_url: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    environment |= {"DATABASE_URL": database_url, **env}
    return subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), "data", *args],
        cwd=ROOT,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_export_to_standard_output_is_one_json_document(database_url, sessionmaker):
    await add_person(sessionmaker)
    result = data_cli("export", SPACED, database_url=database_url)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["export"]["nip"] == RINA_NIP
    assert data["employee"]["name"] == "Rina Marlina, S.E."
    assert data["telegram_accounts"] and data["evaluations"] and data["outbox_messages"]
    assert result.stderr == ""


async def test_export_to_a_file(database_url, sessionmaker, tmp_path):
    await add_person(sessionmaker)
    target = tmp_path / "rina.json"
    result = data_cli("export", RINA_NIP, "--output", str(target), database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "Data yang tersimpan tentang Rina Marlina, S.E." in result.stdout
    assert str(target) in result.stdout and "data pribadi" in result.stdout
    text = target.read_text(encoding="utf-8")
    assert text.startswith('{\n  "export"')  # indented
    assert json.loads(text)["employee"]["nip"] == RINA_NIP

    unwritable = data_cli(
        "export",
        RINA_NIP,
        "--output",
        str(tmp_path / "no" / "such" / "dir.json"),
        database_url=database_url,
    )
    assert unwritable.returncode == 1
    assert "Tidak dapat menulis" in unwritable.stderr and "Traceback" not in unwritable.stderr


def test_unknown_and_invalid_nips_are_refused_clearly(database_url):
    for action in ("export", "erase"):
        unknown = data_cli(action, "199001012015011001", database_url=database_url)
        assert unknown.returncode == 1
        assert "Tidak ada pegawai dengan NIP 199001012015011001." in unknown.stderr
        invalid = data_cli(action, "12345", database_url=database_url)
        assert invalid.returncode == 2
        assert '"12345" bukan NIP. NIP harus 18 digit' in invalid.stderr
        assert "Traceback" not in unknown.stderr + invalid.stderr
        assert unknown.stdout == invalid.stdout == ""
    english = data_cli("export", "12345x", database_url=database_url, **ENGLISH)
    assert english.returncode == 2
    assert '"12345x" is not a NIP. NIP may contain digits only.' in english.stderr


async def _linked(sessionmaker) -> int | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(Employee.telegram_user_id).where(Employee.nip == RINA_NIP)
        )


async def test_erase_asks_to_type_the_nip_and_does_nothing_otherwise(database_url, sessionmaker):
    await add_person(sessionmaker)
    refused = data_cli("erase", RINA_NIP, database_url=database_url, stdin="tidak\n")
    assert refused.returncode == 1
    assert "Untuk Rina Marlina, S.E. (198609262015051001), data berikut akan dihapus:" in (
        refused.stdout
    )
    assert "2 profil Telegram" in refused.stdout
    assert "Tetap disimpan, sebagai arsip" in refused.stdout
    assert "penilaian kinerja atas dirinya: 1" in refused.stdout
    assert "Ketik NIP untuk mengonfirmasi:" in refused.stdout
    assert "Tidak dikonfirmasi: tidak ada yang dihapus." in refused.stderr
    assert await _linked(sessionmaker) == RINA_CHAT
    no_input = data_cli("erase", RINA_NIP, database_url=database_url, stdin="")
    assert no_input.returncode == 1 and await _linked(sessionmaker) == RINA_CHAT

    confirmed = data_cli("erase", RINA_NIP, database_url=database_url, stdin=f"{SPACED}\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "Telah dihapus, untuk Rina Marlina, S.E." in confirmed.stdout
    assert "Arsip resmi tetap disimpan." in confirmed.stdout
    assert await _linked(sessionmaker) is None
    async with sessionmaker() as session:
        assert await session.get(TelegramUser, RINA_CHAT) is None
        assert await session.scalar(select(func.count()).select_from(Evaluation)) == 2
        actions = list(await session.scalars(select(AuditLog.action)))
    assert actions.count("personal_data_erased") == 1


async def test_erase_with_yes_then_again_finds_nothing_left(database_url, sessionmaker):
    await add_person(sessionmaker)
    first = data_cli("erase", RINA_NIP, "--yes", database_url=database_url, **ENGLISH)
    assert first.returncode == 0, first.stderr
    assert "Erased, for Rina Marlina, S.E. (198609262015051001):" in first.stdout
    assert "Type the NIP" not in first.stdout
    assert "- 1 unfinished conversation" in first.stdout
    second = data_cli("erase", RINA_NIP, "--yes", database_url=database_url)
    assert second.returncode == 0
    assert "Tidak ada lagi yang dapat dihapus untuk Rina Marlina, S.E." in second.stdout
    third = data_cli("erase", RINA_NIP, database_url=database_url, stdin="")
    assert third.returncode == 0 and "Tidak ada lagi" in third.stdout  # nothing to confirm
    async with sessionmaker() as session:
        erased = await session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "personal_data_erased")
        )
    assert erased == 1
