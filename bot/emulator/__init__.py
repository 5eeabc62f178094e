"""Local Telegram Bot API emulator for tests and the "try without Telegram" page.

Quick start (pytest, asyncio)::

    async with run_emulator(bot_username="bukittinggi_asn_bot") as emu:
        app = (Application.builder().token(TOKEN)
               .base_url(emu.base_url).base_file_url(emu.base_file_url).build())
        await emu.client.create_user(42, "Ani")
        await emu.client.send_text(42, "/start")
        reply = await emu.client.wait_for_bot_message(42)

Webhook mode: once the bot calls ``setWebhook``, the emulator POSTs the queued updates to it
(``webhook.py``); with backends (``EmulatorServer(webhook_backends=[...])``,
``--webhook-backend URL`` or ``client.set_webhook_backends([...])``) it spreads them
round-robin over several bot processes instead, as a load balancer in front of them would.
"""

from bot.emulator.client import EmulatorClient, EmulatorControlError, format_chat
from bot.emulator.html_check import HtmlParseError, ParsedText, parse_html, validate_html
from bot.emulator.server import (
    CONTROL_PREFIX,
    EmulatorServer,
    EmulatorThread,
    RunningEmulator,
    run_emulator,
)
from bot.emulator.state import (
    Chat,
    EmulatorError,
    EmulatorState,
    EmuUser,
    FaultRule,
    StoredFile,
    StoredMessage,
)

__all__ = [
    "CONTROL_PREFIX",
    "Chat",
    "EmuUser",
    "EmulatorClient",
    "EmulatorControlError",
    "EmulatorError",
    "EmulatorServer",
    "EmulatorState",
    "EmulatorThread",
    "FaultRule",
    "HtmlParseError",
    "ParsedText",
    "RunningEmulator",
    "StoredFile",
    "StoredMessage",
    "format_chat",
    "parse_html",
    "run_emulator",
    "validate_html",
]
