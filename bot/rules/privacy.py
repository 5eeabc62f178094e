"""Masks for personal numbers shown on screens or written to logs (UU 27/2022)."""

from __future__ import annotations

MASK = "•"


def mask_nip(nip: str | None) -> str:
    """``1986••••••••••1001``: enough to recognise one's own NIP, not to reuse it."""
    if not nip:
        return "-"
    if len(nip) <= 8:
        return MASK * len(nip)
    return nip[:4] + MASK * (len(nip) - 8) + nip[-4:]


def mask_phone(phone: str | None) -> str:
    """``62812•••••890`` for a stored ``62…`` number."""
    if not phone:
        return "-"
    if len(phone) <= 8:
        return MASK * len(phone)
    return phone[:5] + MASK * (len(phone) - 8) + phone[-3:]
