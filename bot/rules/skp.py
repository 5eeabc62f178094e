"""SKP monthly evaluation rules (PermenPAN-RB 6/2022): ratings, BerAKHLAK, predicate matrix."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from enum import StrEnum

from bot.i18n import N_


class Rating(StrEnum):
    DI_ATAS = "di_atas"
    SESUAI = "sesuai"
    DI_BAWAH = "di_bawah"


class Predicate(StrEnum):
    SANGAT_BAIK = "sangat_baik"
    BAIK = "baik"
    BUTUH_PERBAIKAN = "butuh_perbaikan"
    KURANG = "kurang"
    SANGAT_KURANG = "sangat_kurang"


class BehaviourRule(StrEnum):
    """How the seven BerAKHLAK ratings are summarised into one Perilaku Kerja rating."""

    # The rating given most often; a tie goes to Sesuai Ekspektasi.
    MAJORITY = "majority"
    # Di Atas needs a majority of Di Atas, any Di Bawah gives Di Bawah, else Sesuai.
    STRICT = "strict"


BERAKHLAK: tuple[str, ...] = (
    "berorientasi_pelayanan",
    "akuntabel",
    "kompeten",
    "harmonis",
    "loyal",
    "adaptif",
    "kolaboratif",
)

BERAKHLAK_LABELS: dict[str, str] = {
    "berorientasi_pelayanan": N_("Service oriented"),
    "akuntabel": N_("Accountable"),
    "kompeten": N_("Competent"),
    "harmonis": N_("Harmonious"),
    "loyal": N_("Loyal"),
    "adaptif": N_("Adaptive"),
    "kolaboratif": N_("Collaborative"),
}

RATING_LABELS: dict[Rating, str] = {
    Rating.DI_ATAS: N_("Above expectations"),
    Rating.SESUAI: N_("Meets expectations"),
    Rating.DI_BAWAH: N_("Below expectations"),
}

PREDICATE_LABELS: dict[Predicate, str] = {
    Predicate.SANGAT_BAIK: N_("Very good"),
    Predicate.BAIK: N_("Good"),
    Predicate.BUTUH_PERBAIKAN: N_("Needs improvement"),
    Predicate.KURANG: N_("Poor / misconduct"),
    Predicate.SANGAT_KURANG: N_("Very poor"),
}

# Rows: Hasil Kerja; columns: Perilaku Kerja (DESIGN.md section 3).
PREDICATE_MATRIX: dict[tuple[Rating, Rating], Predicate] = {
    (Rating.DI_ATAS, Rating.DI_BAWAH): Predicate.KURANG,
    (Rating.DI_ATAS, Rating.SESUAI): Predicate.BAIK,
    (Rating.DI_ATAS, Rating.DI_ATAS): Predicate.SANGAT_BAIK,
    (Rating.SESUAI, Rating.DI_BAWAH): Predicate.KURANG,
    (Rating.SESUAI, Rating.SESUAI): Predicate.BAIK,
    (Rating.SESUAI, Rating.DI_ATAS): Predicate.BAIK,
    (Rating.DI_BAWAH, Rating.DI_BAWAH): Predicate.SANGAT_KURANG,
    (Rating.DI_BAWAH, Rating.SESUAI): Predicate.BUTUH_PERBAIKAN,
    (Rating.DI_BAWAH, Rating.DI_ATAS): Predicate.BUTUH_PERBAIKAN,
}

NEEDS_COACHING = frozenset({Predicate.BUTUH_PERBAIKAN, Predicate.KURANG, Predicate.SANGAT_KURANG})


def predicate(work_result: Rating | str, behaviour: Rating | str) -> Predicate:
    return PREDICATE_MATRIX[(Rating(work_result), Rating(behaviour))]


def summarise_behaviour(
    ratings: Iterable[Rating | str], rule: BehaviourRule = BehaviourRule.MAJORITY
) -> Rating:
    """One Perilaku Kerja rating from the per-value BerAKHLAK ratings."""
    counts = Counter(Rating(r) for r in ratings)
    if not counts:
        raise ValueError("no behaviour ratings")
    if rule is BehaviourRule.STRICT:
        if counts[Rating.DI_BAWAH]:
            return Rating.DI_BAWAH
        return (
            Rating.DI_ATAS if counts[Rating.DI_ATAS] * 2 > sum(counts.values()) else Rating.SESUAI
        )
    top = max(counts.values())
    leaders = [r for r, n in counts.items() if n == top]
    return leaders[0] if len(leaders) == 1 else Rating.SESUAI
