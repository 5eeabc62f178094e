"""Mutation (mutasi) types and stages, and the stage machine (DESIGN.md section 3).

Inside Bukittinggi: diusulkan → verifikasi → pertimbangan_tpk → sk_terbit → pelantikan →
selesai. ``verifikasi`` may return the file (``dikembalikan``, with a reason and the missing
documents) and a returned file goes back to ``verifikasi``. A move between local governments
(``antar_instansi``) passes ``pertek_bkn`` between the TPK and the decree. Any stage before
``pelantikan`` may be cancelled (``dibatalkan``, with a reason): once the person is sworn in,
the move can only be completed. ``selesai`` and ``dibatalkan`` are final.

What a change needs: ``dikembalikan`` a reason and at least one missing document;
``sk_terbit`` the SK number, the SK date (not in the future) and the TMT (not before the SK
date); ``dibatalkan`` a reason. The rules are pure: no database, no Telegram.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum

from bot.i18n import N_


class MutationType(StrEnum):
    ROTASI = "rotasi"
    PROMOSI = "promosi"
    ANTAR_INSTANSI = "antar_instansi"


class Stage(StrEnum):
    DIUSULKAN = "diusulkan"
    VERIFIKASI = "verifikasi"
    DIKEMBALIKAN = "dikembalikan"
    PERTIMBANGAN_TPK = "pertimbangan_tpk"
    PERTEK_BKN = "pertek_bkn"
    SK_TERBIT = "sk_terbit"
    PELANTIKAN = "pelantikan"
    SELESAI = "selesai"
    DIBATALKAN = "dibatalkan"


FINAL_STAGES = frozenset({Stage.SELESAI, Stage.DIBATALKAN})

STAGE_LABELS: dict[Stage, str] = {
    Stage.DIUSULKAN: N_("Proposed"),
    Stage.VERIFIKASI: N_("Document verification"),
    Stage.DIKEMBALIKAN: N_("Returned for missing documents"),
    Stage.PERTIMBANGAN_TPK: N_("Review by the performance assessment team (TPK)"),
    Stage.PERTEK_BKN: N_("Technical approval (Pertek BKN)"),
    Stage.SK_TERBIT: N_("Decree (SK) issued"),
    Stage.PELANTIKAN: N_("Inauguration and handover"),
    Stage.SELESAI: N_("Completed"),
    Stage.DIBATALKAN: N_("Cancelled"),
}

MUTATION_TYPE_LABELS: dict[MutationType, str] = {
    MutationType.ROTASI: N_("Rotation"),
    MutationType.PROMOSI: N_("Promotion"),
    MutationType.ANTAR_INSTANSI: N_("Transfer between agencies"),
}


def timeline(external: bool) -> list[Stage]:
    """The main path of stages; ``pertek_bkn`` only for moves between local governments."""
    path = [Stage.DIUSULKAN, Stage.VERIFIKASI, Stage.PERTIMBANGAN_TPK]
    if external:
        path.append(Stage.PERTEK_BKN)
    path += [Stage.SK_TERBIT, Stage.PELANTIKAN, Stage.SELESAI]
    return path


def _key(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


_STAGE_ALIASES: dict[str, Stage] = {_key(s.value): s for s in Stage} | {
    "usulan": Stage.DIUSULKAN,
    "diusulkan": Stage.DIUSULKAN,
    "tpk": Stage.PERTIMBANGAN_TPK,
    "sidangtpk": Stage.PERTIMBANGAN_TPK,
    "pertek": Stage.PERTEK_BKN,
    "skterbit": Stage.SK_TERBIT,
    "sk": Stage.SK_TERBIT,
    "dilantik": Stage.PELANTIKAN,
    "batal": Stage.DIBATALKAN,
}
_TYPE_ALIASES: dict[str, MutationType] = {_key(t.value): t for t in MutationType} | {
    "mutasi": MutationType.ANTAR_INSTANSI,
    "mutasiantarinstansi": MutationType.ANTAR_INSTANSI,
    "antarinstansi": MutationType.ANTAR_INSTANSI,
}


def parse_stage(text: str) -> Stage | None:
    """Read a stage as HR types it ("Pertimbangan TPK", "sk_terbit", "SK Terbit")."""
    return _STAGE_ALIASES.get(_key(text))


def parse_mutation_type(text: str) -> MutationType | None:
    """Read a mutation type ("Rotasi", "Mutasi antar-instansi", "promosi")."""
    return _TYPE_ALIASES.get(_key(text))


# --------------------------------------------------------------------------- the machine
# Every stage in the order of the timeline (the returned file next to its verification, the
# cancellation last): the order the enum is declared in.
STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)
# A mutation can be cancelled until the inauguration, not after.
_CANCELLABLE = frozenset(STAGE_ORDER[: STAGE_ORDER.index(Stage.PELANTIKAN)])
# Stages from which the person counts as moved (new unit, "baru dimutasi").
MOVED_STAGES = frozenset({Stage.PELANTIKAN, Stage.SELESAI})
SK_NUMBER_MAX = 100
REASON_MAX = 1000
DOCUMENT_MAX = 200
DOCUMENTS_MAX = 20


def next_stages(current: Stage, external: bool) -> list[Stage]:
    """The stages a mutation at ``current`` may move to, main path first."""
    if current in FINAL_STAGES:
        return []
    if current is Stage.DIKEMBALIKAN:
        forward = [Stage.VERIFIKASI]
    elif current is Stage.VERIFIKASI:
        forward = [Stage.PERTIMBANGAN_TPK, Stage.DIKEMBALIKAN]
    elif current is Stage.PERTEK_BKN:
        forward = [Stage.SK_TERBIT]
    else:
        path = timeline(external)
        forward = [path[path.index(current) + 1]] if current in path else []
    if current in _CANCELLABLE:
        forward.append(Stage.DIBATALKAN)
    return forward


class Requirement(StrEnum):
    """A field a change to some stage cannot go without."""

    REASON = "reason"
    MISSING_DOCUMENTS = "missing_documents"
    SK_NUMBER = "sk_number"
    SK_DATE = "sk_date"
    TMT = "tmt"


_REQUIRED: dict[Stage, tuple[Requirement, ...]] = {
    Stage.DIKEMBALIKAN: (Requirement.REASON, Requirement.MISSING_DOCUMENTS),
    Stage.SK_TERBIT: (Requirement.SK_NUMBER, Requirement.SK_DATE, Requirement.TMT),
    Stage.DIBATALKAN: (Requirement.REASON,),
}


def requirements(target: Stage) -> tuple[Requirement, ...]:
    """What a change to ``target`` must carry, in the order it is asked for."""
    return _REQUIRED.get(target, ())


class TransitionProblem(StrEnum):
    SAME_STAGE = "same_stage"
    FINAL = "final"
    NOT_ALLOWED = "not_allowed"
    REASON_REQUIRED = "reason_required"
    DOCUMENTS_REQUIRED = "documents_required"
    SK_NUMBER_REQUIRED = "sk_number_required"
    SK_DATE_REQUIRED = "sk_date_required"
    TMT_REQUIRED = "tmt_required"
    SK_DATE_IN_FUTURE = "sk_date_in_future"
    TMT_BEFORE_SK_DATE = "tmt_before_sk_date"


@dataclass(frozen=True, slots=True)
class StageChange:
    """What comes with a change (only what the target stage needs is checked)."""

    reason: str | None = None
    missing_documents: tuple[str, ...] = field(default=())
    sk_number: str | None = None
    sk_date: dt.date | None = None
    tmt_date: dt.date | None = None


_MISSING: dict[Requirement, TransitionProblem] = {
    Requirement.REASON: TransitionProblem.REASON_REQUIRED,
    Requirement.MISSING_DOCUMENTS: TransitionProblem.DOCUMENTS_REQUIRED,
    Requirement.SK_NUMBER: TransitionProblem.SK_NUMBER_REQUIRED,
    Requirement.SK_DATE: TransitionProblem.SK_DATE_REQUIRED,
    Requirement.TMT: TransitionProblem.TMT_REQUIRED,
}


def _present(requirement: Requirement, change: StageChange) -> bool:
    if requirement is Requirement.REASON:
        return bool(change.reason and change.reason.strip())
    if requirement is Requirement.MISSING_DOCUMENTS:
        return any(item.strip() for item in change.missing_documents)
    if requirement is Requirement.SK_NUMBER:
        return bool(change.sk_number and change.sk_number.strip())
    if requirement is Requirement.SK_DATE:
        return change.sk_date is not None
    return change.tmt_date is not None


def field_problems(target: Stage, change: StageChange, today: dt.date) -> list[TransitionProblem]:
    """What is missing or wrong in ``change`` for a move to ``target``."""
    problems = [_MISSING[r] for r in requirements(target) if not _present(r, change)]
    if target is Stage.SK_TERBIT:
        if change.sk_date is not None and change.sk_date > today:
            problems.append(TransitionProblem.SK_DATE_IN_FUTURE)
        if (
            change.sk_date is not None
            and change.tmt_date is not None
            and change.tmt_date < change.sk_date
        ):
            problems.append(TransitionProblem.TMT_BEFORE_SK_DATE)
    return problems


def catch_up_path(current: Stage, target: Stage, external: bool) -> bool:
    """Whether ``target`` lies further along the main path than ``current`` (a file that
    records where the process already is may skip the steps in between)."""
    path = timeline(external)
    start = Stage.VERIFIKASI if current is Stage.DIKEMBALIKAN else current
    return start in path and target in path and path.index(target) > path.index(start)


def check_transition(
    current: Stage,
    target: Stage,
    *,
    external: bool,
    change: StageChange,
    today: dt.date,
    catch_up: bool = False,
) -> list[TransitionProblem]:
    """Every reason the move ``current`` → ``target`` is refused (empty: allowed).

    ``catch_up`` (imports only) also allows a jump forward along the main path.
    """
    if target is current:
        return [TransitionProblem.SAME_STAGE]
    if current in FINAL_STAGES:
        return [TransitionProblem.FINAL]
    allowed = target in next_stages(current, external) or (
        catch_up and catch_up_path(current, target, external)
    )
    if not allowed:
        return [TransitionProblem.NOT_ALLOWED]
    return field_problems(target, change, today)


def split_documents(text: str) -> tuple[str, ...]:
    """The missing documents as HR lists them: one per line, or separated by ``;`` or ``,``.

    Numbering ("1.", "2)", "-", "•") is dropped; empty items and repeats are left out.
    """
    separator = "\n" if "\n" in text.strip() else (";" if ";" in text else ",")
    items: list[str] = []
    for piece in text.split(separator):
        item = re.sub(r"^\s*(?:\d{1,2}[.)]|[-•*])\s*", "", piece).strip(" \t;,")
        if item and item.casefold() not in {i.casefold() for i in items}:
            items.append(item)
    return tuple(items)
