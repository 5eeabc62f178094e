"""scale-out and privacy: the shared send budget; finished updates; purged outbox contents

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'send_budget',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('next_slot_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_send_budget')),
    )
    if op.get_bind().dialect.name == 'postgresql':
        # A slot's time needs no durability (after a crash the row is made again), and an
        # unlogged row's UPDATE commits without waiting for the WAL to reach the disk: every
        # process's sends queue on that row lock.
        op.execute('ALTER TABLE send_budget SET UNLOGGED')
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('content_purged_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('processed_updates') as batch:
        batch.add_column(sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('processed_updates') as batch:
        batch.drop_column('finished_at')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('content_purged_at')
    op.drop_table('send_budget')
