"""/hr_mutasi over real HTTP through the emulator: moving a stage with the employee told for
real, the new supervisor told at pelantikan, refusals, creation, and the overview's XLSX.

The outbox sender runs inside the live bot; quiet hours are off in the live bot's settings.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.i18n import get_translator
from bot.menus import Audience
from bot.mutations import stage_label
from bot.rules.stages import Stage
from handlers.access import refusal
from storage.models import Draft, Mutation, MutationEvent, OutboxMessage
from tests.e2e.conftest import LiveBot
from tests.mutations.hr_support import (
    ASN_CHAT,
    HR_CHAT,
    NEW_BOSS_CHAT,
    add_mutation,
    add_people,
    events,
    go,
    stage_of,
)
from tests.support.factories import NIP_STAFF

pytestmark = pytest.mark.e2e

ID = get_translator("id")


def has_text(text: str):
    return lambda m: text in (m.get("plain_text") or "")


def with_button(data: str):
    def matches(message: dict) -> bool:
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return any(b.get("callback_data") == data for row in rows for b in row)

    return matches


def same_message(message_id: int):
    return lambda m: m["message_id"] == message_id


async def wait_until(condition, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def answers(client, chat_id: int, count: int) -> list[dict]:
    """The first ``count`` answered button presses of the chat (waits for them)."""

    async def answered() -> bool:
        found = await client.callback_answers(chat_id)
        return sum(1 for item in found if item.get("answer")) >= count

    await wait_until(answered)
    return [item["answer"] for item in await client.callback_answers(chat_id) if item["answer"]]


async def stage_push(sessionmaker, mutation_id: int, to_stage: str) -> OutboxMessage | None:
    """The push of the (latest) event that brought the mutation to ``to_stage``."""
    async with sessionmaker() as session:
        event_id = await session.scalar(
            select(MutationEvent.id)
            .where(MutationEvent.mutation_id == mutation_id, MutationEvent.to_stage == to_stage)
            .order_by(MutationEvent.id.desc())
        )
        return await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.idempotency_key == f"mutation_stage:{event_id}"
            )
        )


async def test_hr_moves_a_stage_and_the_employee_is_told(live_bot: LiveBot, sessionmaker):
    people = await add_people(sessionmaker)
    mutation_id = await add_mutation(
        sessionmaker, live_bot.settings, people.staff, stage="pertimbangan_tpk"
    )
    client = live_bot.client
    await client.create_user(HR_CHAT, "Yusuf")
    await client.create_user(ASN_CHAT, "Rina")
    await client.mark_seen(ASN_CHAT)
    await client.send_text(HR_CHAT, f"/hr_mutasi {NIP_STAFF}")
    to_decree = go(people.staff, mutation_id, "pertimbangan_tpk", "sk_terbit")
    card = await client.wait_for_bot_message(HR_CHAT, with_button(to_decree))
    await client.press_button(HR_CHAT, card["message_id"], to_decree)
    await client.wait_for_bot_message(HR_CHAT, with_button("hrm:stop:m"))

    # A number without digits is asked again; nothing is saved meanwhile.
    await client.send_text(HR_CHAT, "belum ada")
    await client.wait_for_bot_message(HR_CHAT, has_text(ID(
        "That does not look like an SK number; it should contain its number, e.g. "
        "800.1.3.3/45/BKPSDM-2026.")))  # fmt: skip
    today = dt.datetime.now(dt.UTC).astimezone(ID.timezone).date()
    for text, step in (
        ("800/12/BKPSDM-2026", "sk_date"),
        (f"{today:%d/%m/%Y}", "tmt"),
        (f"{today:%d/%m/%Y}", "inauguration"),
    ):
        await client.send_text(HR_CHAT, text)

        async def at_step(step: str = step) -> bool:
            async with sessionmaker() as session:
                return await session.scalar(select(Draft.step)) == step

        await wait_until(at_step)
    skip = f"hrm:skip:m:{mutation_id}:inauguration"
    prompt = await client.wait_for_bot_message(HR_CHAT, with_button(skip))
    await client.press_button(HR_CHAT, prompt["message_id"], skip)
    summary = await client.wait_for_bot_message(HR_CHAT, same_message(prompt["message_id"]))
    assert "800/12/BKPSDM-2026" in summary["plain_text"]
    assert await stage_of(sessionmaker, mutation_id) == "pertimbangan_tpk"
    await client.press_button(HR_CHAT, prompt["message_id"], f"hrm:save:{mutation_id}")
    saved = await client.wait_for_bot_message(HR_CHAT, same_message(prompt["message_id"]))
    assert with_button(go(people.staff, mutation_id, "sk_terbit", "pelantikan"))(saved)
    assert await stage_of(sessionmaker, mutation_id) == "sk_terbit"

    # The employee's push arrives through the emulator, once.
    heading = ID(
        "Your transfer has moved to a new stage: {stage}.",
        stage=stage_label(Stage.SK_TERBIT, ID),
    )
    notice = await client.wait_for_bot_message(ASN_CHAT, has_text(heading), timeout=15)
    assert "800/12/BKPSDM-2026" in notice["plain_text"]

    async def delivered() -> bool:
        row = await stage_push(sessionmaker, mutation_id, "sk_terbit")
        return row is not None and row.status == "sent"

    await wait_until(delivered)
    # A second tap on the old Save button changes nothing.
    await client.press_button(HR_CHAT, prompt["message_id"], f"hrm:save:{mutation_id}", forge=True)

    replies = await answers(client, HR_CHAT, 4)
    assert replies[-1]["text"] == ID("This button is no longer valid.")
    assert [to for _, to in await events(sessionmaker, mutation_id)][-1] == "sk_terbit"
    assert len(await events(sessionmaker, mutation_id)) == 2
    pushes = [m for m in await client.bot_messages(ASN_CHAT) if heading in m["plain_text"]]
    assert len(pushes) == 1


async def test_the_new_supervisor_is_told_at_pelantikan(live_bot: LiveBot, sessionmaker):
    people = await add_people(sessionmaker)
    mutation_id = await add_mutation(
        sessionmaker,
        live_bot.settings,
        people.staff,
        stage="sk_terbit",
        to_supervisor_id=people.new_boss,
    )
    client = live_bot.client
    for chat, name in ((HR_CHAT, "Yusuf"), (ASN_CHAT, "Rina"), (NEW_BOSS_CHAT, "Fitri")):
        await client.create_user(chat, name)
    await client.send_text(HR_CHAT, f"/hr_mutasi {NIP_STAFF}")
    to_inauguration = go(people.staff, mutation_id, "sk_terbit", "pelantikan")
    card = await client.wait_for_bot_message(HR_CHAT, with_button(to_inauguration))
    await client.press_button(HR_CHAT, card["message_id"], to_inauguration)
    prompt = await client.wait_for_bot_message(
        HR_CHAT, with_button(f"hrm:skip:m:{mutation_id}:note")
    )
    await client.send_text(HR_CHAT, "Dilantik di Aula Balai Kota")
    summary = await client.wait_for_bot_message(HR_CHAT, with_button(f"hrm:save:{mutation_id}"))
    assert "Dilantik di Aula Balai Kota" in summary["plain_text"]
    await client.press_button(HR_CHAT, summary["message_id"], f"hrm:save:{mutation_id}")
    await client.wait_for_bot_message(HR_CHAT, same_message(summary["message_id"]))
    joined = await client.wait_for_bot_message(
        NEW_BOSS_CHAT, has_text("Rina Marlina, S.E."), timeout=15
    )
    assert "Perencana Ahli Pertama" in joined["plain_text"]
    assert prompt["message_id"] != summary["message_id"]
    async with sessionmaker() as session:
        moved = await session.get(Mutation, mutation_id)
        assert moved is not None and moved.stage == "pelantikan"


async def test_an_asn_is_refused_and_forged_presses_change_nothing(live_bot: LiveBot, sessionmaker):
    people = await add_people(sessionmaker)
    mutation_id = await add_mutation(sessionmaker, live_bot.settings, people.staff)
    client = live_bot.client
    await client.create_user(ASN_CHAT, "Rina")
    await client.create_user(HR_CHAT, "Yusuf")
    only_hr = refusal(
        Audience.HR_ADMIN, SimpleNamespace(account=SimpleNamespace(linked=True), t=ID)
    )
    await client.send_text(ASN_CHAT, "/hr_mutasi")
    await client.wait_for_bot_message(ASN_CHAT, has_text(only_hr))
    anchor = await client.last_bot_message(ASN_CHAT)
    assert anchor is not None
    forged = go(people.staff, mutation_id, "diusulkan", "verifikasi")
    await client.press_button(ASN_CHAT, anchor["message_id"], forged, forge=True)

    (answer,) = await answers(client, ASN_CHAT, 1)
    assert answer["text"] == only_hr and answer["show_alert"] is True

    # HR with a forged jump (diusulkan → sk_terbit, not offered): refused.
    await client.send_text(HR_CHAT, f"/hr_mutasi {NIP_STAFF}")
    card = await client.wait_for_bot_message(HR_CHAT, with_button(forged))
    jump = go(people.staff, mutation_id, "diusulkan", "sk_terbit")
    await client.press_button(HR_CHAT, card["message_id"], jump, forge=True)

    (answer,) = await answers(client, HR_CHAT, 1)
    assert answer["text"] == ID("This button is no longer valid.")
    assert await stage_of(sessionmaker, mutation_id) == "diusulkan"


async def test_hr_creates_a_mutation_and_downloads_the_overview(live_bot: LiveBot, sessionmaker):
    people = await add_people(sessionmaker)
    client = live_bot.client
    await client.create_user(HR_CHAT, "Yusuf")
    await client.create_user(ASN_CHAT, "Rina")
    await client.send_text(HR_CHAT, f"/hr_mutasi {NIP_STAFF}")
    head = await client.wait_for_bot_message(HR_CHAT, with_button(f"hrm:new:{people.staff}"))
    assert ID("No mutations are recorded for this employee.") in head["plain_text"]
    await client.press_button(HR_CHAT, head["message_id"], f"hrm:new:{people.staff}")
    prompt = await client.wait_for_bot_message(HR_CHAT, with_button("hrm:type:r"))
    await client.press_button(HR_CHAT, prompt["message_id"], "hrm:type:r")
    await client.wait_for_bot_message(HR_CHAT, same_message(prompt["message_id"]))
    await client.send_text(HR_CHAT, "bappeda")  # one unit of ours: taken at once
    await client.wait_for_bot_message(
        HR_CHAT, has_text(ID("Step 3 of 5. The new position (jabatan)?"))
    )
    await client.send_text(HR_CHAT, "Perencana Ahli Muda")
    step = await client.wait_for_bot_message(HR_CHAT, with_button("hrm:skip:n:supervisor"))
    await client.press_button(HR_CHAT, step["message_id"], "hrm:skip:n:supervisor")
    await client.wait_for_bot_message(HR_CHAT, with_button("hrm:skip:n:note"))
    await client.send_text(HR_CHAT, "Penyegaran organisasi & <rotasi> rutin")
    summary = await client.wait_for_bot_message(HR_CHAT, with_button(f"hrm:create:{people.staff}"))
    assert "Penyegaran organisasi & <rotasi> rutin" in summary["plain_text"]
    await client.press_button(HR_CHAT, summary["message_id"], f"hrm:create:{people.staff}")
    saved = await client.wait_for_bot_message(HR_CHAT, same_message(summary["message_id"]))
    async with sessionmaker() as session:
        created = await session.scalar(select(Mutation))
    assert created is not None and created.to_unit == "Bappeda"
    assert with_button(go(people.staff, created.id, "diusulkan", "verifikasi"))(saved)
    await client.wait_for_bot_message(
        ASN_CHAT, has_text(ID("A transfer has been proposed for you.")), timeout=15
    )

    await client.send_text(HR_CHAT, "/hr_mutasi")
    overview = await client.wait_for_bot_message(HR_CHAT, has_text(ID("Mutations by stage")))
    assert f"{stage_label(Stage.DIUSULKAN, ID)}: 1" in overview["plain_text"]
    document = await client.wait_for_bot_message(HR_CHAT, lambda m: m["kind"] == "document")
    assert document["document"]["file_name"].endswith(".xlsx")
    content = await client.download_file(document["document"]["file_id"])
    counts_sheet, stuck_sheet = load_workbook(io.BytesIO(content)).worksheets
    counts = {row[0]: row[1] for row in counts_sheet.iter_rows(min_row=2, values_only=True)}
    assert counts[stage_label(Stage.DIUSULKAN, ID)] == 1
    assert counts[ID("Total")] == 1
    assert stuck_sheet.max_row == 1  # just the header: nothing is stuck
