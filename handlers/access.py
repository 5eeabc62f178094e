"""Role checks for commands and button presses, done on the server for every update.

Usage::

    @require(Audience.HR_ADMIN)
    async def hr_audit(update: Update, context: BotContext) -> None: ...

The account was loaded by the early handler group (``handlers.account``); a person
without the role gets a polite refusal (an alert for a button press) and the wrapped
callback does not run. ``callback_data`` never grants anything.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import Update

from bot.context import BotContext
from bot.menus import Audience, allowed_audience

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


def refusal(audience: Audience, context: BotContext) -> str:
    """Why this person may not do it, in their language."""
    t = context.t
    if context.account is None or not context.account.linked:
        return t(
            "Please link your Telegram account first: send /start and share your phone number."
        )
    if audience is Audience.HR_ADMIN:
        return t("Sorry, this is only for HR administrators (BKPSDM).")
    if audience is Audience.SUPERVISOR:
        return t("Sorry, this is only for supervisors with direct reports.")
    return t("Sorry, you may not use this.")


async def refuse(update: Update, context: BotContext, audience: Audience) -> None:
    text = refusal(audience, context)
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)


async def stale_button(update: Update, context: BotContext, text: str | None = None) -> None:
    """A button that no longer applies (or was forged): an alert, nothing else happens."""
    assert update.callback_query is not None
    await update.callback_query.answer(
        text or context.t("This button is no longer valid."), show_alert=True
    )


def require(audience: Audience) -> Callable[[Handler], Handler]:
    def decorate(callback: Handler) -> Handler:
        @functools.wraps(callback)
        async def guarded(update: Update, context: BotContext, *args: Any, **kwargs: Any) -> Any:
            if not allowed_audience(audience, context.account):
                await refuse(update, context, audience)
                return None
            return await callback(update, context, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate
