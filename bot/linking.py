"""Linking a Telegram account to an employee, by shared phone number or activation code.

Failed attempts are stored (``link_attempts``), so the limit of
``MAX_FAILED_ATTEMPTS`` per ``ATTEMPT_WINDOW`` holds across restarts and processes.
A failure never says whether a phone number or code exists. The one exception is a
phone number whose employee is already linked elsewhere: Telegram has verified that
the sender owns that number, so telling them lets them report a hijacked account.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.rules.phone import normalize_phone
from storage.models import utcnow
from storage.repositories import LinkOutcome, LinkRepository
from storage.repositories.codes import ActivationCodeRepository

MAX_FAILED_ATTEMPTS = 5
ATTEMPT_WINDOW = dt.timedelta(hours=1)


class LinkStatus(StrEnum):
    LINKED = "linked"
    NO_MATCH = "no_match"
    NOT_OWN_CONTACT = "not_own_contact"
    EMPLOYEE_TAKEN = "employee_taken"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True)
class LinkResult:
    status: LinkStatus
    employee_id: int | None = None
    # When the next attempt is allowed (RATE_LIMITED), and how many remain otherwise.
    retry_at: dt.datetime | None = None
    attempts_left: int = MAX_FAILED_ATTEMPTS


async def _blocked_until(
    links: LinkRepository, telegram_user_id: int, now: dt.datetime
) -> tuple[dt.datetime | None, int]:
    failures = await links.failed_attempts_since(telegram_user_id, now - ATTEMPT_WINDOW)
    if len(failures) >= MAX_FAILED_ATTEMPTS:
        return failures[-MAX_FAILED_ATTEMPTS] + ATTEMPT_WINDOW, 0
    return None, MAX_FAILED_ATTEMPTS - len(failures)


async def _finish(
    links: LinkRepository,
    telegram_user_id: int,
    method: str,
    employee_id: int | None,
    attempts_left: int,
    now: dt.datetime,
) -> LinkResult:
    if employee_id is None:
        links.record_attempt(telegram_user_id, method, False, now)
        return LinkResult(LinkStatus.NO_MATCH, attempts_left=attempts_left - 1)
    outcome = await links.link(employee_id, telegram_user_id, method, now)
    if outcome is LinkOutcome.EMPLOYEE_TAKEN:
        links.record_attempt(telegram_user_id, method, False, now)
        return LinkResult(LinkStatus.EMPLOYEE_TAKEN, attempts_left=attempts_left - 1)
    links.record_attempt(telegram_user_id, method, True, now)
    return LinkResult(LinkStatus.LINKED, employee_id=employee_id)


async def link_by_phone(
    session: AsyncSession,
    telegram_user_id: int,
    contact_user_id: int | None,
    phone_number: str,
    now: dt.datetime | None = None,
) -> LinkResult:
    """A contact shared with the request_contact button: only the sender's own counts."""
    now = now or utcnow()
    links = LinkRepository(session)
    retry_at, left = await _blocked_until(links, telegram_user_id, now)
    if retry_at is not None:
        return LinkResult(LinkStatus.RATE_LIMITED, retry_at=retry_at, attempts_left=0)
    if contact_user_id != telegram_user_id:
        links.record_attempt(telegram_user_id, "phone", False, now)
        return LinkResult(LinkStatus.NOT_OWN_CONTACT, attempts_left=left - 1)
    phone = normalize_phone(phone_number)
    employee_id = await links.employee_id_by_phone(phone) if phone else None
    return await _finish(links, telegram_user_id, "phone", employee_id, left, now)


async def link_by_code(
    session: AsyncSession, telegram_user_id: int, code: str, now: dt.datetime | None = None
) -> LinkResult:
    """An activation code from HR (``/start CODE`` or the deep link); it works once."""
    now = now or utcnow()
    links = LinkRepository(session)
    retry_at, left = await _blocked_until(links, telegram_user_id, now)
    if retry_at is not None:
        return LinkResult(LinkStatus.RATE_LIMITED, retry_at=retry_at, attempts_left=0)
    employee_id = await ActivationCodeRepository(session).redeem(code, telegram_user_id, now=now)
    return await _finish(links, telegram_user_id, "code", employee_id, left, now)
