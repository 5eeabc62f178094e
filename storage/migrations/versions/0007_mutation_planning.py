"""mutation planning: post since, potential, competencies, unit formations

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'competencies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('employee_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('level', sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(
            ['employee_id'],
            ['employees.id'],
            name=op.f('fk_competencies_employee_id_employees'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_competencies')),
        sa.UniqueConstraint('employee_id', 'name', name=op.f('uq_competencies_employee_id')),
    )
    op.create_table(
        'unit_formations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.String(length=200), nullable=False),
        sa.Column('required', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['unit_id'],
            ['units.id'],
            name=op.f('fk_unit_formations_unit_id_units'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_formations')),
        sa.UniqueConstraint('unit_id', 'position', name=op.f('uq_unit_formations_unit_id')),
    )
    with op.batch_alter_table('employees', schema=None) as batch_op:
        batch_op.add_column(sa.Column('post_since', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('potential', sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('employees', schema=None) as batch_op:
        batch_op.drop_column('potential')
        batch_op.drop_column('post_since')
    op.drop_table('unit_formations')
    op.drop_table('competencies')
