"""The expected columns of each kind of file, and how a header row is matched to them.

Headers are matched ignoring case, spaces and punctuation: "No. HP", "no hp" and "NO_HP"
are the same column. Unknown extra columns are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from storage.importers import messages as m
from storage.importers.base import ImportFileError, ImportKind

_NOT_WORD = re.compile(r"[\W_]+")


def header_key(text: object) -> str:
    return _NOT_WORD.sub("", str(text).casefold()) if text is not None else ""


@dataclass(frozen=True, slots=True)
class Column:
    field: str
    header: str
    required: bool = True
    aliases: tuple[str, ...] = ()

    @property
    def keys(self) -> frozenset[str]:
        return frozenset({header_key(self.header), *map(header_key, self.aliases)})


COLUMNS: dict[ImportKind, tuple[Column, ...]] = {
    ImportKind.EMPLOYEES: (
        Column("nip", "NIP"),
        Column("name", "Nama"),
        Column("type", "Jenis (PNS/PPPK)", aliases=("Jenis", "Jenis Pegawai")),
        Column("position", "Jabatan"),
        Column("rank", "Golongan", required=False),
        Column("unit", "Unit Kerja"),
        Column("supervisor", "NIP Atasan", required=False),
        Column("phone", "No HP", required=False, aliases=("Nomor HP", "HP")),
        Column(
            "post_since",
            "TMT Jabatan",
            required=False,
            aliases=("TMT Jabatan Terakhir", "Tanggal TMT Jabatan"),
        ),
        Column("potential", "Potensi", required=False, aliases=("Tingkat Potensi",)),
    ),
    ImportKind.MUTATIONS: (
        Column("nip", "NIP"),
        Column("type", "Jenis Mutasi"),
        Column("from_unit", "Unit Asal"),
        Column("from_position", "Jabatan Asal", required=False),
        Column("to_unit", "Unit Tujuan"),
        Column("to_position", "Jabatan Tujuan", required=False),
        Column("stage", "Tahap"),
        Column("sk_number", "No SK", required=False, aliases=("Nomor SK",)),
        Column("sk_date", "Tanggal SK", required=False),
        Column("tmt", "TMT", required=False),
        Column("note", "Catatan", required=False),
        Column(
            "documents",
            "Dokumen Kurang",
            required=False,
            aliases=("Dokumen yang Kurang", "Kekurangan Dokumen", "Berkas Kurang"),
        ),
        Column(
            "inauguration",
            "Jadwal Pelantikan",
            required=False,
            aliases=("Waktu Pelantikan", "Tanggal Pelantikan"),
        ),
        Column("new_supervisor", "NIP Atasan Baru", required=False, aliases=("Atasan Baru",)),
    ),
    ImportKind.TRAININGS: (
        Column("code", "Kode"),
        Column("title", "Judul"),
        Column("start", "Mulai"),
        Column("end", "Selesai"),
        Column("place", "Tempat", required=False),
        Column("nip", "NIP"),
    ),
    ImportKind.COMPETENCIES: (
        Column("nip", "NIP"),
        Column("competency", "Kompetensi", aliases=("Nama Kompetensi",)),
        Column("level", "Tingkat", aliases=("Tingkat Kompetensi", "Level")),
    ),
    ImportKind.FORMATIONS: (
        Column("unit", "Unit", aliases=("Unit Kerja",)),
        Column("position", "Jabatan"),
        Column("required", "Formasi", aliases=("Jumlah Formasi", "Kebutuhan")),
    ),
}

_LOOKUP: dict[ImportKind, dict[str, Column]] = {
    kind: {key: column for column in columns for key in column.keys}
    for kind, columns in COLUMNS.items()
}


def expected_header_line(kind: ImportKind) -> str:
    return ", ".join(column.header for column in COLUMNS[kind])


def _present(headers: Sequence[object], kind: ImportKind) -> set[str]:
    lookup = _LOOKUP[kind]
    return {lookup[key].field for key in map(header_key, headers) if key in lookup}


def _missing(present: set[str], kind: ImportKind) -> list[Column]:
    return [c for c in COLUMNS[kind] if c.required and c.field not in present]


def detect_kind(headers: Sequence[str]) -> ImportKind | None:
    """The kind whose required columns are all in ``headers`` (the best match if several)."""
    best: tuple[int, ImportKind] | None = None
    for kind in ImportKind:
        present = _present(headers, kind)
        if not _missing(present, kind) and (best is None or len(present) > best[0]):
            best = (len(present), kind)
    return best[1] if best else None


@dataclass(frozen=True, slots=True)
class Layout:
    """Where each known column is: field -> (index in the row, header as written in the file)."""

    kind: ImportKind
    positions: dict[str, tuple[int, str]]

    def has(self, field: str) -> bool:
        return field in self.positions

    def header(self, field: str) -> str:
        """The column as headed in the file (the expected header when the column is absent)."""
        if field in self.positions:
            return self.positions[field][1]
        return next(c.header for c in COLUMNS[self.kind] if c.field == field)


def choose_kind(headers: Sequence[str], kind: ImportKind | None) -> ImportKind:
    """The kind to import: ``kind`` if given, else detected; a clear error when neither fits."""
    if kind is not None:
        return kind
    detected = detect_kind(headers)
    if detected is not None:
        return detected
    scores = {k: len(_present(headers, k)) for k in ImportKind}
    best = max(ImportKind, key=lambda k: scores[k])
    # A recognisable attempt at one kind: say what is missing; otherwise show every kind's line.
    if scores[best] >= 2 and list(scores.values()).count(scores[best]) == 1:
        return best
    raise ImportFileError(
        m.FILE_UNKNOWN_HEADERS,
        employees=expected_header_line(ImportKind.EMPLOYEES),
        mutations=expected_header_line(ImportKind.MUTATIONS),
        trainings=expected_header_line(ImportKind.TRAININGS),
        competencies=expected_header_line(ImportKind.COMPETENCIES),
        formations=expected_header_line(ImportKind.FORMATIONS),
    )


def layout(headers: Sequence[str], kind: ImportKind) -> Layout:
    """Map the header row to ``kind``'s columns; missing required or doubled columns fail."""
    lookup = _LOOKUP[kind]
    positions: dict[str, tuple[int, str]] = {}
    for index, raw in enumerate(headers):
        column = lookup.get(header_key(raw))
        if column is None:
            continue
        if column.field in positions:
            raise ImportFileError(m.FILE_DUPLICATE_COLUMN, column=str(raw).strip())
        positions[column.field] = (index, str(raw).strip())
    missing = _missing(set(positions), kind)
    if missing:
        raise ImportFileError(
            m.FILE_MISSING_COLUMNS,
            missing=", ".join(c.header for c in missing),
            expected=expected_header_line(kind),
        )
    return Layout(kind, positions)
