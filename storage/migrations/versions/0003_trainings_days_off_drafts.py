"""trainings in chat, days off, drafts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op



revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('days_off',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_days_off')),
    sa.UniqueConstraint('day', name=op.f('uq_days_off_day'))
    )
    op.create_table('drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('telegram_user_id', sa.BigInteger(), nullable=False),
    sa.Column('flow', sa.String(length=40), nullable=False),
    sa.Column('step', sa.String(length=40), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drafts')),
    sa.UniqueConstraint('telegram_user_id', 'flow', name=op.f('uq_drafts_telegram_user_id'))
    )
    with op.batch_alter_table('training_participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('absence_reason', sa.Text(), nullable=True))

    with op.batch_alter_table('trainings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('created_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_trainings_created_by_id_employees'), 'employees', ['created_by_id'], ['id'])




def downgrade() -> None:

    with op.batch_alter_table('trainings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_trainings_created_by_id_employees'), type_='foreignkey')
        batch_op.drop_column('created_by_id')
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_at')

    with op.batch_alter_table('training_participants', schema=None) as batch_op:
        batch_op.drop_column('absence_reason')

    op.drop_table('drafts')
    op.drop_table('days_off')

