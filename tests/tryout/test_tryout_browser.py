"""The "coba" chat page in headless Chromium, as a person uses it on a phone (390×844).

The tests share one tryout (demo data, its own SQLite file) but not their order: a person is
linked inside each test that needs it (:func:`ensure_linked`: /start and the contact button
when the page says they are not linked yet). Buttons are found by their ``callback_data``
(the page's DOM contract), so a person's language does not change what a test presses.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.tryout import Tryout
from storage.db import create_engine, create_sessionmaker
from storage.models import Evaluation
from storage.repositories.evaluations import SUBMITTED
from tests.tryout.conftest import CHROMIUM

async_api = pytest.importorskip(
    "playwright.async_api",
    reason="Playwright is not installed: pip install -e '.[dev]' (the browser tests need it)",
)
if not CHROMIUM.exists():
    pytest.skip(
        f"Chromium is not installed at {CHROMIUM}: apt-get install chromium "
        "(Debian's package; .ci/run installs it)",
        allow_module_level=True,
    )

expect = async_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

WAIT = 15_000  # ms: the longest a step may take (a reply, an edit, a push)
ASN = "asn_in_mutation"
SUPERVISOR = "supervisor"
HR = "hr_admin"


# --------------------------------------------------------------------------- helpers
async def personas(page: Any, tryout: Tryout) -> dict[str, dict[str, Any]]:
    response = await page.request.get(f"{tryout.url.rstrip('/')}/coba/api/personas")
    assert response.ok, await response.text()
    return {persona["key"]: persona for persona in (await response.json())["personas"]}


def bot_messages(page: Any) -> Any:
    return page.locator('#messages .msg[data-from="bot"]')


def user_messages(page: Any) -> Any:
    return page.locator('#messages .msg[data-from="user"]')


def inline_button(page: Any, data: str) -> Any:
    return page.locator(f'#messages button.inline-btn[data-callback="{data}"]')


async def choose(page: Any, key: str) -> None:
    """Pick a person in the persona picker."""
    button = page.locator(f'button[data-persona="{key}"]')
    await button.click()
    await expect(button).to_have_attribute("aria-pressed", "true", timeout=WAIT)


async def send(page: Any, text: str) -> None:
    """Type ``text`` in the composer and press Enter; it shows as the person's message and the
    bot answers below it."""
    composer = page.locator("#composer-input")
    await composer.fill(text)
    await composer.press("Enter")
    await expect(user_messages(page).last).to_contain_text(text, timeout=WAIT)


async def send_and_wait(page: Any, text: str) -> None:
    """:func:`send`, then wait until the chat ends with a message from the bot."""
    await send(page, text)
    last = page.locator("#messages .msg").last
    await expect(last).to_have_attribute("data-from", "bot", timeout=WAIT)


async def ensure_linked(page: Any, tryout: Tryout, key: str) -> dict[str, Any]:
    """Choose the person; if their account is not linked yet, link it as on Telegram: /start,
    then the contact button (the page sends the persona's demo phone)."""
    persona = (await personas(page, tryout))[key]
    await choose(page, key)
    if persona["linked"]:
        return persona
    await send(page, "/start")
    share = page.locator("#reply-keyboard button#share-contact")
    await expect(share).to_be_visible(timeout=WAIT)
    await share.click()
    # "Akun berhasil ditautkan. Selamat datang, Bapak/Ibu <name>." — and the keyboard goes.
    welcome = bot_messages(page).filter(has_text=persona["name"])
    await expect(welcome.last).to_be_visible(timeout=WAIT)
    await expect(page.locator("#share-contact")).to_be_hidden(timeout=WAIT)
    assert (await personas(page, tryout))[key]["linked"], f"{key} is still not linked"
    return persona


async def assert_phone_sized(page: Any) -> None:
    """No horizontal scrolling at 390 px."""
    overflow = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at 390px"


async def submitted_evaluations(tryout: Tryout) -> int:
    engine = create_engine(tryout.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            count = await session.scalar(
                select(func.count()).select_from(Evaluation).where(Evaluation.status == SUBMITTED)
            )
    finally:
        await engine.dispose()
    return int(count or 0)


# --------------------------------------------------------------------------- tests
async def test_asn_in_mutation_links_and_sees_the_status_timeline(page: Any, tryout: Tryout):
    await expect(page.locator("body")).to_contain_text("BKPSDM Bukittinggi", timeout=WAIT)
    await ensure_linked(page, tryout, ASN)

    await send_and_wait(page, "/status")

    card = bot_messages(page).last
    # The promotion of the demo's ASN waits for the TPK: two steps done, the TPK current.
    for text in (
        "Tahap: Pertimbangan Tim Penilai Kinerja (TPK)",
        "✅ Diusulkan",
        "✅ Verifikasi berkas",
        "▶️ Pertimbangan Tim Penilai Kinerja (TPK)",
        "▫️ SK terbit",
        "▫️ Pelantikan dan serah terima",
        "▫️ Selesai",
    ):
        await expect(card).to_contain_text(text, timeout=WAIT)
    # The current stage is bold (entities rendered as DOM nodes).
    await expect(card.locator(".msg-text b", has_text="Pertimbangan Tim Penilai")).to_have_count(
        2, timeout=WAIT
    )
    await expect(inline_button(page, "mut:riwayat").last).to_be_visible(timeout=WAIT)
    await assert_phone_sized(page)


async def test_supervisor_completes_one_evaluation_with_buttons(page: Any, tryout: Tryout):
    await ensure_linked(page, tryout, SUPERVISOR)
    before = await submitted_evaluations(tryout)

    await send_and_wait(page, "/nilai")
    team = bot_messages(page).last
    await expect(team).to_contain_text("Penilaian Kinerja (SKP)", timeout=WAIT)
    message_id = await team.get_attribute("data-message-id")
    # A report not rated yet ("⬜ n. Name").
    person = page.locator('#messages button.inline-btn[data-callback^="nl:o:"]', has_text="⬜")
    await person.first.click()

    # Hasil Kerja: "Sesuai Ekspektasi" (nl:<evaluation>:w:s) — the id comes from the button.
    work = page.locator('#messages button.inline-btn[data-callback$=":w:s"]').last
    await expect(work).to_be_visible(timeout=WAIT)
    data = await work.get_attribute("data-callback")
    found = re.fullmatch(r"nl:(\d+):w:s", data or "")
    assert found, f"unexpected Hasil Kerja button {data!r}"
    evaluation = found.group(1)
    await work.click()
    # The seven BerAKHLAK values, then Lanjut, Lewati (no feedback) and Kirim.
    for step in ("pl:s", "ak:s", "ko:s", "hm:s", "ly:s", "ad:s", "kl:s", "b:nx", "f:sk", "s:ok"):
        button = inline_button(page, f"nl:{evaluation}:{step}")
        await button.click(timeout=WAIT)

    # The same message, edited in place at every step, ends as the final card.
    card = page.locator(f'#messages .msg[data-message-id="{message_id}"]')
    await expect(card).to_contain_text("Penilaian terkirim", timeout=WAIT)
    await expect(card).to_contain_text("Predikat: Baik", timeout=WAIT)
    await expect(card.locator("button.inline-btn")).to_have_count(0)
    assert await submitted_evaluations(tryout) == before + 1


async def test_hr_announces_to_a_unit_and_the_asn_sees_it(page: Any, tryout: Tryout):
    await ensure_linked(page, tryout, ASN)  # reachable, so the announcement reaches them
    await ensure_linked(page, tryout, HR)
    text = f"Rapat koordinasi mutasi {uuid.uuid4().hex[:6]}, Jumat pukul 09.00 di Aula BKPSDM"

    await send_and_wait(page, "/hr_umumkan")
    await send(page, text)
    await inline_button(page, "umum:aud:units").last.click(timeout=WAIT)
    unit = page.locator(
        '#messages button.inline-btn[data-callback^="umum:unit:"]', has_text="Badan Keuangan Daerah"
    ).last
    await unit.click(timeout=WAIT)
    await expect(unit).to_contain_text("✅", timeout=WAIT)  # ticked: the message was edited
    await inline_button(page, "umum:units_ok").last.click(timeout=WAIT)
    await inline_button(page, "umum:send").last.click(timeout=WAIT)
    # Delivered: the progress message ends with its download button.
    done = page.locator('#messages button.inline-btn[data-callback^="siaran:xlsx:"]')
    await expect(done.last).to_be_visible(timeout=WAIT)

    await choose(page, ASN)
    await expect(bot_messages(page).filter(has_text=text).last).to_be_visible(timeout=WAIT)


async def test_menu_upload_and_language(page: Any, tryout: Tryout):
    # The command menu is the one the bot set for each person: HR's has hr_umumkan …
    await ensure_linked(page, tryout, HR)
    await page.locator("#menu-button").click()
    menu = page.locator("#menu")
    await expect(menu.locator('button.menu-item[data-command="hr_umumkan"]')).to_be_visible(
        timeout=WAIT
    )
    await expect(menu.locator('button.menu-item[data-command="hr_impor"]')).to_be_visible()
    await menu.locator('button.menu-item[data-command="help"]').click()  # sends /help
    await expect(user_messages(page).last).to_contain_text("/help", timeout=WAIT)
    await expect(page.locator("#messages .msg").last).to_have_attribute(
        "data-from", "bot", timeout=WAIT
    )

    # … the ASN's has /status and no HR command.
    await ensure_linked(page, tryout, ASN)
    await page.locator("#menu-button").click()
    await expect(menu.locator('button.menu-item[data-command="status"]')).to_be_visible(
        timeout=WAIT
    )
    await expect(menu.locator('button.menu-item[data-command="hr_umumkan"]')).to_have_count(0)
    await expect(menu.locator('button.menu-item[data-command^="hr_"]')).to_have_count(0)
    await menu.locator('button.menu-item[data-command="status"]').click()
    await expect(user_messages(page).last).to_contain_text("/status", timeout=WAIT)

    # HR uploads a CSV: the bot imports it and answers (here: nothing imported, with the
    # problems in chat and, past 30 of them, as an XLSX file to download).
    await choose(page, HR)
    header = "NIP;Nama;Jenis (PNS/PPPK);Jabatan;Golongan;Unit Kerja;NIP Atasan;No HP\n"
    rows = "".join(f"12345{n};Pegawai {n};PNS;Staf;III/a;BKPSDM;;08\n" for n in range(16))
    await page.locator("input#file-input").set_input_files(
        files=[{"name": "pegawai.csv", "mimeType": "text/csv", "buffer": (header + rows).encode()}]
    )
    answer = bot_messages(page).filter(has_text="Tidak ada data yang diimpor")
    await expect(answer.last).to_contain_text("32 masalah", timeout=WAIT)
    # The bot's document (the person's own upload shows as a document too).
    report = bot_messages(page).locator("a.msg-document[download]").last
    await expect(report).to_contain_text(".xlsx", timeout=WAIT)
    await expect(report).to_have_attribute("href", re.compile(r"/_emulator/files/"))
    async with page.expect_download(timeout=WAIT) as download_info:
        await report.click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".xlsx"), download.suggested_filename
    path = await download.path()
    assert path is not None
    content = await asyncio.to_thread(Path(path).read_bytes)
    assert content[:2] == b"PK", "the report is not an XLSX (zip) file"

    # /bahasa → English: the bot answers in English and the page's own words follow.
    composer = page.locator("#composer-input")
    indonesian = await composer.get_attribute("placeholder")
    assert indonesian, "the composer has no placeholder"
    await send_and_wait(page, "/bahasa")
    await inline_button(page, "bahasa:en").last.click(timeout=WAIT)
    await expect(bot_messages(page).last).to_contain_text("Language set to English", timeout=WAIT)
    await expect(composer).not_to_have_attribute("placeholder", indonesian, timeout=WAIT)
    assert (await personas(page, tryout))[HR]["language"] == "en"
    await assert_phone_sized(page)
