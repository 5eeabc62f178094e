"""The typed context handlers receive: the session factory, settings, the reader's account."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.config import Settings
from bot.i18n import Translator, get_translator
from storage.repositories import Account

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class BotData:
    """Process-wide objects, made in ``post_init`` and closed in ``post_shutdown``."""

    settings: Settings | None = None
    engine: AsyncEngine | None = None
    sessionmaker: async_sessionmaker[AsyncSession] | None = None
    extras: dict[str, object] = field(default_factory=dict)


class BotContext(CallbackContext[ExtBot[None], dict, dict, BotData]):
    """``CallbackContext`` with the account of the sender and their translator.

    PTB builds one context per update and hands the same object to every handler
    group, so the account loaded in the early group is seen by the later ones.
    """

    def __init__(
        self, application: Application, chat_id: int | None = None, user_id: int | None = None
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.account: Account | None = None
        self._translator: Translator | None = None
        self._after_commit: list[Callable[[], None]] = []

    @property
    def settings(self) -> Settings:
        assert self.bot_data.settings is not None, "post_init has not run"
        return self.bot_data.settings

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed when the block ends, rolled back on error."""
        factory = self.bot_data.sessionmaker
        assert factory is not None, "post_init has not run"
        async with factory() as session, session.begin():
            yield session
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current ``session()`` block has committed."""
        if callback not in self._after_commit:
            self._after_commit.append(callback)

    def wake_sender(self) -> None:
        """Let the outbox sender drain now instead of at its next tick."""
        sender = self.bot_data.extras.get("sender")
        wake = getattr(sender, "wake", None)
        if callable(wake):
            wake()

    @property
    def language(self) -> str:
        if self.account and self.account.language:
            return self.account.language
        return self.settings.default_language

    @property
    def t(self) -> Translator:
        """The reader's translator (``context.t("...")``)."""
        if self._translator is None or self._translator.language != self.language:
            self._translator = get_translator(self.language, self.settings.timezone)
        return self._translator

    def use_language(self, language: str) -> None:
        """Switch the rest of this update to ``language`` (after /bahasa)."""
        if self.account is not None:
            from dataclasses import replace

            self.account = replace(self.account, language=language)
        self._translator = None


CONTEXT_TYPES = ContextTypes(context=BotContext, bot_data=BotData)
