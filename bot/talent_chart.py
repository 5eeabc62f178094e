"""The talent map as a PNG: the 3×3 grid of PermenPAN-RB 3/2020 with a count per box.

Performance on the x axis (low → high, left to right), potential on the y axis (low → high,
bottom to top): box 1 at the bottom left, box 9 at the top right, as the regulation draws it.
Each cell shows its number, how many people are in it and its name. A pure function from
plain data (labels already translated) to PNG bytes; it draws with ``bot.charts``' helpers
(Agg, its own ``Figure``, the shared lock), so it is safe in a worker thread.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

from bot.charts import _figure, _lock, _png
from bot.rules.talent import BOXES, Level

# Low boxes warm, high boxes green; the middle neutral.
BOX_COLOURS: dict[int, str] = {
    1: "#f4a582",
    2: "#fddbc7",
    3: "#fddbc7",
    4: "#e0f3f8",
    5: "#f7f7f7",
    6: "#e0f3f8",
    7: "#d9f0d3",
    8: "#d9f0d3",
    9: "#a6dba0",
}
LEVELS: tuple[Level, ...] = (Level.RENDAH, Level.MENENGAH, Level.TINGGI)


def talent_grid_png(
    counts: Mapping[int, int],
    box_names: Mapping[int, str],
    level_labels: Mapping[Level, str],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    footer: str = "",
) -> bytes:
    """``counts[box]`` people per box (1–9; a missing box is 0), named ``box_names[box]``."""
    with _lock:
        figure = _figure(8.0, 7.2, layout="constrained")
        axes = figure.add_subplot()
        for (performance, potential), box in BOXES.items():
            x, y = performance - 1, potential - 1
            axes.add_patch(
                _rectangle((x, y), BOX_COLOURS[box]),
            )
            count = int(counts.get(box, 0))
            axes.text(x + 0.06, y + 0.9, str(box), fontsize=10, color="#555555", va="top")
            axes.text(
                x + 0.5,
                y + 0.58,
                str(count),
                fontsize=26,
                fontweight="bold",
                ha="center",
                va="center",
                color="#222222" if count else "#aaaaaa",
            )
            name = textwrap.fill(box_names.get(box, ""), width=24)
            axes.text(x + 0.5, y + 0.22, name, fontsize=7.5, ha="center", va="center")
        positions = [0.5, 1.5, 2.5]
        axes.set_xticks(positions, [level_labels[level] for level in LEVELS], fontsize=9)
        axes.set_yticks(positions, [level_labels[level] for level in LEVELS], fontsize=9)
        axes.set_xlim(0, 3)
        axes.set_ylim(0, 3)
        axes.set_aspect("equal")
        axes.tick_params(length=0)
        for side in axes.spines.values():
            side.set_visible(False)
        below = "\n".join(filter(None, [xlabel, footer]))
        if below:
            axes.set_xlabel(below, fontsize=10)
        if ylabel:
            axes.set_ylabel(ylabel, fontsize=10)
        if title:
            axes.set_title(title, fontsize=11)
        return _png(figure)


def _rectangle(corner: tuple[float, float], colour: str) -> object:
    from matplotlib.patches import Rectangle

    return Rectangle(corner, 1, 1, facecolor=colour, edgecolor="white", linewidth=3)
