"""One-time activation codes: HR hands one out, the employee sends it to link Telegram.

Only the SHA-256 of a code is stored; the plain code exists in the CLI output and the
printed sheet. A code works once, until it expires, and only while it has not been
replaced by a newer one (issuing revokes the employee's older unused codes).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ActivationCode, AuditLog, Employee, Unit, utcnow

CODE_LENGTH = 8
# Upper-case letters and digits without the look-alikes 0/O, 1/I/L.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
DEFAULT_VALIDITY = dt.timedelta(days=14)
ISSUED_ACTION = "activation_codes_issued"
# Characters people type (or copy) inside a code: spaces, dashes, underscores.
_SEPARATORS = re.compile(r"[\s\-_\u2010-\u2015]+")
# Ids per IN (...) list: far below the bind-parameter limits of SQLite and PostgreSQL.
_CHUNK = 500


def generate_code() -> str:
    """A fresh random code of ``CODE_LENGTH`` characters from ``ALPHABET``."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw: str) -> str | None:
    """The canonical code from what someone typed (``k7mp-q4xr``), or None if it cannot be one."""
    code = _SEPARATORS.sub("", raw or "").upper()
    if len(code) != CODE_LENGTH or any(char not in ALPHABET for char in code):
        return None
    return code


def format_code(code: str) -> str:
    """The code as printed: ``K7MP-Q4XR``."""
    canonical = normalize_code(code) or code
    half = len(canonical) // 2
    return f"{canonical[:half]}-{canonical[half:]}"


def hash_code(code: str) -> str:
    """SHA-256 (hex) of the normalised code; what the database keeps."""
    canonical = normalize_code(code)
    if canonical is None:
        raise ValueError("not an activation code")
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def deep_link(bot_username: str, code: str) -> str:
    """``https://t.me/<bot>?start=<CODE>``: opening it sends ``/start <CODE>`` to the bot."""
    canonical = normalize_code(code)
    if canonical is None:
        raise ValueError("not an activation code")
    return f"https://t.me/{bot_username.strip().lstrip('@')}?start={canonical}"


def expiry_at_end_of_day(
    days: int, timezone: ZoneInfo, now: dt.datetime | None = None
) -> dt.datetime:
    """The end of the local day ``days`` days from now (next midnight, in UTC).

    A printed "valid until 12 January" then holds for all of 12 January.
    """
    local = (now or utcnow()).astimezone(timezone)
    last_day = local.date() + dt.timedelta(days=days)
    midnight = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=timezone)
    return midnight.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """A code just made; the only place the plain code exists."""

    employee_id: int
    nip: str
    name: str
    position: str
    unit: str
    code: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CodeCandidate:
    """An employee a code could be issued for."""

    employee_id: int
    nip: str
    name: str
    position: str
    unit: str
    active: bool
    linked: bool

    @property
    def eligible(self) -> bool:
        return self.active and not self.linked


@dataclass(frozen=True, slots=True)
class UnitRoster:
    """A unit (its stored name) and its active employees, linked or not, sorted by name."""

    unit: str
    employees: list[CodeCandidate]

    @property
    def eligible(self) -> list[CodeCandidate]:
        return [candidate for candidate in self.employees if candidate.eligible]

    @property
    def linked(self) -> list[CodeCandidate]:
        return [candidate for candidate in self.employees if candidate.linked]


def _unit_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


_CANDIDATE_COLUMNS = (
    Employee.id,
    Employee.nip,
    Employee.name,
    Employee.position,
    Unit.name,
    Employee.active,
    Employee.telegram_user_id.is_not(None),
)


def _candidate(row: Sequence[object]) -> CodeCandidate:
    employee_id, nip, name, position, unit, active, linked = row
    return CodeCandidate(
        employee_id=int(employee_id),  # type: ignore[call-overload]
        nip=str(nip),
        name=str(name),
        position=str(position or ""),
        unit=str(unit),
        active=bool(active),
        linked=bool(linked),
    )


class ActivationCodeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- who gets a code ---------------------------------------------------------------------

    async def _unit_names(self) -> list[tuple[int, str]]:
        rows = await self.session.execute(select(Unit.id, Unit.name).order_by(Unit.name))
        return [(unit_id, name) for unit_id, name in rows]

    async def employees_for_unit(self, unit_name: str) -> UnitRoster | None:
        """The unit's active employees (case-insensitive name), or None if no unit has it."""
        wanted = _unit_key(unit_name)
        match = next(((i, n) for i, n in await self._unit_names() if _unit_key(n) == wanted), None)
        if match is None:
            return None
        unit_id, name = match
        rows = await self.session.execute(
            select(*_CANDIDATE_COLUMNS)
            .join(Unit, Unit.id == Employee.unit_id)
            .where(Employee.unit_id == unit_id, Employee.active)
        )
        employees = sorted(
            (_candidate(row) for row in rows), key=lambda c: (c.name.casefold(), c.nip)
        )
        return UnitRoster(unit=name, employees=employees)

    async def unit_suggestions(self, unit_name: str, limit: int = 3) -> list[str]:
        """Unit names close to a mistyped one: containing it first, then similar spellings."""
        wanted = _unit_key(unit_name)
        names = [name for _, name in await self._unit_names()]
        by_key = {_unit_key(name): name for name in names}
        containing = [name for key, name in by_key.items() if wanted and wanted in key]
        similar = difflib.get_close_matches(wanted, list(by_key), n=limit, cutoff=0.6)
        suggestions = list(dict.fromkeys([*containing, *(by_key[key] for key in similar)]))
        return suggestions[:limit]

    async def employee_by_nip(self, nip: str) -> CodeCandidate | None:
        row = (
            await self.session.execute(
                select(*_CANDIDATE_COLUMNS)
                .join(Unit, Unit.id == Employee.unit_id)
                .where(Employee.nip == nip)
            )
        ).first()
        return None if row is None else _candidate(row)

    # --- issuing -----------------------------------------------------------------------------

    async def issue(
        self,
        employee_ids: Iterable[int],
        *,
        valid_for: dt.timedelta = DEFAULT_VALIDITY,
        actor_id: int | None = None,
        actor_label: str = "cli",
        unit: str | None = None,
        expires_at: dt.datetime | None = None,
        now: dt.datetime | None = None,
    ) -> list[IssuedCode]:
        """One new code per active, unlinked employee (others are skipped); audited.

        The employees' older unused codes are revoked. ``unit`` names the unit the codes
        were issued for (recorded in the audit log instead of the list of NIPs). The codes
        expire ``valid_for`` after ``now``, or at ``expires_at`` when given (see
        :func:`expiry_at_end_of_day`). Returns the codes in the order of ``employee_ids``;
        the caller commits.
        """
        now = now or utcnow()
        expires_at = expires_at or now + valid_for
        if expires_at <= now:
            raise ValueError("activation codes must expire in the future")
        wanted = list(dict.fromkeys(employee_ids))
        found: dict[int, CodeCandidate] = {}
        for chunk in _chunks(wanted):
            rows = await self.session.execute(
                select(*_CANDIDATE_COLUMNS)
                .join(Unit, Unit.id == Employee.unit_id)
                .where(
                    Employee.id.in_(chunk),
                    Employee.active,
                    Employee.telegram_user_id.is_(None),
                )
            )
            found.update((candidate.employee_id, candidate) for candidate in map(_candidate, rows))
        targets = [found[employee_id] for employee_id in wanted if employee_id in found]
        if not targets:
            return []
        ids = [candidate.employee_id for candidate in targets]
        for chunk in _chunks(ids):
            await self.session.execute(
                update(ActivationCode)
                .where(
                    ActivationCode.employee_id.in_(chunk),
                    ActivationCode.used_at.is_(None),
                    ActivationCode.revoked_at.is_(None),
                )
                .values(revoked_at=now)
                .execution_options(synchronize_session=False)
            )
        codes = await self._fresh_codes(len(targets))
        await self.session.execute(
            insert(ActivationCode),
            [
                {
                    "employee_id": candidate.employee_id,
                    "code_hash": hash_code(code),
                    "created_at": now,
                    "expires_at": expires_at,
                    "created_by_label": actor_label[:100],
                }
                for candidate, code in zip(targets, codes, strict=True)
            ],
        )
        details: dict[str, object] = {
            "count": len(targets),
            "actor": actor_label,
            "valid_days": (expires_at - now).days,
            "expires_at": expires_at.isoformat(),
        }
        if unit is not None:
            details["unit"] = unit
        else:
            details["nips"] = [candidate.nip for candidate in targets]
        self.session.add(
            AuditLog(
                at=now,
                actor_id=actor_id,
                actor_label=actor_label[:100],
                action=ISSUED_ACTION,
                entity_type="unit" if unit is not None else "employee",
                entity_id=(unit if unit is not None else targets[0].nip)[:60],
                details=details,
            )
        )
        await self.session.flush()
        return [
            IssuedCode(
                employee_id=candidate.employee_id,
                nip=candidate.nip,
                name=candidate.name,
                position=candidate.position,
                unit=candidate.unit,
                code=code,
                expires_at=expires_at,
            )
            for candidate, code in zip(targets, codes, strict=True)
        ]

    async def _fresh_codes(self, count: int) -> list[str]:
        """``count`` distinct codes whose hashes are not in the table yet."""
        codes: list[str] = []
        while len(codes) < count:
            seen = set(codes)
            batch = [
                code
                for code in dict.fromkeys(generate_code() for _ in range(count - len(codes)))
                if code not in seen
            ]
            taken: set[str] = set()
            for start in range(0, len(batch), _CHUNK):
                hashes = [hash_code(code) for code in batch[start : start + _CHUNK]]
                taken.update(
                    await self.session.scalars(
                        select(ActivationCode.code_hash).where(ActivationCode.code_hash.in_(hashes))
                    )
                )
            codes.extend(code for code in batch if hash_code(code) not in taken)
        return codes

    # --- redeeming ---------------------------------------------------------------------------

    async def redeem(
        self, code: str, telegram_user_id: int, *, now: dt.datetime | None = None
    ) -> int | None:
        """Use a code: the employee's id if it was valid (and is now used), else None.

        One conditional UPDATE, so of two concurrent redemptions only one can succeed.
        A code of an employee who is no longer active or already linked does not work
        (and is not used up). Nothing is linked and nothing is committed here: the caller
        links the account in the same transaction.
        """
        canonical = normalize_code(code)
        if canonical is None:
            return None
        now = now or utcnow()
        statement = (
            update(ActivationCode)
            .where(
                ActivationCode.code_hash == hash_code(canonical),
                ActivationCode.used_at.is_(None),
                ActivationCode.revoked_at.is_(None),
                ActivationCode.expires_at > now,
                exists().where(
                    Employee.id == ActivationCode.employee_id,
                    Employee.active,
                    Employee.telegram_user_id.is_(None),
                ),
            )
            .values(used_at=now, used_by_telegram_id=telegram_user_id)
            .returning(ActivationCode.employee_id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()
