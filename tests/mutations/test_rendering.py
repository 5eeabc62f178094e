"""Layer 1: how a mutation reads in chat (``bot.mutations``), with no database.

Every stage, inside the city and between governments, in Indonesian and English: the timeline
marks (✅ done, ▶️ current, ▫️ to come, ⚠️ returned, ❌ cancelled) in the right order, stage
names translated, dates formatted by Babel in the reader's language and in WIB, and HTML that
Telegram accepts with every piece of user text escaped (checked with the emulator's parser).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from bot.emulator.html_check import strip_html, validate_html
from bot.i18n import SUPPORTED_LANGUAGES, get_translator
from bot.mutations import card_html, history_line, stage_notice_html
from bot.rules.stages import STAGE_LABELS, MutationType, Stage, timeline
from storage.repositories.mutations import LinkedTraining, MutationView, StageEvent

ID, EN = get_translator("id"), get_translator("en")
UTC = dt.UTC
HR = "BKPSDM <Kota> & Bukittinggi"
FROM_UNIT = "Dinas <b>Perhubungan</b> & Terminal"
TO_UNIT = "Dinas Pariwisata & <i>Kebudayaan"
START = dt.date(2026, 1, 12)  # a Monday: step k happens START + k days, at 10.00 WIB
MARKS = ("✅", "▶️", "▫️", "⚠️", "❌")
# Every stage a mutation can stand at, per kind of move.
INTERNAL_STAGES = [s for s in Stage if s is not Stage.PERTEK_BKN]
EXTERNAL_STAGES = list(Stage)


def at(day: int, hour_utc: int = 3) -> dt.datetime:
    """Step ``day``: START + day days, 03.00 UTC = 10.00 WIB."""
    return dt.datetime.combine(START + dt.timedelta(days=day), dt.time(hour_utc), tzinfo=UTC)


def history_to(stage: Stage, external: bool) -> list[Stage]:
    """The stages a mutation passed through to stand at ``stage`` (the last is ``stage``)."""
    path = timeline(external)
    if stage in path:
        return path[: path.index(stage) + 1]
    if stage is Stage.DIKEMBALIKAN:
        return [Stage.DIUSULKAN, Stage.VERIFIKASI, Stage.DIKEMBALIKAN]
    assert stage is Stage.DIBATALKAN
    return [*path[: path.index(_last_before_cancel(external)) + 1], Stage.DIBATALKAN]


def _last_before_cancel(external: bool) -> Stage:
    """Where the default cancelled mutation stood when it was cancelled."""
    return Stage.PERTEK_BKN if external else Stage.PERTIMBANGAN_TPK


def make_view(
    stage: Stage,
    *,
    external: bool = False,
    passed: list[Stage] | None = None,
    **changes: object,
) -> MutationView:
    """A mutation at ``stage`` whose events walked ``passed`` (default: the usual way), one
    step a day from START; user text full of HTML metacharacters."""
    steps = passed or history_to(stage, external)
    events = tuple(
        StageEvent(
            id=index + 1,
            from_stage=None if index == 0 else steps[index - 1].value,
            to_stage=step.value,
            changed_at=at(index),
            changed_by="Admin <BKPSDM>",
            note=None,
        )
        for index, step in enumerate(steps)
    )
    decree = stage in (Stage.SK_TERBIT, Stage.PELANTIKAN, Stage.SELESAI)
    values: dict[str, object] = {
        "id": 7,
        "employee_id": 3,
        "employee_name": "Rina <b>Marlina</b> & Co",
        "employee_nip": "198609262015051001",
        "mutation_type": (MutationType.ANTAR_INSTANSI if external else MutationType.ROTASI).value,
        "from_unit": FROM_UNIT,
        "from_position": "Analis <Transportasi>",
        "to_unit": TO_UNIT,
        "to_position": "Analis Kebijakan & Data",
        "external": external,
        "stage": stage.value,
        "stage_changed_at": events[-1].changed_at,
        "sk_number": "800.1.3.3/45/<BKPSDM>&2026" if decree else None,
        "sk_date": dt.date(2026, 1, 19) if decree else None,
        "tmt_date": dt.date(2026, 2, 16) if decree else None,
        "note": None,
        "missing_documents": (),
        "inauguration_at": None,
        "to_supervisor_id": None,
        "to_supervisor_name": None,
        "created_at": events[0].changed_at,
        "events": events,
        "trainings": (),
    }
    values.update(changes)
    return MutationView(**values)  # type: ignore[arg-type]


def plain(html: str) -> str:
    assert validate_html(html) is None, validate_html(html)
    return strip_html(html)


def timeline_marks(html: str) -> list[tuple[str, str]]:
    """``(mark, stage name)`` of every timeline line, top to bottom."""
    found = []
    for line in plain(html).splitlines():
        for mark in MARKS:
            if line.startswith(mark):
                found.append((mark, line[len(mark) :].strip().split(" — ")[0]))
    return found


def expected_marks(stage: Stage, external: bool, t) -> list[tuple[str, str]]:
    path = timeline(external)

    def name(s: Stage) -> str:
        return t(STAGE_LABELS[s])

    if stage is Stage.SELESAI:
        return [("✅", name(s)) for s in path]
    if stage is Stage.DIKEMBALIKAN:
        done = path[: path.index(Stage.VERIFIKASI) + 1]
        rest = path[len(done) :]
        return [
            *(("✅", name(s)) for s in done),
            ("⚠️", name(Stage.DIKEMBALIKAN)),
            *(("▫️", name(s)) for s in rest),
        ]
    if stage is Stage.DIBATALKAN:
        done = path[: path.index(_last_before_cancel(external)) + 1]
        return [*(("✅", name(s)) for s in done), ("❌", name(Stage.DIBATALKAN))]
    index = path.index(stage)
    return [
        *(("✅", name(s)) for s in path[:index]),
        ("▶️", name(stage)),
        *(("▫️", name(s)) for s in path[index + 1 :]),
    ]


# --------------------------------------------------------------------------- every stage
CASES = [
    (stage, external, language)
    for external, stages in ((False, INTERNAL_STAGES), (True, EXTERNAL_STAGES))
    for stage in stages
    for language in SUPPORTED_LANGUAGES
]


@pytest.mark.parametrize(
    ("stage", "external", "language"),
    CASES,
    ids=[f"{s.value}-{'external' if e else 'internal'}-{lang}" for s, e, lang in CASES],
)
def test_every_stage_has_its_marks_in_order_and_valid_escaped_html(stage, external, language):
    t = get_translator(language)
    view = make_view(stage, external=external, note="Alasan <penting> & mendesak")
    html = card_html(view, t, hr_contact=HR)
    assert timeline_marks(html) == expected_marks(stage, external, t)
    names = [name for _, name in timeline_marks(html)]
    assert (t(STAGE_LABELS[Stage.PERTEK_BKN]) in names) is external
    # User text is escaped, never taken as markup.
    assert "Dinas &lt;b&gt;Perhubungan&lt;/b&gt; &amp; Terminal" in html
    assert "<b>Perhubungan</b>" not in html and "<i>Kebudayaan" not in html
    text = plain(html)
    assert FROM_UNIT in text and TO_UNIT in text
    assert t(STAGE_LABELS[stage]) in text
    # The HR view and the push notice are just as valid.
    plain(card_html(view, t, hr_contact=HR, for_hr=True))
    plain(stage_notice_html(view, t, hr_contact=HR))
    if stage in (Stage.SELESAI, Stage.DIBATALKAN):
        assert t(STAGE_LABELS[stage]) in plain(history_line(view, t))


def test_done_steps_carry_their_dates_and_the_current_one_since_when():
    view = make_view(Stage.PERTIMBANGAN_TPK, external=True)
    lines = [line for line in plain(card_html(view, ID, hr_contact=HR)).splitlines() if line]
    timeline_part = [line for line in lines if line.startswith(MARKS)]
    assert timeline_part == [
        "✅ Diusulkan — 12 Jan 2026",
        "✅ Verifikasi berkas — 13 Jan 2026",
        "▶️ Pertimbangan Tim Penilai Kinerja (TPK) — sejak 14 Jan 2026",
        "▫️ Pertimbangan teknis (Pertek BKN)",
        "▫️ SK terbit",
        "▫️ Pelantikan dan serah terima",
        "▫️ Selesai",
    ]
    english = plain(card_html(view, EN, hr_contact=HR))
    assert "✅ Proposed — Jan 12, 2026" in english
    assert "▶️ Review by the performance assessment team (TPK) — since Jan 14, 2026" in english


def test_dates_follow_the_local_day_in_wib():
    """17.30 UTC on the 13th is already the 14th in Bukittinggi."""
    view = make_view(Stage.VERIFIKASI)
    late = dataclasses.replace(
        view.events[1], changed_at=at(1, hour_utc=17) + dt.timedelta(minutes=30)
    )
    view = dataclasses.replace(
        view, events=(view.events[0], late), stage_changed_at=late.changed_at
    )
    assert "▶️ Verifikasi berkas — sejak 14 Jan 2026" in plain(card_html(view, ID, hr_contact=HR))


# --------------------------------------------------------------------------- special cards
@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_returned_file_lists_the_missing_documents_and_the_reason(language):
    t = get_translator(language)
    view = make_view(
        Stage.DIKEMBALIKAN,
        note="Berkas <belum> lengkap & tidak terbaca",
        missing_documents=("SKP 2025", "Ijazah & transkrip <legalisir>"),
    )
    html = card_html(view, t, hr_contact=HR)
    text = plain(html)
    assert t("Please hand in the missing documents to {hr_contact}:", hr_contact=HR) in text
    assert "  • SKP 2025\n  • Ijazah & transkrip <legalisir>" in text
    assert t("Reason: {reason}", reason="Berkas <belum> lengkap & tidak terbaca") in text
    assert "Ijazah &amp; transkrip &lt;legalisir&gt;" in html
    returned = t(
        "{stage} — since {date}",
        stage=t(STAGE_LABELS[Stage.DIKEMBALIKAN]),
        date=t.date(START + dt.timedelta(days=2), "medium"),
    )
    assert f"⚠️ {returned}" in text
    if language == "id":
        assert "Mohon serahkan dokumen yang kurang ke BKPSDM <Kota> & Bukittinggi:" in text
        assert "⚠️ Dikembalikan (berkas belum lengkap) — sejak 14 Jan 2026" in text


def test_a_returned_file_sent_back_to_verification_counts_the_latest_return():
    passed = [
        Stage.DIUSULKAN,
        Stage.VERIFIKASI,
        Stage.DIKEMBALIKAN,
        Stage.VERIFIKASI,
        Stage.DIKEMBALIKAN,
    ]
    view = make_view(Stage.DIKEMBALIKAN, passed=passed, missing_documents=("KTP",))
    text = plain(card_html(view, ID, hr_contact=HR))
    assert "✅ Verifikasi berkas — 15 Jan 2026" in text  # the latest time it got there
    assert "⚠️ Dikembalikan (berkas belum lengkap) — sejak 16 Jan 2026" in text


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_cancelled_shows_where_it_stopped_the_date_and_the_reason(language):
    t = get_translator(language)
    passed = [Stage.DIUSULKAN, Stage.VERIFIKASI, Stage.DIBATALKAN]
    view = make_view(Stage.DIBATALKAN, passed=passed, note="Atas <permintaan> & sendiri")
    html = card_html(view, t, hr_contact=HR)
    text = plain(html)
    assert timeline_marks(html) == [
        ("✅", t(STAGE_LABELS[Stage.DIUSULKAN])),
        ("✅", t(STAGE_LABELS[Stage.VERIFIKASI])),
        ("❌", t(STAGE_LABELS[Stage.DIBATALKAN])),
    ]
    cancelled = t.date(START + dt.timedelta(days=2), "medium")
    assert f"❌ {t(STAGE_LABELS[Stage.DIBATALKAN])} — {cancelled}" in text
    assert t("This transfer was cancelled.") in text
    assert t("Reason: {reason}", reason="Atas <permintaan> & sendiri") in text
    history = plain(history_line(view, t))
    assert history.splitlines() == [
        f"{t('Rotation')}: Analis Kebijakan & Data, {TO_UNIT}",
        f"❌ {t(STAGE_LABELS[Stage.DIBATALKAN])} — {cancelled}",
        t("Reason: {reason}", reason="Atas <permintaan> & sendiri"),
    ]
    if language == "id":
        assert "❌ Dibatalkan — 14 Jan 2026" in text
        assert history.startswith("Rotasi: ")


def test_a_file_cancelled_while_returned_stops_after_verification():
    passed = [Stage.DIUSULKAN, Stage.VERIFIKASI, Stage.DIKEMBALIKAN, Stage.DIBATALKAN]
    view = make_view(Stage.DIBATALKAN, passed=passed, external=True, note="Tidak dilengkapi")
    assert [mark for mark, _ in timeline_marks(card_html(view, ID, hr_contact=HR))] == [
        "✅",
        "✅",
        "❌",
    ]


def test_an_imported_cancellation_without_events_still_renders():
    view = make_view(Stage.DIBATALKAN, events=(), note=None)
    html = card_html(view, ID, hr_contact=HR)
    assert [mark for mark, _ in timeline_marks(html)] == ["✅", "❌"]


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_decree_shows_number_date_and_tmt_and_waits_for_the_inauguration(language):
    t = get_translator(language)
    view = make_view(Stage.SK_TERBIT)
    html = card_html(view, t, hr_contact=HR)
    text = plain(html)
    assert "800.1.3.3/45/&lt;BKPSDM&gt;&amp;2026" in html
    decree = t("SK No. {number}", number="800.1.3.3/45/<BKPSDM>&2026")
    assert t("{decree}, dated {date}", decree=decree, date=t.date(dt.date(2026, 1, 19))) in text
    assert t("Effective (TMT): {date}", date=t.date(dt.date(2026, 2, 16))) in text
    assert t("The date of the inauguration will be announced.") in text
    if language == "id":
        assert "📜 SK Nomor 800.1.3.3/45/<BKPSDM>&2026, tanggal Senin, 19 Januari 2026" in text
        assert "📅 TMT: Senin, 16 Februari 2026" in text
    else:
        assert "dated Monday, January 19, 2026" in text
        assert "Monday, February 16, 2026" in text


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_decree_with_an_inauguration_date_asks_to_attend(language):
    t = get_translator(language)
    when = dt.datetime(2026, 1, 26, 2, 0, tzinfo=UTC)  # 09.00 WIB
    view = make_view(Stage.SK_TERBIT, inauguration_at=when)
    text = plain(card_html(view, t, hr_contact=HR))
    assert t("Attend the inauguration on {when}.", when=t.datetime(when)) in text
    assert t("The date of the inauguration will be announced.") not in text
    # At sk_terbit the date is said once, in what to do next.
    assert t("Inauguration: {when}", when=t.datetime(when)) not in text
    if language == "id":
        assert "Senin, 26 Januari 2026 pukul 09.00 WIB" in text
    else:
        assert "Monday, January 26, 2026" in text and "WIB" in text
    sworn = make_view(Stage.PELANTIKAN, inauguration_at=when)
    sworn_text = plain(card_html(sworn, t, hr_contact=HR))
    assert t("Inauguration: {when}", when=t.datetime(when)) in sworn_text
    assert (
        t(
            "Report to {unit}. From next month your new supervisor evaluates your performance.",
            unit=TO_UNIT,
        )
        in sworn_text
    )


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_linked_trainings_are_listed_while_the_mutation_is_active(language):
    t = get_translator(language)
    training = LinkedTraining(
        id=1,
        title="Orientasi <Tugas> & Budaya Kerja",
        starts_at=dt.datetime(2026, 1, 26, 1, 30, tzinfo=UTC),  # 08.30 WIB
        ends_at=dt.datetime(2026, 1, 26, 8, 0, tzinfo=UTC),
        place="Aula",
        online_link=None,
    )
    view = make_view(Stage.SK_TERBIT, trainings=(training,))
    html = card_html(view, t, hr_contact=HR)
    text = plain(html)
    assert "Orientasi &lt;Tugas&gt; &amp; Budaya Kerja" in html
    assert t("Trainings for this transfer:") in text
    assert f"  • Orientasi <Tugas> & Budaya Kerja — {t.datetime(training.starts_at)}" in text
    if language == "id":
        assert "Senin, 26 Januari 2026 pukul 08.30 WIB" in text
    done = make_view(Stage.SELESAI, trainings=(training,))
    assert t("Trainings for this transfer:") not in plain(card_html(done, t, hr_contact=HR))


def test_card_head_names_type_and_posts_in_the_readers_language():
    view = make_view(Stage.VERIFIKASI, external=True)
    lines = plain(card_html(view, ID, hr_contact=HR)).splitlines()
    assert lines[:4] == [
        "🏛 Mutasi antar-instansi",
        f"Dari: Analis <Transportasi>, {FROM_UNIT}",
        f"Ke: Analis Kebijakan & Data, {TO_UNIT}",
        "Tahap: Verifikasi berkas",
    ]
    english = plain(card_html(view, EN, hr_contact=HR)).splitlines()
    assert english[:4] == [
        "🏛 Transfer between agencies",
        f"From: Analis <Transportasi>, {FROM_UNIT}",
        f"To: Analis Kebijakan & Data, {TO_UNIT}",
        "Stage: Document verification",
    ]
    promotion = make_view(Stage.DIUSULKAN, mutation_type=MutationType.PROMOSI.value)
    assert plain(card_html(promotion, ID, hr_contact=HR)).startswith("⬆️ Promosi")


def test_a_move_inside_the_city_imported_at_pertek_still_renders():
    """An import may record ``pertek_bkn`` for a rotation: the card shows the step."""
    view = make_view(
        Stage.PERTEK_BKN,
        passed=[Stage.DIUSULKAN, Stage.VERIFIKASI, Stage.PERTIMBANGAN_TPK, Stage.PERTEK_BKN],
    )
    assert not view.external
    assert timeline_marks(card_html(view, ID, hr_contact=HR)) == expected_marks(
        Stage.PERTEK_BKN, True, ID
    )


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_history_line_of_a_completed_move(language):
    t = get_translator(language)
    view = make_view(Stage.SELESAI, external=True)
    html = history_line(view, t)
    assert "Analis Kebijakan &amp; Data, Dinas Pariwisata &amp; &lt;i&gt;Kebudayaan" in html
    finished = t.date(START + dt.timedelta(days=6), "medium")
    assert plain(html).splitlines() == [
        f"{t('Transfer between agencies')}: Analis Kebijakan & Data, {TO_UNIT}",
        f"✅ {t(STAGE_LABELS[Stage.SELESAI])} — {finished}",
    ]
    if language == "id":
        assert plain(html).endswith("✅ Selesai — 18 Jan 2026")
