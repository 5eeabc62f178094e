"""mutation status: missing documents, inauguration, new supervisor, stage notices

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('mutations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('missing_documents', sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column('inauguration_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('to_supervisor_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_mutations_to_supervisor_id_employees'),
            'employees',
            ['to_supervisor_id'],
            ['id'],
            ondelete='SET NULL',
        )
    with op.batch_alter_table('mutation_events', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f('ix_mutation_events_notified_at'), ['notified_at'], unique=False
        )
    # Stage changes recorded before this version are history: nobody is told of them now.
    op.execute('UPDATE mutation_events SET notified_at = changed_at')


def downgrade() -> None:
    with op.batch_alter_table('mutation_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mutation_events_notified_at'))
        batch_op.drop_column('notified_at')
    with op.batch_alter_table('mutations', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_mutations_to_supervisor_id_employees'), type_='foreignkey'
        )
        batch_op.drop_column('to_supervisor_id')
        batch_op.drop_column('inauguration_at')
        batch_op.drop_column('missing_documents')
