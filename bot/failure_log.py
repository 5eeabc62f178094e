"""Logging for loops that retry on their own (the outbox sender, the scheduler's tick, the
announcement progress pass).

While the database is down such a loop fails every round, several times a second. Logging each
failure with its traceback would bury the one line that matters. So the first failure is
logged with its traceback, repeats only as a one-line count at most once a minute, and the
first round that works again says how long the trouble lasted.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

REPEAT_EVERY_SECONDS = 60.0


class FailureLog:
    """Call :meth:`failed` inside the ``except`` of a round, :meth:`succeeded` after one."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        repeat_every: float = REPEAT_EVERY_SECONDS,
    ) -> None:
        self._log = logger
        self._what = what
        self._clock = clock
        self._repeat_every = repeat_every
        self._failures = 0
        self._first_at = 0.0
        self._logged_at = 0.0

    @property
    def failing(self) -> bool:
        return self._failures > 0

    def failed(self) -> None:
        """Inside ``except``: the exception being handled is the failure."""
        error = sys.exc_info()[1]
        now = self._clock()
        self._failures += 1
        if self._failures == 1:
            self._first_at = self._logged_at = now
            self._log.error("%s failed; retrying", self._what, exc_info=error)
        elif now - self._logged_at >= self._repeat_every:
            self._logged_at = now
            self._log.error(
                "%s still failing: %d rounds in %.0f s (%s)",
                self._what,
                self._failures,
                now - self._first_at,
                _short(error),
            )

    def succeeded(self) -> None:
        if self._failures:
            self._log.warning(
                "%s works again after %d failed rounds in %.0f s",
                self._what,
                self._failures,
                self._clock() - self._first_at,
            )
            self._failures = 0


def _short(error: BaseException | None) -> str:
    return type(error).__name__ if error is not None else "no exception"


def failures(application: Any, what: str, logger: logging.Logger) -> FailureLog:
    """The application's :class:`FailureLog` for ``what`` (kept in ``bot_data.extras``)."""
    extras = application.bot_data.extras
    key = f"failure_log:{what}"
    found = extras.get(key)
    if not isinstance(found, FailureLog):
        found = extras[key] = FailureLog(logger, what)
    return found
