"""``run_bot.py coba``: a real process with no token serves the chat page on the demo data,
answers as the bot, and stops cleanly on Ctrl+C (SIGINT) and SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
RIZKY = 880_000_001  # the ASN in the middle of a mutation (bot.tryout.PERSONAS)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def spawn(database: Path, port: int, **pipes: int) -> asyncio.subprocess.Process:
    """``run_bot.py coba`` as a person runs it: no token, no DATABASE_URL."""
    environment = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "run_bot.py"),
        "coba",
        "--port",
        str(port),
        "--database",
        str(database),
        cwd=ROOT,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=pipes.get("stderr", asyncio.subprocess.STDOUT),
    )


async def start(database: Path, port: int) -> tuple[asyncio.subprocess.Process, str]:
    process = await spawn(database, port)
    assert process.stdout is not None
    printed: list[str] = []
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), 120)).decode()
        assert line, "the process ended early:\n" + "".join(printed)
        printed.append(line)
        if "http://" in line:
            return process, line


async def stop(process: asyncio.subprocess.Process, signum: int) -> tuple[int, str]:
    process.send_signal(signum)
    assert process.stdout is not None
    rest = await asyncio.wait_for(process.stdout.read(), 60)
    return await asyncio.wait_for(process.wait(), 60), rest.decode()


async def test_coba_serves_the_page_and_the_bot_without_a_token(tmp_path):
    database = tmp_path / "coba.db"
    port = free_port()
    process, line = await start(database, port)
    url = f"http://127.0.0.1:{port}"
    try:
        assert url in line  # the address is printed for the person to open
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as client:
            page = await client.get("/")
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            people = (await client.get("/coba/api/personas")).json()["personas"]
            assert [p["key"] for p in people] == [
                "asn_in_mutation",
                "supervisor",
                "hr_admin",
                "asn_new_in_unit",
            ]
            assert not any(p["linked"] for p in people)
            # The real bot answers through the emulator: /start asks for the phone number.
            await client.post("/_emulator/messages", json={"user_id": RIZKY, "text": "/start"})
            reply = None
            for _ in range(200):
                found = await client.get(f"/_emulator/chats/{RIZKY}/messages")
                bot = [m for m in found.json()["messages"] if m["from_bot"]]
                if bot:
                    reply = bot[-1]
                    break
                await asyncio.sleep(0.1)
            assert reply is not None, "the bot did not answer /start"
            keyboard = reply["reply_markup"]["keyboard"]
            assert keyboard[0][0].get("request_contact") is True
    finally:
        code, rest = await stop(process, signal.SIGINT)
    assert code == 0, rest
    assert "Traceback" not in rest
    assert database.exists()


async def test_coba_keeps_its_database_and_stops_on_sigterm(tmp_path):
    database = tmp_path / "coba.db"
    port = free_port()
    process, _ = await start(database, port)
    code, rest = await stop(process, signal.SIGTERM)
    assert code == 0 and "Traceback" not in rest, rest
    employees = employee_count(database)
    assert employees >= 100
    # A second start finds the demo data there and does not load it again.
    process, _ = await start(database, port)
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
            people = (await client.get(f"http://127.0.0.1:{port}/coba/api/personas")).json()
        assert len(people["personas"]) == 4
    finally:
        code, rest = await stop(process, signal.SIGTERM)
    assert code == 0, rest
    assert employee_count(database) == employees


def employee_count(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return connection.execute("SELECT count(*) FROM employees").fetchone()[0]


async def test_a_port_in_use_is_said_plainly(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await spawn(tmp_path / "coba.db", port, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 1
    assert f"127.0.0.1:{port}" in err.decode() and "--port" in err.decode()
    assert "Traceback" not in err.decode() + out.decode()
