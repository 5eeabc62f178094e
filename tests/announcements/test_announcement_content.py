"""Layers 1–2: what an announcement is made of (real PTB messages), confirming it with its
audit entry, and HR's progress and final texts."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Message

from bot.announcements import (
    EXCERPT_CHARS,
    confirm,
    content_from_message,
    excerpt,
    final_html,
    progress_html,
    report_buttons,
)
from bot.i18n import get_translator
from storage.models import AuditLog, OutboxMessage
from storage.repositories.announcements import AnnouncementInfo, AudienceCount, Figures
from storage.repositories.outbox import validate_payload
from tests.announcements.org import HR_CHAT, Maker, add_org, announcement_row

EN = get_translator("en")
ID = get_translator("id")
NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)  # 10.00 WIB


def message(**content: Any) -> Message:
    """A message as Telegram delivers it to the bot, parsed by PTB."""
    data = {
        "message_id": 42,
        "date": int(time.time()),
        "chat": {"id": HR_CHAT, "type": "private", "first_name": "Admin"},
        "from": {"id": HR_CHAT, "is_bot": False, "first_name": "Admin"},
        **content,
    }
    return Message.de_json(data, None)


# --------------------------------------------------------------------------- content
def test_text_keeps_its_entities_exactly():
    # Offsets count UTF-16 code units: the emoji takes two.
    entities = [
        {"type": "bold", "offset": 3, "length": 5},
        {"type": "text_link", "offset": 9, "length": 6, "url": "https://bkpsdm.example.go.id/"},
        {"type": "italic", "offset": 16, "length": 7},
    ]
    text = "🎉 Rapat daftar <besok> di aula"
    payload = content_from_message(message(text=text, entities=entities))
    assert payload == {"text": text, "entities": entities}
    # It is stored as JSON: the round trip gives exactly the same plain dicts.
    assert json.loads(json.dumps(payload)) == {"text": text, "entities": entities}
    validate_payload(payload)


def test_plain_text_has_no_entities_key():
    payload = content_from_message(message(text="Apel pagi <b>ditiadakan</b>"))
    assert payload == {"text": "Apel pagi <b>ditiadakan</b>"}
    assert "parse_mode" not in payload  # what HR typed never becomes markup


def photo_sizes() -> list[dict[str, Any]]:
    # Telegram lists the sizes smallest first.
    return [
        {"file_id": f"AgAC-{w}", "file_unique_id": f"u{w}", "width": w, "height": w * 3 // 4}
        for w in (90, 320, 800, 1280)
    ]


def test_photo_takes_the_largest_size_with_caption_and_its_entities():
    caption_entities = [{"type": "underline", "offset": 0, "length": 6}]
    payload = content_from_message(
        message(photo=photo_sizes(), caption="Jadwal apel Senin", caption_entities=caption_entities)
    )
    assert payload == {
        "photo": {"file_id": "AgAC-1280"},
        "caption": "Jadwal apel Senin",
        "caption_entities": caption_entities,
    }
    assert json.loads(json.dumps(payload)) == payload
    validate_payload(payload)


def test_photo_without_caption():
    assert content_from_message(message(photo=photo_sizes())) == {"photo": {"file_id": "AgAC-1280"}}


def test_document_with_caption():
    document = {
        "file_id": "BQAC-surat",
        "file_unique_id": "usurat",
        "file_name": "Surat Edaran.pdf",
        "mime_type": "application/pdf",
    }
    payload = content_from_message(message(document=document, caption="Surat edaran terbaru"))
    assert payload == {"document": {"file_id": "BQAC-surat"}, "caption": "Surat edaran terbaru"}
    validate_payload(payload)


@pytest.mark.parametrize(
    "content",
    [
        {
            "sticker": {
                "file_id": "CAAC-stiker",
                "file_unique_id": "ustiker",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        },
        {"voice": {"file_id": "AwAC-suara", "file_unique_id": "usuara", "duration": 4}},
        {"location": {"latitude": -0.3056, "longitude": 100.3692}},
    ],
    ids=["sticker", "voice", "location"],
)
def test_anything_else_is_not_an_announcement(content):
    assert content_from_message(message(**content)) is None


def test_excerpt_is_plain_and_short():
    assert excerpt({"text": "  Rapat\n\nbesok   pagi "}) == "Rapat besok pagi"
    assert excerpt({"photo": {"file_id": "x"}, "caption": "Foto apel"}) == "Foto apel"
    assert excerpt({"document": {"file_id": "x"}}) == ""
    long = excerpt({"text": "kata " * 100})
    assert len(long) == EXCERPT_CHARS and long.endswith("…")


# --------------------------------------------------------------------------- confirm
async def audit_entries(sessionmaker: Maker) -> list[AuditLog]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(AuditLog).order_by(AuditLog.id))).all())


async def test_confirm_stores_queues_and_audits_without_employee_ids(sessionmaker):
    org = await add_org(sessionmaker)
    text = "Rapat koordinasi " + "sangat penting " * 20
    content = {"text": text, "entities": [{"type": "bold", "offset": 0, "length": 5}]}
    audience = {
        "kind": "nips",
        "employee_ids": [org.rina, org.wati, org.sari, org.nur],
        "file_name": "daftar.csv",
    }
    async with sessionmaker() as session, session.begin():
        confirmed = await confirm(
            session,
            actor_id=org.hr,
            chat_id=HR_CHAT,
            content=content,
            audience=audience,
            send_at=NOW,
            scheduled=False,
            now=NOW,
        )
    assert confirmed.count == AudienceCount(4, 1, 1)
    stored = await announcement_row(sessionmaker, confirmed.id)
    assert stored.status == "sending" and stored.audience == audience
    async with sessionmaker() as session:
        keys = list(await session.scalars(select(OutboxMessage.idempotency_key)))
    assert sorted(keys) == sorted(
        [f"announcement:{confirmed.id}:{org.rina}", f"announcement:{confirmed.id}:{org.nur}"]
    )

    (entry,) = await audit_entries(sessionmaker)
    assert entry.action == "announcement_sent"
    assert entry.actor_id == org.hr
    assert (entry.entity_type, entry.entity_id) == ("announcement", str(confirmed.id))
    assert entry.details == {
        "audience": {"kind": "nips", "file_name": "daftar.csv"},
        "kind": "text",
        "excerpt": excerpt(content),
        "send_at": NOW.isoformat(),
        "recipients": 4,
        "queued": 2,
        "not_linked": 1,
        "unreachable": 1,
    }
    assert len(entry.details["excerpt"]) == EXCERPT_CHARS
    assert entry.details["excerpt"].startswith("Rapat koordinasi sangat penting")
    assert "employee_ids" not in json.dumps(entry.details)


async def test_confirm_scheduled_photo(sessionmaker):
    org = await add_org(sessionmaker)
    send_at = NOW + dt.timedelta(days=1)
    content = {"photo": {"file_id": "AgAC-1280"}, "caption": "Jadwal apel"}
    async with sessionmaker() as session, session.begin():
        confirmed = await confirm(
            session,
            actor_id=org.hr,
            chat_id=HR_CHAT,
            content=content,
            audience={"kind": "units", "unit_ids": [org.health]},
            send_at=send_at,
            scheduled=True,
            now=NOW,
        )
    assert (await announcement_row(sessionmaker, confirmed.id)).status == "scheduled"
    (entry,) = await audit_entries(sessionmaker)
    assert entry.action == "announcement_scheduled"
    assert entry.details["kind"] == "photo"
    assert entry.details["excerpt"] == "Jadwal apel"
    assert entry.details["audience"] == {"kind": "units", "unit_ids": [org.health]}
    assert entry.details["send_at"] == send_at.isoformat()
    assert (entry.details["recipients"], entry.details["queued"]) == (1, 1)


# --------------------------------------------------------------------------- rendering
def info(status: str = "sending", resent_at: dt.datetime | None = None) -> AnnouncementInfo:
    return AnnouncementInfo(
        id=7,
        created_by_id=1,
        created_by_name="Admin BKPSDM",
        created_by_language="id",
        chat_id=HR_CHAT,
        content={"text": "Rapat"},
        audience={"kind": "all"},
        status=status,
        send_at=NOW,
        created_at=NOW,
        finished_at=None,
        cancelled_at=None,
        resent_at=resent_at,
        progress_message_id=None,
        progress_edited_at=None,
    )


UNDER_WAY = Figures(
    {"sent": 1234, "pending": 2000, "failed": 5, "blocked": 7, "not_linked": 12, "unreachable": 3}
)
FINISHED = Figures(
    {
        "sent": 1234,
        "failed": 5,
        "blocked": 7,
        "uncertain": 2,
        "cancelled": 3,
        "not_linked": 12,
        "unreachable": 3,
    }
)


def test_progress_html_in_english():
    # 3,246 queued (3,261 less 15 skipped), 2,000 waiting: 1,246 handled.
    text = progress_html(
        EN,
        info(),
        UNDER_WAY,
        now=NOW,
        first_sent_at=NOW - dt.timedelta(seconds=100),
        sent_in_round=1234,
        fallback_rate=25.0,
    )
    assert text.split("\n") == [
        "<b>📣 Announcement #7: sending</b>",
        "▓▓▓░░░░░░░ 38%",
        "1,246 of 3,246 handled",
        "sent 1,234 · failed 5 · blocked 7",
        "About 3 minutes left",  # 2,000 at 12.34 per second seen
    ]


def test_progress_html_time_left_before_anything_was_sent_and_in_quiet_hours():
    before = progress_html(
        EN, info(), UNDER_WAY, now=NOW, first_sent_at=None, sent_in_round=0, fallback_rate=25.0
    ).split("\n")
    assert before[-1] == "About 1 minute left"  # 2,000 at the configured 25 per second
    resumes = dt.datetime(2026, 12, 7, 23, 0, tzinfo=dt.UTC)  # 06.00 WIB
    held = progress_html(
        EN,
        info(),
        UNDER_WAY,
        now=NOW,
        first_sent_at=None,
        sent_in_round=0,
        fallback_rate=25.0,
        held_until=resumes,
    ).split("\n")
    assert held[-1] == f"⏸ Quiet hours: sending resumes at {EN.time(resumes)}"
    assert EN.time(resumes).startswith("6:00") and EN.time(resumes).endswith("WIB")
    assert not any(line.startswith("About") for line in held)


def test_progress_html_in_indonesian_uses_dots_for_thousands():
    text = progress_html(
        ID,
        info(),
        UNDER_WAY,
        now=NOW,
        first_sent_at=NOW - dt.timedelta(seconds=100),
        sent_in_round=1234,
        fallback_rate=25.0,
    )
    lines = text.split("\n")
    assert lines[1] == "▓▓▓░░░░░░░ 38%"
    assert lines[2] == ID("{done} of {total} handled", done="1.246", total="3.246")
    assert ID("sent {n}", n="1.234") in lines[3]
    assert "1,2" not in text and "3,246" not in text
    assert "3 menit" in lines[4]


def test_nothing_waiting_shows_no_time_left():
    figures = Figures({"sent": 10, "failed": 1})
    lines = progress_html(
        EN, info(), figures, now=NOW, first_sent_at=NOW, sent_in_round=10, fallback_rate=25.0
    ).split("\n")
    assert lines[1:] == ["▓▓▓▓▓▓▓▓▓▓ 100%", "11 of 11 handled", "sent 10 · failed 1 · blocked 0"]


def test_final_html_in_english():
    assert final_html(EN, info("done"), FINISHED).split("\n") == [
        "<b>📣 Announcement #7: finished</b>",
        "1,234 of 1,266 received it",
        "sent 1,234 · failed 5 · blocked 7 · uncertain 2 · stopped 3",
        "Not sent: 12 not linked, 3 unreachable",
        "Uncertain: the bot stopped or Telegram did not answer while sending; "
        "these may have arrived and are never sent twice.",
    ]
    plain = Figures({"sent": 3})
    assert final_html(EN, info("cancelled"), plain).split("\n") == [
        "<b>📣 Announcement #7: cancelled</b>",
        "3 of 3 received it",
        "sent 3 · failed 0 · blocked 0",
    ]


def test_final_html_in_indonesian_uses_dots_for_thousands():
    big = Figures({"sent": 12345, "failed": 1001, "not_linked": 1500, "unreachable": 2})
    text = final_html(ID, info("done"), big)
    lines = text.split("\n")
    assert lines[1] == ID("{sent} of {total} received it", sent="12.345", total="14.848")
    assert ID("failed {n}", n="1.001") in lines[2]
    assert lines[3] == ID(
        "Not sent: {not_linked} not linked, {unreachable} unreachable",
        not_linked="1.500",
        unreachable="2",
    )
    assert "12,345" not in text and "14,848" not in text


def test_report_buttons_offer_the_resend_only_when_it_applies():
    failed = Figures({"sent": 3, "failed": 2})
    assert report_buttons(EN, info("done"), failed) == [
        [("⬇️ Download (XLSX)", "siaran:xlsx:7")],
        [("🔁 Resend the failed (2)", "siaran:resend:7")],
    ]
    only_download = [[("⬇️ Download (XLSX)", "siaran:xlsx:7")]]
    assert report_buttons(EN, info("done", resent_at=NOW), failed) == only_download
    assert report_buttons(EN, info("cancelled"), failed) == only_download
    assert report_buttons(EN, info("done"), Figures({"sent": 5})) == only_download
