"""A person's data on request (UU 27/2022): everything as one JSON document, or erased.

* :func:`export_document`: everything the database stores about one employee (see
  ``storage.repositories.personal_data.EXPORT_COVERAGE``), dates in ISO 8601 (UTC), as one
  JSON-ready dict; :func:`to_json` writes it (UTF-8, indented).
* :func:`erasure_preview` / :func:`erase`: the bot's Telegram-side data goes (the account
  link, the Telegram profile, drafts, link attempts, activation codes, uploads, the messages
  sent to them), the records of state administration stay (the employee record from BKPSDM's
  data, mutations and their stage history, evaluations, training participation, the audit
  log). The reasons are in ``docs/personal-data.md``. One transaction; one audit entry
  (counts only, none of the erased data). Erasing again finds nothing left.

Both run in the caller's transaction and never commit.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.talent import BOX_NAMES, entry_of, since_month
from storage.models import Employee
from storage.repositories.audit import AuditRepository
from storage.repositories.personal_data import (
    EXPORT_COVERAGE,
    NOT_PERSONAL,
    OMITTED_COLUMNS,
    ErasureTargets,
    PersonalDataRepository,
    row_dict,
)
from storage.repositories.talent import MonthPredicate, TalentPerson

EXPORT_FORMAT = "bot-mutasi-kinerja/personal-data-export"
EXPORT_VERSION = 1
ERASED_ACTION = "personal_data_erased"


async def find_employee(session: AsyncSession, nip: str) -> Employee | None:
    return await PersonalDataRepository(session).employee_by_nip(nip)


# --------------------------------------------------------------------------- export
async def export_document(
    session: AsyncSession, employee: Employee, *, now: dt.datetime, timezone: str
) -> dict[str, Any]:
    """Everything stored about ``employee``, as plain JSON-ready values (see :func:`to_json`)."""
    repo = PersonalDataRepository(session)
    telegram_ids = await repo.telegram_ids(employee)
    users = await repo.telegram_users(telegram_ids)
    outbox = await repo.outbox(employee, telegram_ids)
    audit = await repo.audit_entries(employee)
    return {
        "export": {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "generated_at": now,
            "nip": employee.nip,
            "coverage": {table: list(columns) for table, columns in EXPORT_COVERAGE.items()},
            "not_personal": NOT_PERSONAL,
            "omitted": OMITTED_COLUMNS,
        },
        "employee": row_dict(employee),
        "unit": await repo.unit(employee),
        "supervisor": await repo.supervisor(employee),
        "direct_reports": await repo.direct_reports(employee),
        "telegram_accounts": [
            {**row_dict(user), "linked_now": user.id == employee.telegram_user_id} for user in users
        ],
        "competencies": await repo.competencies(employee),
        "talent": await _talent(repo, employee, now.astimezone(ZoneInfo(timezone)).date()),
        "mutations": await repo.mutations(employee),
        "mutations_as_new_supervisor": await repo.mutations_as_new_supervisor(employee),
        "mutation_events_recorded": await repo.mutation_events_recorded(employee),
        "evaluations": await repo.evaluations_about(employee),
        "evaluations_written": await repo.evaluations_written(employee),
        "coaching_assigned": await repo.coaching_assigned_by(employee),
        "evaluation_reopenings": await repo.evaluation_reopenings(employee),
        "trainings": await repo.trainings(employee),
        "trainings_created": await repo.trainings_created(employee),
        "outbox_messages": [_message(row) for row in outbox],
        "announcements_received": await repo.announcements_received(employee),
        "announcements_handled": await repo.announcements_handled(employee, telegram_ids),
        "drafts": [row_dict(draft) for draft in await repo.drafts(telegram_ids)],
        "link_attempts": [row_dict(a) for a in await repo.link_attempts(telegram_ids)],
        "activation_codes": await repo.activation_codes(employee),
        "uploads": [row_dict(upload) for upload in await repo.uploads(employee, telegram_ids)],
        "audit_log": [
            {**row_dict(match.entry), "by_them": match.actor, "about_them": match.subject}
            for match in audit
        ],
    }


def _message(row: Any) -> dict[str, Any]:
    """An outbox row; its content (``payload``) unless purged (``content_purged_at``)."""
    data = row_dict(row)
    if row.content_purged_at is not None:
        data["payload"] = None
    return data


async def _talent(
    repo: PersonalDataRepository, employee: Employee, today: dt.date
) -> dict[str, Any]:
    """Their place in the talent map as HR's ``/hr_talenta`` computes it today."""
    first = since_month(today)
    predicates = tuple(
        MonthPredicate(year, month, predicate)
        for year, month, predicate in await repo.submitted_predicates(employee)
        if (year, month) >= first
    )
    person = TalentPerson(
        employee_id=employee.id,
        nip=employee.nip,
        name=employee.name,
        unit="",
        position=employee.position,
        post_since=employee.post_since,
        potential=employee.potential,
        predicates=predicates,
    )
    entry = entry_of(person, today)
    return {
        "as_of": today,
        "potential": employee.potential,
        "post_since": employee.post_since,
        "months_with_a_predicate": len(predicates),
        "performance_level": entry.performance.name.lower() if entry.performance else None,
        "box": entry.box,
        "box_name": BOX_NAMES[entry.box] if entry.box else None,
        "full_years_in_post": entry.years,
        "rotation": entry.eligibility.value if entry.eligibility else None,
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def to_json(document: dict[str, Any]) -> str:
    """The export as text: UTF-8 characters kept, indented, dates in ISO 8601."""
    return json.dumps(document, ensure_ascii=False, indent=2, default=_json_value) + "\n"


# --------------------------------------------------------------------------- erasure
@dataclass(frozen=True, slots=True)
class Kept:
    """The official records that stay, counted for the operator."""

    mutations: int
    evaluations: int
    evaluations_written: int
    trainings: int
    audit_entries: int
    announcements_received: int


@dataclass(frozen=True, slots=True)
class ErasurePlan:
    targets: ErasureTargets
    kept: Kept

    @property
    def counts(self) -> dict[str, int]:
        return self.targets.counts()

    @property
    def empty(self) -> bool:
        return self.targets.empty


async def erasure_preview(session: AsyncSession, employee: Employee) -> ErasurePlan:
    """What :func:`erase` would remove now, and what stays."""
    repo = PersonalDataRepository(session)
    targets = await repo.erasure_targets(employee)
    kept = Kept(
        mutations=len(await repo.mutations(employee)),
        evaluations=len(await repo.evaluations_about(employee)),
        evaluations_written=len(await repo.evaluations_written(employee)),
        trainings=len(await repo.trainings(employee)),
        audit_entries=len(await repo.audit_entries(employee)),
        announcements_received=len(await repo.announcements_received(employee)),
    )
    return ErasurePlan(targets, kept)


async def erase(
    session: AsyncSession, employee: Employee, *, actor_label: str, now: dt.datetime
) -> dict[str, int]:
    """Erase the Telegram-side data of ``employee``; what was erased, per kind (all zero:
    nothing was left, and nothing is written). The audit entry holds the counts only."""
    repo = PersonalDataRepository(session)
    targets = await repo.erasure_targets(employee)
    counts = targets.counts()
    if targets.empty:
        return counts
    await repo.erase(employee, targets, now)
    AuditRepository(session).record(
        ERASED_ACTION,
        actor_id=None,
        actor_label=actor_label,
        entity_type="employee",
        entity_id=employee.nip,
        details={"erased": {kind: n for kind, n in counts.items() if n}},
    )
    return counts
