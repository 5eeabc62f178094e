"""Layer 2: /tim — a supervisor's own direct reports, and nobody else's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from telegram.ext import Application

from bot.config import Settings
from bot.i18n import get_translator
from bot.menus import Audience
from handlers.access import refusal
from storage.models import Employee
from tests.handlers.conftest import running_app
from tests.support.telegram import TOKEN, CapturingRequest, message_update
from tests.talent.support import A1_CHAT, B1_CHAT, BOSS_A_CHAT, HR_CHAT, add_talent_org

ID = get_translator("id")
SUPERVISORS_ONLY = refusal(
    Audience.SUPERVISOR, SimpleNamespace(account=SimpleNamespace(linked=True), t=ID)
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, _env_file=None)


@pytest.fixture
async def captured(settings: Settings) -> AsyncIterator[tuple[Application, CapturingRequest]]:
    async with running_app(settings, CapturingRequest()) as (application, request):
        request.clear()
        yield application, request


async def say(app, request, text: str, user: int) -> list[dict]:
    request.clear()
    await app.process_update(message_update(app, user, text))
    return request.sent()


async def test_a_supervisor_sees_only_their_own_team(captured, sessionmaker):
    app, request = captured
    org = await add_talent_org(sessionmaker)
    replies = await say(app, request, "/tim", BOSS_A_CHAT)
    text = "\n".join(reply["text"] for reply in replies)
    assert ID.ngettext("My team: {n} person", "My team: {n} people", 5) in text
    for key in ("boss_b", "a1", "a2", "a3", "a5"):  # active direct reports
        assert org.names[key].replace("<", "&lt;").replace(">", "&gt;") in text, key
    for key in ("a4", "b1", "b2", "b3", "hr"):  # inactive, Boss B's staff, someone else
        assert org.names[key] not in text, key
    assert "Bimtek Perencanaan" not in text  # b1's training
    assert "Diklat Manajemen" in text  # a1's upcoming training
    assert "Pelatihan Kepemimpinan" not in text  # done, not upcoming
    assert ID.ngettext("{n} full year in post", "{n} full years in post", 3) in text
    assert ID("eligible for transfer") in text and ID("due for transfer") in text
    assert ID("post start date (TMT jabatan) not filled in") in text
    assert ID("Good") in text  # a1's last predicate
    assert ID("No upcoming training.") in text


async def test_the_other_supervisor_sees_only_theirs(captured, sessionmaker):
    app, request = captured
    org = await add_talent_org(sessionmaker)
    async with sessionmaker() as session, session.begin():  # link Boss B
        boss_b = await session.get(Employee, org.ids["boss_b"])
        assert boss_b is not None
        boss_b.telegram_user_id = 8820099
    (reply,) = await say(app, request, "/tim", 8820099)
    text = reply["text"]
    for key in ("b1", "b2", "b3"):
        assert org.names[key] in text, key
    for key in ("a1", "a2", "a3", "a5", "boss_a"):
        assert org.names[key] not in text, key
    assert "Bimtek Perencanaan" in text


async def test_an_asn_or_hr_without_reports_may_not_use_it(captured, sessionmaker):
    app, request = captured
    await add_talent_org(sessionmaker)
    for user in (A1_CHAT, B1_CHAT, HR_CHAT):
        (reply,) = await say(app, request, "/tim", user)
        assert reply["text"] == SUPERVISORS_ONLY, user
