"""``python -m bot.emulator --host 127.0.0.1 --port 8081 [--token T]...``: run standalone.

With ``--webhook-backend URL`` (repeatable) it stands for Telegram plus a load balancer: once
the bot sets a webhook, updates go round-robin to these URLs instead of the webhook's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from bot.emulator.server import CONTROL_PREFIX, EmulatorServer
from bot.logging_setup import configure_logging


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.emulator", description="Local Telegram Bot API emulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--token",
        action="append",
        dest="tokens",
        help="accepted bot token (repeatable; default: any token of Telegram's shape)",
    )
    parser.add_argument("--bot-username", default="emulator_bot")
    parser.add_argument("--bot-first-name", default="Emulator Bot")
    parser.add_argument("--seed", type=int, default=None, help="seed for probabilistic faults")
    parser.add_argument(
        "--lenient-html",
        action="store_true",
        help='accept a bare "&" in HTML like real Telegram (default: reject it)',
    )
    parser.add_argument(
        "--webhook-backend",
        action="append",
        dest="webhook_backends",
        metavar="URL",
        help="deliver webhook updates round-robin to this bot process instead of the "
        "registered webhook URL, like a load balancer (repeatable)",
    )
    parser.add_argument(
        "--webhook-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long a webhook may take to answer before the update is retried (default 60)",
    )
    parser.add_argument(
        "--webhook-retry-initial",
        type=float,
        default=0.2,
        metavar="SECONDS",
        help="first retry delay of a failed webhook delivery, doubling (default 0.2)",
    )
    parser.add_argument(
        "--webhook-retry-max",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="longest retry delay of a failed webhook delivery (default 5)",
    )
    parser.add_argument(
        "--webhook-allow-http",
        action="store_true",
        help="accept an http:// webhook URL (Telegram requires https)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    server = EmulatorServer(
        tokens=args.tokens,
        bot_username=args.bot_username,
        bot_first_name=args.bot_first_name,
        seed=args.seed,
        strict_html_ampersand=not args.lenient_html,
        webhook_require_https=not args.webhook_allow_http,
        webhook_backends=args.webhook_backends,
        webhook_timeout=args.webhook_timeout,
        webhook_retry_initial=args.webhook_retry_initial,
        webhook_retry_max=args.webhook_retry_max,
    )
    await server.start(args.host, args.port)
    print(f"Telegram Bot API emulator listening on {server.root_url}", flush=True)
    print(f"  base_url      = {server.root_url}/bot", flush=True)
    print(f"  base_file_url = {server.root_url}/file/bot", flush=True)
    print(f"  control API   = {server.root_url}{CONTROL_PREFIX}", flush=True)
    for url in args.webhook_backends or ():
        print(f"  webhook backend {url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = build_parser().parse_args(argv)
    # The bot's own log set-up: the calls it logs carry users' texts and numbers (masked).
    configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
