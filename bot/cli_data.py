"""``run_bot.py data``: a person's data on request (UU 27/2022).

* ``data export NIP [--output FILE]``: everything the database stores about one employee, as
  one JSON document (UTF-8, indented; standard output without ``--output``).
* ``data erase NIP [--yes]``: erase the bot's Telegram-side data of one employee; the records
  of state administration stay (``docs/personal-data.md``). Without ``--yes`` it shows what
  would be erased and what is kept, and asks the operator to type the NIP to confirm.

Exit status as the other commands: 0 done (also "nothing left to erase"), 1 unknown NIP,
not confirmed or not written, 2 a NIP that cannot be one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, with_sessionmaker
from bot.i18n import Translator

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.config import Settings
    from bot.personal_data import ErasurePlan

ACTOR_LABEL = "cli"
_PROCEED = -1  # the preview's answer: go on and erase


def add_data_parser(commands: Any) -> None:
    """Register ``data export`` and ``data erase`` on the top-level subparsers."""
    data = commands.add_parser(
        "data", help="a person's data (UU 27/2022): export it all, or erase what may be erased"
    )
    actions = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export", help="everything stored about one employee, as one JSON document"
    )
    export.add_argument("nip", help="the employee's NIP (spaces and dots allowed)")
    export.add_argument("--output", type=Path, help="the file to write (default: standard output)")
    erase = actions.add_parser(
        "erase",
        help="erase one employee's Telegram-side data (official records are kept)",
    )
    erase.add_argument("nip", help="the employee's NIP (spaces and dots allowed)")
    erase.add_argument(
        "--yes", action="store_true", help="erase without asking to type the NIP to confirm"
    )


def command_data(settings: Settings, t: Translator, args: argparse.Namespace) -> int:
    from bot.rules.nip import NOT_DIGITS, WRONG_LENGTH, check_nip, problem_params
    from storage.migrate import upgrade

    nip, problem = check_nip(args.nip)
    if problem in (NOT_DIGITS, WRONG_LENGTH):
        assert problem is not None
        print(
            t('"{value}" is not a NIP.', value=args.nip.strip())
            + " "
            + t(problem.message, **problem_params(nip, problem)),
            file=sys.stderr,
        )
        return EXIT_USAGE
    upgrade(settings.database_url)
    if args.data_command == "export":
        return _export(settings, t, nip, args.output)
    return _erase(settings, t, nip, confirmed=args.yes)


def _unknown(t: Translator, nip: str) -> int:
    print(t("No employee has NIP {nip}.", nip=nip), file=sys.stderr)
    return EXIT_FAILED


# --------------------------------------------------------------------------- export
def _export(settings: Settings, t: Translator, nip: str, output: Path | None) -> int:
    found: dict[str, str] = {}

    async def read(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        from bot.personal_data import export_document, find_employee, to_json
        from storage.models import utcnow

        async with sessionmaker() as session, session.begin():
            employee = await find_employee(session, nip)
            if employee is None:
                return _unknown(t, nip)
            document = await export_document(
                session, employee, now=utcnow(), timezone=settings.timezone
            )
            found.update(name=employee.name, text=to_json(document))
        return EXIT_OK

    status = asyncio.run(with_sessionmaker(settings, read))
    if status != EXIT_OK:
        return status
    if output is None:
        stream = getattr(sys.stdout, "buffer", None)
        if stream is not None:
            stream.write(found["text"].encode("utf-8"))
            stream.flush()
        else:
            sys.stdout.write(found["text"])
        return EXIT_OK
    try:
        output.write_text(found["text"], encoding="utf-8")
    except OSError as exc:
        print(
            t("Cannot write {path}: {reason}", path=output, reason=exc.strerror or exc),
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(
        t(
            "The data stored about {name} ({nip}) is in {path}. It is personal data: give it "
            "only to the person or to someone they have authorised.",
            name=found["name"],
            nip=nip,
            path=output.resolve(),
        )
    )
    return EXIT_OK


# --------------------------------------------------------------------------- erase
def _erase(settings: Settings, t: Translator, nip: str, *, confirmed: bool) -> int:
    """Preview (a short read), then, once confirmed, erase in one transaction: the operator's
    typing never holds the database."""

    async def preview(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        from bot.personal_data import erasure_preview, find_employee

        async with sessionmaker() as session, session.begin():
            employee = await find_employee(session, nip)
            if employee is None:
                return _unknown(t, nip)
            plan = await erasure_preview(session, employee)
            name = employee.name
        if plan.empty:
            print(t("Nothing left to erase for {name} ({nip}).", name=name, nip=nip))
            return EXIT_OK
        if confirmed:
            return _PROCEED
        _print_preview(t, name, nip, plan)
        return _PROCEED if _confirm(t, nip) else EXIT_FAILED

    async def erase_now(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        from bot.personal_data import erase, find_employee
        from storage.models import utcnow

        async with sessionmaker() as session, session.begin():
            employee = await find_employee(session, nip)
            if employee is None:
                return _unknown(t, nip)
            counts = await erase(session, employee, actor_label=ACTOR_LABEL, now=utcnow())
            name = employee.name
        if not any(counts.values()):
            print(t("Nothing left to erase for {name} ({nip}).", name=name, nip=nip))
            return EXIT_OK
        print(t("Erased, for {name} ({nip}):", name=name, nip=nip))
        for line in _erased_lines(t, counts):
            print(f"  - {line}")
        print(
            t(
                "The official records were kept. The erasure is in the audit log. "
                "They can link Telegram again whenever they wish."
            )
        )
        return EXIT_OK

    outcome = asyncio.run(with_sessionmaker(settings, preview))
    if outcome != _PROCEED:
        return outcome
    return asyncio.run(with_sessionmaker(settings, erase_now))


def _erased_lines(t: Translator, counts: dict[str, int]) -> list[str]:
    """One line per kind of data erased (or to be erased), in the reader's language."""
    lines = []
    if counts.get("account_link"):
        lines.append(
            t(
                "the link between their employee record and Telegram (Telegram id, linked "
                "since, language, reachability)"
            )
        )
    if n := counts.get("telegram_users"):
        lines.append(
            t.ngettext(
                "{n} Telegram profile (Telegram id, name, username, language)",
                "{n} Telegram profiles (Telegram id, name, username, language)",
                n,
            )
        )
    if n := counts.get("drafts"):
        lines.append(t.ngettext("{n} unfinished conversation", "{n} unfinished conversations", n))
    if n := counts.get("link_attempts"):
        lines.append(t.ngettext("{n} linking attempt", "{n} linking attempts", n))
    if n := counts.get("activation_codes"):
        lines.append(t.ngettext("{n} activation code", "{n} activation codes", n))
    if n := counts.get("uploads"):
        lines.append(t.ngettext("{n} data file upload", "{n} data file uploads", n))
    if n := counts.get("outbox_deleted"):
        lines.append(
            t.ngettext(
                "{n} message the bot sent or was to send them",
                "{n} messages the bot sent or was to send them",
                n,
            )
        )
    if n := counts.get("outbox_stubbed"):
        lines.append(
            t.ngettext(
                "{n} announcement message to them: content and chat removed, status kept",
                "{n} announcement messages to them: content and chat removed, status kept",
                n,
            )
        )
    if n := counts.get("announcements_chat"):
        lines.append(
            t.ngettext(
                "{n} announcement they sent: their chat removed from it",
                "{n} announcements they sent: their chat removed from them",
                n,
            )
        )
    if n := counts.get("audit_details"):
        lines.append(
            t.ngettext(
                "{n} audit log entry: quotes of their Telegram account removed",
                "{n} audit log entries: quotes of their Telegram account removed",
                n,
            )
        )
    return lines


def _print_preview(t: Translator, name: str, nip: str, plan: ErasurePlan) -> None:
    print(t("For {name} ({nip}) this will be erased:", name=name, nip=nip))
    for line in _erased_lines(t, plan.counts):
        print(f"  - {line}")
    kept = plan.kept
    print(t("Kept, as records of state administration:"))
    print("  - " + t("the employee record (BKPSDM's data)"))
    for label, count in (
        (t("mutations, with their stages"), kept.mutations),
        (t("performance evaluations of them"), kept.evaluations),
        (t("performance evaluations they wrote"), kept.evaluations_written),
        (t("trainings, with their attendance"), kept.trainings),
        (t("audit log entries"), kept.audit_entries),
        (t("announcement delivery records"), kept.announcements_received),
    ):
        print(f"  - {label}: {t.number(count)}")


def _confirm(t: Translator, nip: str) -> bool:
    from bot.rules.nip import normalize_nip

    try:
        answer = input(t("Type the NIP to confirm: "))
    except EOFError:
        answer = ""
    if normalize_nip(answer) == nip:
        return True
    print(t("Not confirmed: nothing was erased."), file=sys.stderr)
    return False
