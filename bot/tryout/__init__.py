"""Try the bot without Telegram (``run_bot.py coba``): the real bot, the local Bot API emulator
and a chat page in the browser, on the demo data, in one process.

:class:`Tryout` starts, in the running event loop:

1. its own SQLite database (``data/coba.db`` by default), migrated, with the demo data
   loaded when it has no employees yet (``storage.demo``);
2. the emulator (``bot.emulator``) on ``host:port``, with the chat page mounted on the same
   server (``bot.tryout.page``): ``/`` is the page, ``/_emulator/…`` the control API it uses,
   ``/bot…`` the Bot API the bot uses. Nothing listens anywhere but ``host`` (127.0.0.1);
3. the real application (``bot.app.build_application``) polling the emulator, exactly as it
   polls Telegram, with a token of Telegram's shape that the emulator accepts.

The people to choose from are the demo's well-known ones (:data:`PERSONAS`): an ASN in the
middle of a mutation, a supervisor with pending evaluations, an HR admin and an ASN of the
supervisor's unit. Each has a fixed Telegram id in the emulator; the first time, the bot asks
them to share their phone number, which the page does with the demo phone of that person, and
the account is linked as it would be on Telegram. Links stay in the database; the chats
themselves live in the emulator's memory, for as long as the process runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.config import Settings
from storage.demo import DEMO_PEOPLE

log = logging.getLogger(__name__)

DEFAULT_PORT = 8080
DEFAULT_DATABASE = Path("data") / "coba.db"
# Any token of Telegram's shape is accepted by the emulator; this one never reaches Telegram.
TOKEN = "7000000001:AAcobaCobaCobaCobaCobaCobaCobaCobaCo"
BOT_USERNAME = "bkpsdm_bukittinggi_bot"
BOT_NAME = "BKPSDM Bukittinggi"
FIRST_USER_ID = 880_000_001


@dataclass(frozen=True, slots=True)
class PersonaSpec:
    key: str  # a key of storage.demo.DEMO_PEOPLE
    user_id: int  # the Telegram id in the emulator
    role: str  # "asn" | "supervisor" | "hr_admin": what the page says about them
    language: str  # the Telegram app's language


PERSONAS: tuple[PersonaSpec, ...] = (
    PersonaSpec("asn_in_mutation", FIRST_USER_ID, "asn", "id"),
    PersonaSpec("supervisor", FIRST_USER_ID + 1, "supervisor", "id"),
    PersonaSpec("hr_admin", FIRST_USER_ID + 2, "hr_admin", "id"),
    PersonaSpec("asn_new_in_unit", FIRST_USER_ID + 3, "asn", "id"),
)


@dataclass(frozen=True, slots=True)
class Persona:
    """A demo person as the page shows them (read from the database each time)."""

    key: str
    user_id: int
    role: str
    name: str
    first_name: str
    position: str
    unit: str
    phone: str
    linked: bool
    language: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "user_id": self.user_id,
            "role": self.role,
            "name": self.name,
            "first_name": self.first_name,
            "position": self.position,
            "unit": self.unit,
            "phone": self.phone,
            "linked": self.linked,
            "language": self.language,
        }


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


class Tryout:
    """The emulator, the chat page and the bot in this event loop (see the module doc)."""

    def __init__(
        self,
        database_url: str,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.database_url = database_url
        self.host = host
        self.port = port
        self.overrides = dict(settings or {})
        self.server: Any = None
        self.application: Any = None
        self.settings: Settings | None = None
        self._engine: Any = None  # for reading the personas; made on first use

    @property
    def url(self) -> str:
        assert self.server is not None, "not started"
        return self.server.root_url

    async def start(self) -> str:
        """Prepare the database, start the emulator with the page, then the bot; the page's
        address."""
        from bot.app import build_application
        from bot.emulator.server import EmulatorServer
        from bot.tryout.page import add_page_routes

        values: dict[str, Any] = {
            "bot_token": TOKEN,
            "database_url": self.database_url,
            "telegram_base_url": "http://127.0.0.1/bot",  # replaced once the port is known
            # A demonstration may run at any hour: no quiet hours holding pushes back.
            "quiet_hours_start": dt.time(0, 0),
            "quiet_hours_end": dt.time(0, 0),
        }
        self.settings = settings = Settings(**{**values, **self.overrides}, _env_file=None)
        await asyncio.to_thread(_migrate, settings.database_url)
        await _load_demo(settings.database_url)
        self.server = EmulatorServer(bot_username=BOT_USERNAME, bot_first_name=BOT_NAME)
        add_page_routes(self.server.app, self.personas, bot_name=BOT_NAME)
        await self.server.start(self.host, self.port)
        first_names = {persona.key: persona.first_name for persona in await self.personas()}
        for spec in PERSONAS:
            self.server.state.create_user(
                spec.user_id, first_names.get(spec.key, spec.key), language_code="id"
            )
        settings = self.settings = settings.model_copy(
            update={
                "telegram_base_url": f"{self.server.root_url}/bot",
                "telegram_base_file_url": f"{self.server.root_url}/file/bot",
            }
        )
        app = self.application = build_application(settings)
        await app.initialize()
        assert app.post_init is not None and app.updater is not None
        await app.post_init(app)
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=10)
        return self.url

    async def stop(self) -> None:
        app, self.application = self.application, None
        if app is not None and app.running:
            assert app.updater is not None and app.post_shutdown is not None
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
            await app.post_shutdown(app)
        server, self.server = self.server, None
        if server is not None:
            await server.stop()

    async def personas(self) -> list[Persona]:
        """The demo people in :data:`PERSONAS` order, read in one query."""
        from storage.db import create_engine, create_sessionmaker
        from storage.models import Employee, TelegramUser, Unit

        if self._engine is None:
            self._engine = create_engine(self.database_url)
        nips = {DEMO_PEOPLE[spec.key]: spec for spec in PERSONAS}
        async with create_sessionmaker(self._engine)() as session:
            rows = await session.execute(
                select(Employee, Unit.name, TelegramUser.language)
                .join(Unit, Unit.id == Employee.unit_id)
                .outerjoin(TelegramUser, TelegramUser.id == Employee.telegram_user_id)
                .where(Employee.nip.in_(nips))
            )
            found = {employee.nip: (employee, unit, chosen) for employee, unit, chosen in rows}
        people = []
        for nip, spec in nips.items():
            if nip not in found:
                continue
            employee, unit, chosen = found[nip]
            people.append(
                Persona(
                    key=spec.key,
                    user_id=spec.user_id,
                    role=spec.role,
                    name=employee.name,
                    first_name=employee.name.split(",")[0].split()[0],
                    position=employee.position,
                    unit=unit,
                    phone=f"+{employee.phone}" if employee.phone else "",
                    linked=employee.telegram_user_id == spec.user_id,
                    language=employee.language or chosen or spec.language,
                )
            )
        return people

    async def close_engine(self) -> None:
        """Close the personas' database connections (after :meth:`stop`)."""
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.dispose()


def _migrate(database_url: str) -> None:
    from storage.migrate import upgrade

    upgrade(database_url)


async def _load_demo(database_url: str) -> None:
    from storage.db import create_engine, create_sessionmaker
    from storage.demo import load_demo

    engine = create_engine(database_url)
    try:
        summary = await load_demo(create_sessionmaker(engine))
        if summary.created:
            log.info("demo data loaded: %d employees", summary.employees)
    finally:
        await engine.dispose()


async def serve(database_url: str, host: str, port: int, announce: Any = print) -> None:
    """Run until Ctrl+C or SIGTERM, then stop the bot and the page gracefully; ``announce``
    gets the page's address."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    tryout = Tryout(database_url, host=host, port=port)
    try:
        announce(await tryout.start())
        await stopping.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        with contextlib.suppress(Exception):
            await tryout.stop()
        await tryout.close_engine()


__all__ = [
    "DEFAULT_DATABASE",
    "DEFAULT_PORT",
    "PERSONAS",
    "Persona",
    "Tryout",
    "serve",
    "sqlite_url",
]
