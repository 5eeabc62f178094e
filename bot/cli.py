"""Command line: ``python run_bot.py [run|db upgrade|import FILE|demo|admin add NIP|...]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import re
import sys
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.config import Settings
from bot.i18n import N_, Translator, get_translator
from bot.logging_setup import configure_logging
from bot.tryout import DEFAULT_DATABASE as DEFAULT_COBA_DATABASE
from bot.tryout import DEFAULT_PORT as DEFAULT_COBA_PORT

if TYPE_CHECKING:
    from storage.importers import ImportIssue
    from storage.repositories.codes import IssuedCode

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# (admin action, whether the role changed) -> what to tell the operator
ADMIN_OUTCOMES = {
    ("add", True): N_("{name} ({nip}) is now an HR admin."),
    ("add", False): N_("{name} ({nip}) was already an HR admin."),
    ("remove", True): N_("{name} ({nip}) is no longer an HR admin."),
    ("remove", False): N_("{name} ({nip}) was not an HR admin."),
}
MAX_CODE_DAYS = 90
BOT_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")
KIND_NAMES = {
    "employees": N_("employees"),
    "mutations": N_("mutations"),
    "trainings": N_("trainings"),
    "competencies": N_("competencies"),
    "formations": N_("unit formations"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_bot.py",
        description="Bot Mutasi & Kinerja ASN Kota Bukittinggi. Without a command: run.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run", help="migrate the database if needed, then poll Telegram (or serve a webhook)"
    )
    run.add_argument(
        "--no-migrate", action="store_true", help="do not apply pending migrations first"
    )
    run.add_argument(
        "--webhook",
        action="store_true",
        help="receive updates by webhook (WEBHOOK_URL, WEBHOOK_SECRET) instead of polling",
    )
    run.add_argument("--listen", metavar="HOST", help="webhook: address to listen on")
    run.add_argument("--port", type=int, metavar="PORT", help="webhook: port to listen on")
    run.add_argument("--url", metavar="URL", help="webhook: the public https:// URL")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser("upgrade", help="apply the Alembic migrations")

    imp = commands.add_parser(
        "import", help="import employees, mutations, trainings, competencies or formations"
    )
    imp.add_argument("file", type=Path, help="a CSV (comma or semicolon, UTF-8) or XLSX file")
    imp.add_argument(
        "--kind",
        choices=["employees", "mutations", "trainings", "competencies", "formations"],
        help="what the file holds (detected from the headers when not given)",
    )

    commands.add_parser("demo", help="load the demo data set into an empty database")

    coba = commands.add_parser(
        "coba",
        aliases=["try"],
        help="try the bot without Telegram: a chat page on the demo data (no token needed)",
    )
    coba.add_argument(
        "--port", type=int, default=DEFAULT_COBA_PORT, help="the page's port (default 8080)"
    )
    coba.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)"
    )
    coba.add_argument(
        "--database",
        type=Path,
        default=DEFAULT_COBA_DATABASE,
        help="its own SQLite file (default data/coba.db; the demo data is loaded when empty)",
    )

    admin = commands.add_parser("admin", help="grant or withdraw the HR admin role")
    admin_commands = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    for action, text in (("add", "grant the HR admin role"), ("remove", "withdraw it")):
        sub = admin_commands.add_parser(action, help=text)
        sub.add_argument("nip", help="the employee's NIP (spaces and dots allowed)")

    codes = commands.add_parser(
        "codes", help="make one-time activation codes to hand out (a list and an XLSX to print)"
    )
    who = codes.add_mutually_exclusive_group(required=True)
    who.add_argument("--unit", help="every active employee of this unit not yet linked")
    who.add_argument("--nip", help="one employee (spaces and dots allowed)")
    codes.add_argument(
        "--days",
        type=_code_days,
        default=14,
        help="how many days the codes stay valid (default 14, up to 90)",
    )
    codes.add_argument(
        "--output",
        type=Path,
        help="the XLSX file to write (default kode-aktivasi-<unit or NIP>-<date>.xlsx here)",
    )
    codes.add_argument(
        "--bot-username",
        type=_bot_username,
        help="the bot's @username, to print t.me links (without it the sheet has no links)",
    )

    days_off = commands.add_parser(
        "days-off", help="extra days off besides national holidays (cuti bersama, local ones)"
    )
    days_off_actions = days_off.add_subparsers(
        dest="days_off_command", metavar="ACTION", required=True
    )
    days_off_import = days_off_actions.add_parser(
        "import", help="import a CSV or XLSX file with the columns Tanggal, Keterangan"
    )
    days_off_import.add_argument("file", type=Path, help="a CSV (UTF-8) or XLSX file")
    days_off_add = days_off_actions.add_parser("add", help="add (or rename) one day off")
    days_off_add.add_argument("day", help="the date, YYYY-MM-DD")
    days_off_add.add_argument("name", nargs="?", default="", help='e.g. "Cuti bersama"')
    days_off_remove = days_off_actions.add_parser("remove", help="remove one day off")
    days_off_remove.add_argument("day", help="the date, YYYY-MM-DD")
    days_off_list = days_off_actions.add_parser("list", help="list the days off")
    days_off_list.add_argument("--year", type=int, help="only this year")
    from bot.cli_data import add_data_parser  # it builds on this module

    add_data_parser(commands)
    return parser


def _code_days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {value!r}") from None
    if not 1 <= days <= MAX_CODE_DAYS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_CODE_DAYS} days")
    return days


def _bot_username(value: str) -> str:
    name = value.strip().removeprefix("@")
    if not BOT_USERNAME.fullmatch(name):
        raise argparse.ArgumentTypeError(f"not a Telegram bot username: {value!r}")
    return name


def load_settings() -> Settings | None:
    """Settings from the environment, or ``None`` after printing what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]).upper()
            print(f"{field}: {error['msg']}", file=sys.stderr)
        return None


