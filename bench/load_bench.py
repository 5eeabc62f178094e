"""Benchmark: a working office of linked users for a minute, with an announcement to all.

Per database: a fresh database (migrated as the bot migrates it) gets an office (bulk inserts,
as ``bench/evaluation_bench.py``): E employees (default 10,000, ``--employees``) in the sample
units; N of them linked to Telegram (default 2,000, ``--users``): S supervisors (default N / 10,
``--supervisors``) with three direct reports each, the first report of each linked (they are
told their evaluation's result through the outbox, and act no further), the rest ordinary
staff, a third of whom have a transfer in progress, and one HR admin. Trainings (``TRAININGS``)
start in three to six weeks; every linked staff member takes part in one or two. Nothing
about evaluation periods is seeded: the bot opens this month's period on first use.

The emulator (its own process, ``python -m bot.emulator``, no rate cap) knows every linked
user; the real bot runs as built in its own process (``run_bot.py run``, configured through
the environment as in production, quiet hours off, the scheduler's tick at its maximum so it
does not run during the measurement). Replies and pushes share ``SEND_RATE_GLOBAL``
(``--send-rate``, default 30 here, Telegram's own limit; the bot's default is 25).

For ``--seconds`` (default 60) every simulated user acts, waits for the bot's answer, thinks
(random 1-5 s) and acts again:

* staff: ``/status``, ``/kinerja`` or ``/pelatihan`` (answered when the heading and every
  training card arrived); a card seen is answered **Hadir** (``latih:{id}:hadir``) on a later
  turn, answered by the ``answerCallbackQuery``;
* supervisors: ``/nilai`` and the whole evaluation of each report in turn, pressing the
  buttons of the bot's last message (13 updates per evaluation, ``evaluation_bench``'s plan),
  each button answered by the edit of that message; then ``/status`` and ``/kinerja``;
* HR, at the start: ``/hr_umumkan`` → the text → Semua ASN → Kirim sekarang; the announcement
  goes out while everyone else keeps working.

Then no new actions; the bot gets ``--timeout`` seconds (default 120) to answer what is in
flight and the announcement its time to finish (N / (send rate / 2) + 60 s at most).

Figures, per kind of update, from the emulator's call log (its clock): count, p50 / p95 / max
latency (from the batch that sent the update to the end of the bot's answer), errors (no answer
within ``--timeout``; an answer with "gangguan", "something went wrong" or "Terjadi
kesalahan"; a failed Bot API call to the user; an alert or a new message answering a
``/nilai`` button), lost (sent, never answered). The announcement: recipients reached once,
more than once, not at all, the rate and the outbox's end states. The bot: errors and
exceptions in its log, peak RSS (``VmHWM``, goal <= 200 MB). The database: on PostgreSQL the
most connections seen in ``pg_stat_activity`` for the database (sampled every 0.5 s, the
sampler's own excluded); on SQLite the engine's pool (``storage.db``: SQLAlchemy's default
for aiosqlite).

    .venv/bin/python bench/load_bench.py [--users 2000] [--seconds 60] [--database-url URL ...]
        [--employees 10000] [--supervisors N] [--send-rate 30] [--timeout 120] [--seed 7]

Without ``--database-url`` it runs on a temporary SQLite file and, if reachable, on the
PostgreSQL at ``postgresql://postgres@127.0.0.1:5432/test`` (in a scratch database it creates
and drops). Nothing leaves 127.0.0.1. The exit status is 1 when a run could not finish or a
goal was missed (errors, lost updates, announcement not exactly once, RSS above 200 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.broadcast_bench import (  # noqa: E402
    ANNOUNCEMENT,
    ANNOUNCEMENT_ENTITIES,
    BotProcess,
    bot_process,
    end_states,
    has_button,
    with_button,
)
from bench.delivery_bench import emulator_process  # noqa: E402
from bench.evaluation_bench import (  # noqa: E402
    FIRST_SUPERVISOR,
    FIRST_TOLD,
    REPORTS,
    Action,
    _bulk_insert,
    buttons_of,
    choose,
    evaluation_plan,
    exceptions,
    stage_event,
)
from bench.evaluation_bench import seed as seed_office  # noqa: E402
from bench.import_bench import ScratchDatabase, default_database_urls  # noqa: E402
from bench.status_bench import percentile  # noqa: E402

FIRST_STAFF = 840_000_001  # Telegram ids of the linked staff
HR_CHAT = 849_999_999
TRAININGS = 6
MUTATION_EVERY = 3  # every third linked staff member has a transfer in progress
THINK = (1.0, 5.0)  # seconds a user thinks between the answer and the next action
RSS_GOAL_MB = 200.0
ERROR_WORDS = ("gangguan", "something went wrong", "terjadi kesalahan")
SEND_METHODS = ("sendMessage", "sendPhoto", "sendDocument")
HADIR = re.compile(r"^latih:(\d+):hadir$")
KINDS = {  # kind -> label, in the order printed
    "status": "/status",
    "kinerja": "/kinerja",
    "pelatihan": "/pelatihan",
    "hadir": "Hadir (button)",
    "nilai": "/nilai (message)",
    "nilai_button": "/nilai (button)",
    "hr": "HR /hr_umumkan steps",
}
POLL_SECONDS = 0.05
SAMPLE_SECONDS = 0.5


# --- the database ---------------------------------------------------------------------------
@dataclass
class Office:
    supervisors: list[tuple[int, list[int]]]  # (Telegram id, the reports' employee ids)
    staff: dict[int, int]  # Telegram id -> trainings they take part in
    told: list[int]  # Telegram ids of the reports told of their evaluation (passive)
    employees: int
    mutations: int


async def seed(database_url: str, employees: int, users: int, supervisors: int) -> Office:
    """The evaluation bench's office, then linked staff, transfers, trainings and HR."""
    from sqlalchemy import bindparam, func, select, update

    from bot.rules.stages import MutationType, timeline
    from storage.db import create_engine
    from storage.demo import SAMPLE_UNITS
    from storage.models import (
        Employee,
        Mutation,
        MutationEvent,
        TelegramUser,
        Training,
        TrainingParticipant,
        utcnow,
    )

    staff_count = users - 2 * supervisors - 1
    actors = supervisors * (1 + REPORTS)
    if staff_count < 1 or actors + staff_count + 1 > employees:
        raise SystemExit(
            f"--users {users} needs --supervisors below {users // 2} and --employees at least "
            f"{actors + max(staff_count, 1) + 1}"
        )
    chosen = await seed_office(database_url, employees, supervisors)
    rng = random.Random(2027)
    now = utcnow()
    staff_ids = list(range(actors + 1, actors + staff_count + 1))  # employee ids (index + 1)
    hr_id = actors + staff_count + 1
    links = [
        {"b_id": employee_id, "chat": FIRST_STAFF + n, "role": "asn"}
        for n, employee_id in enumerate(staff_ids)
    ]
    links.append({"b_id": hr_id, "chat": HR_CHAT, "role": "hr_admin"})
    users_rows = [{"id": link["chat"], "first_name": "Pegawai", "language": None} for link in links]

    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            units = dict(
                (
                    await connection.execute(
                        select(Employee.id, Employee.unit_id).where(Employee.id.in_(staff_ids))
                    )
                ).all()
            )
            first_mutation = (
                await connection.execute(select(func.coalesce(func.max(Mutation.id), 0)))
            ).scalar_one() + 1
            first_event = (
                await connection.execute(select(func.coalesce(func.max(MutationEvent.id), 0)))
            ).scalar_one() + 1
            statement = (
                update(Employee.__table__)
                .where(Employee.__table__.c.id == bindparam("b_id"))
                .values(
                    telegram_user_id=bindparam("chat"),
                    role=bindparam("role"),
                    linked_at=now - dt.timedelta(days=90),
                )
            )
            await connection.execute(statement, links)

            mutations: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            path = [stage.value for stage in timeline(external=False)]
            for n, employee_id in enumerate(staff_ids):
                if n % MUTATION_EVERY:
                    continue
                mutation_id = first_mutation + len(mutations)
                reached = path[: rng.randint(2, len(path) - 2)]  # still in progress
                at = now - dt.timedelta(days=rng.uniform(20, 80))
                previous = None
                for stage in reached:
                    event_id = first_event + len(events)
                    events.append(stage_event(event_id, mutation_id, previous, stage, at))
                    previous = stage
                    at += dt.timedelta(days=rng.uniform(0.5, 3))
                from_unit = SAMPLE_UNITS[(units.get(employee_id) or 1) - 1]
                mutations.append(
                    {
                        "id": mutation_id,
                        "employee_id": employee_id,
                        "mutation_type": MutationType.ROTASI.value,
                        "from_unit": from_unit,
                        "from_position": "Pelaksana",
                        "to_unit": rng.choice([u for u in SAMPLE_UNITS if u != from_unit]),
                        "to_position": "Pelaksana",
                        "external": False,
                        "stage": reached[-1],
                        "stage_changed_at": events[-1]["changed_at"],
                        "created_at": events[-len(reached)]["changed_at"],
                    }
                )
            if "notified_at" in MutationEvent.__table__.c:  # the seeded history was told
                for event in events:
                    event["notified_at"] = event["changed_at"]

            trainings = []
            for n in range(TRAININGS):
                starts = (now + dt.timedelta(days=21 + 3 * n)).replace(
                    hour=1, minute=0, second=0, microsecond=0
                )
                trainings.append(
                    {
                        "id": n + 1,
                        "code": f"PLT-LOAD-{n + 1:04d}",
                        "title": f"Pelatihan beban {n + 1}: pelayanan publik",
                        "starts_at": starts,
                        "ends_at": starts + dt.timedelta(hours=6),
                        "place": "Aula BKPSDM",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            participants = []
            taking: dict[int, int] = {}
            for n, employee_id in enumerate(staff_ids):
                count = 1 + (n % 2)
                for k in range(count):
                    participants.append(
                        {
                            "id": len(participants) + 1,
                            "training_id": (n + k) % TRAININGS + 1,
                            "employee_id": employee_id,
                            "attendance": "unknown",
                        }
                    )
                taking[FIRST_STAFF + n] = count
            trainings = [
                {k: v for k, v in row.items() if k in Training.__table__.c} for row in trainings
            ]
            for model, values in (
                (TelegramUser, users_rows),
                (Mutation, mutations),
                (MutationEvent, events),
                (Training, trainings),
                (TrainingParticipant, participants),
            ):
                await _bulk_insert(connection, model, values)
    finally:
        await engine.dispose()
    office_supervisors = []
    for n, boss in enumerate(chosen):
        first_report = supervisors + n * REPORTS + 1  # evaluation_bench's layout
        office_supervisors.append((boss.user_id, [first_report + k for k in range(REPORTS)]))
    assert all(s[0] == FIRST_SUPERVISOR + n for n, s in enumerate(office_supervisors))
    return Office(
        supervisors=office_supervisors,
        staff=taking,
        told=[FIRST_TOLD + n for n in range(supervisors)],
        employees=employees,
        mutations=len(mutations),
    )


# --- the simulated people -------------------------------------------------------------------
@dataclass
class Actor:
    user_id: int
    supervisor: bool
    rng: random.Random
    trainings: int = 0  # training cards /pelatihan shows them
    reports: list[int] = field(default_factory=list)  # still to rate (supervisors)
    plan: list[Action] = field(default_factory=list)  # the evaluation in progress
    step: int = 0
    message_id: int | None = None  # the bot's message whose buttons are pressed
    buttons: list[tuple[str, str]] = field(default_factory=list)
    cards: dict[int, int] = field(default_factory=dict)  # training -> card message id
    answered_trainings: set[int] = field(default_factory=set)
    next_at: float = 0.0  # wall clock (monotonic) of the next action
    # the update in flight
    kind: str | None = None
    expect: str = ""  # message | edit | ack
    sent_at: float = 0.0  # emulator clock
    sent_wall: float = 0.0
    query_id: str | None = None
    press: tuple[int, str] | None = None  # (message id, data) to press
    messages_left: int = 0  # /pelatihan: messages still expected
    first_answer: float | None = None
    retired: bool = False  # gave up on an answer (timeout): acts no more


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    sent: collections.Counter[str] = field(default_factory=collections.Counter)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    timeouts: collections.Counter[str] = field(default_factory=collections.Counter)
    samples: list[str] = field(default_factory=list)  # the first error descriptions

    def error(self, kind: str, why: str) -> None:
        self.errors[kind] += 1
        if len(self.samples) < 8:
            self.samples.append(f"{kind}: {why[:200]}")


def _end(call: dict[str, Any]) -> float:
    return float(call["time"]) + float(call["duration"])


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(call: dict[str, Any]) -> str:
    params = call["params"]
    return str(params.get("text") or params.get("caption") or "")


def next_action(actor: Actor) -> tuple[str, str | None, tuple[int, str] | None]:
    """(kind, text to send, or (message id, data) to press) of an idle actor's next turn."""
    rng = actor.rng
    if actor.supervisor:
        if actor.plan and actor.step < len(actor.plan):
            action = actor.plan[actor.step]
            if action.text is not None:
                return ("nilai", action.text, None)
            data = choose(action, actor.buttons)
            if data is None or actor.message_id is None:
                raise LookupError(f"no button for {action.kind} among {actor.buttons}")
            return ("nilai_button", None, (actor.message_id, data))
        if actor.reports:
            employee_id = actor.reports.pop(0)
            actor.plan = evaluation_plan(employee_id, rng, rng.random() < 0.25)
            actor.step = 0
            return ("nilai", actor.plan[0].text, None)
        choice = rng.choice(("status", "kinerja"))
        return (choice, f"/{choice}", None)
    pending = [t for t in actor.cards if t not in actor.answered_trainings]
    if pending and rng.random() < 0.7:
        training = pending[0]
        actor.answered_trainings.add(training)
        return ("hadir", None, (actor.cards[training], f"latih:{training}:hadir"))
    choice = rng.choices(("status", "pelatihan", "kinerja"), weights=(5, 3, 2))[0]
    return (choice, f"/{choice}", None)


class Driver:
    """Every actor's turns through the emulator's batch endpoints, answers from its call log."""

    def __init__(self, client: Any, actors: list[Actor], timeout: float) -> None:
        self.client = client
        self.actors = actors
        self.by_chat = {a.user_id: a for a in actors}
        self.by_query: dict[str, Actor] = {}
        self.timeout = timeout
        self.tally = Tally()
        self.since = 0
        self.calls: list[dict[str, Any]] = []  # every call but getUpdates
        self.report_seen = False  # HR got the announcement's final report

    def answered(self, actor: Actor, end: float) -> None:
        assert actor.kind is not None
        self.tally.latencies[actor.kind].append(end - actor.sent_at)
        if actor.kind in ("nilai", "nilai_button"):
            actor.step += 1
        self.settle(actor)

    def settle(self, actor: Actor) -> None:
        actor.kind = None
        actor.query_id = None
        actor.first_answer = None
        actor.next_at = time.monotonic() + actor.rng.uniform(*THINK)

    def abandon_evaluation(self, actor: Actor) -> None:
        actor.plan, actor.step = [], 0

    async def turn(self, accepting: bool) -> None:
        now = time.monotonic()
        texts: list[tuple[Actor, str]] = []
        presses: list[Actor] = []
        for actor in self.actors:
            if actor.retired:
                continue
            if actor.kind is not None:
                if now - actor.sent_wall > self.timeout:
                    self.tally.timeouts[actor.kind] += 1
                    self.tally.error(actor.kind, f"no answer in {self.timeout:g} s")
                    actor.retired = True
                continue
            if not accepting or now < actor.next_at:
                continue
            try:
                kind, text, press = next_action(actor)
            except LookupError as exc:
                self.tally.error("nilai_button", str(exc))
                self.abandon_evaluation(actor)
                actor.next_at = now + actor.rng.uniform(*THINK)
                continue
            actor.kind, actor.sent_wall = kind, now
            if text is not None:
                actor.expect = "message"
                actor.messages_left = 1 + actor.trainings if kind == "pelatihan" else 1
                texts.append((actor, text))
            else:
                actor.expect = "ack" if kind == "hadir" else "edit"
                actor.press = press
                presses.append(actor)
        if texts:
            answer = await self.client.send_texts([(actor.user_id, text) for actor, text in texts])
            for actor, _text_sent in texts:
                actor.sent_at = float(answer["time"])
                self.tally.sent[actor.kind or "?"] += 1
        if presses:
            batch = [(a.user_id, a.press[0], a.press[1]) for a in presses if a.press]
            answer = await self.client.press_buttons(batch)
            for actor, pressed in zip(presses, answer["pressed"], strict=True):
                actor.sent_at = float(answer["time"])
                actor.query_id = str(pressed["callback_query_id"])
                self.by_query[actor.query_id] = actor
                self.tally.sent[actor.kind or "?"] += 1
        fresh = await self.client.calls(since=self.since or None)
        for call in fresh:
            self.since = max(self.since, int(call["seq"]))
            if call["method"] != "getUpdates":
                self.calls.append(call)
                self.read(call)
        # A pause every turn: the driver must not take the CPU the bot and emulator need.
        await asyncio.sleep(POLL_SECONDS)

    def read(self, call: dict[str, Any]) -> None:
        method, params = call["method"], call["params"]
        if method == "answerCallbackQuery":
            actor = self.by_query.pop(str(params.get("callback_query_id")), None)
            if actor is None or actor.kind is None:
                return
            if not call["ok"]:
                self.tally.error(actor.kind, f"answerCallbackQuery failed: {call['description']}")
            if actor.kind == "hadir":
                if any(w in str(params.get("text") or "").lower() for w in ERROR_WORDS):
                    self.tally.error("hadir", f"answered {params.get('text')!r}")
                self.answered(actor, _end(call))
            elif params.get("text"):  # an alert on a /nilai button: a refusal
                self.tally.error(actor.kind, f"alert {params.get('text')!r}")
                self.abandon_evaluation(actor)
                self.settle(actor)
            return
        if method not in (*SEND_METHODS, "editMessageText"):
            return
        try:
            chat = int(params.get("chat_id") or 0)
        except (TypeError, ValueError):
            return
        if chat == HR_CHAT and method == "sendMessage" and has_button(call, "siaran:xlsx"):
            self.report_seen = self.report_seen or bool(call["ok"])
        actor = self.by_chat.get(chat)
        text = _text(call)
        if actor is None or ANNOUNCEMENT in text:
            return
        if method == "sendMessage" and call["ok"]:
            for _label, data in buttons_of(params.get("reply_markup")):
                if match := HADIR.match(data):
                    actor.cards.setdefault(int(match[1]), int(call.get("result_message_id") or 0))
        kind = actor.kind or "other"
        if not call["ok"]:
            self.tally.error(kind, f"{method} {call['status']} {call.get('description')}")
        elif any(word in text.lower() for word in ERROR_WORDS):
            self.tally.error(kind, f"{method}: {text[:120]!r}")
        if actor.kind is None or not call["ok"]:
            return
        if actor.expect == "message" and method in SEND_METHODS:
            if actor.kind == "nilai":
                actor.message_id = _int(call.get("result_message_id"))
                actor.buttons = buttons_of(params.get("reply_markup"))
            if actor.first_answer is None:
                actor.first_answer = _end(call)
            actor.messages_left -= 1
            if actor.messages_left <= 0:
                first = actor.first_answer
                self.answered(actor, first)
        elif actor.expect == "edit":
            if method == "editMessageText" and _int(params.get("message_id")) == actor.message_id:
                actor.buttons = buttons_of(params.get("reply_markup"))
                self.answered(actor, _end(call))
            elif method == "sendMessage":
                self.tally.error(actor.kind, f"a new message for a button: {text[:100]!r}")
                self.abandon_evaluation(actor)
                self.settle(actor)

    def in_flight(self) -> int:
        return sum(1 for a in self.actors if a.kind is not None and not a.retired)


async def hr_announces(root: str, latencies: list[float], started: dict[str, float]) -> None:
    """HR's conversation up to Kirim sekarang (its own client, waiting as a person would)."""
    from bot.emulator.client import EmulatorClient

    async with EmulatorClient(root, timeout=120) as client:
        sent = await client.send_text(HR_CHAT, "/hr_umumkan")
        del sent
        began = time.monotonic()
        await client.wait_for_bot_message(HR_CHAT, None, timeout=300)
        latencies.append(time.monotonic() - began)
        began = time.monotonic()
        await client.send_text(HR_CHAT, ANNOUNCEMENT, entities=ANNOUNCEMENT_ENTITIES)
        choose_audience = await client.wait_for_bot_message(
            HR_CHAT, with_button("umum:aud:all"), 300
        )
        latencies.append(time.monotonic() - began)
        began = time.monotonic()
        await client.press_button(HR_CHAT, choose_audience["message_id"], "umum:aud:all")
        preview = await client.wait_for_bot_message(HR_CHAT, with_button("umum:send"), 300)
        latencies.append(time.monotonic() - began)
        answer = await client.press_buttons([(HR_CHAT, preview["message_id"], "umum:send")])
        started["press"] = float(answer["time"])


async def sample_connections(database_url: str, seen: list[int], stop: asyncio.Event) -> None:
    """The database's connections in ``pg_stat_activity`` (this sampler's excluded)."""
    from sqlalchemy import text

    from storage.db import create_engine

    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    try:
        async with engine.connect() as connection:
            while not stop.is_set():
                seen.append(int((await connection.execute(query)).scalar_one()))
                await connection.rollback()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
    finally:
        await engine.dispose()


def make_actors(office: Office, seed: int) -> list[Actor]:
    actors = []
    for n, (user_id, reports) in enumerate(office.supervisors):
        actors.append(
            Actor(user_id, True, random.Random(seed * 1_000_003 + n), reports=list(reports))
        )
    for n, (user_id, trainings) in enumerate(office.staff.items()):
        actors.append(
            Actor(user_id, False, random.Random(seed * 7_000_003 + n), trainings=trainings)
        )
    return actors


async def create_users(root: str, office: Office) -> None:
    from bot.emulator.client import EmulatorClient

    people = [(HR_CHAT, "Admin")]
    people += [(user_id, "Atasan") for user_id, _reports in office.supervisors]
    people += [(user_id, "Pegawai") for user_id in office.told]
    people += [(user_id, "Staf") for user_id in office.staff]
    async with EmulatorClient(root) as client:
        await client.reset()
        await client.set_rate_limit(None, None)
        for start in range(0, len(people), 100):
            await asyncio.gather(
                *(client.create_user(i, f"{name} {i}") for i, name in people[start : start + 100])
            )


async def run(
    root: str, database_url: str, office: Office, running: BotProcess, args: argparse.Namespace
) -> dict[str, Any]:
    from bot.emulator.client import EmulatorClient

    actors = make_actors(office, args.seed)
    stop = asyncio.Event()
    connections: list[int] = []
    sampler = (
        asyncio.create_task(sample_connections(database_url, connections, stop))
        if database_url.startswith("postgresql")
        else None
    )
    hr_latencies: list[float] = []
    hr_started: dict[str, float] = {}
    async with EmulatorClient(root, timeout=120) as client:
        # The bot is polling once a first /status is answered (the updates wait till then).
        probe = actors[-1]
        await client.send_text(probe.user_id, "/status")
        await client.wait_for_bot_message(probe.user_id, None, timeout=120)
        await client.clear_calls()
        driver = Driver(client, actors, args.timeout)
        hr = asyncio.create_task(hr_announces(root, hr_latencies, hr_started))
        began = time.monotonic()
        for actor in actors:  # everyone starts within the first think time
            actor.next_at = began + actor.rng.uniform(0, THINK[1])
        while time.monotonic() - began < args.seconds:
            await driver.turn(accepting=True)
            if running.process.poll() is not None:
                break
            running.read_peak_rss()
        stopped = time.monotonic()
        # Drain: answers in flight, then the announcement.
        patience = max(args.timeout, len(office.staff) / (args.send_rate / 2) + 60)
        finished = False
        while time.monotonic() - stopped < patience and running.process.poll() is None:
            await driver.turn(accepting=False)
            running.read_peak_rss()
            finished = driver.report_seen
            if finished and not driver.in_flight():
                break
        drained = time.monotonic() - stopped
        await asyncio.sleep(3.0)  # a late (duplicate) send would show
        await driver.turn(accepting=False)
        hr_error = None
        if not hr.done():
            hr.cancel()
            hr_error = "HR's conversation did not finish"
        elif hr.exception() is not None:
            hr_error = f"HR's conversation failed: {hr.exception()}"
    stop.set()
    if sampler is not None:
        await sampler
    if hr_error:
        driver.tally.error("hr", hr_error)
    tally = driver.tally
    tally.latencies["hr"].extend(hr_latencies)
    tally.sent["hr"] += len(hr_latencies)

    # The announcement, from the call log.
    wanted = {a.user_id for a in actors} | set(office.told)  # every linked user but HR
    reached = collections.Counter(
        int(c["params"].get("chat_id") or 0)
        for c in driver.calls
        if c["method"] == "sendMessage" and c["ok"] and ANNOUNCEMENT in _text(c)
    )
    times = sorted(
        float(c["time"])
        for c in driver.calls
        if c["method"] == "sendMessage"
        and c["ok"]
        and ANNOUNCEMENT in _text(c)
        and int(c["params"].get("chat_id") or 0) in wanted
    )
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    lost = {kind: 0 for kind in KINDS}
    for actor in actors:
        if actor.kind is not None:
            lost[actor.kind] += 1
    return {
        "tally": tally,
        "lost": lost,
        "active_seconds": stopped - began,
        "drained_seconds": drained,
        "announcement": {
            "finished": finished,
            "recipients": len(wanted),
            "reached": sum(1 for chat in wanted if reached[chat] >= 1),
            "duplicates": sum(1 for chat in wanted if reached[chat] > 1),
            "missing": sum(1 for chat in wanted if reached[chat] == 0),
            "rate": (len(times) - 1) / span if span > 0 else float("nan"),
            "press_to_last": times[-1] - hr_started["press"]
            if times and "press" in hr_started
            else float("nan"),
        },
        "too_many": sum(1 for c in driver.calls if c["status"] == 429),
        "connections": max(connections) if connections else None,
        "actors": len(actors),
        "retired": sum(1 for a in actors if a.retired),
    }


def measure(root: str, database: ScratchDatabase, folder: Path, args: argparse.Namespace) -> Any:
    began = time.monotonic()
    supervisors = args.supervisors if args.supervisors is not None else max(1, args.users // 10)
    office = asyncio.run(seed(database.url, args.employees, args.users, supervisors))
    asyncio.run(create_users(root, office))
    seeded = time.monotonic() - began
    log = folder / f"bot-{database.label}.log"
    with bot_process(database.url, root, log, args.send_rate) as running:
        try:
            outcome = asyncio.run(run(root, database.url, office, running, args))
        except Exception as exc:
            running.read_peak_rss()
            raise RuntimeError(f"the run failed: {exc!r}\n{log.read_text()[-3000:]}") from exc
        running.read_peak_rss()
    text = log.read_text()
    outcome.update(
        rss_mb=running.peak_rss_mb,
        log_errors=running.errors(),
        exceptions=exceptions(text),
        states=asyncio.run(end_states(database.url)),
        seeded_seconds=seeded,
        office=office,
        supervisors=supervisors,
        pool=pool_size(database.url),
    )
    return outcome


def pool_size(database_url: str) -> str:
    """The bot's engine's pool as ``storage.db.create_engine`` makes it: "size+overflow"."""
    from storage.db import create_engine

    engine = create_engine(database_url)
    try:
        pool: Any = engine.pool
        return f"pool {pool.size()}+{getattr(pool, '_max_overflow', 0)}"
    except AttributeError:
        return type(engine.pool).__name__
    finally:
        asyncio.run(engine.dispose())


# --- main -----------------------------------------------------------------------------------
def _s(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.2f}"


def _ok(met: bool) -> str:
    return "ok" if met else "MISS"


def report(label: str, o: dict[str, Any], args: argparse.Namespace) -> tuple[list[str], bool]:
    """This database's lines of the kinds table, its summary line, and whether a goal missed."""
    tally: Tally = o["tally"]
    lines = []
    for kind, name in KINDS.items():
        values = sorted(tally.latencies.get(kind, []))
        if not tally.sent[kind] and not values:
            continue
        lines.append(
            f"{label:<11} {name:<21} {tally.sent[kind]:>6} {len(values):>6} "
            f"{_s(percentile(values, 0.5)):>7} {_s(percentile(values, 0.95)):>7} "
            f"{_s(values[-1] if values else None):>7} {tally.errors[kind]:>6} "
            f"{o['lost'].get(kind, 0):>5}"
        )
    everything = sorted(v for values in tally.latencies.values() for v in values)
    errors = sum(tally.errors.values())
    lost = sum(o["lost"].values())
    lines.append(
        f"{label:<11} {'all':<21} {sum(tally.sent.values()):>6} {len(everything):>6} "
        f"{_s(percentile(everything, 0.5)):>7} {_s(percentile(everything, 0.95)):>7} "
        f"{_s(everything[-1] if everything else None):>7} {errors:>6} {lost:>5}"
    )
    a = o["announcement"]
    rss = o["rss_mb"]
    connections = f"{o['connections']}" if o["connections"] is not None else f"n/a ({o['pool']})"
    summary = (
        f"{label:<11} {errors:>6} {_ok(errors == 0):>4} {lost:>5} {_ok(lost == 0):>4} "
        f"{len(o['log_errors']):>7} {a['reached']:>5}/{a['recipients']:<5} {a['duplicates']:>5} "
        f"{a['missing']:>5} {_ok(a['missing'] == 0 and a['duplicates'] == 0):>4} "
        f"{_s(a['rate']):>7} {(f'{rss:.0f}MB' if rss else '-'):>6} "
        f"{_ok(bool(rss) and rss <= RSS_GOAL_MB):>4} {connections:>12}"
    )
    missed = bool(
        errors
        or lost
        or o["log_errors"]
        or a["missing"]
        or a["duplicates"]
        or not rss
        or rss > RSS_GOAL_MB
    )
    return [*lines, summary], missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2_000, help="linked users (default 2000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="of activity (default 60)")
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--supervisors", type=int, help="default: users / 10")
    parser.add_argument("--database-url", action="append", dest="urls")
    parser.add_argument(
        "--send-rate",
        type=float,
        default=30.0,
        help="the bot's SEND_RATE_GLOBAL, shared by replies and pushes (default 30)",
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds an answer may take (default 120)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.users < 10:
        parser.error("--users must be at least 10")

    urls = args.urls or default_database_urls()
    began = time.monotonic()
    print(
        f"{args.users} linked users ({args.employees} employees) for {args.seconds:g} s: staff "
        "/status, /kinerja, /pelatihan + Hadir; supervisors /nilai; HR's announcement to all "
        f"at the start; think time {THINK[0]:g}-{THINK[1]:g} s; bot as built with "
        f"SEND_RATE_GLOBAL={args.send_rate:g} (replies and pushes share it); emulator uncapped; "
        "emulator and bot in their own processes"
    )
    kind_lines: list[str] = []
    summary_lines: list[str] = []
    notes: list[str] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp:
        folder = Path(tmp)
        with emulator_process(folder / "emulator.log") as root:
            for url in urls:
                with ScratchDatabase(url, folder) as database:
                    try:
                        outcome = measure(root, database, folder, args)
                    except (RuntimeError, OSError) as exc:
                        print(f"{database.label}: {exc}", file=sys.stderr)
                        failed = True
                        continue
                lines, missed = report(database.label, outcome, args)
                failed |= missed
                kind_lines += lines[:-1]
                summary_lines.append(lines[-1])
                office: Office = outcome["office"]
                a = outcome["announcement"]
                tally: Tally = outcome["tally"]
                announcement_rows = outcome["states"]["outbox"].get("announcement", {})
                notes.append(
                    f"{database.label}: {outcome['actors']} acting ({outcome['supervisors']} "
                    f"supervisors, {len(office.staff)} staff, {office.mutations} with a transfer "
                    f"in progress), {len(office.told)} rated reports and HR linked too; active "
                    f"{outcome['active_seconds']:.0f} s, drained {outcome['drained_seconds']:.0f} "
                    f"s; gave up waiting: {outcome['retired']}; 429s: {outcome['too_many']}; "
                    f"announcement finished: {a['finished']}, press -> last recipient "
                    f"{_s(a['press_to_last'])} s, outbox rows "
                    + (", ".join(f"{s} {n}" for s, n in sorted(announcement_rows.items())) or "-")
                    + f"; seeding {outcome['seeded_seconds']:.0f} s"
                )
                for sample in tally.samples:
                    notes.append(f"  error: {sample}")
                if outcome["log_errors"]:
                    raised = "; ".join(f"{n}x {t}" for t, n in outcome["exceptions"].most_common(3))
                    notes.append(
                        f"  {len(outcome['log_errors'])} errors in the bot's log, first: "
                        f"{outcome['log_errors'][0][:200]}; raised: {raised or '?'}"
                    )
    print(
        f"{'database':<11} {'update':<21} {'sent':>6} {'answd':>6} {'p50 s':>7} {'p95 s':>7} "
        f"{'max s':>7} {'errors':>6} {'lost':>5}"
    )
    print("\n".join(kind_lines))
    print(
        f"\n{'database':<11} {'errors':>6} {'':>4} {'lost':>5} {'':>4} {'log err':>7} "
        f"{'announced':>11} {'dupl':>5} {'miss':>5} {'':>4} {'msg/s':>7} {'RSS':>6} {'':>4} "
        f"{'connections':>12}"
    )
    print("\n".join(summary_lines))
    print(
        "latency: from the batch that sent the update to the end of the bot's answer, on the "
        "emulator's clock (/pelatihan: its first message, once every card arrived; a button: "
        "the edit of its message, Hadir: answerCallbackQuery; HR: on this process's clock); "
        "errors: no answer in --timeout, an error reply, a failed call, a refused button; "
        "lost: sent, never answered; log err: ERROR lines in the bot's log; announced: "
        "linked users who got the announcement / all linked but HR, dupl / miss: more than "
        "once / never; msg/s: its rate; RSS: the bot's peak (goal <= "
        f"{RSS_GOAL_MB:.0f} MB); connections: the most in pg_stat_activity (SQLite: one file, "
        "SQLAlchemy's pool). goals: 0 errors, 0 lost, each recipient exactly once."
    )
    print("\n".join(notes))
    print(f"whole run: {time.monotonic() - began:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
