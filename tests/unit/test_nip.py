import datetime as dt

import pytest

from bot.rules import nip as rules
from bot.rules.nip import EmployeeType, check_nip, normalize_nip

TODAY = dt.date(2026, 11, 28)


@pytest.mark.parametrize(
    "raw", ["19860926 201505 1 001", "19860926.201505.1.001", " 198609262015051001 "]
)
def test_typed_forms_are_normalised(raw):
    assert check_nip(raw, today=TODAY) == ("198609262015051001", None)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("19860926201505100", rules.WRONG_LENGTH),
        ("1986092620150510011", rules.WRONG_LENGTH),
        ("19860926201505100A", rules.NOT_DIGITS),
        ("١٩٨٦٠٩٢٦٢٠١٥٠٥١٠٠١", rules.NOT_DIGITS),  # Arabic-Indic digits are not accepted
        ("19860231201505100 1", rules.BAD_BIRTH_DATE),  # 31 February
        ("20300101201505 1 001", rules.BAD_BIRTH_DATE),  # born in the future
        ("19860926201513 1 001", rules.BAD_TMT_MONTH),
        ("19860926201500 1 001", rules.BAD_TMT_MONTH),
        ("19860926199005 1 001", rules.BAD_TMT_YEAR),  # appointed at 3 years old
        ("19860926201505 3 001", rules.BAD_GENDER),
        ("19860926201505 1 000", rules.ZERO_SEQUENCE),
    ],
)
def test_pns_problems(raw, problem):
    assert check_nip(raw, today=TODAY)[1] is problem


def test_pppk_code_is_not_a_month():
    # Appointment year 2022 then code 45: a month rule would reject it.
    assert check_nip("199003152022452001", EmployeeType.PPPK, today=TODAY)[1] is None
    assert check_nip("199003152022452001", EmployeeType.PNS, today=TODAY)[1] is rules.BAD_TMT_MONTH


def test_pppk_other_rules_still_apply():
    assert check_nip("199003152022453001", "PPPK", today=TODAY)[1] is rules.BAD_GENDER
    assert check_nip("199003152022452000", "PPPK", today=TODAY)[1] is rules.ZERO_SEQUENCE


def test_length_problem_carries_the_length():
    nip, problem = check_nip("1234", today=TODAY)
    assert problem is rules.WRONG_LENGTH
    assert rules.problem_params(nip, problem) == {"length": 4}


def test_normalize_keeps_letters_for_the_digit_check():
    assert normalize_nip("1986-09-26 x") == "19860926x"