def token_present(settings: Settings, t: Translator) -> bool:
    """Whether BOT_TOKEN looks like a token; if not, say in one sentence how to get one."""
    if settings.token_is_valid:
        return True
    print(
        t(
            "BOT_TOKEN is missing or malformed: open Telegram, send /newbot to @BotFather, "
            "and put the token it gives you (like 123456789:AAH...) in BOT_TOKEN "
            "or in a .env file."
        ),
        file=sys.stderr,
    )
    return False


def _migrate(settings: Settings) -> None:
    from storage.migrate import upgrade

    upgrade(settings.database_url)


async def with_sessionmaker(settings: Settings, work: Callable[..., Awaitable[int]]) -> int:
    from storage.db import create_engine, create_sessionmaker

    engine = create_engine(settings.database_url)
    try:
        return await work(create_sessionmaker(engine))
    finally:
        await engine.dispose()


def command_run(settings: Settings, t: Translator, args: argparse.Namespace) -> int:
    if not token_present(settings, t):
        return EXIT_USAGE
    webhook = getattr(args, "webhook", False)
    if webhook:
        from bot.webhook import WebhookConfigError, check_settings, run_webhook

        overrides = {
            "webhook_listen": getattr(args, "listen", None),
            "webhook_port": getattr(args, "port", None),
            "webhook_url": getattr(args, "url", None),
        }
        settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        try:
            check_settings(settings)
        except WebhookConfigError as exc:
            print(t("Webhook mode cannot start: {reason}", reason=str(exc)), file=sys.stderr)
            return EXIT_USAGE
    if not getattr(args, "no_migrate", False):
        _migrate(settings)
    if webhook:
        run_webhook(settings)
        return EXIT_OK
    from bot.app import run_polling

    run_polling(settings)
    return EXIT_OK


def report_problems(issues: Sequence[ImportIssue], t: Translator) -> int:
    """Print why nothing was imported, one line per problem; the exit status to return."""
    print(
        t.ngettext(
            "Nothing was imported: {n} problem was found. Fix it and import again.",
            "Nothing was imported: {n} problems were found. Fix them and import again.",
            len(issues),
        ),
        file=sys.stderr,
    )
    for issue in issues:
        print(f"  {issue.render_line(t.gettext)}", file=sys.stderr)
    return EXIT_FAILED


