"""Refresh the translation catalogs after changing user-facing strings.

    python scripts/messages.py          # extract -> locales/messages.pot, update id and en

Message ids are English, so the English catalog's translations are its message ids:
they are filled in here; Indonesian ones are written by hand in locales/id/.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
POT = LOCALES / "messages.pot"
KEYWORDS = ["-k", "N_", "-k", "t", "-k", "ngettext:1,2"]


def pybabel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True, cwd=ROOT)


def fill_english() -> None:
    path = LOCALES / "en" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale="en")
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple | list):
            message.string = tuple(message.id)
        else:
            message.string = message.id
        message.flags.discard("fuzzy")
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False)


def main() -> None:
    pybabel(
        "extract",
        "-F",
        "babel.cfg",
        *KEYWORDS,
        "--no-location",
        "--sort-output",
        "--project",
        "bot-mutasi-kinerja",
        "--copyright-holder",
        "Pemerintah Kota Bukittinggi",
        "--width",
        "100",
        "-o",
        str(POT),
        ".",
    )
    for language in ("id", "en"):
        exists = (LOCALES / language / "LC_MESSAGES" / "messages.po").exists()
        action = ["update", "--no-fuzzy-matching", "--ignore-obsolete"] if exists else ["init"]
        pybabel(*action, "-i", str(POT), "-d", str(LOCALES), "-D", "messages", "-l", language,
                "--width", "100")  # fmt: skip
    fill_english()


if __name__ == "__main__":
    main()
