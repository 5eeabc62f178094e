"""Layer 2: /hr_mutasi — an employee's mutations, moving a stage, creating one, the overview."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from telegram.ext import Application

from bot.config import Settings
from bot.i18n import get_translator
from bot.menus import Audience
from bot.mutations import PROBLEM_TEXTS, stage_label
from bot.rules.stages import MutationType, Stage, TransitionProblem
from handlers.access import refusal
from storage.models import AuditLog, Mutation, utcnow
from storage.repositories.drafts import DraftRepository
from tests.handlers.conftest import running_app
from tests.mutations.hr_support import (
    ASN_CHAT,
    HR_CHAT,
    NEW_BOSS_CHAT,
    NEW_BOSS_NIP,
    OTHER_NIP,
    UNKNOWN_NIP,
    add_mutation,
    add_people,
    buttons,
    count_mutations,
    drafts,
    events,
    go,
    mutation,
    outbox_keys,
    stage_of,
)
from tests.support.factories import NIP_STAFF
from tests.support.telegram import TOKEN, callback_update, message_update
from tests.trainings.support import DocumentCapturingRequest

ID = get_translator("id")
HR_ONLY = refusal(Audience.HR_ADMIN, SimpleNamespace(account=SimpleNamespace(linked=True), t=ID))
STALE = ID("This button is no longer valid.")
WIB = ZoneInfo("Asia/Jakarta")


def wib_today() -> dt.date:
    return utcnow().astimezone(WIB).date()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, _env_file=None)


@pytest.fixture
async def captured(
    settings: Settings,
) -> AsyncIterator[tuple[Application, DocumentCapturingRequest]]:
    async with running_app(settings, DocumentCapturingRequest()) as (application, request):
        request.clear()
        yield application, request


async def say(app, request, text: str, user: int = HR_CHAT) -> list[dict]:
    request.clear()
    await app.process_update(message_update(app, user, text))
    return request.sent()


async def say_one(app, request, text: str, user: int = HR_CHAT) -> dict:
    sent = await say(app, request, text, user)
    assert len(sent) == 1, sent
    return sent[0]


async def press(app, request, data: str, user: int = HR_CHAT) -> dict | None:
    """Press a button; returns the message sent or edited in answer (``None``: only an alert)."""
    assert len(data.encode()) <= 64, data
    request.clear()
    await app.process_update(callback_update(app, user, data))
    shown = request.sent("editMessageText") + request.sent()
    return shown[-1] if shown else None


def alert(request) -> str | None:
    (answer,) = request.sent("answerCallbackQuery")
    return answer.get("text") if answer.get("show_alert") else None


def stage_buttons(params: dict) -> list[str]:
    return [b for b in buttons(params) if b.startswith("hrm:go:")]


# --------------------------------------------------------------------------- guards
async def test_hr_mutasi_and_its_buttons_are_for_hr_only(captured, sessionmaker, settings):
    app, request = captured
    people = await add_people(sessionmaker)
    mutation_id = await add_mutation(sessionmaker, settings, people.staff)
    before = await outbox_keys(sessionmaker)
    for user in (ASN_CHAT, NEW_BOSS_CHAT):  # an ASN, and a supervisor who is not HR
        for command in ("/hr_mutasi", f"/hr_mutasi {NIP_STAFF}"):
            reply = await say_one(app, request, command, user=user)
            assert reply["text"] == HR_ONLY
        for data in (
            go(people.staff, mutation_id, "diusulkan", "verifikasi"),
            f"hrm:save:{mutation_id}",
            f"hrm:new:{people.staff}",
            "hrm:type:r",
            f"hrm:unit:{people.staff}",
            f"hrm:create:{people.staff}",
            "hrm:stop:m",
            f"hrm:skip:m:{mutation_id}:note",
        ):
            assert await press(app, request, data, user=user) is None
            assert alert(request) == HR_ONLY, data
    assert await drafts(sessionmaker) == []
    assert await stage_of(sessionmaker, mutation_id) == "diusulkan"
    assert await outbox_keys(sessionmaker) == before


async def test_a_withdrawn_role_ends_the_move(captured, sessionmaker, settings):
    app, request = captured
    people = await add_people(sessionmaker)
    mutation_id = await add_mutation(sessionmaker, settings, people.staff, stage="verifikasi")
    await press(app, request, go(people.staff, mutation_id, "verifikasi", "dibatalkan"))
    async with sessionmaker() as session, session.begin():
        from storage.models import Employee

        hr = await session.get(Employee, people.hr)
        assert hr is not None
        hr.role = "asn"
    reply = await say_one(app, request, "Pegawai mengundurkan diri")
    assert reply["text"] == HR_ONLY
    assert await drafts(sessionmaker) == []
    assert await stage_of(sessionmaker, mutation_id) == "verifikasi"


# --------------------------------------------------------------------------- look-up
async def test_a_bad_or_unknown_nip_and_an_employee_without_mutations(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    reply = await say_one(app, request, "/hr_mutasi 12345")
    assert reply["text"].startswith(ID("“{nip}” is not a valid NIP: {problem}", nip="12345",
                                       problem=""))  # fmt: skip
    assert ID("NIP must have 18 digits (it has {length}).", length=5) in reply["text"]
    reply = await say_one(app, request, "/hr_mutasi 19860926 201505 3 001")
    assert ID("Digit 15 of the NIP is the gender: 1 (male) or 2 (female).") in reply["text"]
    reply = await say_one(app, request, f"/hr_mutasi {UNKNOWN_NIP}")
    assert reply["text"] == ID("No employee has NIP {nip}.", nip=UNKNOWN_NIP)

    reply = await say_one(app, request, "/hr_mutasi 19860926.201505.1.001")  # dots are fine
    assert "Rina Marlina, S.E." in reply["text"]
    assert ID("No mutations are recorded for this employee.") in reply["text"]
    assert buttons(reply) == [f"hrm:new:{people.staff}"]


async def test_the_card_offers_only_the_valid_next_stages(captured, sessionmaker, settings):
    app, request = captured
    people = await add_people(sessionmaker)
    done = await add_mutation(sessionmaker, settings, people.staff, stage="selesai")
    active = await add_mutation(sessionmaker, settings, people.staff, stage="verifikasi")
    external = await add_mutation(
        sessionmaker,
        settings,
        people.other,
        mutation_type=MutationType.ANTAR_INSTANSI,
        to_unit="Dinas Kesehatan Kota Padang",
        stage="pertimbangan_tpk",
    )
    sent = await say(app, request, f"/hr_mutasi {NIP_STAFF}")
    head, newest, oldest = sent
    assert (
        ID.ngettext("{n} mutation is recorded:", "{n} mutations are recorded:", 2) in head["text"]
    )
    assert buttons(head) == [f"hrm:new:{people.staff}"]
    assert "Rina Marlina, S.E." in newest["text"] and NIP_STAFF in newest["text"]
    assert stage_buttons(newest) == [
        go(people.staff, active, "verifikasi", "pertimbangan_tpk"),
        go(people.staff, active, "verifikasi", "dikembalikan"),
        go(people.staff, active, "verifikasi", "dibatalkan"),
    ]
    assert "reply_markup" not in oldest  # a finished mutation moves no more
    assert ID(stage_label(Stage.SELESAI, ID)) in oldest["text"]
    assert done != active

    sent = await say(app, request, f"/hr_mutasi {OTHER_NIP}")
    assert stage_buttons(sent[1]) == [
        go(people.other, external, "pertimbangan_tpk", "pertek_bkn"),
        go(people.other, external, "pertimbangan_tpk", "dibatalkan"),
    ]
    for data in stage_buttons(sent[1]):
        assert len(data.encode()) <= 64


# --------------------------------------------------------------------------- moving
async def test_hr_moves_a_mutation_along_the_whole_path(captured, sessionmaker, settings):
    app, request = captured
    people = await add_people(sessionmaker)
    mutation_id = await add_mutation(
        sessionmaker, settings, people.staff, to_supervisor_id=people.new_boss
    )
    today = wib_today()
    sk_day = today - dt.timedelta(days=3)
    staff = people.staff

    # diusulkan → verifikasi: the note is optional.
    prompt = await press(app, request, go(staff, mutation_id, "diusulkan", "verifikasi"))
    assert (
        prompt is not None
        and ID("A note for the employee? Type it, or tap Skip.") in prompt["text"]
    )
    assert buttons(prompt) == [f"hrm:skip:m:{mutation_id}:note", "hrm:stop:m"]
    summary = await press(app, request, f"hrm:skip:m:{mutation_id}:note")
    assert summary is not None and buttons(summary) == [f"hrm:save:{mutation_id}", "hrm:stop:m"]
    saved = await press(app, request, f"hrm:save:{mutation_id}")
    assert saved is not None
    assert stage_buttons(saved) == [
        go(staff, mutation_id, "verifikasi", "pertimbangan_tpk"),
        go(staff, mutation_id, "verifikasi", "dikembalikan"),
        go(staff, mutation_id, "verifikasi", "dibatalkan"),
    ]

    # verifikasi → dikembalikan: a reason, then the missing documents.
    await press(app, request, go(staff, mutation_id, "verifikasi", "dikembalikan"))
    reply = await say_one(app, request, "ok")
    assert ID("Please write the reason (at least {n} characters).", n="3") in reply["text"]
    await say_one(app, request, "Berkas <belum> lengkap")
    reply = await say_one(app, request, "1. SKP 2025\n2. Surat lolos butuh\n3. SKP 2025")
    assert "SKP 2025" in reply["text"] and "Surat lolos butuh" in reply["text"]
    assert "Berkas &lt;belum&gt; lengkap" in reply["text"]
    assert buttons(reply) == [f"hrm:save:{mutation_id}", "hrm:stop:m"]
    await press(app, request, f"hrm:save:{mutation_id}")
    returned = await mutation(sessionmaker, mutation_id)
    assert returned.stage == "dikembalikan"
    assert returned.missing_documents == "SKP 2025\nSurat lolos butuh"
    assert returned.note == "Berkas <belum> lengkap"

    # dikembalikan → verifikasi with a typed note, then on to the TPK.
    await press(app, request, go(staff, mutation_id, "dikembalikan", "verifikasi"))
    reply = await say_one(app, request, "Berkas sudah lengkap")
    assert ID("Note: {note}", note="Berkas sudah lengkap") in reply["text"]
    await press(app, request, f"hrm:save:{mutation_id}")
    await press(app, request, go(staff, mutation_id, "verifikasi", "pertimbangan_tpk"))
    await press(app, request, f"hrm:skip:m:{mutation_id}:note")
    await press(app, request, f"hrm:save:{mutation_id}")

    # pertimbangan_tpk → sk_terbit: number, date, TMT, inauguration.
    await press(app, request, go(staff, mutation_id, "pertimbangan_tpk", "sk_terbit"))
    await say_one(app, request, "800.1.3.3/45/BKPSDM-2026")
    await say_one(app, request, f"{sk_day:%d/%m/%Y}")
    reply = await say_one(app, request, f"{today:%d-%m-%Y}")
    assert buttons(reply) == [f"hrm:skip:m:{mutation_id}:inauguration", "hrm:stop:m"]
    reply = await say_one(app, request, f"{today + dt.timedelta(days=7):%d/%m/%Y} 09.00")
    assert "800.1.3.3/45/BKPSDM-2026" in reply["text"] and "WIB" in reply["text"]
    saved = await press(app, request, f"hrm:save:{mutation_id}")
    assert saved is not None and "800.1.3.3/45/BKPSDM-2026" in saved["text"]
    decreed = await mutation(sessionmaker, mutation_id)
    assert (decreed.sk_number, decreed.sk_date, decreed.tmt_date) == (
        "800.1.3.3/45/BKPSDM-2026",
        sk_day,
        today,
    )
    assert decreed.inauguration_at is not None

    # sk_terbit → pelantikan → selesai.
    assert await outbox_keys(sessionmaker, "mutation_joined:") == []
    await press(app, request, go(staff, mutation_id, "sk_terbit", "pelantikan"))
    await press(app, request, f"hrm:skip:m:{mutation_id}:note")
    await press(app, request, f"hrm:save:{mutation_id}")
    # The new supervisor is told once the mutation reaches pelantikan.
    assert await outbox_keys(sessionmaker, "mutation_joined:") == [
        f"mutation_joined:{mutation_id}:{people.new_boss}"
    ]
    await press(app, request, go(staff, mutation_id, "pelantikan", "selesai"))
    await press(app, request, f"hrm:skip:m:{mutation_id}:note")
    final = await press(app, request, f"hrm:save:{mutation_id}")
    assert final is not None and stage_buttons(final) == []

    path = await events(sessionmaker, mutation_id)
    assert [to for _, to in path] == [
        "diusulkan",
        "verifikasi",
        "dikembalikan",
        "verifikasi",
        "pertimbangan_tpk",
        "sk_terbit",
        "pelantikan",
        "selesai",
    ]
    # One push to the employee per change (and one for the proposal), never more.
    assert len(await outbox_keys(sessionmaker, "mutation_stage:")) == len(path)
    async with sessionmaker() as session:
        audited = await session.scalars(
            select(AuditLog.actor_id).where(AuditLog.action == "mutation_stage")
        )
        assert list(audited) == [people.hr] * 7
    assert await drafts(sessionmaker) == []


async def test_forged_and_stale_buttons_change_nothing(captured, sessionmaker, settings):
    app, request = captured
    people = await add_people(sessionmaker)
    mine = await add_mutation(sessionmaker, settings, people.staff)
    others = await add_mutation(sessionmaker, settings, people.other, to_unit="Bappeda")
    before = await outbox_keys(sessionmaker)
    for data in (
        go(people.staff, mine, "diusulkan", "sk_terbit"),  # a stage not offered
        go(people.staff, mine, "diusulkan", "selesai"),
        go(people.staff, mine, "verifikasi", "pertimbangan_tpk"),  # not at that stage
        go(people.staff, others, "diusulkan", "verifikasi"),  # another employee's mutation
        go(people.other, mine, "diusulkan", "verifikasi"),
        go(people.staff, 99999, "diusulkan", "verifikasi"),
        f"hrm:go:{people.staff}:{mine}:us:zz",
        f"hrm:go:{people.staff}:{mine}:us",
        f"hrm:save:{mine}",  # nothing to save
        "hrm:save:abc",
        "hrm:stop:m",
        f"hrm:skip:m:{mine}:note",
        "hrm:type:r",
        f"hrm:create:{people.staff}",
        "hrm:unit:typed",
        "hrm:bogus:1",
        "hrm:go:" + "9" * 30,
    ):
        assert await press(app, request, data) is None, data
        assert alert(request) == STALE, data
    assert await stage_of(sessionmaker, mine) == "diusulkan"
    assert await stage_of(sessionmaker, others) == "diusulkan"
    assert await drafts(sessionmaker) == []
    assert await outbox_keys(sessionmaker) == before

    # A save button of one mutation does not save the draft of another.
    await press(app, request, go(people.staff, mine, "diusulkan", "verifikasi"))
    await press(app, request, f"hrm:skip:m:{mine}:note")
    assert await press(app, request, f"hrm:save:{others}") is None
    assert alert(request) == STALE
    # An old Skip of another step does not skip the current one.
    await press(app, request, go(people.staff, mine, "diusulkan", "dibatalkan"))
    assert await press(app, request, f"hrm:skip:m:{mine}:note") is None
    assert alert(request) == STALE
    assert await drafts(sessionmaker) == [(HR_CHAT, "mutation_move", "reason")]
    assert await stage_of(sessionmaker, mine) == "diusulkan"


async def test_sk_terbit_fields_are_checked_and_nothing_is_saved_until_the_end(
    captured, sessionmaker, settings
):
    app, request = captured
    people = await add_people(sessionmaker)
    mutation_id = await add_mutation(sessionmaker, settings, people.staff, stage="pertimbangan_tpk")
    await press(app, request, go(people.staff, mutation_id, "pertimbangan_tpk", "sk_terbit"))
    bad_number = ID(
        "That does not look like an SK number; it should contain its number, e.g. "
        "800.1.3.3/45/BKPSDM-2026."
    )
    for typed in ("-", "belum ada", "  "):
        reply = await say_one(app, request, typed)
        assert bad_number in reply["text"], typed
    reply = await say_one(app, request, "x" * 99 + "1" * 10)
    assert (
        ID("That is {n} characters; please keep it to {max}.", n="109", max="100") in reply["text"]
    )
    assert await drafts(sessionmaker) == [(HR_CHAT, "mutation_move", "sk_number")]
    await say_one(app, request, "821.2/17/BKPSDM-2026")

    tomorrow = wib_today() + dt.timedelta(days=2)
    reply = await say_one(app, request, f"{tomorrow:%d/%m/%Y}")
    assert ID(PROBLEM_TEXTS[TransitionProblem.SK_DATE_IN_FUTURE]) in reply["text"]
    reply = await say_one(app, request, "31/02/2026")
    assert ID("I could not read “{text}” as a date. Type it like {example}.", text="31/02/2026",
              example=f"{wib_today():%d/%m/%Y}") in reply["text"]  # fmt: skip
    sk_day = wib_today() - dt.timedelta(days=10)
    await say_one(app, request, sk_day.isoformat())
    reply = await say_one(app, request, f"{sk_day - dt.timedelta(days=1):%d/%m/%Y}")
    assert ID(PROBLEM_TEXTS[TransitionProblem.TMT_BEFORE_SK_DATE]) in reply["text"]
    await say_one(app, request, f"{sk_day:%d/%m/%Y}")
    reply = await say_one(app, request, "secepatnya")
    assert ID("I could not read “{text}” as a date and time.", text="secepatnya") in reply["text"]
    assert await drafts(sessionmaker) == [(HR_CHAT, "mutation_move", "inauguration")]
    summary = await press(app, request, f"hrm:skip:m:{mutation_id}:inauguration")
    assert summary is not None and "821.2/17/BKPSDM-2026" in summary["text"]
    assert await stage_of(sessionmaker, mutation_id) == "pertimbangan_tpk"  # not yet
    await press(app, request, f"hrm:save:{mutation_id}")
    saved = await mutation(sessionmaker, mutation_id)
    assert (saved.stage, saved.sk_date, saved.tmt_date) == ("sk_terbit", sk_day, sk_day)
    assert saved.inauguration_at is None


async def test_a_change_the_machine_refuses_is_shown_and_not_saved(
    captured, sessionmaker, settings
):
    """A draft that reaches Save without an SK number (e.g. written by an older version)."""
    app, request = captured
    people = await add_people(sessionmaker)
    mutation_id = await add_mutation(sessionmaker, settings, people.staff, stage="pertimbangan_tpk")
    async with sessionmaker() as session, session.begin():
        await DraftRepository(session).put(
            HR_CHAT,
            "mutation_move",
            "confirm",
            {
                "mutation_id": mutation_id,
                "employee_id": people.staff,
                "name": "Rina",
                "nip": NIP_STAFF,
                "from": "pertimbangan_tpk",
                "to": "sk_terbit",
                "sk_date": wib_today().isoformat(),
            },
        )
    shown = await press(app, request, f"hrm:save:{mutation_id}")
    assert shown is not None
    assert ID("Not saved:") in shown["text"]
    assert ID(PROBLEM_TEXTS[TransitionProblem.SK_NUMBER_REQUIRED]) in shown["text"]
    assert ID(PROBLEM_TEXTS[TransitionProblem.TMT_REQUIRED]) in shown["text"]
    assert await stage_of(sessionmaker, mutation_id) == "pertimbangan_tpk"
    assert len(await events(sessionmaker, mutation_id)) == 1


async def test_double_tap_on_save_stores_one_change_and_one_push(captured, sessionmaker, settings):
    app, request = captured
    people = await add_people(sessionmaker)
    mutation_id = await add_mutation(sessionmaker, settings, people.staff)
    await press(app, request, go(people.staff, mutation_id, "diusulkan", "verifikasi"))
    await say_one(app, request, "Lanjut diperiksa")
    first = await press(app, request, f"hrm:save:{mutation_id}")
    assert first is not None
    assert ID("Saved.") == request.sent("answerCallbackQuery")[0]["text"]
    assert await press(app, request, f"hrm:save:{mutation_id}") is None
    assert alert(request) == STALE
    assert await events(sessionmaker, mutation_id) == [
        (None, "diusulkan"),
        ("diusulkan", "verifikasi"),
    ]
    assert len(await outbox_keys(sessionmaker, "mutation_stage:")) == 2


async def test_a_mutation_moved_meanwhile_is_not_changed_again(captured, sessionmaker, settings):
    app, request = captured
    people = await add_people(sessionmaker)
    mutation_id = await add_mutation(sessionmaker, settings, people.staff)
    await press(app, request, go(people.staff, mutation_id, "diusulkan", "verifikasi"))
    await press(app, request, f"hrm:skip:m:{mutation_id}:note")
    async with sessionmaker() as session, session.begin():  # a colleague (or an import)
        row = await session.get(Mutation, mutation_id)
        assert row is not None
        row.stage = "dibatalkan"
    shown = await press(app, request, f"hrm:save:{mutation_id}")
    assert shown is not None
    assert (
        ID(
            "This mutation was changed meanwhile; it is now at “{stage}”. Nothing was changed.",
            stage=stage_label("dibatalkan", ID),
        )
        in shown["text"]
    )
    assert stage_buttons(shown) == []
    assert await events(sessionmaker, mutation_id) == [(None, "diusulkan")]


async def test_batal_and_the_cancel_button_leave_the_flow(captured, sessionmaker, settings):
    app, request = captured
    people = await add_people(sessionmaker)
    mutation_id = await add_mutation(sessionmaker, settings, people.staff, stage="verifikasi")
    await press(app, request, go(people.staff, mutation_id, "verifikasi", "dibatalkan"))
    reply = await say_one(app, request, "/batal")
    assert reply["text"] == ID("Cancelled. Nothing was changed.")
    assert await drafts(sessionmaker) == []
    await press(app, request, go(people.staff, mutation_id, "verifikasi", "dibatalkan"))
    await say_one(app, request, "Pegawai mengundurkan diri")
    shown = await press(app, request, "hrm:stop:m")
    assert shown is not None and shown["text"] == ID("Cancelled. Nothing was changed.")
    assert await drafts(sessionmaker) == []
    assert await stage_of(sessionmaker, mutation_id) == "verifikasi"


async def test_cancelling_asks_for_a_reason(captured, sessionmaker, settings):
    app, request = captured
    people = await add_people(sessionmaker)
    mutation_id = await add_mutation(sessionmaker, settings, people.staff, stage="verifikasi")
    prompt = await press(app, request, go(people.staff, mutation_id, "verifikasi", "dibatalkan"))
    assert prompt is not None and buttons(prompt) == ["hrm:stop:m"]  # no Skip: required
    await say_one(app, request, "Pegawai mengundurkan diri")
    await press(app, request, f"hrm:save:{mutation_id}")
    cancelled = await mutation(sessionmaker, mutation_id)
    assert (cancelled.stage, cancelled.note) == ("dibatalkan", "Pegawai mengundurkan diri")


# --------------------------------------------------------------------------- creating
async def test_hr_creates_a_mutation_in_chat(captured, sessionmaker, settings):
    app, request = captured
    people = await add_people(sessionmaker)
    shown = await press(app, request, f"hrm:new:{people.staff}")
    assert shown is not None
    assert buttons(shown) == ["hrm:type:r", "hrm:type:p", "hrm:type:a", "hrm:stop:n"]
    reply = await say_one(app, request, "rotasi")  # the type is chosen with a button
    assert ID("Please choose one of the buttons.") in reply["text"]
    shown = await press(app, request, "hrm:type:p")
    assert (
        shown is not None
        and ID("Step 2 of 5. To which unit? Type part of its name.") in shown["text"]
    )
    reply = await say_one(app, request, "Dinas Pariwisata Kota Padang")
    assert ID("No unit matches “{text}”. Type another part of the name.",
              text="Dinas Pariwisata Kota Padang") in reply["text"]  # fmt: skip
    reply = await say_one(app, request, "dinas")  # two of ours match: buttons
    unit_buttons = [b for b in buttons(reply) if b.startswith("hrm:unit:")]
    assert len(unit_buttons) == 2 and "hrm:unit:typed" not in unit_buttons
    async with sessionmaker() as session:
        from storage.models import Unit

        health = await session.scalar(select(Unit.id).where(Unit.name == "Dinas Kesehatan"))
    shown = await press(app, request, f"hrm:unit:{health}")
    assert shown is not None and ID("Step 3 of 5. The new position (jabatan)?") in shown["text"]
    await say_one(app, request, "Kepala Seksi Promosi Kesehatan")
    reply = await say_one(app, request, "12345")
    assert ID("NIP must have 18 digits (it has {length}).", length=5) in reply["text"]
    reply = await say_one(app, request, UNKNOWN_NIP)
    assert ID("No active employee has NIP {nip}.", nip=UNKNOWN_NIP) in reply["text"]
    reply = await say_one(app, request, NIP_STAFF)
    assert ID("An employee cannot be their own supervisor.") in reply["text"]
    reply = await say_one(app, request, NEW_BOSS_NIP)
    assert buttons(reply) == ["hrm:skip:n:note", "hrm:stop:n"]
    summary = await press(app, request, "hrm:skip:n:note")
    assert summary is not None
    assert "Kepala Seksi Promosi Kesehatan, Dinas Kesehatan" in summary["text"]
    assert "Analis Transportasi, Dinas Perhubungan" in summary["text"]
    assert ID("New supervisor: {name}", name="Dra. Fitri Yanti") in summary["text"]
    assert buttons(summary) == [f"hrm:create:{people.staff}", "hrm:stop:n"]
    assert await count_mutations(sessionmaker) == 0

    saved = await press(app, request, f"hrm:create:{people.staff}")
    assert saved is not None
    assert await press(app, request, f"hrm:create:{people.staff}") is None  # a double tap
    assert alert(request) == STALE
    async with sessionmaker() as session:
        (created,) = (await session.scalars(select(Mutation))).all()
    assert (created.mutation_type, created.to_unit, created.to_position) == (
        "promosi",
        "Dinas Kesehatan",
        "Kepala Seksi Promosi Kesehatan",
    )
    assert (created.from_unit, created.stage, created.to_supervisor_id) == (
        "Dinas Perhubungan",
        "diusulkan",
        people.new_boss,
    )
    assert await outbox_keys(sessionmaker, "mutation_stage:") != []
    assert stage_buttons(saved) == [
        go(people.staff, created.id, "diusulkan", "verifikasi"),
        go(people.staff, created.id, "diusulkan", "dibatalkan"),
    ]

    # A second active mutation for the same employee is refused, with the reason.
    assert await press(app, request, f"hrm:new:{people.staff}") is None
    refused = alert(request)
    assert refused == ID(
        "{name} already has an active mutation (now at “{stage}”). Finish or cancel it "
        "before proposing a new one.",
        name="Rina Marlina, S.E.",
        stage=stage_label("diusulkan", ID),
    )
    assert await drafts(sessionmaker) == []


async def test_a_move_to_another_government_takes_the_unit_as_typed(
    captured, sessionmaker, settings
):
    app, request = captured
    people = await add_people(sessionmaker)
    await press(app, request, f"hrm:new:{people.other}")
    await press(app, request, "hrm:type:a")
    reply = await say_one(app, request, "Dinas Kesehatan Kota Padang")  # none of ours
    assert ID("Step 3 of 5. The new position (jabatan)?") in reply["text"]
    await say_one(app, request, "Perawat Ahli Muda")
    await press(app, request, "hrm:skip:n:supervisor")
    await say_one(app, request, "Ikut suami <pindah tugas>")
    await press(app, request, f"hrm:create:{people.other}")
    async with sessionmaker() as session:
        (created,) = (await session.scalars(select(Mutation))).all()
    assert (created.mutation_type, created.external, created.to_unit) == (
        "antar_instansi",
        True,
        "Dinas Kesehatan Kota Padang",
    )
    assert created.note == "Ikut suami <pindah tugas>" and created.to_supervisor_id is None

    # Typed text that matches one of ours: the unit, or the text as typed.
    await add_mutation(sessionmaker, settings, people.staff, stage="selesai")
    await press(app, request, f"hrm:new:{people.staff}")
    await press(app, request, "hrm:type:a")
    reply = await say_one(app, request, "Bappe")
    assert buttons(reply)[-2:] == ["hrm:unit:typed", "hrm:stop:n"]
    shown = await press(app, request, "hrm:unit:typed")
    assert shown is not None and ID("Step 3 of 5. The new position (jabatan)?") in shown["text"]
    async with sessionmaker() as session:
        draft = await DraftRepository(session).get(HR_CHAT, "mutation_new")
    assert draft is not None and draft.data["unit"] == "Bappe"


# --------------------------------------------------------------------------- overview
async def test_the_overview_counts_stages_and_lists_the_stuck_ones(
    captured, sessionmaker, settings
):
    app, request = captured
    people = await add_people(sessionmaker)
    reply = await say_one(app, request, "/hr_mutasi")  # nothing yet: no file
    assert ID("Mutations by stage") in reply["text"]
    assert not request.sent("sendDocument")

    await add_mutation(sessionmaker, settings, people.staff, stage="verifikasi", days_ago=30)
    await add_mutation(sessionmaker, settings, people.other, stage="sk_terbit", days_ago=20)
    await add_mutation(sessionmaker, settings, people.clerk, stage="verifikasi", days_ago=2)
    await add_mutation(sessionmaker, settings, people.new_boss, stage="selesai", days_ago=90)
    await add_mutation(sessionmaker, settings, people.hr, stage="dibatalkan", days_ago=90)
    request.clear()
    await app.process_update(message_update(app, HR_CHAT, "/hr_mutasi"))
    (reply,) = request.sent()
    text = reply["text"]
    lines = text.splitlines()
    labels = [stage_label(stage, ID) for stage in Stage]
    positions = [next(i for i, line in enumerate(lines) if line.startswith(label + ":"))
                 for label in labels]  # fmt: skip
    assert positions == sorted(positions)  # every stage, in the timeline's order
    assert f"{stage_label(Stage.VERIFIKASI, ID)}: <b>2</b>" in text
    assert f"{stage_label(Stage.PERTEK_BKN, ID)}: <b>0</b>" in text
    assert (
        ID(
            "Active: {active} · Completed: {finished} · Cancelled: {cancelled}",
            active="3",
            finished="1",
            cancelled="1",
        )
        in text
    )
    stuck = [line for line in lines if line[:2] in ("1.", "2.", "3.")]
    assert len(stuck) == 2
    assert stuck[0].startswith("1. Rina Marlina, S.E.") and "30 hari" in stuck[0]
    assert stuck[1].startswith("2. Andi Saputra") and "20 hari" in stuck[1]
    assert len(text) <= 4096

    (document,) = request.sent("sendDocument")
    assert document["caption"].startswith(ID("Mutation overview, {date}", date=""))
    name, content = request.uploaded[-1]
    assert name.startswith("mutasi-") and name.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(content))
    counts_sheet, stuck_sheet = workbook.worksheets
    counts = {row[0]: row[1] for row in counts_sheet.iter_rows(min_row=2, values_only=True)}
    assert counts[stage_label(Stage.VERIFIKASI, ID)] == 2
    assert counts[stage_label(Stage.SK_TERBIT, ID)] == 1
    assert counts[stage_label(Stage.DIKEMBALIKAN, ID)] == 0
    assert counts[ID("Active")] == 3 and counts[ID("Total")] == 5
    rows = list(stuck_sheet.iter_rows(values_only=True))
    assert rows[0] == (
        ID("No."),
        ID("NIP"),
        ID("Name"),
        ID("Unit"),
        ID("Type"),
        ID("Target unit"),
        ID("Stage"),
        ID("Since"),
        ID("Days"),
    )
    assert [row[1] for row in rows[1:]] == [NIP_STAFF, OTHER_NIP]
    assert rows[1][2:7] == (
        "Rina Marlina, S.E.",
        "Dinas Perhubungan",
        ID("Rotation"),
        "Bappeda",
        stage_label(Stage.VERIFIKASI, ID),
    )
    assert rows[1][8] == 30
    since = rows[1][7]
    assert isinstance(since, dt.datetime)
    assert abs((utcnow().date() - since.date()).days - 30) <= 1


async def test_a_long_overview_stays_within_one_message(captured, sessionmaker, settings):
    app, request = captured
    await add_people(sessionmaker)
    async with sessionmaker() as session, session.begin():
        from storage.models import Employee, Unit

        unit = Unit(name="Dinas Sosial")
        session.add(unit)
        staff = [
            Employee(nip=f"19800101200501{1 + i % 2}{i + 1:03d}", name="N" * 190 + str(i),
                     unit=unit)
            for i in range(40)
        ]  # fmt: skip
        session.add_all(staff)
        await session.flush()
        ids = [employee.id for employee in staff]
    for i, employee_id in enumerate(ids):
        await add_mutation(sessionmaker, settings, employee_id, stage="verifikasi", days_ago=60 + i)
    reply = await say_one(app, request, "/hr_mutasi")
    assert len(reply["text"]) <= 4096
    assert ID("…and {n} more.", n="25") in reply["text"]
    _, content = request.uploaded[-1]
    rows = list(load_workbook(io.BytesIO(content)).worksheets[1].iter_rows(values_only=True))
    assert len(rows) == 41
