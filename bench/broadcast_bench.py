"""Benchmark: an HR announcement (``/hr_umumkan``) to 3,000 employees at Telegram's 30/s.

Per database: a fresh database (migrated as the bot migrates it) gets N active employees
(default 3,000, ``--recipients``; bulk inserts) in a few units, every one linked to a
Telegram account, and one HR admin (role ``hr_admin``) linked to HR's chat. The emulator (its
own process, ``python -m bot.emulator``) knows all N + 1 users. The real bot runs in a fresh
process (``run_bot.py run``, configured through the environment as in production:
``DATABASE_URL``, ``BOT_TOKEN``, ``TELEGRAM_BASE_URL``, quiet hours off so the time of day does
not matter, ``SEND_RATE_GLOBAL`` = ``--send-rate``, default 30, the cap itself: the pacer
keeps a sliding window a little longer than a second, and every message and edit the bot
makes — HR's replies, the progress edits, the announcement — takes a slot of it).

HR drives the conversation through the emulator as a person would: ``/hr_umumkan`` → the
text → **Semua ASN** (``umum:aud:all``) → **Kirim sekarang** (``umum:send``) on the preview.
Just before that last press the emulator is capped at 30 send/edit calls per second overall
and ``--per-chat-cap`` (default 1) per chat, answering 429 above them (Telegram's limits),
and its call log is cleared. When HR got the final report, everything is read from the
emulator's call log and the database:

* rate: successful ``sendMessage`` calls to the N recipients' chats, (n - 1) / (last - first),
  and that rate / the cap (goal >= 0.95);
* 429s: answers 429 to any call (goal 0), by method and chat;
* lost: recipients with no successful message (goal 0); duplicates: recipients with more than
  one (goal 0);
* press → last: from the press of Kirim sekarang to the end of the last recipient's message;
* HR's progress message: its edits (``editMessageText``) and the largest gap between its
  updates (from the first send to the final figures);
* the bot process's peak RSS (``VmHWM`` in ``/proc``, read before it is stopped);
* the announcement's outbox rows by end state (sent, failed, blocked, uncertain …).

Printed with it, to explain a miss: the pacer's ceiling at ``--send-rate`` (N sends per
window of max(1, N / rate) + 20 ms, N = floor(rate)), the most send/edit calls the emulator
saw in any one second, and the pauses in the recipients' stream longer than 0.25 s.

    .venv/bin/python bench/broadcast_bench.py [--recipients 3000] [--database-url URL ...]
        [--send-rate 30] [--per-chat-cap 1]

Without ``--database-url`` it runs on a temporary SQLite file and, if reachable, on the
PostgreSQL at ``postgresql://postgres@127.0.0.1:5432/test`` (in a scratch database it creates
and drops, as ``bench/import_bench.py`` does). Nothing leaves 127.0.0.1. It prints figures
and never fails on a goal (the exit status is 1 only when the run could not finish).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import itertools
import math
import os
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
from bench.evaluation_bench import _bulk_insert  # noqa: E402
from bench.import_bench import ScratchDatabase, default_database_urls, make_rows  # noqa: E402

CAP = 30.0  # the emulator's overall cap, as Telegram's ~30 messages/s
RATIO_GOAL = 0.95
DEFAULT_SEND_RATE = 30.0
UNITS = 6  # the recipients are spread over the first UNITS sample units
HR_CHAT = 850_000_000
FIRST_RECIPIENT = 850_000_001  # Telegram ids of the recipients: FIRST_RECIPIENT + n
ANNOUNCEMENT = "Pengumuman: apel pagi hari Senin pukul 07.30 WIB di halaman Balai Kota."
ANNOUNCEMENT_ENTITIES = [{"type": "bold", "offset": 0, "length": 11}]
SENDING = ("send", "edit")  # method prefixes the emulator's limits count
PAUSE_SECONDS = 0.25  # a longer silence in the recipients' stream is listed as a pause
POLL_SECONDS = 0.5
PACER_MARGIN = 0.02  # bot.delivery.Sender's default rate_margin


# --- the database ---------------------------------------------------------------------------
async def seed(database_url: str, recipients: int) -> None:
    """``recipients`` active employees linked to Telegram in UNITS units, and the HR admin."""
    from storage.db import create_engine
    from storage.demo import SAMPLE_UNITS
    from storage.models import Employee, TelegramUser, Unit, utcnow

    now = utcnow()
    names = SAMPLE_UNITS[:UNITS]
    units = [{"id": n, "name": name} for n, name in enumerate(names, 1)]
    people: list[dict[str, Any]] = []
    users: list[dict[str, Any]] = []
    for index, row in enumerate(make_rows(recipients + 1)):
        nip, name, kind, position, rank, *_rest = row
        hr = index == recipients  # the last one is HR
        chat = HR_CHAT if hr else FIRST_RECIPIENT + index
        people.append(
            {
                "id": index + 1,
                "nip": nip,
                "name": name,
                "employee_type": kind,
                "position": position,
                "rank": rank or None,
                "unit_id": 4 if hr else index % UNITS + 1,  # HR in BKPSDM
                "supervisor_id": None,
                "phone": f"0813{index:08d}",
                "role": "hr_admin" if hr else "asn",
                "telegram_user_id": chat,
                "linked_at": now - dt.timedelta(days=30),
            }
        )
        users.append({"id": chat, "first_name": str(name).split()[0], "language": None})
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            for model, values in ((Unit, units), (Employee, people), (TelegramUser, users)):
                await _bulk_insert(connection, model, values)
    finally:
        await engine.dispose()


async def end_states(database_url: str) -> dict[str, Any]:
    """The outbox by kind and status, and the announcements' status."""
    from sqlalchemy import func, select

    from storage.db import create_engine
    from storage.models import Announcement, OutboxMessage

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            outbox = (
                await connection.execute(
                    select(OutboxMessage.kind, OutboxMessage.status, func.count()).group_by(
                        OutboxMessage.kind, OutboxMessage.status
                    )
                )
            ).all()
            announcements = (
                await connection.execute(select(Announcement.id, Announcement.status))
            ).all()
    finally:
        await engine.dispose()
    by_kind: dict[str, dict[str, int]] = {}
    for kind, status, count in outbox:
        by_kind.setdefault(kind, {})[status] = count
    return {"outbox": by_kind, "announcements": [tuple(row) for row in announcements]}


