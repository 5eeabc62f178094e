"""The mutation stage machine (bot.rules.stages): pure, no database."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from bot.rules.stages import (
    FINAL_STAGES,
    Requirement,
    Stage,
    StageChange,
    TransitionProblem,
    check_transition,
    next_stages,
    requirements,
    split_documents,
    timeline,
)

TODAY = dt.date(2026, 11, 28)
DECREE = StageChange(
    sk_number="821.2/45/BKPSDM-2026", sk_date=dt.date(2026, 11, 20), tmt_date=dt.date(2026, 12, 1)
)


def _change_for(target: Stage) -> StageChange:
    if target is Stage.SK_TERBIT:
        return DECREE
    if target is Stage.DIKEMBALIKAN:
        return StageChange(reason="Berkas kurang", missing_documents=("SKP",))
    if target is Stage.DIBATALKAN:
        return StageChange(reason="Formasi penuh")
    return StageChange()


@pytest.mark.parametrize("external", [False, True])
def test_the_main_path_can_be_walked_step_by_step(external):
    path = timeline(external)
    for current, target in itertools.pairwise(path):
        assert target in next_stages(current, external)
        assert (
            check_transition(
                current, target, external=external, change=_change_for(target), today=TODAY
            )
            == []
        )


def test_pertek_bkn_only_between_governments():
    assert next_stages(Stage.PERTIMBANGAN_TPK, external=False)[0] is Stage.SK_TERBIT
    assert next_stages(Stage.PERTIMBANGAN_TPK, external=True)[0] is Stage.PERTEK_BKN
    assert check_transition(
        Stage.PERTIMBANGAN_TPK, Stage.SK_TERBIT, external=True, change=DECREE, today=TODAY
    ) == [TransitionProblem.NOT_ALLOWED]


def test_a_returned_file_goes_back_to_verification_only():
    assert next_stages(Stage.VERIFIKASI, False) == [
        Stage.PERTIMBANGAN_TPK,
        Stage.DIKEMBALIKAN,
        Stage.DIBATALKAN,
    ]
    assert next_stages(Stage.DIKEMBALIKAN, False) == [Stage.VERIFIKASI, Stage.DIBATALKAN]
    assert check_transition(
        Stage.DIKEMBALIKAN,
        Stage.PERTIMBANGAN_TPK,
        external=False,
        change=StageChange(),
        today=TODAY,
    ) == [TransitionProblem.NOT_ALLOWED]


@pytest.mark.parametrize("stage", sorted(FINAL_STAGES))
def test_final_stages_do_not_move(stage):
    assert next_stages(stage, False) == []
    assert check_transition(
        stage, Stage.VERIFIKASI, external=False, change=StageChange(), today=TODAY
    ) == [TransitionProblem.FINAL]


def test_no_cancelling_once_sworn_in():
    assert Stage.DIBATALKAN in next_stages(Stage.SK_TERBIT, False)
    assert next_stages(Stage.PELANTIKAN, False) == [Stage.SELESAI]


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Stage.DIUSULKAN, Stage.SK_TERBIT),
        (Stage.DIUSULKAN, Stage.SELESAI),
        (Stage.PERTIMBANGAN_TPK, Stage.VERIFIKASI),
        (Stage.SK_TERBIT, Stage.PERTIMBANGAN_TPK),
        (Stage.DIUSULKAN, Stage.DIKEMBALIKAN),
    ],
)
def test_skipping_or_going_back_is_refused(current, target):
    assert check_transition(
        current, target, external=False, change=_change_for(target), today=TODAY
    ) == [TransitionProblem.NOT_ALLOWED]


def test_the_same_stage_is_not_a_change():
    assert check_transition(
        Stage.VERIFIKASI, Stage.VERIFIKASI, external=False, change=StageChange(), today=TODAY
    ) == [TransitionProblem.SAME_STAGE]


def test_what_each_stage_requires():
    assert requirements(Stage.SK_TERBIT) == (
        Requirement.SK_NUMBER,
        Requirement.SK_DATE,
        Requirement.TMT,
    )
    assert requirements(Stage.DIKEMBALIKAN) == (Requirement.REASON, Requirement.MISSING_DOCUMENTS)
    assert requirements(Stage.DIBATALKAN) == (Requirement.REASON,)
    assert requirements(Stage.VERIFIKASI) == ()


def test_decree_without_its_fields_is_refused():
    problems = check_transition(
        Stage.PERTIMBANGAN_TPK, Stage.SK_TERBIT, external=False, change=StageChange(), today=TODAY
    )
    assert problems == [
        TransitionProblem.SK_NUMBER_REQUIRED,
        TransitionProblem.SK_DATE_REQUIRED,
        TransitionProblem.TMT_REQUIRED,
    ]
    blank = StageChange(sk_number="   ", sk_date=DECREE.sk_date, tmt_date=DECREE.tmt_date)
    assert check_transition(
        Stage.PERTIMBANGAN_TPK, Stage.SK_TERBIT, external=False, change=blank, today=TODAY
    ) == [TransitionProblem.SK_NUMBER_REQUIRED]


def test_decree_dates_are_checked():
    future = StageChange(sk_number="1", sk_date=TODAY + dt.timedelta(days=1), tmt_date=TODAY)
    assert TransitionProblem.SK_DATE_IN_FUTURE in check_transition(
        Stage.PERTIMBANGAN_TPK, Stage.SK_TERBIT, external=False, change=future, today=TODAY
    )
    backwards = StageChange(sk_number="1", sk_date=TODAY, tmt_date=TODAY - dt.timedelta(days=1))
    assert check_transition(
        Stage.PERTIMBANGAN_TPK, Stage.SK_TERBIT, external=False, change=backwards, today=TODAY
    ) == [TransitionProblem.TMT_BEFORE_SK_DATE]
    same_day = StageChange(sk_number="1", sk_date=TODAY, tmt_date=TODAY)
    assert (
        check_transition(
            Stage.PERTIMBANGAN_TPK, Stage.SK_TERBIT, external=False, change=same_day, today=TODAY
        )
        == []
    )


def test_returning_and_cancelling_need_their_reasons():
    assert check_transition(
        Stage.VERIFIKASI, Stage.DIKEMBALIKAN, external=False, change=StageChange(), today=TODAY
    ) == [TransitionProblem.REASON_REQUIRED, TransitionProblem.DOCUMENTS_REQUIRED]
    assert check_transition(
        Stage.VERIFIKASI,
        Stage.DIKEMBALIKAN,
        external=False,
        change=StageChange(reason="kurang", missing_documents=("  ",)),
        today=TODAY,
    ) == [TransitionProblem.DOCUMENTS_REQUIRED]
    assert check_transition(
        Stage.SK_TERBIT,
        Stage.DIBATALKAN,
        external=False,
        change=StageChange(reason=" "),
        today=TODAY,
    ) == [TransitionProblem.REASON_REQUIRED]


def test_catch_up_lets_a_file_jump_forward_only():
    jump = dict(external=False, change=DECREE, today=TODAY)
    assert check_transition(Stage.DIUSULKAN, Stage.SK_TERBIT, catch_up=True, **jump) == []
    assert check_transition(Stage.DIKEMBALIKAN, Stage.SK_TERBIT, catch_up=True, **jump) == []
    assert check_transition(
        Stage.PELANTIKAN,
        Stage.VERIFIKASI,
        external=False,
        change=StageChange(),
        today=TODAY,
        catch_up=True,
    ) == [TransitionProblem.NOT_ALLOWED]
    assert (
        check_transition(
            Stage.DIUSULKAN,
            Stage.SK_TERBIT,
            external=False,
            change=StageChange(),
            today=TODAY,
            catch_up=True,
        )[0]
        is TransitionProblem.SK_NUMBER_REQUIRED
    )


@pytest.mark.parametrize(
    ("text", "items"),
    [
        (
            "1. SKP 2 tahun terakhir\n2) Surat lolos butuh\n",
            ("SKP 2 tahun terakhir", "Surat lolos butuh"),
        ),
        ("KTP; Kartu Keluarga, asli; ijazah", ("KTP", "Kartu Keluarga, asli", "ijazah")),
        ("KTP, KK, ktp", ("KTP", "KK")),
        ("- SK pangkat\n• DP3\n\n", ("SK pangkat", "DP3")),
        ("   ", ()),
    ],
)
def test_missing_documents_as_hr_types_them(text, items):
    assert split_documents(text) == items
