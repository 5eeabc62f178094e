"""The PNG charts: valid images of a sensible size, drawn without a display."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.charts import (
    UNITS_DRAWN,
    _drawn_units,
    predicate_history_png,
    predicate_labels,
    unit_distribution_png,
)
from bot.i18n import get_translator
from bot.rules.skp import Predicate

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ID = get_translator("id")


def _image(content: bytes) -> Image.Image:
    assert content.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(content))
    image.load()  # decodes every pixel: a truncated file fails here
    assert image.format == "PNG"
    return image


def _colours(image: Image.Image) -> int:
    return len(image.convert("RGB").getcolors(maxcolors=1 << 20) or [])


def test_the_history_chart():
    months = ["Jan 2026", "Feb 2026", "Mar 2026", "Apr 2026"]
    predicates = [Predicate.BAIK, None, "sangat_baik", Predicate.SANGAT_KURANG]
    image = _image(
        predicate_history_png(months, predicates, predicate_labels(ID), title="Predikat")
    )
    width, height = image.size
    assert 300 <= width <= 1600 and 150 <= height <= 600
    assert _colours(image) > 20  # something was drawn (anti-aliased lines, markers, text)


def test_a_history_of_one_month_and_twelve_months():
    one = _image(predicate_history_png(["Nov 2026"], ["baik"], predicate_labels(ID)))
    twelve = _image(
        predicate_history_png(
            [f"M{n}" for n in range(12)], [Predicate.BAIK] * 12, predicate_labels(ID)
        )
    )
    assert one.size[0] < twelve.size[0] <= 1600


def test_the_history_needs_one_predicate_per_month():
    with pytest.raises(ValueError):
        predicate_history_png(["Jan 2026"], [], predicate_labels(ID))


def test_the_distribution_chart_grows_with_the_units():
    counts = {
        "Dinas Perhubungan": {"baik": 10, "sangat_baik": 2, "kurang": 1},
        "Bappeda": {"baik": 4, "butuh_perbaikan": 1},
    }
    small = _image(unit_distribution_png(counts, predicate_labels(ID), title="Oktober 2026"))
    many = {f"Unit {n:02d}": {"baik": n + 1, "sangat_kurang": 1} for n in range(30)}
    large = _image(unit_distribution_png(many, predicate_labels(ID), xlabel="Penilaian"))
    assert 500 <= small.size[0] <= 1400 and 200 <= small.size[1] <= 800
    assert large.size[1] > small.size[1] and large.size[1] <= 2500
    assert _colours(large) > 20


def test_very_many_units_are_summed_into_one_bar():
    many = {f"Unit {n:03d}": {"baik": n + 1} for n in range(UNITS_DRAWN + 10)}
    drawn = _drawn_units(many, "Lainnya")
    assert len(drawn) == UNITS_DRAWN and drawn[-1][0] == "Lainnya"
    assert sum(sum(per.values()) for _, per in drawn) == sum(n + 1 for n in range(UNITS_DRAWN + 10))
    assert drawn[0][0] == f"Unit {11:03d}"  # the smallest were summed; the order is kept
    image = _image(unit_distribution_png(many, predicate_labels(ID)))
    width, height = image.size
    assert width + height <= 10000 and height / width <= 20  # what Telegram takes as a photo


def test_drawn_without_a_display():
    predicate_history_png(["Jan 2026"], ["baik"], predicate_labels(ID))
    import matplotlib

    assert matplotlib.get_backend().lower() == "agg"
