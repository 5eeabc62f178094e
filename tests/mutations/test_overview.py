"""HR's mutation overview: the counts, the stuck list in chat, and the XLSX (no database)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from bot.i18n import get_translator
from bot.mutations import stage_label
from bot.rules.stages import Stage
from handlers.hr_mutations import (
    CODE_STAGES,
    STAGE_CODES,
    move_steps,
    overview_html,
)
from storage.exports.mutations import (
    STAGE_ORDER,
    days_in_stage,
    ordered_counts,
    overview_file_name,
    overview_workbook,
    totals,
)
from storage.repositories.mutations import StuckMutation

ID = get_translator("id")
EN = get_translator("en")
NOW = dt.datetime(2026, 3, 2, 5, 0, tzinfo=dt.UTC)  # 12.00 WIB


def stuck(number: int, *, days: float, name: str = "Rina", stage: str = "verifikasi"):
    return StuckMutation(
        id=number,
        employee_name=name,
        employee_nip=f"19860926201505100{number % 10}",
        unit="Dinas Perhubungan",
        mutation_type="rotasi",
        to_unit="Bappeda",
        stage=stage,
        since=NOW - dt.timedelta(days=days),
    )


def test_every_stage_once_in_the_timelines_order():
    assert sorted(STAGE_ORDER) == sorted(Stage)
    assert STAGE_ORDER.index(Stage.DIKEMBALIKAN) == STAGE_ORDER.index(Stage.VERIFIKASI) + 1
    assert STAGE_ORDER[-2:] == (Stage.SELESAI, Stage.DIBATALKAN)
    counts = ordered_counts({"verifikasi": 2, "selesai": 1})
    assert [stage for stage, _ in counts] == list(STAGE_ORDER)
    assert dict(counts)[Stage.PERTEK_BKN] == 0 and dict(counts)[Stage.VERIFIKASI] == 2


def test_totals_split_active_finished_and_cancelled():
    summary = totals({"diusulkan": 2, "dikembalikan": 1, "sk_terbit": 3, "selesai": 4,
                      "dibatalkan": 5})  # fmt: skip
    assert (summary.active, summary.finished, summary.cancelled, summary.all) == (6, 4, 5, 15)


def test_days_in_a_stage():
    assert days_in_stage(NOW - dt.timedelta(days=14, hours=23), NOW) == 14
    assert days_in_stage((NOW - dt.timedelta(days=3)).replace(tzinfo=None), NOW) == 3
    assert days_in_stage(NOW + dt.timedelta(hours=1), NOW) == 0


def test_stage_codes_are_unique_and_buttons_fit_in_64_bytes():
    assert len(CODE_STAGES) == len(Stage) == len(STAGE_CODES)
    longest = f"hrm:go:{'9' * 18}:{'9' * 18}:us:ve"
    assert len(longest.encode()) <= 64


def test_what_each_target_asks_for():
    assert move_steps(Stage.DIKEMBALIKAN) == ("reason", "documents")
    assert move_steps(Stage.SK_TERBIT) == ("sk_number", "sk_date", "tmt", "inauguration")
    assert move_steps(Stage.DIBATALKAN) == ("reason",)
    for stage in (Stage.VERIFIKASI, Stage.PERTIMBANGAN_TPK, Stage.PELANTIKAN, Stage.SELESAI):
        assert move_steps(stage) == ("note",)


def test_the_overview_message_in_indonesian():
    items = [stuck(1, days=40, name="Rina <Marlina>"), stuck(2, days=15, stage="sk_terbit")]
    text = overview_html({"verifikasi": 5, "sk_terbit": 1234, "selesai": 2}, items, ID, now=NOW,
                         stuck_days=14)  # fmt: skip
    assert f"{stage_label(Stage.SK_TERBIT, ID)}: <b>1.234</b>" in text  # Babel, Indonesian
    assert f"{stage_label(Stage.DIBATALKAN, ID)}: <b>0</b>" in text
    assert "Aktif: 1.239 · Selesai: 2 · Dibatalkan: 0" in text
    assert "1. Rina &lt;Marlina&gt; — " in text and "(40 hari)" in text
    assert "sejak 21 Jan 2026" in text
    assert "2. Rina — " + stage_label(Stage.SK_TERBIT, ID) in text


def test_the_overview_message_without_stuck_mutations_and_in_english():
    text = overview_html({"diusulkan": 1}, [], EN, now=NOW, stuck_days=21)
    assert "No active mutation has stayed in one stage for more than 21 days." in text
    text = overview_html({"diusulkan": 1}, [stuck(1, days=30)], EN, now=NOW, stuck_days=14)
    assert "1 mutation has stayed in one stage for more than 14 days:" in text
    assert "since Jan 31, 2026 (30 days)" in text


@pytest.mark.parametrize("count", [16, 400])
def test_the_overview_message_shows_the_first_fifteen_and_fits(count):
    items = [stuck(i, days=100 - i % 90, name="Nama Panjang " * 30) for i in range(count)]
    text = overview_html({"verifikasi": count}, items, ID, now=NOW, stuck_days=14)
    assert len(text) <= 4096
    assert "\n15. " in text and "\n16. " not in text
    assert ID("…and {n} more.", n=ID.number(count - 15)) in text


def test_the_workbook_has_the_counts_and_every_stuck_mutation():
    items = [stuck(1, days=40, name='=HYPERLINK("x")'), stuck(2, days=15, stage="dikembalikan")]
    content = overview_workbook({"verifikasi": 1, "dikembalikan": 1, "selesai": 3}, items, ID,
                                now=NOW)  # fmt: skip
    workbook = load_workbook(io.BytesIO(content))
    counts_sheet, stuck_sheet = workbook.worksheets
    assert counts_sheet.title == ID("Stages") and stuck_sheet.title == ID("Stuck")
    rows = list(counts_sheet.iter_rows(values_only=True))
    assert rows[0] == (ID("Stage"), ID("Mutations"))
    assert [row[0] for row in rows[1:10]] == [stage_label(s, ID) for s in STAGE_ORDER]
    assert [row[1] for row in rows[1:10]] == [0, 1, 1, 0, 0, 0, 0, 3, 0]
    totals_rows = {row[0]: row[1] for row in rows[10:] if row[0]}
    assert totals_rows == {ID("Active"): 2, ID("Completed"): 3, ID("Cancelled"): 0,
                           ID("Total"): 5}  # fmt: skip
    stuck_rows = list(stuck_sheet.iter_rows(values_only=True))
    assert len(stuck_rows) == 3
    first = stuck_rows[1]
    assert first[0] == 1 and first[1] == "198609262015051001"
    assert first[2] == '=HYPERLINK("x")'  # text, never a formula
    assert stuck_sheet.cell(row=2, column=3).data_type == "s"
    assert first[3:7] == ("Dinas Perhubungan", ID("Rotation"), "Bappeda",
                          stage_label(Stage.VERIFIKASI, ID))  # fmt: skip
    assert first[7] == dt.datetime(2026, 1, 21) and first[8] == 40
    assert stuck_rows[2][6] == stage_label(Stage.DIKEMBALIKAN, ID)


def test_the_file_name_is_translated():
    assert overview_file_name(ID, dt.date(2026, 3, 2)) == ID(
        "mutations-{date}.xlsx", date="2026-03-02"
    )
    assert overview_file_name(EN, dt.date(2026, 3, 2)) == "mutations-2026-03-02.xlsx"
