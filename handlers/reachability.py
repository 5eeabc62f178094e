"""my_chat_member: a person who blocks the bot is unreachable until they come back."""

from __future__ import annotations

from telegram import ChatMember, Update
from telegram.ext import Application, ChatMemberHandler

from bot.context import BotContext
from storage.models import utcnow
from storage.repositories import LinkRepository

GONE = {ChatMember.BANNED, ChatMember.LEFT}


async def track(update: Update, context: BotContext) -> None:
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    reachable = change.new_chat_member.status not in GONE
    async with context.session() as session:
        await LinkRepository(session).set_reachable(change.chat.id, reachable, utcnow())


def register(application: Application) -> None:
    application.add_handler(ChatMemberHandler(track, ChatMemberHandler.MY_CHAT_MEMBER))
