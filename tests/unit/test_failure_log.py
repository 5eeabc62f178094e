"""A loop failing every round logs the first failure in full, then a count once a minute,
then one line when it works again."""

from __future__ import annotations

import logging

import pytest

from bot.failure_log import FailureLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(failures: FailureLog, message: str = "connection refused") -> None:
    try:
        raise ConnectionRefusedError(message)
    except ConnectionRefusedError:
        failures.failed()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_failing_twice_a_second_logs_one_traceback_then_a_count_a_minute(caplog, clock: Clock):
    caplog.set_level(logging.DEBUG, logger="loop")
    failures = FailureLog(logging.getLogger("loop"), "outbox sender round", clock=clock)
    for _ in range(150):  # 75 s
        fail(failures)
        clock.now += 0.5
    records = [r for r in caplog.records if r.name == "loop"]
    # t=0 the first (with its traceback), t=60 the count; nothing else.
    assert [r.levelno for r in records] == [logging.ERROR, logging.ERROR]
    first, repeat = records
    assert first.getMessage() == "outbox sender round failed; retrying"
    assert first.exc_info is not None and isinstance(first.exc_info[1], ConnectionRefusedError)
    assert repeat.getMessage() == (
        "outbox sender round still failing: 121 rounds in 60 s (ConnectionRefusedError)"
    )
    assert repeat.exc_info is None
    assert failures.failing


def test_working_again_says_so_once_and_the_next_failure_is_logged_in_full(caplog, clock: Clock):
    caplog.set_level(logging.DEBUG, logger="loop")
    failures = FailureLog(logging.getLogger("loop"), "scheduler tick", clock=clock)
    failures.succeeded()  # nothing was wrong: nothing to say
    assert not caplog.records
    fail(failures)
    clock.now += 30
    fail(failures)
    failures.succeeded()
    failures.succeeded()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "scheduler tick failed; retrying",
        "scheduler tick works again after 2 failed rounds in 30 s",
    ]
    assert not failures.failing
    fail(failures, "again")
    assert caplog.records[-1].getMessage() == "scheduler tick failed; retrying"
    assert caplog.records[-1].exc_info is not None