# --- the bot, in its own process -----------------------------------------------------------
@dataclass
class BotProcess:
    process: subprocess.Popen[bytes]
    log: Path
    peak_rss_mb: float | None = None

    def errors(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if " ERROR " in line]

    def read_peak_rss(self) -> None:
        """``VmHWM`` of the running process (Linux), in MB."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_rss_mb = int(line.split()[1]) / 1024


@contextlib.contextmanager
def bot_process(database_url: str, root: str, log: Path, send_rate: float) -> Iterator[BotProcess]:
    """``run_bot.py run`` configured through the environment; stopped with SIGTERM."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": f"{root}/bot",
            "QUIET_HOURS_START": "00:00",  # equal: no quiet hours, whatever the time
            "QUIET_HOURS_END": "00:00",
            "SEND_RATE_GLOBAL": f"{send_rate:g}",
            "SEND_RATE_PER_CHAT": "1",
            "SCHEDULER_TICK_SECONDS": "600",  # the maximum: no scheduler work while measuring
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "run_bot.py", "run"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    running = BotProcess(process, log)
    try:
        yield running
    finally:
        if process.poll() is None:
            running.read_peak_rss()
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- HR, through the emulator ----------------------------------------------------------------
def with_button(prefix: str) -> Any:
    def matches(message: dict[str, Any]) -> bool:
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        return any(str(b.get("callback_data", "")).startswith(prefix) for r in rows for b in r)

    return matches


def has_button(call: dict[str, Any], prefix: str) -> bool:
    markup = call["params"].get("reply_markup")
    return isinstance(markup, dict) and with_button(prefix)({"reply_markup": markup})


async def create_users(root: str, recipients: int) -> None:
    from bot.emulator.client import EmulatorClient

    people = [(HR_CHAT, "Admin")] + [
        (FIRST_RECIPIENT + n, f"Pegawai {n}") for n in range(recipients)
    ]
    async with EmulatorClient(root) as client:
        await client.reset()
        await client.set_rate_limit(None, None)
        for start in range(0, len(people), 100):
            await asyncio.gather(
                *(client.create_user(i, name) for i, name in people[start : start + 100])
            )


