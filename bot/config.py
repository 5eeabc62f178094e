"""Settings from the environment or a ``.env`` file (pydantic-settings)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.i18n import SUPPORTED_LANGUAGES
from bot.rules.skp import BehaviourRule

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/bot.db"
# What @BotFather hands out: the bot's numeric id, a colon, a 35-character secret.
TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")


_OFFSET = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_offsets(text: str) -> list[dt.timedelta]:
    """``"7d,1d,2h"`` -> the reminder offsets before an event, largest first."""
    offsets = []
    for part in text.split(","):
        match = _OFFSET.match(part)
        if match is None or int(match.group(1)) == 0:
            raise ValueError(f"reminder offset {part.strip()!r}: use e.g. 7d, 1d, 2h or 30m")
        offsets.append(dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))}))
    return sorted(set(offsets), reverse=True)


def normalize_database_url(url: str) -> str:
    """Use the async drivers whatever form the URL was given in."""
    for prefix, replacement in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgresql+psycopg2://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(prefix):
            return replacement + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: str = Field(default="", repr=False)
    database_url: str = DEFAULT_DATABASE_URL
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str | None = None
    timezone: str = "Asia/Jakarta"
    default_language: str = "id"
    hr_contact: str = "BKPSDM Kota Bukittinggi"
    # Delivery: Telegram allows ~30 messages/s overall and ~1/s to one chat.
    # Above 30 only makes sense against a local Bot API emulator (benchmarks); a warning says so.
    # With several processes on one PostgreSQL the rate is shared by all of them.
    send_rate_global: float = Field(default=25.0, gt=0, le=10_000)
    send_rate_per_chat: float = Field(default=1.0, gt=0, le=1)
    # Non-urgent pushes wait between these local times (HH:MM, end next morning).
    quiet_hours_start: dt.time = dt.time(21, 0)
    quiet_hours_end: dt.time = dt.time(6, 0)
    # Training reminders before the start: days (d), hours (h) or minutes (m).
    training_reminders: str = "7d,1d,2h"
    scheduler_tick_seconds: int = Field(default=30, ge=1, le=600)
    # HR's mutation overview lists the mutations that stayed longer in one stage.
    mutation_stuck_days: int = Field(default=14, ge=1, le=365)
    # Monthly evaluation (SKP): period M opens on this day of M and closes on the n-th
    # working day of M+1; how Perilaku Kerja is summarised; a silent conversation pauses.
    evaluation_opens_day: int = Field(default=1, ge=1, le=28)
    evaluation_deadline_working_day: int = Field(default=5, ge=1, le=15)
    behaviour_rule: BehaviourRule = BehaviourRule.MAJORITY
    evaluation_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # HR's live progress message of an announcement is edited at most this often.
    announcement_progress_seconds: float = Field(default=3.0, ge=1, le=60)
    # Webhook mode (``run --webhook``): Telegram posts updates to WEBHOOK_URL (public HTTPS,
    # usually a load balancer in front of every process); each process listens on
    # WEBHOOK_LISTEN:WEBHOOK_PORT and refuses a request without WEBHOOK_SECRET.
    webhook_url: str = ""
    webhook_secret: str = Field(default="", repr=False)
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_max_connections: int = Field(default=40, ge=1, le=100)
    # Several processes on PostgreSQL: the scheduler runs on the holder of an advisory lock;
    # the others try to take it over this often (a dead leader is replaced within it).
    leader_retry_seconds: float = Field(default=15.0, ge=0.2, le=55)
    # One send rate booked in PostgreSQL for all processes (bot.send_budget). Unset: on in
    # webhook mode and for `python -m bot.delivery_main`; a polling bot is the only process.
    shared_send_budget: bool | None = None
    # /healthz answers 503 when a due outbox message has waited longer than this.
    health_max_outbox_lag_seconds: int = Field(default=600, ge=10)
    # Delivered messages' contents are purged after this many days (UU 27/2022).
    message_retention_days: int = Field(default=90, ge=1, le=3650)
    # "text" (one line per record) or "json" (one JSON object per line).
    log_format: str = Field(default="text", pattern="^(text|json)$")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return normalize_database_url(value.strip())

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("default_language")
    @classmethod
    def _supported_language(cls, value: str) -> str:
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"DEFAULT_LANGUAGE must be one of {', '.join(SUPPORTED_LANGUAGES)}")
        return value

    @field_validator("training_reminders")
    @classmethod
    def _reminder_offsets(cls, value: str) -> str:
        parse_offsets(value)
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_token(cls, value: str) -> str:
        # What Telegram accepts as secret_token: 1-256 of A-Z, a-z, 0-9, _ and -.
        value = value.strip()
        if value and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value):
            raise ValueError("WEBHOOK_SECRET: 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @property
    def reminder_offsets(self) -> list[dt.timedelta]:
        return parse_offsets(self.training_reminders)

    @property
    def token_is_valid(self) -> bool:
        return bool(TOKEN_PATTERN.match(self.bot_token.strip()))

    @property
    def base_file_url(self) -> str:
        """PTB's ``base_file_url``: derived from ``base_url`` unless given."""
        if self.telegram_base_file_url:
            return self.telegram_base_file_url
        base = self.telegram_base_url.rstrip("/")
        head, _, tail = base.rpartition("/")
        return f"{head}/file/{tail}" if tail.startswith("bot") else f"{base}/file/bot"

    def sqlite_path(self) -> Path | None:
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix):
            rest = self.database_url[len(prefix) :].split("?")[0]
            return None if rest in ("", ":memory:") else Path(rest)
        return None
