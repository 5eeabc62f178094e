"""Benchmark: ``/status`` from 1,000 linked employees at once, against a bare echo bot.

The database holds N employees (default 10,000) in the sample units, U of them (default
1,000) linked to a Telegram account; of those, 60% have one transfer (mutasi) in progress
with its stage history, 10% a cancelled one (``dibatalkan``) and one in progress, the rest
none (bulk inserts; the history counts as told already where ``notified_at`` exists). Each
of the U simulated users sends ``/status`` once, all queued in the emulator at the same
moment (``POST /_emulator/messages/batch``); per user the latency runs from that moment to
the bot's first reply in their chat, both read on the emulator's clock (the batch answer and
the call log). Throughput = replies / (last reply - the batch). Before measuring, a warm-up
of 20 users (``--warmup``) has to be answered; it also shows the bot is polling.

Three bots, each in a fresh process polling the same emulator (its own process), in turn:

* ``bot``: the real application (``bot.app.run_polling`` with ``TELEGRAM_BASE_URL`` at the
  emulator, the outbox sender and the scheduler running, ``SCHEDULER_TICK_SECONDS`` at its
  maximum so that no tick falls in the measurement), as built: replies share the outbox
  sender's budget (``SEND_RATE_GLOBAL``, under Telegram's 30 messages/s overall;
  ``bot.delivery.SharedBudgetRateLimiter``);
* ``bot, limiter lifted``: the same with that ceiling removed (a plain ``AIORateLimiter``
  without an overall limit, its retries stay), to see the bot's own per-update work
  (``--rate-limiter`` picks);
* ``echo``: a bare python-telegram-bot ``Application`` whose ``MessageHandler`` replies with
  the text, with ``concurrent_updates(True)`` as the real bot has (up to 256 updates at once)
  and no rate limiter.

The ratio bot / echo of replies per second has the goal >= 0.8; it is printed, not asserted
(the exit status is 1 only when some user got no reply within ``--timeout``). CPU ms per reply
is the bot process's CPU time (``/proc``) from the batch to the last reply, divided by the
replies. ``--profile`` runs the real bot under cProfile and prints where its time went.

    .venv/bin/python bench/status_bench.py [--users 1000] [--employees 10000]
        [--database-url URL ...] [--timeout 90] [--rate-limiter both|as-built|lifted]
        [--repeat 1] [--profile]

Without ``--database-url`` it runs on a temporary SQLite file and, if reachable, on the
PostgreSQL at ``postgresql://postgres@127.0.0.1:5432/test`` (in a scratch database it creates
and drops, as ``bench/import_bench.py`` does). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.delivery_bench import TOKEN, emulator_process  # noqa: E402
from bench.import_bench import (  # noqa: E402
    POSITIONS,
    ScratchDatabase,
    default_database_urls,
    make_rows,
    peak_rss_mb,
)

COMMAND = "/status"
FIRST_USER = 810_000_001  # Telegram ids of the linked employees: FIRST_USER, FIRST_USER + 1...
RATIO_GOAL = 0.8
SEND_METHODS = {"sendMessage", "sendPhoto", "sendDocument"}
ONE_MUTATION, TWO_MUTATIONS = 0.6, 0.1  # shares of the linked users
POLL_SECONDS = 0.5  # how often the call log is read while waiting for replies
KINDS = {
    "bot": "bot, as built",
    "lifted": "bot, limiter lifted",
    "echo": "echo (bare PTB)",
}


# --- the database ---------------------------------------------------------------------------
def _stage_history(rng: random.Random, external: bool, cancelled: bool) -> list[str]:
    """The stages a transfer went through, in order: the last is where it stands."""
    from bot.rules.stages import Stage, timeline

    path = [stage.value for stage in timeline(external)]
    if cancelled:  # cancelled at some stage before the inauguration
        stop = rng.randint(1, path.index(Stage.PELANTIKAN))
        return [*path[:stop], Stage.DIBATALKAN.value]
    stop = rng.randint(1, path.index(Stage.PELANTIKAN) + 1)  # never selesai: in progress
    history = path[:stop]
    if history[-1] == Stage.VERIFIKASI and rng.random() < 0.25:
        history.append(Stage.DIKEMBALIKAN.value)
    return history


async def seed(database_url: str, employees: int, users: int, seed: int = 2026) -> dict[str, int]:
    """Employees, linked accounts, transfers and their events, with bulk core inserts."""
    from sqlalchemy import insert, text

    from bot.rules.stages import MutationType, Stage
    from storage.db import create_engine
    from storage.demo import SAMPLE_UNITS
    from storage.models import Employee, Mutation, MutationEvent, TelegramUser, Unit, utcnow

    if users > employees:
        raise SystemExit("--users cannot exceed --employees")
    rng = random.Random(seed)
    now = utcnow()
    rows = make_rows(employees, seed)
    unit_ids = {name: n for n, name in enumerate(SAMPLE_UNITS, 1)}
    employee_ids = {row[0]: n for n, row in enumerate(rows, 1)}
    linked = dict(zip(sorted(rng.sample(range(employees), users)), range(users), strict=True))

    units = [{"id": n, "name": name} for name, n in unit_ids.items()]
    people, telegram_users = [], []
    for index, (nip, name, kind, position, rank, unit, boss, phone, *_planning) in enumerate(rows):
        person: dict[str, Any] = {
            "id": index + 1,
            "nip": nip,
            "name": name,
            "employee_type": kind,
            "position": position,
            "rank": rank or None,
            "unit_id": unit_ids[unit],
            "supervisor_id": employee_ids.get(boss),
            "phone": phone,
            "telegram_user_id": None,
            "linked_at": None,
        }
        if index in linked:
            user_id = FIRST_USER + linked[index]
            person["telegram_user_id"] = user_id
            person["linked_at"] = now - dt.timedelta(days=rng.uniform(1, 300))
            telegram_users.append(
                {
                    "id": user_id,
                    "first_name": name.split()[0],
                    "language": "en" if rng.random() < 0.1 else None,
                }
            )
        people.append(person)

    mutations: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []

    def add_mutation(index: int, cancelled: bool) -> None:
        nip, _name, _kind, position, _rank, unit, _boss, _phone, *_planning = rows[index]
        mutation_type = rng.choice(list(MutationType))
        external = mutation_type == MutationType.ANTAR_INSTANSI
        history = _stage_history(rng, external, cancelled)
        mutation_id = len(mutations) + 1
        at = now - dt.timedelta(days=rng.uniform(400, 500) if cancelled else rng.uniform(30, 200))
        previous = None
        for stage in history:
            events.append(
                {
                    "id": len(events) + 1,
                    "mutation_id": mutation_id,
                    "from_stage": previous,
                    "to_stage": stage,
                    "changed_at": at,
                    "changed_by_label": "BKPSDM",
                    "note": {
                        Stage.DIKEMBALIKAN: "Kurang: SKP dua tahun terakhir",
                        Stage.DIBATALKAN: "Dibatalkan atas permintaan pegawai",
                    }.get(Stage(stage)),
                }
            )
            previous = stage
            at += dt.timedelta(days=rng.uniform(1, 14))
        decree = Stage.SK_TERBIT in history
        sk_date = (events[-1]["changed_at"] - dt.timedelta(days=3)).date()
        mutations.append(
            {
                "id": mutation_id,
                "employee_id": employee_ids[nip],
                "mutation_type": mutation_type.value,
                "from_unit": unit,
                "from_position": position,
                "to_unit": "Pemerintah Kabupaten Agam"
                if external
                else rng.choice([u for u in unit_ids if u != unit]),
                "to_position": rng.choice(POSITIONS),
                "external": external,
                "stage": history[-1],
                "stage_changed_at": events[-1]["changed_at"],
                "sk_number": f"800/{mutation_id}/BKPSDM-2026" if decree else None,
                "sk_date": sk_date if decree else None,
                "tmt_date": sk_date + dt.timedelta(days=14) if decree else None,
                "created_at": events[-len(history)]["changed_at"],
            }
        )

    for index in linked:
        draw = rng.random()
        if draw < ONE_MUTATION + TWO_MUTATIONS:
            if draw >= ONE_MUTATION:
                add_mutation(index, cancelled=True)
            add_mutation(index, cancelled=False)

    if "notified_at" in MutationEvent.__table__.c:  # seeded history was told long ago
        for event in events:
            event["notified_at"] = event["changed_at"]

    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            for model, values in (
                (Unit, units),
                (Employee, people),
                (TelegramUser, telegram_users),
                (Mutation, mutations),
                (MutationEvent, events),
            ):
                table = model.__table__
                for start in range(0, len(values), 5000):
                    await connection.execute(insert(table), values[start : start + 5000])
                if connection.dialect.name == "postgresql" and model is not TelegramUser:
                    await connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        )
                    )
    finally:
        await engine.dispose()
    with_mutation = len({m["employee_id"] for m in mutations})
    return {"mutations": len(mutations), "events": len(events), "with_mutation": with_mutation}


# --- the bots, each in a child process ------------------------------------------------------
def child_bot(kind: str, database_url: str, root: str, profile: str | None) -> None:
    """Poll the emulator until SIGTERM, then print peak RSS as JSON; with ``profile`` (a
    path) the whole process is profiled and the top of the statistics written there."""
    import logging

    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(serve_bot, kind, database_url, root)
        with open(profile, "w") as out:
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(r"handlers|storage|bot/", 40)
            stats.sort_stats("tottime").print_stats(25)
    else:
        serve_bot(kind, database_url, root)
    print(json.dumps({"rss_mb": peak_rss_mb()}), flush=True)


def serve_bot(kind: str, database_url: str, root: str) -> None:
    """One of the three bots, polling the emulator until SIGTERM."""
    if kind == "echo":
        from telegram import Update
        from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

        async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.effective_message is not None
            await update.effective_message.reply_text(update.effective_message.text or "?")

        application = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(f"{root}/bot")
            .base_file_url(f"{root}/file/bot")
            .concurrent_updates(True)  # as bot.app.build_application
            .build()
        )
        application.add_handler(MessageHandler(filters.TEXT, echo))
        application.run_polling(allowed_updates=Update.ALL_TYPES, close_loop=False)
    else:
        from unittest import mock

        from telegram.ext import AIORateLimiter

        import bot.app
        from bot.config import Settings

        settings = Settings(
            bot_token=TOKEN,
            database_url=database_url,
            telegram_base_url=f"{root}/bot",
            scheduler_tick_seconds=600,  # the maximum: no tick during the measurement
        )
        with contextlib.ExitStack() as stack:
            if kind == "lifted":  # no overall budget; the limiter's retries stay

                def lifted(_application: object, **options: Any) -> AIORateLimiter:
                    return AIORateLimiter(overall_max_rate=0, **options)

                stack.enter_context(mock.patch.object(bot.app, "SharedBudgetRateLimiter", lifted))
            bot.app.run_polling(settings)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux ``/proc``), else ``None``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class BotProcess:
    process: subprocess.Popen[bytes]
    log: Path
    out: Path
    figures: dict[str, Any] = field(default_factory=dict)

    def errors(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if " ERROR " in line]


@contextlib.contextmanager
def bot_process(
    kind: str, database_url: str, root: str, folder: Path, profile: Path | None = None
) -> Iterator[BotProcess]:
    """``status_bench.py --child bot|lifted|echo`` in a fresh process; stopped with SIGTERM."""
    log, out = folder / f"{kind}.log", folder / f"{kind}.out"
    extra = [str(profile)] if profile else []
    with log.open("wb") as err, out.open("wb") as stdout:
        process = subprocess.Popen(
            [sys.executable, __file__, "--child", kind, database_url, root, *extra],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=err,
        )
    running = BotProcess(process, log, out)
    try:
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        lines = out.read_text().strip().splitlines()
        with contextlib.suppress(ValueError, IndexError):
            running.figures = json.loads(lines[-1])


# --- measuring ------------------------------------------------------------------------------
async def first_replies(
    client: Any, users: set[int], since: float, deadline: float, process: subprocess.Popen[bytes]
) -> tuple[dict[int, float], list[dict[str, Any]]]:
    """Wait until every user got a reply (or the deadline): {user: reply time}, the calls."""
    replies: dict[int, float] = {}
    calls: list[dict[str, Any]] = []
    while True:
        calls = [c for c in await client.calls() if c["method"] in SEND_METHODS]
        for call in calls:
            chat = int(call["params"].get("chat_id", 0))
            done = call["time"] + call["duration"]
            if call["ok"] and chat in users and done >= since:
                replies[chat] = min(done, replies.get(chat, done))
        if len(replies) == len(users) or time.time() > deadline or process.poll() is not None:
            return replies, calls
        await asyncio.sleep(POLL_SECONDS)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(share * len(values)) - 1))]


async def measure(
    root: str, running: BotProcess, users: list[int], warmup: list[int], patience: float
) -> dict[str, Any]:
    from bot.emulator.client import EmulatorClient

    pid = running.process.pid
    async with EmulatorClient(root, timeout=60) as client:
        # Warm-up: also waits for the bot to start polling (the updates wait in the emulator).
        answer = await client.send_texts([(user, COMMAND) for user in warmup])
        warm, _calls = await first_replies(
            client, set(warmup), answer["time"], time.time() + 60 + patience, running.process
        )
        if len(warm) < len(warmup):
            raise RuntimeError(
                f"the bot did not answer the warm-up ({len(warm)}/{len(warmup)}):\n"
                + running.log.read_text()[-3000:]
            )
        await asyncio.sleep(0.5)  # let the last warm-up updates be acknowledged
        await client.clear_calls()
        cpu_before = cpu_seconds(pid)
        answer = await client.send_texts([(user, COMMAND) for user in users])
        started = answer["time"]
        replies, calls = await first_replies(
            client, set(users), started, time.time() + patience, running.process
        )
        cpu_after = cpu_seconds(pid)
    latencies = sorted(moment - started for moment in replies.values())
    span = max(replies.values()) - started if replies else float("nan")
    texts = collections.Counter(
        str(c["params"].get("text") or c["params"].get("caption") or "")[:60]
        for c in calls
        if c["ok"]
    )
    cpu = (
        (cpu_after - cpu_before) / len(replies)
        if replies and cpu_before is not None and cpu_after is not None
        else None
    )
    return {
        "replies": len(replies),
        "missing": len(users) - len(replies),
        "rate": len(replies) / span if replies else 0.0,
        "p50": percentile(latencies, 0.50) * 1000,
        "p95": percentile(latencies, 0.95) * 1000,
        "max": latencies[-1] * 1000 if latencies else float("nan"),
        "cpu_ms": cpu * 1000 if cpu is not None else None,
        "failed_sends": sum(1 for c in calls if not c["ok"]),
        "sample": texts.most_common(1)[0] if texts else ("", 0),
    }


async def create_users(root: str, count: int) -> None:
    from bot.emulator.client import EmulatorClient

    async with EmulatorClient(root) as client:
        await client.reset()
        for start in range(0, count, 50):
            await asyncio.gather(
                *(
                    client.create_user(FIRST_USER + n, f"Pegawai {n}")
                    for n in range(start, min(count, start + 50))
                )
            )


def run_bot(
    kind: str, database_url: str, root: str, folder: Path, args: argparse.Namespace
) -> dict[str, Any]:
    users = [FIRST_USER + n for n in range(args.users)]
    warmup = users[: args.warmup]
    profile = folder / f"{kind}.prof.txt" if args.profile and kind != "echo" else None
    with bot_process(kind, database_url, root, folder, profile) as running:
        outcome = asyncio.run(measure(root, running, users, warmup, args.timeout))
    outcome["rss_mb"] = running.figures.get("rss_mb")
    outcome["errors"] = running.errors()
    outcome["profile"] = profile.read_text() if profile and profile.exists() else ""
    return outcome


# --- main -----------------------------------------------------------------------------------
def _row(label: str, outcome: dict[str, Any]) -> str:
    cpu = f"{outcome['cpu_ms']:.2f}" if outcome["cpu_ms"] is not None else "-"
    rss = f"{outcome['rss_mb']:.0f}MB" if outcome.get("rss_mb") else "-"
    return (
        f"{'':<11} {label:<20} {outcome['replies']:>7} {outcome['rate']:>9.1f} "
        f"{outcome['p50']:>8.0f} {outcome['p95']:>8.0f} {outcome['max']:>8.0f} {cpu:>7} "
        f"{rss:>6} {outcome['missing']:>8}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000, help="linked users sending /status")
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--database-url", action="append", dest="urls")
    parser.add_argument(
        "--timeout", type=float, default=90.0, help="seconds to wait for all replies of a run"
    )
    parser.add_argument("--warmup", type=int, default=20, help="users in the warm-up")
    parser.add_argument(
        "--rate-limiter",
        choices=("both", "as-built", "lifted"),
        default="both",
        help="run the real bot as built (replies within SEND_RATE_GLOBAL), with that ceiling "
        "lifted, "
        "or both (default)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of the lifted bot and of the echo bot, the best kept (default 1)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the real bot's processes (slower) and print where the time went",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, database_url, root, *profile = args.child
        child_bot(kind, database_url, root, profile[0] if profile else None)
        return 0
    if not 0 < args.warmup <= args.users:
        parser.error("--warmup must be between 1 and --users")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    urls = args.urls or default_database_urls()
    kinds = {"both": ["bot", "lifted"], "as-built": ["bot"], "lifted": ["lifted"]}[
        args.rate_limiter
    ] + ["echo"]
    began = time.monotonic()
    print(
        f"{args.employees} employees, {args.users} linked users each sending {COMMAND} at once "
        f"(after a warm-up of {args.warmup}); emulator and every bot in their own processes"
        + (f"; best of {args.repeat} runs but for the bot as built" if args.repeat > 1 else "")
    )
    header = (
        f"{'database':<11} {'bot':<20} {'replies':>7} {'replies/s':>9} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'max ms':>8} {'CPU ms':>7} {'RSS':>6} {'no reply':>8}"
    )
    lines: list[str] = []
    notes: list[str] = []
    profiles: list[str] = []
    unanswered = 0
    with tempfile.TemporaryDirectory(prefix="status-bench-") as tmp:
        folder = Path(tmp)
        with emulator_process(folder / "emulator.log") as root:
            for url in urls:
                with ScratchDatabase(url, folder) as database:
                    seeded = asyncio.run(seed(database.url, args.employees, args.users))
                    notes.append(
                        f"{database.label}: {seeded['with_mutation']} linked users with a "
                        f"transfer ({seeded['mutations']} transfers, {seeded['events']} events)"
                    )
                    outcomes = {}
                    for kind in kinds:
                        runs = []
                        # The as-built bot is paced by its limiter: once is enough.
                        for _ in range(1 if kind == "bot" else args.repeat):
                            asyncio.run(create_users(root, args.users))
                            runs.append(run_bot(kind, database.url, root, folder, args))
                        outcomes[kind] = max(runs, key=lambda outcome: outcome["rate"])
                lines.append(f"{database.label}")
                for kind, outcome in outcomes.items():
                    lines.append(_row(KINDS[kind], outcome))
                    unanswered += outcome["missing"]
                    if outcome["profile"]:
                        profiles.append(
                            f"--- {database.label}, {KINDS[kind]}\n{outcome['profile']}"
                        )
                    text, count = outcome["sample"]
                    notes.append(
                        f"{database.label}, {KINDS[kind]}: replied {text!r}... ({count}x)"
                        + (
                            f"; {outcome['failed_sends']} sends failed"
                            if outcome["failed_sends"]
                            else ""
                        )
                    )
                    if outcome["errors"]:
                        notes.append(
                            f"{database.label}, {KINDS[kind]}: {len(outcome['errors'])} errors "
                            f"logged, first: {outcome['errors'][0][:200]}"
                        )
                echo = outcomes["echo"]["rate"]
                for kind in kinds[:-1]:
                    ratio = outcomes[kind]["rate"] / echo if echo else float("nan")
                    missing = outcomes[kind]["missing"]
                    met = ratio >= RATIO_GOAL and missing == 0
                    lines.append(
                        f"{'':<11} ratio {KINDS[kind]} / echo = {ratio:.2f} "
                        f"(goal >= {RATIO_GOAL}) {'ok' if met else 'MISS'}"
                    )
    print(header)
    print("\n".join(lines))
    print(
        "replies/s = replies / (last reply - the moment all were queued); latency from that "
        "moment to the first reply in the chat, on the emulator's clock; CPU ms = the bot "
        "process's CPU time per reply while measuring; RSS = its peak; no reply = users "
        "without an answer within the timeout."
    )
    print("\n".join(notes))
    print(f"whole run: {time.monotonic() - began:.0f} s")
    if profiles:
        print("\n".join(profiles))
    return 1 if unanswered else 0


if __name__ == "__main__":
    sys.exit(main())
