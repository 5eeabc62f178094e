"""The logging privacy filter, the JSON format and the set-up (bot.log_privacy,
bot.logging_setup): what is masked, what must stay readable."""

from __future__ import annotations

import functools
import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from telegram import Update

from bot.cli import main
from bot.log_privacy import PrivacyFilter, mask_text
from bot.logging_setup import TEXT_FORMAT, JsonFormatter, configure_logging

NIP = "198609262015051001"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in ("httpx", "alembic.runtime.plugins")}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


def record(msg: object, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("some.lib", logging.DEBUG, __file__, 1, msg, args, exc_info)


def filtered(msg: object, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    entry = record(msg, *args, exc=exc)
    assert PrivacyFilter().filter(entry) is True
    return entry


# --------------------------------------------------------------------------- masking
@pytest.mark.parametrize(
    "typed",
    [
        "198609262015051001",
        "19860926 201505 1 001",
        "19860926.201505.1.001",
        "19860926-201505-1-001",
        "19860926 201505 1001",
        "19860926\u00a0201505\u00a01\u00a0001",
    ],
)
def test_nips_as_people_type_them_are_masked(typed):
    assert mask_text(f"NIP {typed} dicari") == "NIP 1986…001 dicari"


@pytest.mark.parametrize(
    ("typed", "tail"),
    [
        ("+6281234567890", "890"),
        ("+62 812-3456-7890", "890"),
        ("+62 812 3456 789", "789"),
        ("6281234567890", "890"),
        ("62 812 3456 7890", "890"),
        ("081234567890", "890"),
        ("0812-3456-7890", "890"),
        ("0812.3456.789", "789"),
        ("08123456789", "789"),
        ("081234567", "567"),  # the shortest: 9 digits
        ("0812345678901", "901"),  # the longest: 13 digits
    ],
)
def test_indonesian_mobile_numbers_are_masked(typed, tail):
    assert mask_text(f"HP: {typed}.") == f"HP: +62…{tail}."


@pytest.mark.parametrize(
    "text",
    [
        "outbox #12345 chat 5550002: sent",
        "update 812345678 delivered again: ignored",
        "chat 7000000001 blocked the bot",
        "chat 6281234567 (a Telegram id, ten digits)",
        "group -1006281234567890 and basic group -6281234567",
        "a 17-digit id 19860926201505100 and a 19-digit one 1986092620150510011",
        "sent 08:12 and 2026-12-07 09:00:00,123",
        "08123456 is too short, 08123456789012 is too long",
        "message 8123456789 and 628123 are no phones",
    ],
)
def test_ids_the_logs_rely_on_are_left_alone(text):
    assert mask_text(text) == text


def test_a_bot_token_keeps_only_the_bot_id():
    url = "POST https://api.telegram.org/bot7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0/getMe"
    assert mask_text(url) == "POST https://api.telegram.org/bot7000000001:***/getMe"


# --------------------------------------------------------------------------- the filter
def test_the_rendered_message_is_masked_not_only_the_template():
    entry = filtered("linking %s with %s", "19860926 201505 1 001", "+62 812 3456 7890")
    assert entry.getMessage() == "linking 1986…001 with +62…890"
    assert entry.args == ()


def test_containers_and_objects_are_never_rendered():
    update = Update.de_json(
        {
            "update_id": 812,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 5550002, "type": "private"},
                "text": "rahasia pribadi",
            },
        },
        None,
    )
    assert filtered("Processing update %s", update).getMessage() == "Processing update <Update 812>"
    params = {"chat_id": 5550002, "text": "rahasia pribadi"}
    message = filtered("Calling Bot API endpoint `%s` with parameters `%s`", "sendMessage", params)
    assert message.getMessage() == (
        "Calling Bot API endpoint `sendMessage` with parameters `<dict, 2 keys>`"
    )
    statement = functools.partial(print, "INSERT …", ("rahasia pribadi",))
    assert filtered("executing %s", statement).getMessage() == "executing <partial>"
    # logging passes a lone dict as the mapping of arguments: still not rendered.
    assert filtered("%s", {"text": "rahasia pribadi"}).getMessage() == "<dict, 1 keys>"
    assert filtered("%(n)s rows", {"n": 3}).getMessage() == "3 rows"
    assert filtered(["rahasia"]).getMessage() == "<list, 1 items>"


def test_known_third_party_raw_bodies_are_redacted():
    body = '{"message": {"text": "rahasia pribadi"}}'
    assert filtered("Webhook received data: %s", body).getMessage() == (
        "Webhook received data: <redacted>"
    )


def test_tracebacks_and_exception_messages_are_masked():
    try:
        raise ValueError(f"no employee {NIP} with phone 081234567890")
    except ValueError as exc:
        entry = filtered("lookup failed: %s", exc, exc=exc)
    assert entry.getMessage() == "lookup failed: no employee 1986…001 with phone +62…890"
    assert entry.exc_text is not None
    assert "Traceback" in entry.exc_text and "1986…001" in entry.exc_text
    assert NIP not in entry.exc_text and "081234567890" not in entry.exc_text


def test_a_broken_log_call_does_not_break_logging():
    entry = filtered("%d rows for %s", "not a number", "0812 3456 7890")
    assert entry.getMessage() == "%d rows for %s (log arguments not shown)"


def test_filtering_twice_changes_nothing_more():
    entry = filtered("NIP %s", NIP)
    first = entry.getMessage()
    PrivacyFilter().filter(entry)
    assert entry.getMessage() == first == "NIP 1986…001"


# --------------------------------------------------------------------------- formats
def test_json_lines_have_the_documented_keys():
    formatter = JsonFormatter()
    line = formatter.format(filtered("outbox #%d\nsent", 7))
    assert "\n" not in line
    entry = json.loads(line)
    assert set(entry) == {"time", "level", "logger", "pid", "message"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    assert (entry["level"], entry["logger"], entry["message"]) == (
        "DEBUG",
        "some.lib",
        "outbox #7\nsent",
    )
    assert isinstance(entry["pid"], int)
    try:
        raise RuntimeError(f"NIP {NIP}")
    except RuntimeError as exc:
        failed = json.loads(formatter.format(filtered("failed", exc=exc)))
    assert failed["exc"].startswith("Traceback") and "RuntimeError: NIP 1986…001" in failed["exc"]


def test_configure_logging_text_format_masks_every_logger(restore_logging):
    stream = io.StringIO()
    configure_logging(logging.DEBUG, stream=stream)
    configure_logging(logging.DEBUG, "text", stream=stream)  # replaces, does not add
    ours = [h for h in logging.getLogger().handlers if isinstance(h.formatter, logging.Formatter)]
    assert sum(1 for h in ours if getattr(h.formatter, "_fmt", None) == TEXT_FORMAT) == 1
    logging.getLogger("telegram.ext.Application").debug("Processing update %s", {"text": "x"})
    logging.getLogger("bot.test").info("contact %s", "+62 812 3456 7890")
    assert logging.getLogger("httpx").level == logging.WARNING
    lines = stream.getvalue().splitlines()
    pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ (DEBUG|INFO) [\w.]+: .*"
    assert all(re.fullmatch(pattern, line) for line in lines), lines
    assert lines[-2].endswith("telegram.ext.Application: Processing update <dict, 1 keys>")
    assert lines[-1].endswith("INFO bot.test: contact +62…890")


def test_the_command_line_logs_in_json_when_asked(restore_logging, monkeypatch, database_url):
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["data", "export", "199001012015011001"]) == 1  # unknown NIP
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
    assert any(isinstance(f, PrivacyFilter) for f in handler.filters)
