"""Mutation (mutasi) types and stages, from DESIGN.md section 3.

The transition rules (who may move a mutation where) come with the mutation-status
capability; the foundation needs the vocabulary and the order of the timeline.
"""

from __future__ import annotations

import re
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