@dataclass
class Run:
    press: float  # emulator clock of the press of Kirim sekarang
    calls: list[dict[str, Any]] = field(default_factory=list)  # the call log from the press
    finished: bool = False  # HR got the final report
    wall_seconds: float = 0.0  # press to the final report, on this process's clock


async def drive(root: str, running: BotProcess, per_chat_cap: float | None, patience: float) -> Run:
    """HR's conversation up to Kirim sekarang, then wait for the final report."""
    from bot.emulator.client import EmulatorClient

    async with EmulatorClient(root, timeout=120) as client:
        await client.send_text(HR_CHAT, "/hr_umumkan")  # waits in the emulator until polled
        await client.wait_for_bot_message(HR_CHAT, None, timeout=90)
        await client.send_text(HR_CHAT, ANNOUNCEMENT, entities=ANNOUNCEMENT_ENTITIES)
        choose = await client.wait_for_bot_message(HR_CHAT, with_button("umum:aud:all"), 30)
        await client.press_button(HR_CHAT, choose["message_id"], "umum:aud:all")
        preview = await client.wait_for_bot_message(HR_CHAT, with_button("umum:send"), 60)
        await asyncio.sleep(1.0)  # the conversation's own calls out of the limiter's window
        await client.set_rate_limit(global_per_second=CAP, per_chat_per_second=per_chat_cap)
        await client.clear_calls()
        started = time.monotonic()
        answer = await client.press_buttons([(HR_CHAT, preview["message_id"], "umum:send")])
        run = Run(press=float(answer["time"]))
        deadline = started + patience
        since: int | None = None
        report_seen_at: float | None = None
        while True:
            fresh = await client.calls(since=since)
            if fresh:
                since = int(fresh[-1]["seq"])
                run.calls.extend(c for c in fresh if c["method"] != "getUpdates")
            if report_seen_at is None and any(
                c["method"] == "sendMessage"
                and c["ok"]
                and int(c["params"].get("chat_id") or 0) == HR_CHAT
                and has_button(c, "siaran:xlsx")
                for c in fresh
            ):
                report_seen_at = time.monotonic()
                run.finished = True
                run.wall_seconds = report_seen_at - started
            # A few seconds more: a late (duplicate) send would show.
            if report_seen_at is not None and time.monotonic() - report_seen_at > 3.0:
                break
            if time.monotonic() > deadline or running.process.poll() is not None:
                break
            await asyncio.sleep(POLL_SECONDS)
    return run


# --- the figures ------------------------------------------------------------------------------
def chat_of(call: dict[str, Any]) -> int:
    try:
        return int(call["params"].get("chat_id") or 0)
    except (TypeError, ValueError):
        return 0


def busiest_second(calls: list[dict[str, Any]], press: float) -> tuple[int, str]:
    """The most send/edit calls the emulator's global limit counted (accepted ones) in any one
    second, and when (after the press) and of what they were."""
    counted = sorted(
        (c for c in calls if c["method"].lower().startswith(SENDING) and c["status"] != 429),
        key=lambda c: c["time"],
    )
    best, best_span, start = 0, (0, 0), 0
    for end, call in enumerate(counted):
        while float(counted[start]["time"]) <= float(call["time"]) - 1.0:
            start += 1
        if end - start + 1 > best:
            best, best_span = end - start + 1, (start, end + 1)
    inside = counted[best_span[0] : best_span[1]]
    if not inside:
        return 0, ""
    kinds = collections.Counter(
        f"{c['method']} to {'HR' if chat_of(c) == HR_CHAT else 'recipients'}" for c in inside
    )
    at = float(inside[0]["time"]) - press
    return best, f"from +{at:.2f} s: " + ", ".join(f"{n} {k}" for k, n in kinds.most_common())


