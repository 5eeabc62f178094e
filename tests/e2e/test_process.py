"""The bot as an operator starts it: `python run_bot.py run` against the emulator."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.emulator import RunningEmulator
from tests.support.telegram import TOKEN

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
USER = 6670001


async def test_run_migrates_polls_answers_and_stops_on_sigterm(
    emulator: RunningEmulator, tmp_path: Path
):
    database = tmp_path / "fresh" / "bot.db"  # not migrated yet: `run` must do it
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": f"sqlite:///{database}",
        "TELEGRAM_BASE_URL": emulator.base_url,
    }
    env.pop("TELEGRAM_BASE_FILE_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "run_bot.py"),
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await emulator.client.create_user(USER, "Nurhayati")
        await emulator.client.send_text(USER, "/start")
        reply = await emulator.client.wait_for_bot_message(USER, timeout=30)
        assert "Selamat datang" in reply["plain_text"]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    log = output.decode()
    assert process.returncode == 0, log
    assert "Traceback" not in log
    assert database.exists()
    assert await emulator.client.updates() == []  # the update was confirmed
