import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from pydantic import ValidationError

from bot.config import DEFAULT_DATABASE_URL, Settings, normalize_database_url
from bot.i18n import LOCALES_DIR, SUPPORTED_LANGUAGES, get_translator, normalize_language

ROOT = Path(__file__).resolve().parents[2]


def test_defaults(monkeypatch):
    for name in ("BOT_TOKEN", "DATABASE_URL", "TIMEZONE", "DEFAULT_LANGUAGE", "TELEGRAM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.timezone == "Asia/Jakarta"
    assert settings.default_language == "id"
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert settings.base_file_url == "https://api.telegram.org/file/bot"
    assert not settings.token_is_valid


def test_env_file_and_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    env = tmp_path / ".env"
    env.write_text(
        "BOT_TOKEN=123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0\n"
        "DATABASE_URL=postgresql://bot@127.0.0.1/bot\n"
        "TELEGRAM_BASE_URL=http://127.0.0.1:8081/bot\n"
    )
    settings = Settings(_env_file=env)
    assert settings.token_is_valid
    assert settings.database_url == "postgresql+asyncpg://bot@127.0.0.1/bot"
    assert settings.base_file_url == "http://127.0.0.1:8081/file/bot"
    monkeypatch.setenv("TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError):
        Settings(_env_file=env)


@pytest.mark.parametrize("token", ["", "abc", "123:short", "12345:has space in the secret part!!"])
def test_malformed_tokens(token):
    assert not Settings(bot_token=token, _env_file=None).token_is_valid


def test_database_url_forms():
    assert normalize_database_url("sqlite:///./x.db") == "sqlite+aiosqlite:///./x.db"
    assert normalize_database_url("postgres://u@h/d") == "postgresql+asyncpg://u@h/d"


def test_language_codes():
    assert normalize_language("en-US") == "en"
    assert normalize_language("fr") == "id"
    assert normalize_language(None) == "id"


def test_dates_and_numbers_in_the_readers_locale():
    t = get_translator("id")
    assert t.date(dt.date(2026, 1, 12)) == "Senin, 12 Januari 2026"
    assert t.date(dt.date(2026, 1, 5)) == "Senin, 5 Januari 2026"
    assert t.number(1234) == "1.234"
    moment = dt.datetime(2026, 1, 12, 2, 0, tzinfo=dt.UTC)
    assert t.datetime(moment) == "Senin, 12 Januari 2026 pukul 09.00 WIB"
    assert get_translator("en").number(1234) == "1,234"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_catalog_is_complete_and_compiles(language, tmp_path):
    path = LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    untranslated = [m.id for m in catalog if m.id and not all(_strings(m.string))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not untranslated, f"untranslated in {language}: {untranslated}"
    assert not fuzzy, f"fuzzy in {language}: {fuzzy}"
    errors = [(m.id, e) for m in catalog for e in m.check(catalog)]
    assert not errors, errors
    with (tmp_path / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)


def _strings(value):
    return value if isinstance(value, tuple | list) else (value,)


def test_catalogs_cover_every_message_in_the_code(tmp_path):
    """The committed template is up to date with the source (run `make messages` if not)."""
    fresh = tmp_path / "fresh.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "-k",
            "t",
            "-k",
            "ngettext:1,2",
            "--no-location",
            "-o",
            str(fresh),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with fresh.open("rb") as handle:
        in_code = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    for language in SUPPORTED_LANGUAGES:
        with (LOCALES_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
            known = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
        missing = in_code - known
        assert not missing, f"not in the {language} catalog: {sorted(missing)[:5]}"


def _translation_calls_babel_cannot_see() -> list[str]:
    """Calls that look like translations but escape extraction (so stay untranslated)."""
    import ast

    problems = []
    for folder in ("bot", "handlers", "storage"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            inside_fstring = {
                id(node)
                for joined in ast.walk(tree)
                if isinstance(joined, ast.JoinedStr)
                for node in ast.walk(joined)
            }
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                if not isinstance(node.args[0], ast.Constant) or not isinstance(
                    node.args[0].value, str
                ):
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                if name == "t" and id(node) in inside_fstring:
                    problems.append(f"{where}: t() inside an f-string")
                elif name.endswith("_t") and name != "t":
                    problems.append(f"{where}: {name}() is not an extraction keyword")
    return problems


def test_every_translation_call_is_extractable():
    assert _translation_calls_babel_cannot_see() == []


def test_delivery_and_reminder_settings(monkeypatch):
    monkeypatch.setenv("QUIET_HOURS_START", "22:30")
    monkeypatch.setenv("TRAINING_REMINDERS", "2h, 3d,30m")
    settings = Settings(_env_file=None)
    assert settings.quiet_hours_start == dt.time(22, 30)
    assert settings.reminder_offsets == [
        dt.timedelta(days=3),
        dt.timedelta(hours=2),
        dt.timedelta(minutes=30),
    ]
    for bad in ("7x", "0d", "", "1d,,2h"):
        monkeypatch.setenv("TRAINING_REMINDERS", bad)
        with pytest.raises(ValidationError):
            Settings(_env_file=None)
    monkeypatch.delenv("TRAINING_REMINDERS")
    # Above Telegram's ~30/s is allowed for a local emulator (post_init warns); not unbounded.
    monkeypatch.setenv("SEND_RATE_GLOBAL", "100")
    assert Settings(_env_file=None).send_rate_global == 100
    for bad in ("0", "-1", "20000"):
        monkeypatch.setenv("SEND_RATE_GLOBAL", bad)
        with pytest.raises(ValidationError):
            Settings(_env_file=None)
