"""Benchmark: the outbox sender against the local Bot API emulator (prints a table, no asserts).

Two runs per database, each over N messages (default 3,000) to 300 chats:

(a) the emulator capped at 30 messages/s overall (``set_rate_limit``, 429 above it) and the
    sender set to ``--capped-rate`` (default 30) overall, 1/s per chat (Telegram's limit; with
    300 chats it is never the bottleneck): achieved rate / cap (goal >= 0.95) and the 429s the
    emulator answered (goal 0);
(b) no cap anywhere (the sender's rates set very high): the sender's own ceiling in
    messages/s (goal >= 300/s, so it is never the bottleneck) and its peak RSS.

    .venv/bin/python bench/delivery_bench.py [--messages 3000] [--database-url URL ...]

Without ``--database-url`` it runs on a temporary SQLite file and, if reachable, on the
PostgreSQL at ``postgresql://postgres@127.0.0.1:5432/test`` (in a scratch database it creates
and drops, as ``bench/import_bench.py`` does). The emulator runs in its own process
(``python -m bot.emulator``) and every sender run in a fresh process, so neither the
emulator's CPU nor the set-up skews the sender and the peak RSS is that run's alone. Rates are
measured on the emulator's call log: successful sends between the first and the last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.import_bench import (  # noqa: E402
    ScratchDatabase,
    default_database_urls,
    peak_rss_mb,
    run_child,
)

CHATS = 300
FIRST_CHAT = 8100001
CAP = 30.0
RATIO_GOAL = 0.95
CEILING_GOAL = 300.0
# The sender's rates in the capped runs: at the cap itself, and just under it (the emulator's
# cap is a strict sliding window: a send a few ms late lets two others in one second).
CAPPED_RATES = (30.0, 29.5)
UNLIMITED = 1_000_000.0  # "no limit" for the sender's pacer, in sends per second
# Any token of Telegram's shape is accepted by the emulator.
TOKEN = "123456789:AAHbenchmarkBenchmarkBenchmark12345"
SEND_METHODS = {"sendMessage", "sendPhoto", "sendDocument"}


# --- the sender, in a child process ---------------------------------------------------------
def child_send(
    database_url: str, root: str, global_rate: float, per_chat_rate: float
) -> dict[str, Any]:
    """Run a :class:`Sender` until the outbox is drained; seconds, counts, peak RSS."""
    from sqlalchemy import text

    from bot.delivery import Sender, delivery_bot
    from storage.db import create_engine, create_sessionmaker
    from storage.repositories.outbox import OutboxRepository

    async def run() -> dict[str, Any]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:  # connect before the clock starts
                await connection.execute(text("SELECT 1"))
            sessionmaker = create_sessionmaker(engine)
            bot = delivery_bot(TOKEN, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot")
            await bot.request.initialize()
            sender = Sender(
                sessionmaker,
                global_rate=global_rate,
                per_chat_rate=per_chat_rate,
                poll_interval=0.05,
                owner="bench",
            )
            started = time.perf_counter()
            sender.start(bot, owns_bot=True)
            while True:
                await asyncio.sleep(0.1)
                async with sessionmaker() as session:
                    counts = await OutboxRepository(session).counts_by_status()
                if counts["pending"] + counts["sending"] == 0:
                    break
            seconds = time.perf_counter() - started
            await sender.stop()
        finally:
            await engine.dispose()
        return {"seconds": seconds, "counts": counts}

    outcome = asyncio.run(run())
    outcome["rss_mb"] = peak_rss_mb()
    return outcome


# --- the emulator, in its own process -------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def emulator_process(log: Path) -> Iterator[str]:
    """``python -m bot.emulator`` on a free port; yields its root URL."""
    import httpx

    port = free_port()
    root = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.emulator", "--port", str(port)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{root}/_emulator/health", timeout=1, trust_env=False).is_success:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield root
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def prepare(
    root: str, database_url: str, messages: int, label: str, cap: float | None
) -> None:
    """A fresh emulator state (300 users, the cap or none) and ``messages`` due rows."""
    from bot.emulator.client import EmulatorClient
    from storage.db import create_engine, create_sessionmaker
    from storage.models import utcnow
    from storage.repositories.outbox import OutboxRepository

    async with EmulatorClient(root) as client:
        await client.reset()
        for n in range(CHATS):
            await client.create_user(FIRST_CHAT + n, f"Pegawai {n}")
        await client.set_rate_limit(global_per_second=cap)
        await client.clear_calls()
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            repo = OutboxRepository(session)
            now = utcnow()
            for n in range(messages):
                chat = FIRST_CHAT + n % CHATS
                await repo.enqueue(
                    f"{label}:{n}",
                    chat,
                    {"text": f"Pengumuman {n} untuk pegawai {chat}"},
                    kind="bench",
                    not_before=now,
                )
    finally:
        await engine.dispose()


async def send_log(root: str) -> list[dict[str, Any]]:
    from bot.emulator.client import EmulatorClient

    async with EmulatorClient(root, timeout=120) as client:
        return [c for c in await client.calls() if c["method"] in SEND_METHODS]


def measure(
    root: str, database_url: str, messages: int, label: str, cap: float | None, rate: float
) -> dict[str, Any]:
    asyncio.run(prepare(root, database_url, messages, label, cap))
    per_chat = 1.0 if cap else UNLIMITED
    outcome = run_child(database_url, root, str(rate), str(per_chat), script=__file__)
    calls = asyncio.run(send_log(root))
    ok = sorted(c["time"] for c in calls if c["status"] == 200)
    span = ok[-1] - ok[0] if len(ok) > 1 else 0.0
    outcome.update(
        delivered=len(ok),
        too_many=sum(1 for c in calls if c["status"] == 429),
        rate=(len(ok) - 1) / span if span > 0 else float("nan"),
        wall_rate=len(ok) / outcome["seconds"],
    )
    return outcome


# --- main -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3_000, help="per run (default 3000)")
    parser.add_argument("--database-url", action="append", dest="urls")
    parser.add_argument(
        "--capped-rate",
        type=float,
        action="append",
        dest="capped_rates",
        help="the sender's overall rate in a capped run (repeatable; default: "
        f"{', '.join(f'{r:g}' for r in CAPPED_RATES)}: the cap itself, and just under it)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        database_url, root, rate, per_chat = args.child
        print(json.dumps(child_send(database_url, root, float(rate), float(per_chat))))
        return 0

    urls = args.urls or default_database_urls()

    print(
        f"{args.messages} messages to {CHATS} chats per run; emulator in its own process, "
        "every sender run in a fresh process"
    )
    header = (
        f"{'database':<11} {'run':<27} {'sent':>5} {'wall s':>7} {'msg/s':>7} "
        f"{'measure':>13} {'goal':>9} {'':>4} {'429s':>5} {'goal':>4} {'':>4} {'RSS':>6}"
    )
    lines = []
    with tempfile.TemporaryDirectory(prefix="delivery-bench-") as tmp:
        folder = Path(tmp)
        with emulator_process(folder / "emulator.log") as root:
            for url in urls:
                with ScratchDatabase(url, folder) as database:
                    runs = [
                        (
                            f"cap {CAP:g}/s, sender {rate:g}/s",
                            True,
                            measure(root, database.url, args.messages, f"c{rate}", CAP, rate),
                        )
                        for rate in args.capped_rates or CAPPED_RATES
                    ]
                    free = measure(root, database.url, args.messages, "free", None, UNLIMITED)
                    runs.append(("no cap (sender ceiling)", False, free))
                for name, capped, outcome in runs:
                    if capped:
                        value = outcome["rate"] / CAP
                        shown, goal = f"{value:.3f} of cap", f">= {RATIO_GOAL}"
                        met = value >= RATIO_GOAL
                    else:
                        value = outcome["rate"]
                        shown, goal = f"{value:.0f}/s", f">= {CEILING_GOAL:g}/s"
                        met = value >= CEILING_GOAL
                    clean = outcome["too_many"] == 0
                    lines.append(
                        f"{database.label:<11} {name:<27} {outcome['delivered']:>5} "
                        f"{outcome['seconds']:>7.1f} {outcome['rate']:>7.1f} {shown:>13} "
                        f"{goal:>9} {'ok' if met else 'MISS':>4} {outcome['too_many']:>5} "
                        f"{'0':>4} {'ok' if clean else 'MISS':>4} {outcome['rss_mb']:>4.0f}MB"
                    )
                    unsent = {k: v for k, v in outcome["counts"].items() if v and k != "sent"}
                    if unsent or outcome["delivered"] != args.messages:
                        lines.append(f"{'':<11} not all sent: {outcome['counts']}")
    print(header)
    print("\n".join(lines))
    print(
        "msg/s = successful sends between the first and the last, from the emulator's call "
        "log; wall s = the sender process from start to an empty outbox; RSS = that process's "
        "peak (ru_maxrss)."
    )
    if importlib.util.find_spec("sniffio") is None:
        print(
            "note: sniffio is not installed, so httpcore attempts (and fails) `import sniffio` "
            "on every request; installing it raised the ceiling by about a quarter here."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
