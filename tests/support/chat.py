"""Matchers for what a person sees in an emulator chat (``client.wait_for_bot_message``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Matcher = Callable[[dict[str, Any]], bool]


def shown(message: dict[str, Any]) -> str:
    """The text of a message as displayed: its text, or its caption."""
    return message.get("plain_text") or message.get("plain_caption") or ""


def has_text(text: str) -> Matcher:
    return lambda message: text in shown(message)


def buttons_of(message: dict[str, Any]) -> list[str]:
    """The ``callback_data`` of a message's inline buttons, row by row."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b.get("callback_data") for row in rows for b in row]


def with_button(prefix: str) -> Matcher:
    """A message with a button whose ``callback_data`` starts with ``prefix``."""
    return lambda message: any((d or "").startswith(prefix) for d in buttons_of(message))
