"""Bulk INSERT and UPDATE of many rows in as few round trips as the database allows.

An import writes thousands of rows; going through the ORM, or even through Core's
per-row parameter handling, would cost more than reading the file. So:

- PostgreSQL: one statement per call, the rows passed as one array per column and turned
  back into rows by ``unnest`` (``INSERT ... SELECT * FROM unnest(...)``,
  ``UPDATE ... FROM unnest(...)``).
- SQLite (in-process): the driver's ``executemany`` on a plain statement.
- Any other database: Core ``insert()`` / ``update()`` with ``executemany``.

Values are converted by each column's own SQLAlchemy type (``bind_processor``), and the
columns' Python-side defaults are filled in, so the stored data is exactly what the ORM
would write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Table, bindparam, insert, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

# PostgreSQL: rows per statement (keeps each message a few MB at most).
PG_CHUNK = 20_000
KEY_CHUNK = 5_000
# Dialects with a fast path; the others go through Core.
FAST_PATHS = frozenset({"postgresql", "sqlite"})


def _python_defaults(table: Table, given: Sequence[str]) -> dict[str, Any]:
    """Values of the Python-side defaults (``default=...``) of the columns not given."""
    values: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.name in given or default is None or column.primary_key:
            continue
        if default.is_scalar:
            values[column.name] = default.arg  # type: ignore[attr-defined]
        elif default.is_callable:
            values[column.name] = default.arg(None)  # type: ignore[attr-defined]
    return values


def _columns(
    dialect: Dialect,
    table: Table,
    rows: Sequence[dict[str, Any]],
    names: Sequence[str],
    defaults: dict[str, Any] | None = None,
) -> tuple[list[Column[Any]], list[list[Any]]]:
    """The columns and one list of driver-ready values per column."""
    defaults = defaults or {}
    columns = [table.c[name] for name in (*names, *defaults)]
    data: list[list[Any]] = []
    for column in columns:
        name = column.name
        if name in defaults:
            values = [defaults[name]] * len(rows)
        else:
            values = [row[name] for row in rows]
        processor = column.type.bind_processor(dialect)
        if processor is not None:
            values = [processor(value) for value in values]
        data.append(values)
    return columns, data


def _pg_type(column: Column[Any], dialect: Dialect) -> str:
    return column.type.compile(dialect=dialect) + "[]"


async def insert_rows(
    connection: AsyncConnection,
    table: Table,
    rows: list[dict[str, Any]],
    returning: tuple[str, str] | None = None,
) -> list[tuple[Any, Any]]:
    """Insert ``rows`` (dicts with the same keys); optionally return ``returning`` pairs."""
    if not rows:
        return []
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    names = list(rows[0])
    defaults = _python_defaults(table, names)
    if dialect.name == "postgresql" and dialect.name in FAST_PATHS:
        found: list[tuple[Any, Any]] = []
        for start in range(0, len(rows), PG_CHUNK):
            columns, data = _columns(
                dialect, table, rows[start : start + PG_CHUNK], names, defaults
            )
            arrays = ", ".join(
                f"CAST(:p{i} AS {_pg_type(column, dialect)})" for i, column in enumerate(columns)
            )
            sql = (
                f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
                f"SELECT * FROM unnest({arrays})"
            )
            if returning:
                sql += f" RETURNING {quote(returning[0])}, {quote(returning[1])}"
            result = await connection.execute(
                text(sql), {f"p{i}": values for i, values in enumerate(data)}
            )
            if returning:
                found.extend(result.all())
        return found

    if dialect.name == "sqlite" and dialect.name in FAST_PATHS:
        columns, data = _columns(dialect, table, rows, names, defaults)
        sql = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        await connection.exec_driver_sql(sql, list(zip(*data, strict=True)))
    else:
        await connection.execute(insert(table), rows)
    if not returning:
        return []
    key, value = table.c[returning[0]], table.c[returning[1]]
    keys = [row[returning[0]] for row in rows]
    found = []
    for start in range(0, len(keys), KEY_CHUNK):
        chunk = keys[start : start + KEY_CHUNK]
        result = await connection.execute(
            table.select().with_only_columns(key, value).where(key.in_(chunk))
        )
        found.extend(result.all())
    return found


async def update_rows(
    connection: AsyncConnection, table: Table, rows: list[dict[str, Any]], key: str = "id"
) -> None:
    """``UPDATE table SET <other keys> WHERE <key> = ...`` for each of ``rows``."""
    if not rows:
        return
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    names = [key, *(name for name in rows[0] if name != key)]
    if dialect.name == "postgresql" and dialect.name in FAST_PATHS:
        for start in range(0, len(rows), PG_CHUNK):
            columns, data = _columns(dialect, table, rows[start : start + PG_CHUNK], names)
            arrays = ", ".join(
                f"CAST(:p{i} AS {_pg_type(column, dialect)})" for i, column in enumerate(columns)
            )
            aliases = ", ".join(f"c{i}" for i in range(len(columns)))
            assignments = ", ".join(
                f"{quote(column.name)} = v.c{i}" for i, column in enumerate(columns) if i
            )
            sql = (
                f"UPDATE {quote(table.name)} SET {assignments} "
                f"FROM unnest({arrays}) AS v({aliases}) "
                f"WHERE {quote(table.name)}.{quote(key)} = v.c0"
            )
            await connection.execute(text(sql), {f"p{i}": values for i, values in enumerate(data)})
        return
    if dialect.name == "sqlite" and dialect.name in FAST_PATHS:
        columns, data = _columns(dialect, table, rows, names)
        assignments = ", ".join(f"{quote(c.name)} = ?" for c in columns[1:])
        sql = f"UPDATE {quote(table.name)} SET {assignments} WHERE {quote(key)} = ?"
        await connection.exec_driver_sql(sql, list(zip(*data[1:], data[0], strict=True)))
        return
    statement = (
        update(table)
        .where(table.c[key] == bindparam("_key"))
        .values({name: bindparam(name) for name in names[1:]})
    )
    await connection.execute(
        statement, [{**{n: row[n] for n in names[1:]}, "_key": row[key]} for row in rows]
    )
