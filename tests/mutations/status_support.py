"""Mutations written straight through the models, for the /status tests (layer 2 and e2e).

Their events are marked as told already, so the scheduler and the service leave them alone
and no notice is pushed while a test talks to the bot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.rules.stages import MutationType, Stage, timeline
from storage.models import Mutation, MutationEvent, utcnow

Maker = async_sessionmaker[AsyncSession]


def usual_path(stage: Stage, external: bool) -> list[Stage]:
    """The stages a mutation passes to stand at ``stage`` (cancelled: after verification)."""
    path = timeline(external)
    if stage in path:
        return path[: path.index(stage) + 1]
    if stage is Stage.DIKEMBALIKAN:
        return [Stage.DIUSULKAN, Stage.VERIFIKASI, Stage.DIKEMBALIKAN]
    return [Stage.DIUSULKAN, Stage.VERIFIKASI, stage]


async def add_mutation(
    sessionmaker: Maker,
    employee_id: int,
    *,
    stage: Stage,
    mutation_type: MutationType = MutationType.ROTASI,
    from_unit: str = "Dinas Perhubungan",
    from_position: str = "Analis Transportasi",
    to_unit: str = "Dinas Pariwisata",
    to_position: str = "Analis Kebijakan",
    note: str | None = None,
    missing_documents: Sequence[str] = (),
    sk_number: str | None = None,
    started: dt.datetime | None = None,
    passed: Sequence[Stage] | None = None,
) -> int:
    """A mutation at ``stage``, created at ``started`` (default: 30 days ago) with one event a
    day along ``passed`` (default: the usual way); returns its id."""
    external = mutation_type is MutationType.ANTAR_INSTANSI
    steps = list(passed or usual_path(stage, external))
    start = started or utcnow() - dt.timedelta(days=30)
    decree = stage in (Stage.SK_TERBIT, Stage.PELANTIKAN, Stage.SELESAI)
    last = start + dt.timedelta(days=len(steps) - 1)
    async with sessionmaker() as session, session.begin():
        mutation = Mutation(
            employee_id=employee_id,
            mutation_type=mutation_type.value,
            from_unit=from_unit,
            from_position=from_position,
            to_unit=to_unit,
            to_position=to_position,
            external=external,
            stage=stage.value,
            stage_changed_at=last,
            sk_number=sk_number or ("800.1.3.3/45/BKPSDM-2026" if decree else None),
            sk_date=start.date() if decree else None,
            tmt_date=last.date() if decree else None,
            note=note,
            missing_documents="\n".join(missing_documents) or None,
            created_at=start,
            updated_at=last,
        )
        session.add(mutation)
        await session.flush()
        for index, step in enumerate(steps):
            when = start + dt.timedelta(days=index)
            session.add(
                MutationEvent(
                    mutation_id=mutation.id,
                    from_stage=None if index == 0 else steps[index - 1].value,
                    to_stage=step.value,
                    changed_at=when,
                    changed_by_label="import",
                    note=note if index == len(steps) - 1 else None,
                    notified_at=when,
                )
            )
        return mutation.id
