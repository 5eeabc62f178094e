"""Pure helpers of ``bot.trainings``: what HR types, how a training reads."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import get_translator
from bot.rules.nip import BAD_GENDER, WRONG_LENGTH
from bot.trainings import (
    answer_buttons,
    card_html,
    keyboard_dict,
    looks_like_nips,
    parse_moment,
    parse_nips,
    split_place,
    when_text,
)
from storage.repositories.trainings import Participation, TrainingInfo
from tests.support.factories import NIP_STAFF, NIP_SUPERVISOR

WIB = ZoneInfo("Asia/Jakarta")
EIGHT_WIB = dt.datetime(2026, 1, 12, 1, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "text",
    [
        "12/01/2026 08.00",
        "12/01/2026 8:00",
        "12-01-2026 08:00",
        "2026-01-12 08:00",
        "12/01/2026 pukul 08.00 WIB",
        "  12.01.2026   jam 08.00 ",
        "12/01/2026, 08.00",
    ],
)
def test_dates_and_times_typed_in_wib(text):
    assert parse_moment(text, WIB) == EIGHT_WIB


@pytest.mark.parametrize("text", ["besok", "31/02/2026 08.00", "12/01/2026 25.00", "08.00", ""])
def test_what_is_not_a_date_and_time(text):
    assert parse_moment(text, WIB) is None


def test_a_time_alone_means_the_given_day():
    day = dt.date(2026, 1, 12)
    assert parse_moment("16.00", WIB, day=day) == dt.datetime(2026, 1, 12, 9, tzinfo=dt.UTC)
    assert parse_moment("pukul 7:30 WIB", WIB, day=day) == dt.datetime(
        2026, 1, 12, 0, 30, tzinfo=dt.UTC
    )
    assert parse_moment("24.00", WIB, day=day) is None
    # A full date still wins.
    assert parse_moment("13/01/2026 08.00", WIB, day=day) == EIGHT_WIB + dt.timedelta(days=1)


def test_a_web_address_becomes_the_online_link():
    assert split_place("Aula Balai Kota") == ("Aula Balai Kota", None)
    assert split_place("https://zoom.us/j/1?pwd=a") == ("", "https://zoom.us/j/1?pwd=a")
    assert split_place("Aula Bappeda, https://meet.google.com/abc.") == (
        "Aula Bappeda",
        "https://meet.google.com/abc",
    )


def test_nip_lists_in_every_separator_with_spaces_inside_a_nip():
    typed = parse_nips(
        f"{NIP_STAFF}, {NIP_SUPERVISOR}\n19860926 201505 1 001; 1986.0926.2015.0510.01"
    )
    assert typed.nips == [NIP_STAFF, NIP_SUPERVISOR]
    assert typed.invalid == []
    typed = parse_nips(f"{NIP_STAFF} {NIP_SUPERVISOR}")
    assert typed.nips == [NIP_STAFF, NIP_SUPERVISOR]
    typed = parse_nips("1986092620150510, 198609262015053001")
    assert typed.nips == []
    assert typed.invalid == [
        ("1986092620150510", WRONG_LENGTH),
        ("198609262015053001", BAD_GENDER),
    ]


def test_an_ni_pppk_is_not_rejected_by_the_pns_month_rule():
    pppk = "198609262021131001"  # digits 13-14 are a code, not a month
    assert parse_nips(pppk).nips == [pppk]


def test_nips_or_a_unit_name():
    assert looks_like_nips("19860926 201505 1 001")
    assert looks_like_nips(NIP_STAFF)
    assert not looks_like_nips("Dinas Kesehatan")
    assert not looks_like_nips("Kecamatan Guguk Panjang 2")


def training(**changes) -> TrainingInfo:
    values = dict(
        id=5,
        code="PLT-2026-0001",
        title="Diklat <Kepemimpinan>",
        starts_at=EIGHT_WIB,
        ends_at=EIGHT_WIB + dt.timedelta(hours=8),
        place="Aula & Ruang 2",
        online_link=None,
        cancelled_at=None,
        cancel_reason=None,
    )
    values.update(changes)
    return TrainingInfo(**values)


def test_time_in_wib_through_babel():
    en = get_translator("en")

    def when(value):  # CLDR puts a narrow no-break space before AM/PM
        return when_text(value, en).replace("\u202f", " ")

    assert when(training()) == "Monday, January 12, 2026 at 8:00 AM–4:00 PM WIB"
    two_days = training(ends_at=EIGHT_WIB + dt.timedelta(days=1, hours=8))
    assert when(two_days) == (
        "Monday, January 12, 2026 at 8:00 AM WIB until Tuesday, January 13, 2026 at 4:00 PM WIB"
    )
    text = when_text(training(), get_translator("id"))
    assert text.startswith("Senin, 12 Januari 2026") and "08.00" in text
    assert text.endswith("16.00 WIB")


def test_card_escapes_and_shows_the_answer():
    en = get_translator("en")
    mine = Participation(training(), 1, "tidak_hadir", "Sakit <demam>", EIGHT_WIB)
    html = card_html(training(online_link="https://x.id/?a=1&b=2"), en, participation=mine)
    assert "<b>Diklat &lt;Kepemimpinan&gt;</b>" in html
    assert "📍 Aula &amp; Ruang 2" in html
    assert "🔗 https://x.id/?a=1&amp;b=2" in html
    assert "Your answer: <b>Not attending</b>" in html
    assert "Reason: Sakit &lt;demam&gt;" in html


def test_answer_buttons_fit_telegram():
    keyboard = keyboard_dict(answer_buttons(123456789012, get_translator("id")))
    data = [b["callback_data"] for row in keyboard["inline_keyboard"] for b in row]
    assert data == ["latih:123456789012:hadir", "latih:123456789012:absen"]
    assert all(len(d.encode()) <= 64 for d in data)
