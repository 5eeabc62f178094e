"""Result types shared by the importers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from storage.importers import messages as m


class ImportKind(StrEnum):
    EMPLOYEES = "employees"
    MUTATIONS = "mutations"
    TRAININGS = "trainings"
    COMPETENCIES = "competencies"
    FORMATIONS = "formations"


class Msgid(str):
    """A parameter value that is itself a gettext msgid: it is translated when rendered."""

    __slots__ = ()


class _Lenient(dict[str, object]):
    """Leave an unknown ``{placeholder}`` as it is rather than fail (e.g. a typo in a catalog)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _identity(message: str) -> str:
    return message


@dataclass(slots=True)
class ImportIssue:
    """One problem: where (spreadsheet row, header row = 1; column as headed) and why.

    ``message`` is a gettext msgid; ``params`` fill its placeholders. Parameters of type
    :class:`Msgid` are translated too (with the same parameters). Values come from the
    file as they are: escape them before putting a rendered issue into HTML.
    """

    row: int | None
    column: str | None
    message: str
    params: dict[str, object] = field(default_factory=dict)

    def render(self, gettext: Callable[[str], str] = _identity) -> str:
        """The reason in the reader's language (without the row and column)."""
        values = _Lenient(self.params)
        for key, value in self.params.items():
            if isinstance(value, Msgid):
                values[key] = gettext(value).format_map(_Lenient(self.params))
        return gettext(self.message).format_map(values)

    def render_line(self, gettext: Callable[[str], str] = _identity) -> str:
        """``Row 5, column NIP: reason`` (or just the reason for a file-level issue)."""
        reason = self.render(gettext)
        if self.row is None:
            return reason
        if self.column is None:
            return gettext(m.LINE_ROW).format(row=self.row, reason=reason)
        return gettext(m.LINE_ROW_COLUMN).format(row=self.row, column=self.column, reason=reason)


@dataclass(slots=True)
class ImportResult:
    """What an import did; when ``issues`` is not empty nothing was written."""

    kind: ImportKind
    rows: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    issues: list[ImportIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


class ImportFileError(Exception):
    """The file as a whole cannot be imported (format, size, headers); carries one issue."""

    def __init__(self, message: str, /, **params: object) -> None:
        self.issue = ImportIssue(None, None, message, params)
        super().__init__(self.issue.render())


class Issues:
    """Collects row issues; sorted by row, then by the order the checks ran."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[ImportIssue] = []

    def add(self, row: int | None, column: str | None, message: str, **params: object) -> None:
        self.items.append(ImportIssue(row, column, message, params))

    def __bool__(self) -> bool:
        return bool(self.items)

    def sorted(self) -> list[ImportIssue]:
        return sorted(self.items, key=lambda issue: issue.row or 0)


def rows_text(rows: list[int]) -> str:
    return ", ".join(str(row) for row in rows)
