"""The talent map: counts per box against a hand-computed organisation, the people counted
apart, the 12-month window, trainings done, the XLSX and the PNG."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import load_workbook
from PIL import Image

from bot.i18n import get_translator
from bot.rules.talent import LEVEL_LABELS, Level
from bot.talent import (
    BOX_NAMES,
    BOXES,
    build_map,
    since_month,
    talent_map,
    talent_workbook,
)
from bot.talent_chart import talent_grid_png
from storage.repositories.talent import MonthPredicate, TalentPerson, TalentRepository
from tests.talent.support import (
    ALL_COUNTS,
    BAPPEDA_COUNTS,
    DISHUB_COUNTS,
    add_talent_org,
)

ID = get_translator("id")
EN = get_translator("en")
TODAY = dt.date(2026, 6, 15)


def _person(n: int, potential: str | None, predicates: list[str]) -> TalentPerson:
    return TalentPerson(
        employee_id=n,
        nip=f"{n:018d}",
        name=f"P{n}",
        unit="U",
        position="",
        post_since=None,
        potential=potential,
        predicates=tuple(MonthPredicate(2026, 6 - i, p) for i, p in enumerate(predicates)),
    )


# --------------------------------------------------------------------------- pure
def test_build_map_counts_by_hand():
    sb, b, bp, k = "sangat_baik", "baik", "butuh_perbaikan", "kurang"
    people = [
        _person(1, "tinggi", [sb, sb, b]),  # tinggi × tinggi = 9
        _person(2, "tinggi", [sb, b, b, b]),  # 1 of 4 best: menengah × tinggi = 8
        _person(3, "tinggi", [k, k, b]),  # rendah × tinggi = 6
        _person(4, "menengah", [sb, sb, sb]),  # 7
        _person(5, "menengah", [b, b, bp]),  # 2 of 3 good: menengah × menengah = 5
        _person(6, "Menengah", [bp, bp, b]),  # rendah × menengah = 3 (stored case ignored)
        _person(7, "rendah", [sb, sb, sb, sb]),  # 4
        _person(8, "rendah", [b, b, b]),  # 2
        _person(9, "rendah", [k, k, k]),  # 1
        _person(10, "rendah", [sb, sb, bp]),  # one below Baik: menengah × rendah = 2
        _person(11, None, [sb, sb, sb]),  # no potential
        _person(12, None, []),  # no potential (and no data): counted once, as no potential
        _person(13, "tinggi", [sb, sb]),  # not enough data
    ]
    data = build_map(people, TODAY)
    assert data.counts == {1: 1, 2: 2, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1, 8: 1, 9: 1}
    assert [e.person.employee_id for e in data.boxes[2]] == [8, 10]
    assert [e.person.employee_id for e in data.no_potential] == [11, 12]
    assert [e.person.employee_id for e in data.not_enough_data] == [13]
    assert data.total == 13 == data.placed + len(data.no_potential) + len(data.not_enough_data)
    first = data.boxes[9][0]
    assert (first.performance, first.potential) == (Level.TINGGI, Level.TINGGI)
    assert data.not_enough_data[0].performance is None


def test_the_window_is_this_month_and_the_11_before():
    assert since_month(dt.date(2026, 6, 15)) == (2025, 7)
    assert since_month(dt.date(2026, 12, 1)) == (2026, 1)


def test_box_names_are_all_there_and_translated():
    assert set(BOX_NAMES) == set(BOXES)
    for box in BOXES:
        assert ID(BOX_NAMES[box]) != BOX_NAMES[box], box  # Indonesian catalog has them


def test_the_png_is_valid_and_readable():
    counts = {1: 3, 5: 12, 9: 1}
    png = talent_grid_png(
        counts,
        {box: ID(name) for box, name in BOX_NAMES.items()},
        {level: ID(label) for level, label in LEVEL_LABELS.items()},
        title="Peta talenta",
        xlabel="Kinerja",
        ylabel="Potensi",
        footer="Dihitung terpisah: 2, 3",
    )
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.verify()
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.width >= 600 and image.height >= 600
    assert len(image.convert("RGB").getcolors(1 << 24)) > 10  # something is drawn


# --------------------------------------------------------------------------- database
async def test_the_map_of_the_hand_made_organisation(sessionmaker):
    org = await add_talent_org(sessionmaker)
    async with sessionmaker() as session:
        everyone = await talent_map(session, org.today)
        dishub = await talent_map(session, org.today, unit_id=org.dishub)
        bappeda = await talent_map(session, org.today, unit_id=org.bappeda)
    assert everyone.counts == ALL_COUNTS
    assert everyone.total == 10  # a4 is inactive
    names = {v: k for k, v in org.ids.items()}

    def keys(entries) -> set[str]:
        return {names[e.person.employee_id] for e in entries}

    assert keys(everyone.boxes[9]) == {"boss_a", "b1"}
    assert keys(everyone.boxes[5]) == {"a1"}
    assert keys(everyone.boxes[4]) == {"b2"}
    assert keys(everyone.boxes[1]) == {"a2"}
    assert keys(everyone.no_potential) == {"hr", "boss_b"}
    assert keys(everyone.not_enough_data) == {"a3", "a5", "b3"}
    assert dishub.counts == DISHUB_COUNTS and dishub.total == 5
    assert keys(dishub.not_enough_data) == {"a3", "a5"} and not dishub.no_potential
    assert bappeda.counts == BAPPEDA_COUNTS and bappeda.total == 4
    assert keys(bappeda.no_potential) == {"boss_b"}


async def test_the_people_carry_predicates_post_and_trainings(sessionmaker):
    org = await add_talent_org(sessionmaker)
    async with sessionmaker() as session:
        people = await TalentRepository(session).people(
            since=since_month(org.today), unit_id=org.dishub
        )
    by_id = {p.employee_id: p for p in people}
    a1 = by_id[org.ids["a1"]]
    assert [p.predicate for p in a1.predicates] == ["baik"] * 4  # the draft is not there
    months = [(p.year, p.month) for p in a1.predicates]
    assert months == sorted(months, reverse=True)
    assert [t.title for t in a1.trainings] == ["Pelatihan Kepemimpinan"]  # hadir, ended
    assert a1.post_since == dt.date(org.today.year - 3, 1, 1)
    assert len(by_id[org.ids["a5"]].predicates) == 2  # -12 is outside the window
    assert org.ids["a4"] not in by_id
    assert org.ids["b1"] not in by_id  # another unit


async def test_units_by_part_of_their_name(sessionmaker):
    org = await add_talent_org(sessionmaker)
    async with sessionmaker() as session:
        repo = TalentRepository(session)
        assert [u.id for u in await repo.units_like("perhub")] == [org.dishub]
        assert [u.name for u in await repo.units_like("BAPPEDA")] == ["Bappeda"]
        assert len(await repo.units_like("b")) == 3
        assert await repo.units_like("100%") == []
        assert await repo.units_like("  ") == []


async def test_the_workbook_lists_everyone_with_their_box(sessionmaker):
    org = await add_talent_org(sessionmaker)
    async with sessionmaker() as session:
        data = await talent_map(session, org.today)
    content = talent_workbook(data, ID)
    sheet = load_workbook(io.BytesIO(content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == ID("Box")
    body = rows[1:]
    assert len(body) == 10
    by_name = {row[4]: row for row in body}
    assert by_name["Ir. Yusuf"][0] == 9
    assert by_name["Ir. Yusuf"][1] == ID(BOX_NAMES[9])
    assert by_name["Dra. Fitri <Yanti>"][0] is None
    assert by_name["Dra. Fitri <Yanti>"][1] == ID("potential not yet assessed")
    assert by_name["Budi Santoso"][1] == ID("not enough data")
    assert by_name["Rina Marlina"][7] == 3
    assert "Pelatihan Kepemimpinan" in by_name["Rina Marlina"][13]
    assert [row[0] for row in body[:5]] == [9, 9, 5, 4, 1]  # boxes, best first
