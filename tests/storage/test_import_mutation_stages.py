"""Mutations files and the stage machine: what a row may change, and what a stage needs.

A file records where each process already is: it may move a mutation forward along its path
(skipping steps), never backwards or out of a final stage; every row carries what its stage
needs. A refused row refuses the whole file.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.rules.stages import DOCUMENTS_MAX
from storage.importers import messages as m
from storage.models import Mutation, MutationEvent
from tests.storage.importing import (
    BOSS,
    MUTATION_HEADERS,
    PPPK,
    STAFF,
    csv_bytes,
    employee,
    employees_by_nip,
    lines,
    only,
    run,
    seed_employees,
)

HEADERS = [*MUTATION_HEADERS, "Dokumen Kurang", "Jadwal Pelantikan", "NIP Atasan Baru"]
DECREE = {"sk_number": "800.1.3.3/45/BKPSDM-2026", "sk_date": "05/02/2026", "tmt": "01/03/2026"}


def row(
    stage: str,
    *,
    nip: str = STAFF,
    kind: str = "Rotasi",
    to_unit: str = "Bappeda",
    sk_number: str = "",
    sk_date: str = "",
    tmt: str = "",
    note: str = "",
    documents: str = "",
    inauguration: str = "",
    new_supervisor: str = "",
) -> list[str]:
    return [
        nip,
        kind,
        "Dinas Perhubungan",
        "Analis Transportasi",
        to_unit,
        "Perencana Ahli Pertama",
        stage,
        sk_number,
        sk_date,
        tmt,
        note,
        documents,
        inauguration,
        new_supervisor,
    ]


def file(*rows: list[str], headers: list[str] = HEADERS) -> bytes:
    width = len(headers)
    return csv_bytes([headers, *(r[:width] for r in rows)])


@pytest.fixture
async def people(sessionmaker):
    await seed_employees(
        sessionmaker,
        employee(BOSS, "Yusuf"),
        employee(STAFF, "Rina", supervisor=BOSS),
        employee(PPPK, "Andi", kind="PPPK", supervisor=BOSS),
    )
    return await employees_by_nip(sessionmaker)


async def the_mutation(sessionmaker) -> Mutation:
    async with sessionmaker() as session:
        (found,) = (await session.scalars(select(Mutation))).all()
        return found


async def stage_events(sessionmaker) -> list[tuple[str | None, str, str | None, bool]]:
    async with sessionmaker() as session:
        return [
            (e.from_stage, e.to_stage, e.note, e.notified_at is None)
            for e in await session.scalars(select(MutationEvent).order_by(MutationEvent.id))
        ]


async def start_at(sessionmaker, stage: str, **cells: str) -> None:
    result = await run(sessionmaker, file(row(stage, **cells)))
    assert result.ok, lines(result)


# --------------------------------------------------------------------------- transitions
async def test_a_backward_move_is_refused_with_the_rows_issue(sessionmaker, people):
    await start_at(sessionmaker, "SK Terbit", **DECREE)
    result = await run(sessionmaker, file(row("Diusulkan", nip=PPPK), row("Verifikasi", **DECREE)))
    issue = only(result)
    assert (issue.row, issue.column, issue.message) == (3, "Tahap", m.STAGE_NOT_ALLOWED)
    assert issue.params == {"current": "sk_terbit", "target": "verifikasi"}
    assert issue.render().startswith(
        "The mutation is at stage sk_terbit; a file cannot move it to verifikasi."
    )
    # All or nothing: the valid row 2 was not written either.
    assert (await the_mutation(sessionmaker)).stage == "sk_terbit"
    assert len(await stage_events(sessionmaker)) == 1


async def test_a_forward_jump_is_accepted_and_recorded_as_one_event(sessionmaker, people):
    await start_at(sessionmaker, "Diusulkan")
    result = await run(
        sessionmaker, file(row("SK Terbit", note="SK ditandatangani Wali Kota", **DECREE))
    )
    assert result.ok, lines(result)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    mutation = await the_mutation(sessionmaker)
    assert (mutation.stage, mutation.sk_number, mutation.sk_date, mutation.tmt_date) == (
        "sk_terbit",
        DECREE["sk_number"],
        dt.date(2026, 2, 5),
        dt.date(2026, 3, 1),
    )
    # One event for the jump (the skipped steps are not invented), not told yet.
    assert await stage_events(sessionmaker) == [
        (None, "diusulkan", None, True),
        ("diusulkan", "sk_terbit", "SK ditandatangani Wali Kota", True),
    ]


async def test_a_returned_file_may_catch_up_past_verification(sessionmaker, people):
    await start_at(sessionmaker, "Verifikasi")
    returned = row("Dikembalikan", note="Berkas belum lengkap", documents="SKP 2025; Ijazah")
    assert (await run(sessionmaker, file(returned))).ok
    result = await run(sessionmaker, file(row("Pertimbangan TPK")))
    assert result.ok, lines(result)
    mutation = await the_mutation(sessionmaker)
    assert (mutation.stage, mutation.missing_documents) == ("pertimbangan_tpk", None)


@pytest.mark.parametrize(
    ("final", "cells"),
    [("Selesai", DECREE), ("Dibatalkan", {"note": "Pegawai mengundurkan diri"})],
)
async def test_a_final_stage_is_never_left(sessionmaker, people, final, cells):
    await start_at(sessionmaker, final, **cells)
    issue = only(await run(sessionmaker, file(row("Diusulkan"))))
    assert (issue.column, issue.message) == ("Tahap", m.STAGE_FINAL)
    assert issue.params["target"] == "diusulkan"


async def test_after_the_inauguration_a_mutation_cannot_be_cancelled(sessionmaker, people):
    await start_at(sessionmaker, "Pelantikan", **DECREE)
    issue = only(await run(sessionmaker, file(row("Dibatalkan", note="Batal"))))
    assert (issue.message, issue.params) == (
        m.STAGE_NOT_ALLOWED,
        {"current": "pelantikan", "target": "dibatalkan"},
    )


async def test_a_file_may_cancel_or_return_where_the_chat_may(sessionmaker, people):
    await start_at(sessionmaker, "Pertimbangan TPK")
    result = await run(sessionmaker, file(row("Dibatalkan", note="Formasi tidak tersedia")))
    assert result.ok, lines(result)
    assert (await the_mutation(sessionmaker)).stage == "dibatalkan"


async def test_returning_is_only_from_verification(sessionmaker, people):
    await start_at(sessionmaker, "Diusulkan")
    issue = only(await run(sessionmaker, file(row("Dikembalikan", note="Kurang", documents="SKP"))))
    assert (issue.message, issue.params) == (
        m.STAGE_NOT_ALLOWED,
        {"current": "diusulkan", "target": "dikembalikan"},
    )


# --------------------------------------------------------------------------- what a stage needs
@pytest.mark.parametrize(
    ("headers", "documents"),
    [(HEADERS, ""), (HEADERS, " ; ,"), (MUTATION_HEADERS, "")],
    ids=["empty cell", "only separators", "no column"],
)
async def test_returned_without_missing_documents_is_refused(
    sessionmaker, people, headers, documents
):
    await start_at(sessionmaker, "Verifikasi")
    returned = row("Dikembalikan", note="Kurang", documents=documents)
    issue = only(await run(sessionmaker, file(returned, headers=headers)))
    assert (issue.row, issue.column, issue.message, issue.params) == (
        2,
        "Dokumen Kurang",
        m.REQUIRED_AT_STAGE,
        {"stage": "dikembalikan"},
    )
    assert (await the_mutation(sessionmaker)).stage == "verifikasi"


async def test_returned_needs_a_reason_and_keeps_the_documents(sessionmaker, people):
    await start_at(sessionmaker, "Verifikasi")
    documents = "1. SKP 2 tahun terakhir\n2. Surat lolos butuh\n- SKP 2 tahun terakhir"
    issue = only(await run(sessionmaker, file(row("Dikembalikan", documents=documents))))
    assert (issue.column, issue.message) == ("Catatan", m.REQUIRED_AT_STAGE)
    result = await run(
        sessionmaker, file(row("Dikembalikan", note="Berkas kurang", documents=documents))
    )
    assert result.ok, lines(result)
    mutation = await the_mutation(sessionmaker)
    assert mutation.missing_documents == "SKP 2 tahun terakhir\nSurat lolos butuh"
    assert (mutation.note, mutation.stage) == ("Berkas kurang", "dikembalikan")


async def test_too_many_missing_documents(sessionmaker, people):
    await start_at(sessionmaker, "Verifikasi")
    many = ";".join(f"Dokumen {i}" for i in range(DOCUMENTS_MAX + 1))
    issue = only(await run(sessionmaker, file(row("Dikembalikan", note="x", documents=many))))
    assert (issue.column, issue.message, issue.params["count"]) == (
        "Dokumen Kurang",
        m.TOO_MANY_DOCUMENTS,
        DOCUMENTS_MAX + 1,
    )


async def test_cancelled_needs_a_reason(sessionmaker, people):
    await start_at(sessionmaker, "Verifikasi")
    issue = only(await run(sessionmaker, file(row("Dibatalkan"))))
    assert (issue.column, issue.message, issue.params) == (
        "Catatan",
        m.REQUIRED_AT_STAGE,
        {"stage": "dibatalkan"},
    )


async def test_decree_dates_must_make_sense(sessionmaker, people):
    await start_at(sessionmaker, "Pertimbangan TPK")
    future = row("SK Terbit", sk_number="800/1", sk_date="03/03/2026", tmt="01/04/2026")
    issue = only(await run(sessionmaker, file(future)))  # TODAY is 2 March 2026
    assert (issue.column, issue.message, issue.params) == (
        "Tanggal SK",
        m.SK_DATE_IN_FUTURE,
        {"date": "03/03/2026", "today": "02/03/2026"},
    )
    early = row("SK Terbit", sk_number="800/1", sk_date="05/02/2026", tmt="01/02/2026")
    issue = only(await run(sessionmaker, file(early)))
    assert (issue.column, issue.message, issue.params) == (
        "TMT",
        m.TMT_BEFORE_SK_DATE,
        {"tmt": "01/02/2026", "sk_date": "05/02/2026"},
    )
    assert (await the_mutation(sessionmaker)).stage == "pertimbangan_tpk"


async def test_the_decree_is_needed_at_every_later_stage(sessionmaker, people):
    await start_at(sessionmaker, "Pertimbangan TPK")
    result = await run(sessionmaker, file(row("Selesai", sk_date="05/02/2026")))
    assert [(i.column, i.message) for i in result.issues] == [
        ("No SK", m.REQUIRED_AT_STAGE),
        ("TMT", m.REQUIRED_AT_STAGE),
    ]


async def test_a_bad_date_is_reported_once(sessionmaker, people):
    result = await run(sessionmaker, file(row("SK Terbit", sk_number="800/1", sk_date="31/02/2026",
                                              tmt="01/03/2026")))  # fmt: skip
    assert [(i.column, i.message) for i in result.issues] == [("Tanggal SK", m.BAD_DATE)]


# --------------------------------------------------------------------------- new mutations
async def test_a_new_mutation_may_start_at_any_stage(sessionmaker, people):
    result = await run(
        sessionmaker,
        file(
            row("Pelantikan", **DECREE),
            row("Selesai", nip=PPPK, **DECREE),
            row("Dibatalkan", to_unit="Inspektorat", note="Tidak jadi"),
        ),
    )
    assert result.ok, lines(result)
    assert result.created == 3
    assert [(f, t) for f, t, _n, _p in await stage_events(sessionmaker)] == [
        (None, "pelantikan"),
        (None, "selesai"),
        (None, "dibatalkan"),
    ]


async def test_a_new_mutation_still_needs_what_its_stage_needs(sessionmaker, people):
    result = await run(
        sessionmaker,
        file(
            row("Dikembalikan", note="x"), row("Dibatalkan", nip=PPPK), row("SK Terbit", nip=BOSS)
        ),
    )
    assert [(i.row, i.column) for i in result.issues] == [
        (2, "Dokumen Kurang"),
        (3, "Catatan"),
        (4, "No SK"),
        (4, "Tanggal SK"),
        (4, "TMT"),
    ]


async def test_pertek_bkn_only_between_agencies(sessionmaker, people):
    issue = only(await run(sessionmaker, file(row("Pertek BKN"))))
    assert (issue.column, issue.message, issue.params) == (
        "Tahap",
        m.STAGE_NOT_FOR_TYPE,
        {"stage": "pertek_bkn"},
    )
    external = row("Pertek BKN", kind="Mutasi antar-instansi", to_unit="Pemkab Agam")
    assert (await run(sessionmaker, file(external))).ok


# --------------------------------------------------------------------------- new columns
async def test_inauguration_time_is_wib_stored_in_utc(sessionmaker, people):
    await start_at(sessionmaker, "SK Terbit", inauguration="10/03/2026 09.30", **DECREE)
    stored = (await the_mutation(sessionmaker)).inauguration_at
    assert stored == dt.datetime(2026, 3, 10, 2, 30, tzinfo=dt.UTC)
    issue = only(await run(sessionmaker, file(row("SK Terbit", inauguration="besok", **DECREE))))
    assert (issue.column, issue.message, issue.params) == (
        "Jadwal Pelantikan",
        m.BAD_DATETIME,
        {"value": "besok", "zone": "WIB"},
    )


async def test_new_supervisor_must_be_a_known_employee(sessionmaker, people):
    await start_at(sessionmaker, "Diusulkan", new_supervisor=BOSS)
    assert (await the_mutation(sessionmaker)).to_supervisor_id == people[BOSS].id
    unknown = "199002142019032003"
    issue = only(await run(sessionmaker, file(row("Diusulkan", new_supervisor=unknown))))
    assert (issue.column, issue.message) == ("NIP Atasan Baru", m.EMPLOYEE_NOT_FOUND)
    issue = only(await run(sessionmaker, file(row("Diusulkan", new_supervisor=STAFF))))
    assert (issue.column, issue.message) == ("NIP Atasan Baru", m.NEW_SUPERVISOR_IS_EMPLOYEE)
    issue = only(await run(sessionmaker, file(row("Diusulkan", new_supervisor="12345"))))
    assert (issue.column, issue.message) == ("NIP Atasan Baru", m.INVALID_NIP)
    # Column absent: kept. Column present, cell empty: cleared.
    assert (await run(sessionmaker, file(row("Verifikasi"), headers=MUTATION_HEADERS))).ok
    assert (await the_mutation(sessionmaker)).to_supervisor_id == people[BOSS].id
    assert (await run(sessionmaker, file(row("Verifikasi")))).updated == 1
    assert (await the_mutation(sessionmaker)).to_supervisor_id is None


async def test_header_aliases_of_the_new_columns(sessionmaker, people):
    headers = [*MUTATION_HEADERS, "Kekurangan Dokumen", "Waktu Pelantikan", "Atasan Baru"]
    await start_at(sessionmaker, "Verifikasi")
    returned = row("Dikembalikan", note="x", documents="SKP", new_supervisor=BOSS)
    result = await run(sessionmaker, file(returned, headers=headers))
    assert result.ok, lines(result)
    mutation = await the_mutation(sessionmaker)
    assert (mutation.missing_documents, mutation.to_supervisor_id) == ("SKP", people[BOSS].id)


# --------------------------------------------------------------------------- once per change
async def test_reimporting_the_same_file_records_nothing_new(sessionmaker, people):
    await start_at(sessionmaker, "Diusulkan")
    changed = file(
        row("Pelantikan", inauguration="10/02/2026 09:00", new_supervisor=BOSS, **DECREE),
        row("Dikembalikan", nip=PPPK, note="Kurang", documents="SKP\nIjazah"),
    )
    # PPPK's mutation starts at verifikasi, so that it may be returned.
    assert (await run(sessionmaker, file(row("Verifikasi", nip=PPPK)))).ok
    first = await run(sessionmaker, changed)
    assert first.ok, lines(first)
    before = await stage_events(sessionmaker)
    again = await run(sessionmaker, changed)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert await stage_events(sessionmaker) == before
