"""The real bot as a child process, for tests that SIGKILL it and start it again.

``python -m tests.support.bot_child`` runs exactly what ``run_bot.py run`` runs, without the
migration (the test's database is migrated already): :class:`bot.config.Settings` read from
the environment (``BOT_TOKEN``, ``DATABASE_URL``, ``TELEGRAM_BASE_URL``,
``QUIET_HOURS_START``/``_END``, ``ANNOUNCEMENT_PROGRESS_SECONDS`` …; no ``.env`` file), the
application of :func:`bot.app.build_application`, ``run_polling``.

One difference, for test speed only: the outbox sender's options may be overridden with the
JSON object in ``BOT_CHILD_DELIVERY`` (e.g. ``{"global_rate": 300, "batch_size": 100}``), put
in ``app.bot_data.extras["delivery"]`` before ``post_init``, which merges it over the
settings (:mod:`bot.app`). The configuration caps ``SEND_RATE_GLOBAL`` at 30 because Telegram
allows about 30 messages per second per bot; the emulator has no such limit, and 3,000
messages at 25 per second would take two minutes.

:class:`BotChild` is the test side: start the child, SIGKILL or SIGTERM it, read its log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.emulator import RunningEmulator

ENV_DELIVERY = "BOT_CHILD_DELIVERY"
ROOT = Path(__file__).resolve().parents[2]
RUN_BOT = str(ROOT / "run_bot.py")


def main() -> int:
    from telegram import Update

    from bot.app import build_application
    from bot.config import Settings

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = Settings(_env_file=None)
    application = build_application(settings)
    raw = os.environ.get(ENV_DELIVERY)
    if raw:
        application.bot_data.extras["delivery"] = json.loads(raw)
    application.run_polling(allowed_updates=Update.ALL_TYPES, close_loop=False)
    return 0


class BotChild:
    """One run of the child process; its output goes to ``log``."""

    def __init__(
        self,
        log: Path,
        *,
        token: str,
        database_url: str,
        base_url: str,
        base_file_url: str,
        delivery: Mapping[str, Any] | None = None,
        environment: Mapping[str, str] | None = None,
        argv: list[str] | None = None,
    ) -> None:
        self.log = log
        # What runs: this module's polling bot, or e.g. ``run_bot.py run --webhook …``.
        self.argv = argv or ["-m", "tests.support.bot_child"]
        self.env = {
            **os.environ,
            "BOT_TOKEN": token,
            "DATABASE_URL": database_url,
            "TELEGRAM_BASE_URL": base_url,
            "TELEGRAM_BASE_FILE_URL": base_file_url,
            # No quiet hours: what is sent must not depend on the time of day.
            "QUIET_HOURS_START": "00:00",
            "QUIET_HOURS_END": "00:00",
            "PYTHONPATH": str(ROOT),
            **(environment or {}),
        }
        if delivery is not None:
            self.env[ENV_DELIVERY] = json.dumps(dict(delivery))
        self.process: asyncio.subprocess.Process | None = None

    @classmethod
    def on_emulator(
        cls, log: Path, emulator: RunningEmulator, database_url: str, **options: Any
    ) -> BotChild:
        """A child talking to ``emulator`` with the tests' token."""
        from tests.support.telegram import TOKEN

        return cls(
            log,
            token=TOKEN,
            database_url=database_url,
            base_url=emulator.base_url,
            base_file_url=emulator.base_file_url,
            **options,
        )

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                *self.argv,
                cwd=self.log.parent,  # no .env file there
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def output(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"\n--- {self.log.name} (tail) ---\n" + "\n".join(text.splitlines()[-lines:])

    async def signal(self, signum: int, timeout: float = 20.0) -> int:  # noqa: ASYNC109
        """Send ``signum`` and wait for the exit; the return code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signum)
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def kill(self) -> int:
        return await self.signal(signal.SIGKILL)

    async def ensure_stopped(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.kill()
            await self.process.wait()


if __name__ == "__main__":
    sys.exit(main())