def describe_429(call: dict[str, Any], calls: list[dict[str, Any]], press: float) -> str:
    """When a 429 came (after the press), for which call, and the chat's calls just before."""
    chat = chat_of(call)
    moment = float(call["time"])

    def what(c: dict[str, Any]) -> str:
        text = " ".join(str(c["params"].get("text") or "").split())[:28]
        return f"{c['method']} {c['status']} at +{float(c['time']) - press:.3f} s «{text}»"

    before = [
        what(c)
        for c in calls
        if chat_of(c) == chat and moment - 1.5 <= float(c["time"]) < moment and c is not call
    ]
    who = "HR" if chat == HR_CHAT else f"chat {chat}"
    return f"{who}: {what(call)}; the chat's calls in the 1.5 s before: {before or 'none'}"


def pacer_ceiling(rate: float) -> float:
    """Sends per second the sender's pacer allows at ``rate`` (``bot.delivery.Pacer``)."""
    capacity = max(1, math.floor(rate + 1e-9))
    return capacity / (max(1.0, capacity / rate) + PACER_MARGIN)


def figures(run: Run, recipients: int) -> dict[str, Any]:
    chats = set(range(FIRST_RECIPIENT, FIRST_RECIPIENT + recipients))
    calls = run.calls
    to_recipients = [c for c in calls if c["method"] == "sendMessage" and chat_of(c) in chats]
    ok = sorted((c for c in to_recipients if c["status"] == 200), key=lambda c: c["time"])
    times = [float(c["time"]) for c in ok]
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    rate = (len(times) - 1) / span if span > 0 else float("nan")
    per_chat = collections.Counter(chat_of(c) for c in ok)
    too_many = [c for c in calls if c["status"] == 429]
    where_429 = collections.Counter(
        f"{c['method']} to {'HR' if chat_of(c) == HR_CHAT else 'a recipient'}" for c in too_many
    )
    samples_429 = [describe_429(c, calls, run.press) for c in too_many[:6]]
    other_errors = collections.Counter(
        f"{c['method']} {c['status']} {str(c.get('description') or '')[:60]}"
        for c in calls
        if not c["ok"] and c["status"] != 429
    )
    # HR's progress message: sent once with the cancel button, then edited in place.
    progress_id = next(
        (
            c.get("result_message_id")
            for c in calls
            if c["method"] == "sendMessage"
            and c["ok"]
            and chat_of(c) == HR_CHAT
            and has_button(c, "siaran:cancel")
        ),
        None,
    )
    updates = sorted(
        float(c["time"])
        for c in calls
        if c["ok"]
        and chat_of(c) == HR_CHAT
        and (
            (c["method"] == "sendMessage" and c.get("result_message_id") == progress_id)
            or (
                c["method"] == "editMessageText"
                and progress_id is not None
                and int(c["params"].get("message_id") or 0) == progress_id
            )
        )
    )
    edits = max(0, len(updates) - 1)
    gaps = [b - a for a, b in itertools.pairwise(updates)]
    hr_copies = sum(
        1
        for c in calls
        if c["method"] == "sendMessage"
        and c["ok"]
        and chat_of(c) == HR_CHAT
        and str(c["params"].get("text") or "") == ANNOUNCEMENT
    )
    busiest, busiest_what = busiest_second(calls, run.press)
    # Calls paced by the sender's budget besides the recipients' (HR's copy, the progress
    # message and its edits, the final report) while the recipients' messages went out.
    paced_others = sum(
        1
        for c in calls
        if chat_of(c) == HR_CHAT
        and c["method"] in ("sendMessage", "editMessageText")
        and times
        and times[0] <= float(c["time"]) <= times[-1]
    )
    pauses = [b - a for a, b in itertools.pairwise(times) if b - a > PAUSE_SECONDS]
    last_end = max((float(c["time"]) + float(c["duration"]) for c in ok), default=float("nan"))
    return {
        "delivered": len(ok),
        "rate": rate,
        "ratio": rate / CAP,
        "too_many": len(too_many),
        "where_429": dict(where_429),
        "samples_429": samples_429,
        "other_errors": dict(other_errors),
        "lost": sum(1 for chat in chats if per_chat[chat] == 0),
        "duplicates": sum(1 for n in per_chat.values() if n > 1),
        "press_to_first": times[0] - run.press if times else float("nan"),
        "press_to_last": last_end - run.press,
        "edits": edits,
        "largest_gap": max(gaps) if gaps else float("nan"),
        "median_gap": sorted(gaps)[len(gaps) // 2] if gaps else float("nan"),
        "hr_copies": hr_copies,
        "busiest_second": busiest,
        "busiest_what": busiest_what,
        "paced_others": paced_others,
        "pauses": len(pauses),
        "paused_seconds": sum(pauses),
        "longest_pause": max(pauses, default=0.0),
        "span": span,
    }


def measure(
    root: str, database: ScratchDatabase, folder: Path, args: argparse.Namespace
) -> dict[str, Any]:
    began = time.monotonic()
    asyncio.run(seed(database.url, args.recipients))
    asyncio.run(create_users(root, args.recipients))
    seeded = time.monotonic() - began
    log = folder / f"bot-{database.label}.log"
    patience = args.recipients / (args.send_rate / 2) + 120
    per_chat = args.per_chat_cap if args.per_chat_cap > 0 else None
    with bot_process(database.url, root, log, args.send_rate) as running:
        try:
            run = asyncio.run(drive(root, running, per_chat, patience))
        except Exception as exc:
            running.read_peak_rss()
            raise RuntimeError(f"the run failed: {exc}\n{log.read_text()[-3000:]}") from exc
    outcome = figures(run, args.recipients)
    outcome.update(
        finished=run.finished,
        wall_seconds=run.wall_seconds,
        rss_mb=running.peak_rss_mb,
        errors=running.errors(),
        seeded_seconds=seeded,
        states=asyncio.run(end_states(database.url)),
        whole_seconds=time.monotonic() - began,
    )
    return outcome


# --- main -----------------------------------------------------------------------------------
def _ok(met: bool) -> str:
    return "ok" if met else "MISS"


def _row(label: str, o: dict[str, Any]) -> str:
    rss = f"{o['rss_mb']:.0f}MB" if o.get("rss_mb") else "-"
    return (
        f"{label:<11} {o['delivered']:>5} {o['rate']:>6.2f} {o['ratio']:>6.3f} "
        f"{_ok(o['ratio'] >= RATIO_GOAL):>4} {o['too_many']:>5} {_ok(o['too_many'] == 0):>4} "
        f"{o['lost']:>5} {_ok(o['lost'] == 0):>4} {o['duplicates']:>5} "
        f"{_ok(o['duplicates'] == 0):>4} {o['press_to_last']:>8.1f} {o['edits']:>6} "
        f"{o['largest_gap']:>7.1f} {rss:>6}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=3_000)
    parser.add_argument("--database-url", action="append", dest="urls")
    parser.add_argument(
        "--send-rate",
        type=float,
        default=DEFAULT_SEND_RATE,
        help=f"the bot's SEND_RATE_GLOBAL (default {DEFAULT_SEND_RATE:g}; at most 30)",
    )
    parser.add_argument(
        "--per-chat-cap",
        type=float,
        default=1.0,
        help="the emulator's per-chat cap in messages/s (default 1, as Telegram; 0: none)",
    )
    args = parser.parse_args(argv)
    if args.recipients < 2:
        parser.error("--recipients must be at least 2")
    if not 0 < args.send_rate <= CAP:
        parser.error(f"--send-rate must be in (0, {CAP:g}]")

    urls = args.urls or default_database_urls()
    began = time.monotonic()
    print(
        f"/hr_umumkan to {args.recipients} linked employees (+ HR); emulator capped at "
        f"{CAP:g}/s overall"
        + (f" and {args.per_chat_cap:g}/s per chat" if args.per_chat_cap > 0 else "")
        + f"; bot SEND_RATE_GLOBAL={args.send_rate:g} (pacer ceiling "
        f"{pacer_ceiling(args.send_rate):.2f}/s = {pacer_ceiling(args.send_rate) / CAP:.3f} of "
        "the cap); emulator and bot in their own processes"
    )
    outcomes: list[tuple[str, dict[str, Any]]] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="broadcast-bench-") as tmp:
        folder = Path(tmp)
        with emulator_process(folder / "emulator.log") as root:
            for url in urls:
                with ScratchDatabase(url, folder) as database:
                    try:
                        outcome = measure(root, database, folder, args)
                    except RuntimeError as exc:
                        print(f"{database.label}: {exc}", file=sys.stderr)
                        failed = True
                        continue
                outcomes.append((database.label, outcome))
                failed |= not outcome["finished"]

    header = (
        f"{'database':<11} {'sent':>5} {'msg/s':>6} {'/cap':>6} {'':>4} {'429s':>5} {'':>4} "
        f"{'lost':>5} {'':>4} {'dupl':>5} {'':>4} {'to last':>8} {'edits':>6} {'max gap':>7} "
        f"{'RSS':>6}"
    )
    print(header)
    for label, outcome in outcomes:
        print(_row(label, outcome))
    if len(outcomes) > 1:
        overall = {
            "delivered": sum(o["delivered"] for _, o in outcomes),
            "rate": min(o["rate"] for _, o in outcomes),
            "too_many": sum(o["too_many"] for _, o in outcomes),
            "lost": sum(o["lost"] for _, o in outcomes),
            "duplicates": sum(o["duplicates"] for _, o in outcomes),
            "press_to_last": max(o["press_to_last"] for _, o in outcomes),
            "edits": sum(o["edits"] for _, o in outcomes),
            "largest_gap": max(o["largest_gap"] for _, o in outcomes),
            "rss_mb": max((o["rss_mb"] or 0) for _, o in outcomes) or None,
        }
        overall["ratio"] = overall["rate"] / CAP
        print(_row("overall", overall))
    print(
        f"goals: msg/s / cap >= {RATIO_GOAL}, 0 429s, 0 lost, 0 duplicates. msg/s = successful "
        "sendMessage calls to the recipients' chats, (n - 1) / (last - first), on the emulator's "
        "clock; to last = seconds from the press of Kirim sekarang to the end of the last "
        "recipient's message; edits / max gap = HR's progress message: its edits and the "
        "largest gap (s) between its updates; RSS = the bot process's peak (VmHWM); overall = "
        "the sums, the worst rate, time, gap and RSS."
    )
    ceiling = pacer_ceiling(args.send_rate)
    for label, o in outcomes:
        states = o["states"]
        announcement = states["outbox"].get("announcement", {})
        others = {k: v for k, v in states["outbox"].items() if k != "announcement"}
        print(f"\n{label}:")
        print(
            "  outbox end states (announcement rows): "
            + (", ".join(f"{s} {n}" for s, n in sorted(announcement.items())) or "none")
            + f"; other rows: {others or 'none'}; announcements: {states['announcements']}"
        )
        print(
            f"  press -> first recipient {o['press_to_first']:.2f} s, -> last "
            f"{o['press_to_last']:.1f} s, -> HR's final report {o['wall_seconds']:.1f} s "
            f"(finished: {o['finished']}); HR's own copy: {o['hr_copies']}; progress message: "
            f"{o['edits']} edits, gaps median {o['median_gap']:.1f} s, largest "
            f"{o['largest_gap']:.1f} s"
        )
        print(
            f"  429s: {o['where_429'] or 'none'}; other failed calls: {o['other_errors'] or 'none'}"
        )
        for sample in o["samples_429"]:
            print(f"    {sample}")
        print(
            f"  busiest second at the emulator: {o['busiest_second']} send/edit calls (cap "
            f"{CAP:g}; {o['busiest_what']}); pauses > {PAUSE_SECONDS:g} s in the recipients' "
            f"stream: {o['pauses']} ({o['paused_seconds']:.1f} s in all, longest "
            f"{o['longest_pause']:.2f} s)"
        )
        if o["span"] > 0:
            bound = ceiling - o["paced_others"] / o["span"]
            print(
                f"  pacer-bound rate for the recipients: {bound:.2f}/s = {bound / CAP:.3f} of the "
                f"cap (ceiling {ceiling:.2f}/s less {o['paced_others']} other paced calls to HR "
                f"in {o['span']:.1f} s); achieved / pacer-bound = {o['rate'] / bound:.3f}"
            )
        if o["errors"]:
            print(f"  {len(o['errors'])} errors logged by the bot, first: {o['errors'][0][:300]}")
        print(
            f"  seeding {o['seeded_seconds']:.1f} s; this database in all "
            f"{o['whole_seconds']:.0f} s"
        )
    print(f"\nwhole run: {time.monotonic() - began:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
