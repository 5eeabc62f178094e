"""Indonesian mobile numbers: one canonical form (``62...``, digits only)."""

from __future__ import annotations

import re

_NOISE = re.compile(r"[\s.\-()/]+")


def normalize_phone(raw: str) -> str | None:
    """Return ``62XXXXXXXXX`` for ``+62…``, ``62…`` and ``08…`` forms, else ``None``.

    Indonesian mobile numbers are 08 + 8 to 11 more digits (10 to 13 digits in the
    national form), so the canonical form has 11 to 14 digits.
    """
    text = _NOISE.sub("", raw.strip())
    if text.startswith("+"):
        text = text[1:]
    if not text.isascii() or not text.isdigit():
        return None
    if text.startswith("0"):
        text = "62" + text[1:]
    elif text.startswith("8"):
        text = "62" + text
    if not text.startswith("628") or not 11 <= len(text) <= 14:
        return None
    return text
