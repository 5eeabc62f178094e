"""Shared fixtures: a freshly migrated database per test, on SQLite or PostgreSQL.

``TEST_DATABASE_URL`` chooses the server: unset (or a SQLite URL) runs on SQLite
files in a temporary folder; a PostgreSQL URL (e.g. ``postgresql://postgres@127.0.0.1:5432/test``)
makes one scratch database for the session on that server and empties it between tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import normalize_database_url
from storage.db import create_engine, create_sessionmaker, is_sqlite
from storage.migrate import upgrade
from storage.models import Base

TEST_DATABASE_URL = normalize_database_url(os.environ.get("TEST_DATABASE_URL", "sqlite://"))
ON_POSTGRES = not is_sqlite(TEST_DATABASE_URL)


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL' if ON_POSTGRES else 'SQLite'}"


async def _admin_execute(server_url: str, *statements: str) -> None:
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated SQLite file to copy, or the URL of a migrated scratch PostgreSQL database."""
    if not ON_POSTGRES:
        path = tmp_path_factory.mktemp("db") / "template.db"
        upgrade(f"sqlite+aiosqlite:///{path}")
        yield str(path)
        return
    name = f"bot_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    server = make_url(TEST_DATABASE_URL)
    asyncio.run(_admin_execute(server.render_as_string(False), f'CREATE DATABASE "{name}"'))
    scratch = server.set(database=name).render_as_string(hide_password=False)
    upgrade(scratch)
    yield scratch
    asyncio.run(
        _admin_execute(
            server.render_as_string(False), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        )
    )


# Emptying with DELETE, not TRUNCATE: TRUNCATE gives every table new files (about 0.3 s for
# all of them, per test); DELETE on the few rows a test leaves takes milliseconds. Foreign
# keys are not checked meanwhile (replica role: every table is emptied anyway), and every
# sequence starts again at 1, as TRUNCATE … RESTART IDENTITY would.
_EMPTY_POSTGRES = "\n".join(
    [
        "SET session_replication_role = replica;",
        *(f'DELETE FROM "{table.name}";' for table in reversed(Base.metadata.sorted_tables)),
        "SET session_replication_role = DEFAULT;",
        "SELECT setval(c.oid, 1, false) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind = 'S' AND n.nspname = current_schema();",
    ]
)


async def _empty_postgres(url: str) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(_EMPTY_POSTGRES)
    finally:
        await connection.close()


@pytest.fixture
def database_url(_template: str, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database for this test only."""
    if not ON_POSTGRES:
        path = tmp_path / "bot.db"
        shutil.copyfile(_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    asyncio.run(_empty_postgres(_template))
    yield _template


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)