def command_import(settings: Settings, t: Translator, file: Path, kind: str | None) -> int:
    from storage.importers import MAX_FILE_BYTES, ImportFileError, ImportKind, import_file

    if not file.is_file():
        print(t("File not found: {path}", path=file), file=sys.stderr)
        return EXIT_FAILED
    if file.stat().st_size > MAX_FILE_BYTES:
        print(
            t(
                "The file is too large ({size} MB); the limit is {limit} MB.",
                size=t.number(round(file.stat().st_size / 1024 / 1024, 1)),
                limit=t.number(MAX_FILE_BYTES // 1024 // 1024),
            ),
            file=sys.stderr,
        )
        return EXIT_FAILED
    _migrate(settings)
    data = file.read_bytes()

    async def work(sessionmaker) -> int:  # type: ignore[no-untyped-def]
        try:
            result = await import_file(
                sessionmaker,
                data,
                file.name,
                ImportKind(kind) if kind else None,
                actor_label="cli",
                timezone=settings.timezone,
            )
        except ImportFileError as exc:
            print(exc.issue.render(t.gettext), file=sys.stderr)
            return EXIT_FAILED
        if not result.ok:
            return report_problems(result.issues, t)
        print(
            t(
                "Imported {kind}: {rows} rows ({created} new, {updated} updated, "
                "{unchanged} unchanged).",
                kind=t(KIND_NAMES[result.kind.value]),
                rows=t.number(result.rows),
                created=t.number(result.created),
                updated=t.number(result.updated),
                unchanged=t.number(result.unchanged),
            )
        )
        if result.kind is ImportKind.MUTATIONS:
            # The outbox gets the pushes of the stage changes; the running bot sends them.
            from bot.mutation_notices import tell_pending

            try:
                queued = await tell_pending(sessionmaker, settings)
            except Exception:
                logging.getLogger(__name__).exception("telling the stage changes failed")
                print(
                    t(
                        "The import is saved; the running bot will queue the notices of the "
                        "stage changes."
                    ),
                    file=sys.stderr,
                )
                return EXIT_OK  # the import itself is saved
            if queued:
                print(
                    t.ngettext(
                        "{n} notice about the stage changes will be sent.",
                        "{n} notices about the stage changes will be sent.",
                        queued,
                    )
                )
        return EXIT_OK

    return asyncio.run(with_sessionmaker(settings, work))


def command_demo(settings: Settings, t: Translator) -> int:
    from storage.demo import load_demo

    _migrate(settings)

    async def work(sessionmaker) -> int:  # type: ignore[no-untyped-def]
        summary = await load_demo(sessionmaker)
        if not summary.created:
            print(t("The database already has employees; the demo data was not loaded."))
            return EXIT_OK
        print(
            t(
                "Demo data loaded: {employees} employees in {units} units, {mutations} mutations, "
                "{trainings} trainings, {evaluations} evaluations.",
                employees=t.number(summary.employees),
                units=t.number(summary.units),
                mutations=t.number(summary.mutations),
                trainings=t.number(summary.trainings),
                evaluations=t.number(summary.evaluations),
            )
        )
        return EXIT_OK

    return asyncio.run(with_sessionmaker(settings, work))


def command_coba(t: Translator, host: str, port: int, database: Path) -> int:
    """The emulator, the chat page and the bot on the demo data, until Ctrl+C."""
    from bot.tryout import serve, sqlite_url

    database.parent.mkdir(parents=True, exist_ok=True)

    def announce(url: str) -> None:
        print(t("Open {url} in a browser to try the bot (Ctrl+C stops it).", url=url), flush=True)

    print(t("Starting: the demo data, the Telegram emulator and the bot …"), flush=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(sqlite_url(database.resolve()), host, port, announce))
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        print(
            t(
                "Cannot listen on {host}:{port} ({reason}). Choose another port with --port.",
                host=host,
                port=port,
                reason=exc.strerror or exc,
            ),
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def command_admin(settings: Settings, t: Translator, action: str, raw_nip: str) -> int:
    from bot.rules.nip import normalize_nip
    from storage.repositories import EmployeeRepository

    _migrate(settings)
    nip = normalize_nip(raw_nip)

    async def work(sessionmaker) -> int:  # type: ignore[no-untyped-def]
        async with sessionmaker() as session, session.begin():
            repository = EmployeeRepository(session)
            employee = await repository.by_nip(nip)
            if employee is None:
                print(t("No employee has NIP {nip}.", nip=nip), file=sys.stderr)
                return EXIT_FAILED
            changed = await repository.set_hr_admin(
                employee, action == "add", actor_id=None, actor_label="cli"
            )
            name = employee.name
        print(t(ADMIN_OUTCOMES[action, changed], name=name, nip=nip))
        return EXIT_OK

    return asyncio.run(with_sessionmaker(settings, work))


class _NotWritten(Exception):
    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(path, error)
        self.path, self.error = path, error


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "pegawai"


def _print_code_table(t: Translator, issued: Sequence[IssuedCode]) -> None:
    from storage.repositories.codes import format_code

    header = (t("Name"), t("NIP"), t("Activation code"))
    rows = [(code.name, code.nip, format_code(code.code)) for code in issued]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(2)]
    for name, nip, code in (header, *rows):
        print(f"{name:<{widths[0]}}  {nip:<{widths[1]}}  {code}")


def command_codes(
    settings: Settings,
    t: Translator,
    *,
    unit: str | None,
    raw_nip: str | None,
    days: int,
    output: Path | None,
    bot_username: str | None,
) -> int:
    """Issue activation codes for a unit or one NIP; print them and write the XLSX to print."""
    from bot.rules.nip import normalize_nip
    from storage.exports import activation_codes_xlsx
    from storage.exports.activation_codes import valid_until_text
    from storage.models import utcnow
    from storage.repositories.codes import ActivationCodeRepository, expiry_at_end_of_day

    _migrate(settings)
    now = utcnow()
    expires_at = expiry_at_end_of_day(days, t.timezone, now)
    today = t.local(now).date()

    async def work(sessionmaker) -> int:  # type: ignore[no-untyped-def]
        async with sessionmaker() as session, session.begin():
            repository = ActivationCodeRepository(session)
            skipped = 0
            if unit is not None:
                roster = await repository.employees_for_unit(unit)
                if roster is None:
                    suggestions = await repository.unit_suggestions(unit)
                    message = t('No unit is named "{unit}".', unit=unit.strip())
                    if suggestions:
                        names = ", ".join(f'"{name}"' for name in suggestions)
                        message += " " + t("Did you mean {names}?", names=names)
                    print(message, file=sys.stderr)
                    return EXIT_FAILED
                if not roster.employees:
                    print(
                        t("{unit} has no active employees; no codes were made.", unit=roster.unit)
                    )
                    return EXIT_OK
                if not roster.eligible:
                    print(
                        t(
                            "Everyone in {unit} has already linked Telegram; no codes were made.",
                            unit=roster.unit,
                        )
                    )
                    return EXIT_OK
                targets, scope, label = roster.eligible, roster.unit, roster.unit
                skipped = len(roster.linked)
            else:
                nip = normalize_nip(raw_nip or "")
                candidate = await repository.employee_by_nip(nip)
                if candidate is None:
                    print(t("No employee has NIP {nip}.", nip=nip), file=sys.stderr)
                    return EXIT_FAILED
                if not candidate.active:
                    print(
                        t(
                            "{name} ({nip}) is no longer active; no code was made.",
                            name=candidate.name,
                            nip=nip,
                        ),
                        file=sys.stderr,
                    )
                    return EXIT_FAILED
                if candidate.linked:
                    print(
                        t(
                            "{name} ({nip}) has already linked Telegram; the account must be "
                            "unlinked before a new code can be made.",
                            name=candidate.name,
                            nip=nip,
                        ),
                        file=sys.stderr,
                    )
                    return EXIT_FAILED
                targets, scope, label = [candidate], None, nip
            issued = await repository.issue(
                [candidate.employee_id for candidate in targets],
                expires_at=expires_at,
                actor_label="cli",
                unit=scope,
                now=now,
            )
            data = activation_codes_xlsx(
                issued, translator=t, bot_username=bot_username, today=today
            )
            path = output or Path(f"kode-aktivasi-{_slug(label)}-{today:%Y%m%d}.xlsx")
            if path.is_dir():
                path = path / f"kode-aktivasi-{_slug(label)}-{today:%Y%m%d}.xlsx"
            try:
                path.write_bytes(data)
            except OSError as exc:
                # Rolled back: no new codes, and the employees' earlier codes stay valid.
                raise _NotWritten(path, exc) from exc
        _print_code_table(t, issued)
        print()
        if skipped:
            print(
                t.ngettext(
                    "{n} employee has already linked Telegram and got no code.",
                    "{n} employees have already linked Telegram and got no code.",
                    skipped,
                )
            )
        valid_until, written_to = valid_until_text(t, expires_at), path.resolve()
        print(
            t.ngettext(
                "{n} code, valid until {date}, written to {path}",
                "{n} codes, valid until {date}, written to {path}",
                len(issued),
                date=valid_until,
                path=written_to,
            )
        )
        return EXIT_OK

    try:
        return asyncio.run(with_sessionmaker(settings, work))
    except _NotWritten as failure:
        print(
            t(
                "Cannot write {path}: {reason}. No codes were made.",
                path=failure.path,
                reason=failure.error.strerror or failure.error,
            ),
            file=sys.stderr,
        )
        return EXIT_FAILED


def command_days_off(settings: Settings, t: Translator, args: argparse.Namespace) -> int:
    """``days-off import FILE | add DATE [NAME] | remove DATE | list [--year YEAR]``."""
    import datetime as dt

    from storage.importers import ImportFileError
    from storage.importers.cells import parse_date
    from storage.repositories.days_off import DaysOffRepository

    action = args.days_off_command
    day: dt.date | None = None
    if action in ("add", "remove"):
        day = parse_date(args.day)
        if day is None:
            print(
                t('"{value}" is not a valid date. Use YYYY-MM-DD.', value=args.day), file=sys.stderr
            )
            return EXIT_USAGE
    data = b""
    if action == "import":
        if not args.file.is_file():
            print(t("File not found: {path}", path=args.file), file=sys.stderr)
            return EXIT_FAILED
        data = args.file.read_bytes()
    _migrate(settings)

    async def work(sessionmaker) -> int:  # type: ignore[no-untyped-def]
        async with sessionmaker() as session, session.begin():
            repository = DaysOffRepository(session)
            if action == "import":
                try:
                    result = await repository.import_file(data, args.file.name, actor_label="cli")
                except ImportFileError as exc:
                    print(exc.issue.render(t.gettext), file=sys.stderr)
                    return EXIT_FAILED
                if not result.ok:
                    return report_problems(result.issues, t)
                print(
                    t(
                        "Imported days off: {rows} rows ({created} new, {updated} updated, "
                        "{unchanged} unchanged).",
                        rows=t.number(result.rows),
                        created=t.number(result.created),
                        updated=t.number(result.updated),
                        unchanged=t.number(result.unchanged),
                    )
                )
                return EXIT_OK
            if action == "add":
                assert day is not None
                outcome = await repository.add(day, args.name, actor_label="cli")
                messages = {
                    "created": t("Day off added: {date}.", date=t.date(day)),
                    "updated": t("Day off updated: {date}.", date=t.date(day)),
                    "unchanged": t("{date} is already a day off.", date=t.date(day)),
                }
                print(messages[outcome])
                return EXIT_OK
            if action == "remove":
                assert day is not None
                if not await repository.remove(day, actor_label="cli"):
                    print(t("{date} is not a day off.", date=t.date(day)), file=sys.stderr)
                    return EXIT_FAILED
                print(t("Day off removed: {date}.", date=t.date(day)))
                return EXIT_OK
            year = args.year
            entries = await repository.list(
                dt.date(year, 1, 1) if year else None, dt.date(year, 12, 31) if year else None
            )
        if not entries:
            print(t("No extra days off are recorded."))
        for entry in entries:
            print(
                "  ".join(
                    part for part in (entry.day.isoformat(), t.date(entry.day), entry.name) if part
                )
            )
        return EXIT_OK

    return asyncio.run(with_sessionmaker(settings, work))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The bot logs its work; one-shot commands print only their result (and warnings).
    running = args.command in (None, "run")  # "coba" prints only its address
    level = logging.INFO if running else logging.WARNING
    configure_logging(level)  # until the settings (LOG_FORMAT) are read
    settings = load_settings()
    if settings is None:
        return EXIT_USAGE
    configure_logging(level, settings.log_format)
    t = get_translator(settings.default_language, settings.timezone)
    try:
        return _dispatch(args, settings, t)
    except (DBAPIError, OSError) as exc:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        print(
            t("Cannot use the database {url}: {reason}", url=where, reason=_first_line(exc)),
            file=sys.stderr,
        )
        return EXIT_FAILED


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _dispatch(args: argparse.Namespace, settings: Settings, t: Translator) -> int:
    match args.command:
        case None | "run":
            return command_run(settings, t, args)
        case "db":
            _migrate(settings)
            print(t("The database is up to date."))
            return EXIT_OK
        case "import":
            return command_import(settings, t, args.file, args.kind)
        case "demo":
            return command_demo(settings, t)
        case "coba" | "try":
            return command_coba(t, args.host, args.port, args.database)
        case "admin":
            return command_admin(settings, t, args.admin_command, args.nip)
        case "codes":
            return command_codes(
                settings,
                t,
                unit=args.unit,
                raw_nip=args.nip,
                days=args.days,
                output=args.output,
                bot_username=args.bot_username or getattr(settings, "bot_username", None),
            )
        case "days-off":
            return command_days_off(settings, t, args)
        case "data":
            from bot.cli_data import command_data

            return command_data(settings, t, args)
    return EXIT_USAGE
