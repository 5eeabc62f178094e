import pytest

from bot.rules.phone import normalize_phone


@pytest.mark.parametrize(
    "raw",
    ["+6281234567890", "6281234567890", "081234567890", "0812-3456-7890", "+62 812 3456 7890"],
)
def test_indonesian_forms_share_one_canonical_form(raw):
    assert normalize_phone(raw) == "6281234567890"


@pytest.mark.parametrize("raw", ["", "12345", "0751-123456", "+44 20 7946 0958", "08123abc890"])
def test_rejects_what_is_not_an_indonesian_mobile(raw):
    assert normalize_phone(raw) is None
