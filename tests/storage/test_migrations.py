"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage.migrate import head_revision
from storage.models import Base


async def test_migrated_schema_matches_the_models(engine):
    def differences(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return context.get_current_revision(), compare_metadata(context, Base.metadata)

    async with engine.connect() as connection:
        revision, diff = await connection.run_sync(differences)
    assert revision == head_revision()
    assert diff == []
