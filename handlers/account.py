"""Early group: remember the sender and load their account and language for every update."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, TypeHandler

from bot.context import BotContext
from storage.repositories import AccountRepository

ACCOUNT_GROUP = -1


async def load_account(update: Update, context: BotContext) -> None:
    user = update.effective_user
    if user is None or user.is_bot:
        return
    async with context.session() as session:
        repository = AccountRepository(session)
        account = await repository.find(user.id)
        if account is None:  # first message ever: one more statement, once
            await repository.remember(user.id, user.first_name, user.username)
            account = await repository.load(user.id)
        context.account = account


def register(application: Application) -> None:
    application.add_handler(TypeHandler(Update, load_account), group=ACCOUNT_GROUP)
