"""The /nilai conversation's pure parts: callback data, the step views, the list."""

from __future__ import annotations

import datetime as dt

import pytest

from bot import evaluation_cards as cards
from bot.emulator.html_check import strip_html, validate_html
from bot.i18n import get_translator
from bot.rules.periods import BEHAVIOUR, EVALUATION_STEPS, FEEDBACK, FEEDBACK_MAX, SUMMARY, WORK
from bot.rules.skp import BERAKHLAK, BehaviourRule, Rating
from storage.repositories.evaluations import EvaluationState, PeriodInfo, TeamMember

ID = get_translator("id")
EN = get_translator("en")
BIG = 10**12 - 1  # the largest id the callback data takes
PERIOD = PeriodInfo(7, 2026, 11, dt.date(2026, 11, 1), dt.date(2026, 12, 7), "open")
HOSTILE = "Rina <b>& Co</b>"


def state(**values: object) -> EvaluationState:
    base: dict[str, object] = {
        "id": 12,
        "period_id": PERIOD.id,
        "employee_id": 5,
        "evaluator_id": 1,
        "status": "draft",
        "work_result": "di_atas",
        "ratings": dict.fromkeys(BERAKHLAK, "sesuai"),
        "behaviour": None,
        "predicate": None,
        "feedback": "Tingkatkan <i>ketelitian</i> & kerja sama",
        "current_step": SUMMARY,
        "submitted_at": None,
        "updated_at": dt.datetime(2026, 12, 3, tzinfo=dt.UTC),
        "employee_name": HOSTILE,
        "employee_position": "Analis <Transportasi>",
    }
    base.update(values)
    return EvaluationState(**base)  # type: ignore[arg-type]


def member(number: int, **values: object) -> TeamMember:
    base: dict[str, object] = {
        "employee_id": 100 + number,
        "name": f"Staf {number:02d}",
        "nip": f"{number:018d}",
        "position": "Pengadministrasi",
        "evaluation_id": None,
        "status": None,
        "predicate": None,
        "current_step": None,
        "moved_at": None,
    }
    base.update(values)
    return TeamMember(**base)  # type: ignore[arg-type]


def rows_data(rows: cards.Buttons) -> list[str]:
    return [data for row in rows for _, data in row]


# --------------------------------------------------------------------------- callback data
def test_every_button_fits_in_64_bytes_and_parses_back():
    answers = [*cards.RATING_CODES.values(), cards.BACK, cards.CANCEL, cards.NEXT, cards.SKIP]
    answers += [cards.KEEP, cards.SEND, cards.EDIT, cards.SHOW_SUMMARY]
    answers += [cards.JUMP + cards.STEP_CODES[step] for step in cards.JUMP_TARGETS]
    for step in EVALUATION_STEPS:
        for answer in answers:
            data = cards.step_data(BIG, step, answer)
            assert len(data.encode()) <= 64
            assert cards.parse(data) == cards.StepPress(BIG, step, answer)
    assert cards.parse(cards.open_data(BIG, BIG)) == cards.OpenPress(BIG, BIG)
    assert cards.parse(cards.page_data(3)) == cards.PagePress(3)
    assert len(cards.open_data(BIG, BIG)) <= 64


@pytest.mark.parametrize(
    "data",
    ["", "nl:", "nl:o:1", "nl:1:zz:a", "nl:1:w:abcd", "nl:-1:w:a", "nl:p:x", "hrm:1:w:a", None],
)
def test_malformed_data_is_not_a_press(data):
    assert cards.parse(data) is None


def test_the_step_codes_are_unique_and_jumps_only_reach_answerable_steps():
    assert len(set(cards.STEP_CODES.values())) == len(EVALUATION_STEPS)
    assert set(cards.STEP_CODES) == set(EVALUATION_STEPS)
    assert cards.jump_target("gw") == WORK
    assert cards.jump_target("ghm") == "harmonis"
    assert cards.jump_target("gf") == FEEDBACK
    assert cards.jump_target("gb") is None  # Perilaku Kerja is derived
    assert cards.jump_target("gs") is None
    assert cards.jump_target("a") is None
    assert cards.rating_of("a") is Rating.DI_ATAS and cards.rating_of("bk") is None


# --------------------------------------------------------------------------- views
@pytest.mark.parametrize("language", ["id", "en"])
@pytest.mark.parametrize("step", EVALUATION_STEPS)
def test_every_step_is_valid_html_with_its_number_back_and_cancel(language, step):
    t = get_translator(language)
    text, rows = cards.step_view(state(), PERIOD, step, t, BehaviourRule.MAJORITY)
    assert validate_html(text) is None, text
    plain = strip_html(text)
    assert HOSTILE in plain and "Analis <Transportasi>" in plain
    number = EVALUATION_STEPS.index(step) + 1
    assert t("Step {n} of {total}", n=str(number), total="11") in plain
    assert rows[-1] == [
        (t("⬅️ Back"), cards.step_data(12, step, cards.BACK)),
        (t("✖ Cancel"), cards.step_data(12, step, cards.CANCEL)),
    ]
    if step in cards.RATED_STEPS:
        assert [data for row in rows[:3] for _, data in row] == [
            cards.step_data(12, step, code) for code in ("a", "s", "b")
        ]


