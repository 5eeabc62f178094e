"""PNG charts of the evaluations (matplotlib, Agg: no display, no pyplot state).

* :func:`predicate_history_png`: one employee's predicates month by month (``/kinerja``):
  the five predicates are the levels of the y axis, best at the top; a month without a
  submitted evaluation is a gap in the line.
* :func:`unit_distribution_png`: HR's predicate distribution per unit (``/hr_rekap``):
  one stacked horizontal bar per unit, a colour per predicate, the total at the bar's end.

Pure functions from plain data (labels already translated) to PNG bytes: no Telegram, no
database, safe to run in a worker thread (``asyncio.to_thread``), as the handlers do; each
call draws on its own ``Figure``. matplotlib is imported on first use, so the bot starts
without paying for it.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from bot.i18n import Translator
from bot.rules.skp import PREDICATE_LABELS, Predicate

# Best first; the history chart puts the best at the top.
PREDICATE_ORDER: tuple[Predicate, ...] = tuple(Predicate)
PREDICATE_COLOURS: dict[Predicate, str] = {
    Predicate.SANGAT_BAIK: "#1a9850",
    Predicate.BAIK: "#91cf60",
    Predicate.BUTUH_PERBAIKAN: "#fee08b",
    Predicate.KURANG: "#fc8d59",
    Predicate.SANGAT_KURANG: "#d73027",
}
UNITS_DRAWN = 60  # more units: the smallest are summed into one "other units" bar
UNIT_LABEL_MAX = 42
DPI = 100

_lock = threading.Lock()  # matplotlib's font cache and text layout are not thread-safe
_ready = False


def predicate_labels(t: Translator) -> dict[Predicate, str]:
    """Every predicate's name in ``t``'s language (pass these to the chart functions)."""
    return {p: t(PREDICATE_LABELS[p]) for p in PREDICATE_ORDER}


def _figure(width: float, height: float, **options: Any) -> Any:
    global _ready
    if not _ready:
        import matplotlib

        matplotlib.use("Agg", force=False)  # no display; a no-op when already chosen
        _ready = True
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, **options)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    # The figures use the constrained layout: no second "tight" drawing pass is needed.
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _shorten(text: str, limit: int = UNIT_LABEL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def predicate_history_png(
    months: Sequence[str],
    predicates: Sequence[Predicate | str | None],
    labels: Mapping[Predicate, str],
    *,
    title: str = "",
) -> bytes:
    """Months on x (as given, e.g. ``Nov 2026``), the predicate of each (``None``: none)."""
    if len(months) != len(predicates):
        raise ValueError("one predicate (or None) per month")
    levels = {p: len(PREDICATE_ORDER) - i for i, p in enumerate(PREDICATE_ORDER)}  # best = 5
    values = [float(levels[Predicate(p)]) if p else float("nan") for p in predicates]
    with _lock:
        figure = _figure(max(4.0, 1.6 + 0.55 * len(months)), 3.0, layout="constrained")
        axes = figure.add_subplot()
        positions = list(range(len(months)))
        axes.plot(positions, values, color="#4a6fa5", linewidth=1.6, zorder=1)
        for x, p in zip(positions, predicates, strict=True):
            if p:
                axes.scatter(
                    [x],
                    [levels[Predicate(p)]],
                    s=60,
                    color=PREDICATE_COLOURS[Predicate(p)],
                    edgecolors="#333333",
                    linewidths=0.6,
                    zorder=2,
                )
        axes.set_yticks([levels[p] for p in PREDICATE_ORDER])
        axes.set_yticklabels([labels[p] for p in PREDICATE_ORDER], fontsize=8)
        axes.set_ylim(0.5, len(PREDICATE_ORDER) + 0.5)
        axes.set_xticks(positions)
        axes.set_xticklabels(list(months), fontsize=8, rotation=45 if len(months) > 6 else 0)
        axes.set_xlim(-0.5, max(len(months) - 0.5, 0.5))
        axes.grid(axis="y", color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        if title:
            axes.set_title(title, fontsize=10)
        return _png(figure)


def _drawn_units(
    counts: Mapping[str, Mapping[str, int]], other: str
) -> list[tuple[str, dict[Predicate, int]]]:
    units = [
        (name, {p: int(per.get(p.value, 0)) for p in PREDICATE_ORDER})
        for name, per in counts.items()
    ]
    units = [(name, per) for name, per in units if sum(per.values())]
    if len(units) <= UNITS_DRAWN:
        return units
    biggest = sorted(units, key=lambda item: -sum(item[1].values()))
    kept, rest = biggest[: UNITS_DRAWN - 1], biggest[UNITS_DRAWN - 1 :]
    summed = {p: sum(per[p] for _, per in rest) for p in PREDICATE_ORDER}
    order = {name: index for index, (name, _) in enumerate(units)}
    return [*sorted(kept, key=lambda item: order[item[0]]), (other, summed)]


def unit_distribution_png(
    counts: Mapping[str, Mapping[str, int]],
    labels: Mapping[Predicate, str],
    *,
    title: str = "",
    xlabel: str = "",
    other_units: str = "…",
) -> bytes:
    """One stacked bar per unit (in the order given, the first at the top) of how many
    submitted evaluations have each predicate (``counts[unit][predicate value]``)."""
    units = _drawn_units(counts, other_units)
    names = [_shorten(name) for name, _ in units]
    # The margins are computed (in inches) rather than found by a layout engine, which
    # would draw the whole figure twice.
    left_in = 0.3 + 0.062 * max((len(name) for name in names), default=4)
    top_in = 0.5 if title else 0.2
    bottom_in = 0.75 + (0.25 if xlabel else 0.0)
    width = max(9.0, left_in + 6.0)
    height = max(2.4, top_in + bottom_in + 0.3 * max(len(units), 1))
    with _lock:
        figure = _figure(width, height)
        figure.subplots_adjust(
            left=left_in / width,
            right=1 - 0.55 / width,
            top=1 - top_in / height,
            bottom=bottom_in / height,
        )
        axes = figure.add_subplot()
        positions = list(range(len(units)))
        left = [0] * len(units)
        for p in PREDICATE_ORDER:
            widths = [per[p] for _, per in units]
            axes.barh(
                positions,
                widths,
                left=left,
                height=0.7,
                color=PREDICATE_COLOURS[p],
                edgecolor="white",
                linewidth=0.5,
                label=labels[p],
            )
            left = [a + b for a, b in zip(left, widths, strict=True)]
        widest = max(left, default=0)
        for y, total in zip(positions, left, strict=True):
            axes.text(total + widest * 0.01, y, str(total), va="center", fontsize=7)
        axes.set_yticks(positions, names, fontsize=8)
        axes.set_ylim(len(units) - 0.5, -0.5)  # the first unit at the top
        axes.set_xlim(0, max(widest * 1.08, 1))
        axes.grid(axis="x", color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        if xlabel:
            axes.set_xlabel(xlabel, fontsize=9)
        if title:
            axes.set_title(title, fontsize=11)
        figure.legend(
            loc="lower center",
            bbox_to_anchor=(0.5, 0.04 / height),
            ncol=len(PREDICATE_ORDER),
            fontsize=8,
            frameon=False,
        )
        return _png(figure)
