"""The chat page of ``run_bot.py coba``: a phone-like chat with the bot in the browser.

Mounted on the emulator's own aiohttp application (same origin as its control API, which
the page's script calls directly):

* ``GET /``: the page (``static/index.html``, with the bot's name filled in);
* ``GET /coba/static/<file>``: its script, style sheet and icon, read from this package's
  ``static`` folder on every request (nothing is cached: ``Cache-Control: no-store``);
* ``GET /coba/api/personas``: the bot's name and the demo people to choose from, read from
  the database on every call (whether they are linked yet, which language they chose).

Everything the page needs is served from here: no fonts, scripts or styles from elsewhere
(the Content-Security-Policy says so to the browser too).
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.tryout import Persona

__all__ = ["STATIC_DIR", "STATIC_PREFIX", "add_page_routes"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/coba/static"
PERSONAS_PATH = "/coba/api/personas"
BOT_NAME_PLACEHOLDER = "__BOT_NAME__"

_CONTENT_TYPES: dict[str, tuple[str, str | None]] = {
    ".html": ("text/html", "utf-8"),
    ".js": ("text/javascript", "utf-8"),
    ".css": ("text/css", "utf-8"),
    ".svg": ("image/svg+xml", "utf-8"),
    ".png": ("image/png", None),
    ".ico": ("image/x-icon", None),
}
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# Only this origin: the page never loads anything from elsewhere.
_PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def _static_file(name: str) -> Path | None:
    """The file ``name`` of the static folder, if it is one (no paths, no hidden files)."""
    if not _FILE_NAME.match(name) or Path(name).suffix not in _CONTENT_TYPES:
        return None
    path = STATIC_DIR / name
    return path if path.is_file() else None


def _file_response(path: Path, *, body: bytes | None = None) -> web.Response:
    content_type, charset = _CONTENT_TYPES[path.suffix]
    return web.Response(
        body=path.read_bytes() if body is None else body,
        content_type=content_type,
        charset=charset,
        headers=_NO_STORE,
    )


def add_page_routes(
    app: web.Application,
    personas: Callable[[], Awaitable[list[Persona]]],
    *,
    bot_name: str,
) -> None:
    """Add the page, its files and the personas API to ``app`` (before it starts)."""

    async def index(request: web.Request) -> web.Response:
        path = STATIC_DIR / "index.html"
        page = path.read_text(encoding="utf-8").replace(BOT_NAME_PLACEHOLDER, html.escape(bot_name))
        response = _file_response(path, body=page.encode("utf-8"))
        response.headers["Content-Security-Policy"] = _PAGE_POLICY
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def static(request: web.Request) -> web.Response:
        path = _static_file(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound(headers=_NO_STORE)
        return _file_response(path)

    async def people(request: web.Request) -> web.Response:
        found = await personas()
        response = web.json_response(
            {"bot": {"name": bot_name}, "personas": [p.as_dict() for p in found]}
        )
        response.headers.update(_NO_STORE)
        return response

    app.router.add_get("/", index)
    app.router.add_get(STATIC_PREFIX + "/{name}", static)
    app.router.add_get(PERSONAS_PATH, people)
