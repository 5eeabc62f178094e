"""announcements and their recipients

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'announcements',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('content', sa.JSON(), nullable=False),
        sa.Column('audience', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('send_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
        sa.Column('resent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resent_by_id', sa.Integer(), nullable=True),
        sa.Column('progress_message_id', sa.BigInteger(), nullable=True),
        sa.Column('progress_edited_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['created_by_id'],
            ['employees.id'],
            name=op.f('fk_announcements_created_by_id_employees'),
        ),
        sa.ForeignKeyConstraint(
            ['cancelled_by_id'],
            ['employees.id'],
            name=op.f('fk_announcements_cancelled_by_id_employees'),
        ),
        sa.ForeignKeyConstraint(
            ['resent_by_id'],
            ['employees.id'],
            name=op.f('fk_announcements_resent_by_id_employees'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_announcements')),
    )
    op.create_index(
        'ix_announcements_status_send_at', 'announcements', ['status', 'send_at'], unique=False
    )
    op.create_table(
        'announcement_recipients',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('announcement_id', sa.Integer(), nullable=False),
        sa.Column('employee_id', sa.Integer(), nullable=False),
        sa.Column('outbox_id', sa.Integer(), nullable=True),
        sa.Column('skipped', sa.String(length=12), nullable=True),
        sa.Column('first_outbox_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['announcement_id'],
            ['announcements.id'],
            name=op.f('fk_announcement_recipients_announcement_id_announcements'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['employee_id'],
            ['employees.id'],
            name=op.f('fk_announcement_recipients_employee_id_employees'),
        ),
        sa.ForeignKeyConstraint(
            ['outbox_id'],
            ['outbox.id'],
            name=op.f('fk_announcement_recipients_outbox_id_outbox'),
        ),
        sa.ForeignKeyConstraint(
            ['first_outbox_id'],
            ['outbox.id'],
            name=op.f('fk_announcement_recipients_first_outbox_id_outbox'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_announcement_recipients')),
        sa.UniqueConstraint(
            'announcement_id', 'employee_id', name=op.f('uq_announcement_recipients_announcement_id')
        ),
    )
    op.create_index(
        op.f('ix_announcement_recipients_announcement_id'),
        'announcement_recipients',
        ['announcement_id'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f('ix_announcement_recipients_announcement_id'), table_name='announcement_recipients'
    )
    op.drop_table('announcement_recipients')
    op.drop_index('ix_announcements_status_send_at', table_name='announcements')
    op.drop_table('announcements')
