"""Coaching (pembinaan) after a low monthly predicate: who is flagged, which training fits
(pure: no database, no Telegram).

Flagged: an employee whose predicate is Butuh Perbaikan, Kurang/Misconduct or Sangat Kurang
(``bot.rules.skp.NEEDS_COACHING``).

The recommendation rule (what HR sees next to each flagged employee):

1. Hasil Kerja rated *Di Bawah Ekspektasi* → a work-planning and performance-management
   training (:data:`WORK_TRAINING`), listed first;
2. then, in the BerAKHLAK order, one training for each core value rated *Di Bawah
   Ekspektasi* (:data:`VALUE_TRAININGS`: Berorientasi Pelayanan → Pelatihan Pelayanan Prima,
   Akuntabel → Pelatihan Integritas dan Akuntabilitas, Kompeten → Pelatihan Teknis
   Peningkatan Kompetensi, Harmonis → Pembinaan Etika dan Komunikasi Kerja, Loyal →
   Pembinaan Wawasan Kebangsaan dan Nilai Dasar ASN, Adaptif → Pelatihan Manajemen
   Perubahan, Kolaboratif → Pelatihan Kerja Sama Tim);
3. nothing rated Di Bawah (cannot happen with the matrix and either behaviour rule for a
   flagged predicate, but answers may be incomplete in old data) → :data:`GENERAL_TRAINING`.

The names are gettext msgids (English; the Indonesian catalog holds the names HR uses).
A training session "fits" a recommendation when one title contains the other, ignoring case
and punctuation (:func:`fits`): HR's list of sessions shows those first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from bot.i18n import N_
from bot.rules.skp import BERAKHLAK, NEEDS_COACHING, Predicate, Rating

WORK_TRAINING = N_("Work Planning and Performance Management Training")
VALUE_TRAININGS: dict[str, str] = {
    "berorientasi_pelayanan": N_("Excellent Service Training"),
    "akuntabel": N_("Integrity and Accountability Training"),
    "kompeten": N_("Technical Competence Improvement Training"),
    "harmonis": N_("Work Ethics and Communication Coaching"),
    "loyal": N_("National Insight and ASN Core Values Coaching"),
    "adaptif": N_("Change Management Training"),
    "kolaboratif": N_("Teamwork Training"),
}
GENERAL_TRAINING = N_("Performance Coaching")

_NOT_WORD = re.compile(r"[\W_]+")


def needs_coaching(predicate: Predicate | str | None) -> bool:
    """Whether an evaluation with this predicate flags the employee for coaching."""
    if predicate is None:
        return False
    try:
        return Predicate(predicate) in NEEDS_COACHING
    except ValueError:
        return False


def recommended_trainings(
    work_result: Rating | str | None, ratings: Mapping[str, Rating | str] | None
) -> list[str]:
    """The recommended trainings (msgids) for an evaluation's answers, by the rule above."""
    below = Rating.DI_BAWAH.value
    found: list[str] = []
    if work_result is not None and str(work_result) == below:
        found.append(WORK_TRAINING)
    values = ratings or {}
    found += [VALUE_TRAININGS[v] for v in BERAKHLAK if str(values.get(v, "")) == below]
    return found or [GENERAL_TRAINING]


def _words(text: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


def fits(title: str, recommendations: Iterable[str]) -> bool:
    """Whether a training titled ``title`` is one of the ``recommendations`` (already
    translated names): one contains the other, ignoring case and punctuation."""
    mine = _words(title)
    if not mine:
        return False
    for name in recommendations:
        other = _words(name)
        if other and (other in mine or mine in other):
            return True
    return False
