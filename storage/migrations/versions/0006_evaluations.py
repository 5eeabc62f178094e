"""evaluations: reopened periods, coaching assignments

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'evaluation_reopenings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('period_id', sa.Integer(), nullable=False),
        sa.Column('evaluator_id', sa.Integer(), nullable=True),
        sa.Column('until', sa.Date(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['created_by_id'],
            ['employees.id'],
            name=op.f('fk_evaluation_reopenings_created_by_id_employees'),
        ),
        sa.ForeignKeyConstraint(
            ['evaluator_id'],
            ['employees.id'],
            name=op.f('fk_evaluation_reopenings_evaluator_id_employees'),
        ),
        sa.ForeignKeyConstraint(
            ['period_id'],
            ['evaluation_periods.id'],
            name=op.f('fk_evaluation_reopenings_period_id_evaluation_periods'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_reopenings')),
    )
    with op.batch_alter_table('evaluation_reopenings', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_evaluation_reopenings_period_id'), ['period_id'], unique=False
        )
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('coaching_training_id', sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column('coaching_assigned_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('coaching_assigned_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_evaluations_coaching_training_id_trainings'),
            'trainings',
            ['coaching_training_id'],
            ['id'],
            ondelete='SET NULL',
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_evaluations_coaching_assigned_by_id_employees'),
            'employees',
            ['coaching_assigned_by_id'],
            ['id'],
        )


def downgrade() -> None:
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_evaluations_coaching_assigned_by_id_employees'), type_='foreignkey'
        )
        batch_op.drop_constraint(
            batch_op.f('fk_evaluations_coaching_training_id_trainings'), type_='foreignkey'
        )
        batch_op.drop_column('coaching_assigned_by_id')
        batch_op.drop_column('coaching_assigned_at')
        batch_op.drop_column('coaching_training_id')
    with op.batch_alter_table('evaluation_reopenings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluation_reopenings_period_id'))
    op.drop_table('evaluation_reopenings')
