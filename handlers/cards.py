"""Employee cards (HTML), shared by /saya and HR's /cari."""

from __future__ import annotations

from html import escape

from bot.i18n import N_, Translator
from bot.rules.privacy import mask_nip, mask_phone
from storage.repositories import EmployeeCard

ROLE_NAMES = {"asn": N_("ASN"), "hr_admin": N_("HR admin (BKPSDM)")}


def _line(label: str, value: str) -> str:
    return f"{escape(label)}: {value}"


def render_card(card: EmployeeCard, t: Translator, *, for_hr: bool) -> str:
    """The person's own card masks NIP and phone; HR sees them whole."""
    nip = card.nip if for_hr else mask_nip(card.nip)
    phone = card.phone if for_hr else mask_phone(card.phone)
    lines = [
        f"<b>{escape(card.name)}</b>",
        _line(t("NIP"), f"<code>{escape(nip)}</code> ({escape(card.employee_type)})"),
        _line(t("Position"), escape(card.position or "-")),
        _line(t("Rank"), escape(card.rank or "-")),
        _line(t("Unit"), escape(card.unit)),
        _line(t("Supervisor"), escape(card.supervisor_name or "-")),
        _line(t("Phone"), escape(phone or "-")),
    ]
    if card.linked_at is not None:
        lines.append(_line(t("Linked since"), escape(t.date(t.local(card.linked_at).date()))))
    if for_hr:
        if card.telegram_user_id is None:
            status = t("not linked")
        elif card.reachable:
            status = t("linked, reachable")
        else:
            status = t("linked, but has blocked the bot")
        lines.append(_line(t("Telegram"), escape(status)))
        lines.append(_line(t("Role"), escape(t(ROLE_NAMES.get(card.role, card.role)))))
        if not card.active:
            lines.append(escape(t("No longer active.")))
    return "\n".join(lines)