def test_each_value_shows_its_description_and_the_rating_meanings():
    for value in BERAKHLAK:
        text, _ = cards.rating_view(state(current_step=value), PERIOD, value, ID)
        assert ID(cards.VALUE_DESCRIPTIONS[value]) in text
        assert ID("shows this as expected") in text
    text, _ = cards.rating_view(state(current_step=WORK), PERIOD, WORK, ID)
    assert "hasil memenuhi target yang disepakati" in text
    assert "Berorientasi Pelayanan" not in text
    service, _ = cards.rating_view(state(), PERIOD, "berorientasi_pelayanan", ID)
    assert "memahami dan memenuhi kebutuhan masyarakat" in service


def test_the_behaviour_step_follows_the_configured_rule():
    ratings = {**dict.fromkeys(BERAKHLAK, "di_atas"), "loyal": "di_bawah"}
    majority, _ = cards.behaviour_view(state(ratings=ratings), PERIOD, ID, BehaviourRule.MAJORITY)
    strict, _ = cards.behaviour_view(state(ratings=ratings), PERIOD, ID, BehaviourRule.STRICT)
    assert "Perilaku Kerja: Di Atas Ekspektasi" in majority
    assert "Aturan: nilai terbanyak; bila seri: Sesuai Ekspektasi." in majority
    assert "Perilaku Kerja: Di Bawah Ekspektasi" in strict
    assert ID(cards.RULE_TEXTS[BehaviourRule.STRICT]) in strict


def test_the_summary_escapes_the_feedback_and_shows_the_predicate():
    text, rows = cards.summary_view(state(), PERIOD, ID, BehaviourRule.MAJORITY)
    assert "Tingkatkan &lt;i&gt;ketelitian&lt;/i&gt; &amp; kerja sama" in text
    assert "Predikat: <b>Baik</b>" in text
    assert [data for row in rows for _, data in row][:2] == ["nl:12:s:ok", "nl:12:s:ed"]
    skipped, _ = cards.summary_view(state(feedback=""), PERIOD, EN, BehaviourRule.MAJORITY)
    assert "Feedback: (no feedback)" in skipped


def test_the_feedback_step_offers_keep_only_when_there_is_feedback():
    _, without = cards.feedback_view(state(feedback=None), PERIOD, ID)
    _, with_text = cards.feedback_view(state(), PERIOD, ID)
    assert rows_data(without)[0] == "nl:12:f:sk"
    assert rows_data(with_text)[:2] == ["nl:12:f:kp", "nl:12:f:sk"]
    assert "1.001" in cards.feedback_too_long(FEEDBACK_MAX + 1, ID)


def test_the_ubah_chooser_reaches_every_answer_and_the_feedback():
    text, rows = cards.edit_view(state(), PERIOD, ID)
    assert validate_html(text) is None
    data = [d for row in rows for _, d in row]
    assert data[:-1] == [f"nl:12:s:g{cards.STEP_CODES[s]}" for s in cards.JUMP_TARGETS]
    assert data[-1] == "nl:12:s:sm"
    assert BEHAVIOUR not in [cards.jump_target(d.split(":")[-1]) for d in data]


def test_the_final_card_says_whether_the_employee_was_told():
    done = state(
        status="submitted",
        behaviour="sesuai",
        predicate="baik",
        submitted_at=dt.datetime(2026, 12, 3, 4, tzinfo=dt.UTC),
    )
    told = cards.final_html(done, PERIOD, ID, BehaviourRule.MAJORITY, told=True)
    assert validate_html(told) is None
    assert f"{HOSTILE} sudah diberi tahu." in strip_html(told)
    assert "Dikirim Kamis, 3 Desember 2026" in told
    untold = cards.final_html(done, PERIOD, EN, BehaviourRule.MAJORITY, told=False)
    assert "is not on Telegram yet" in untold


# --------------------------------------------------------------------------- the list
def test_the_list_pages_and_marks_each_state():
    members = [
        member(1, moved_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC)),
        member(2, evaluation_id=2, status="submitted", predicate="butuh_perbaikan"),
        member(3, evaluation_id=3, status="draft", current_step="loyal"),
        *[member(n) for n in range(4, 18)],
    ]
    text, rows = cards.team_view(members, PERIOD, ID, in_progress=members[2])
    assert validate_html(text) is None
    assert "Batas akhir: Senin, 7 Desember 2026" in text
    assert "Terkirim: 1 dari 17" in text
    assert "🆕 baru dimutasi (20 Nov 2026)" in text
    assert "✅ terkirim: Butuh Perbaikan" in text
    assert "✏️ draf, langkah 6 dari 11" in text
    assert "⬜ belum dinilai" in text
    assert "Halaman 1 dari 3" in text
    data = [d for row in rows for _, d in row]
    assert data[0] == cards.open_data(PERIOD.id, 103)  # Lanjutkan
    assert data[1:9] == [cards.open_data(PERIOD.id, 100 + n) for n in range(1, 9)]
    assert rows[-1] == [("▶️", "nl:p:1")]
    last, rows = cards.team_view(members, PERIOD, ID, page=99)
    assert "Halaman 3 dari 3" in last and "17. <b>Staf 17</b>" in last
    assert rows[-1] == [("◀️", "nl:p:1")]
    single, rows = cards.team_view(members[:2], PERIOD, EN)
    assert "Page" not in single and len(rows) == 2
