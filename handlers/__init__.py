"""Telegram handlers: one module per capability, each with ``register(application)``.

Group -1 loads who is writing (``handlers.account``); group 0 holds the capabilities;
the fallback for anything not understood is registered last in group 0.
"""

from __future__ import annotations

from telegram.ext import Application

from handlers import account, errors, fallback, help, language, start


def register_all(application: Application) -> None:
    account.register(application)
    start.register(application)
    help.register(application)
    language.register(application)
    errors.register(application)
    fallback.register(application)  # last: only what no capability took
