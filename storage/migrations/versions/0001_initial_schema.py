"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op



revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    
    op.create_table('evaluation_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('opens_on', sa.Date(), nullable=False),
    sa.Column('closes_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_periods')),
    sa.UniqueConstraint('year', 'month', name=op.f('uq_evaluation_periods_year'))
    )
    op.create_table('telegram_users',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('first_name', sa.String(length=200), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_telegram_users'))
    )
    op.create_table('units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_units')),
    sa.UniqueConstraint('name', name=op.f('uq_units_name'))
    )
    op.create_table('employees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nip', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('employee_type', sa.String(length=8), nullable=False),
    sa.Column('position', sa.String(length=200), nullable=False),
    sa.Column('rank', sa.String(length=40), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('supervisor_id', sa.Integer(), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('telegram_user_id', sa.BigInteger(), nullable=True),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('reachable', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('blocked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['supervisor_id'], ['employees.id'], name=op.f('fk_employees_supervisor_id_employees'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_employees_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employees')),
    sa.UniqueConstraint('nip', name=op.f('uq_employees_nip')),
    sa.UniqueConstraint('telegram_user_id', name=op.f('uq_employees_telegram_user_id'))
    )
    with op.batch_alter_table('employees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employees_phone'), ['phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_employees_supervisor_id'), ['supervisor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_employees_unit_id'), ['unit_id'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity_type', sa.String(length=40), nullable=True),
    sa.Column('entity_id', sa.String(length=60), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['employees.id'], name=op.f('fk_audit_log_actor_id_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)

    op.create_table('evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('employee_id', sa.Integer(), nullable=False),
    sa.Column('evaluator_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('work_result', sa.String(length=10), nullable=True),
    sa.Column('behaviour_ratings', sa.JSON(), nullable=False),
    sa.Column('behaviour', sa.String(length=10), nullable=True),
    sa.Column('predicate', sa.String(length=30), nullable=True),
    sa.Column('feedback', sa.Text(), nullable=True),
    sa.Column('current_step', sa.String(length=30), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.id'], name=op.f('fk_evaluations_employee_id_employees')),
    sa.ForeignKeyConstraint(['evaluator_id'], ['employees.id'], name=op.f('fk_evaluations_evaluator_id_employees')),
    sa.ForeignKeyConstraint(['period_id'], ['evaluation_periods.id'], name=op.f('fk_evaluations_period_id_evaluation_periods')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluations')),
    sa.UniqueConstraint('period_id', 'employee_id', name=op.f('uq_evaluations_period_id'))
    )
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evaluations_employee_id'), ['employee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evaluations_evaluator_id'), ['evaluator_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evaluations_period_id'), ['period_id'], unique=False)

    op.create_table('mutations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('employee_id', sa.Integer(), nullable=False),
    sa.Column('mutation_type', sa.String(length=20), nullable=False),
    sa.Column('from_unit', sa.String(length=200), nullable=False),
    sa.Column('from_position', sa.String(length=200), nullable=False),
    sa.Column('to_unit', sa.String(length=200), nullable=False),
    sa.Column('to_position', sa.String(length=200), nullable=False),
    sa.Column('external', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('stage', sa.String(length=30), nullable=False),
    sa.Column('stage_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sk_number', sa.String(length=100), nullable=True),
    sa.Column('sk_date', sa.Date(), nullable=True),
    sa.Column('tmt_date', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.id'], name=op.f('fk_mutations_employee_id_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mutations'))
    )
    with op.batch_alter_table('mutations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mutations_employee_id'), ['employee_id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('employee_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('urgent', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('telegram_message_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.id'], name=op.f('fk_outbox_employee_id_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbox_idempotency_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_employee_id'), ['employee_id'], unique=False)
        batch_op.create_index('ix_outbox_status_due', ['status', 'not_before'], unique=False)

    op.create_table('mutation_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mutation_id', sa.Integer(), nullable=False),
    sa.Column('from_stage', sa.String(length=30), nullable=True),
    sa.Column('to_stage', sa.String(length=30), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.Column('changed_by_label', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['changed_by_id'], ['employees.id'], name=op.f('fk_mutation_events_changed_by_id_employees')),
    sa.ForeignKeyConstraint(['mutation_id'], ['mutations.id'], name=op.f('fk_mutation_events_mutation_id_mutations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mutation_events'))
    )
    with op.batch_alter_table('mutation_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mutation_events_mutation_id'), ['mutation_id'], unique=False)

    op.create_table('trainings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=300), nullable=False),
    sa.Column('online_link', sa.String(length=500), nullable=True),
    sa.Column('mutation_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['mutation_id'], ['mutations.id'], name=op.f('fk_trainings_mutation_id_mutations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trainings')),
    sa.UniqueConstraint('code', name=op.f('uq_trainings_code'))
    )
    op.create_table('training_participants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('training_id', sa.Integer(), nullable=False),
    sa.Column('employee_id', sa.Integer(), nullable=False),
    sa.Column('attendance', sa.String(length=20), nullable=False),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.id'], name=op.f('fk_training_participants_employee_id_employees')),
    sa.ForeignKeyConstraint(['training_id'], ['trainings.id'], name=op.f('fk_training_participants_training_id_trainings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_participants')),
    sa.UniqueConstraint('training_id', 'employee_id', name=op.f('uq_training_participants_training_id'))
    )
    with op.batch_alter_table('training_participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_participants_employee_id'), ['employee_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('training_participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_participants_employee_id'))

    op.drop_table('training_participants')
    op.drop_table('trainings')
    with op.batch_alter_table('mutation_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mutation_events_mutation_id'))

    op.drop_table('mutation_events')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_status_due')
        batch_op.drop_index(batch_op.f('ix_outbox_employee_id'))

    op.drop_table('outbox')
    with op.batch_alter_table('mutations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mutations_employee_id'))

    op.drop_table('mutations')
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluations_period_id'))
        batch_op.drop_index(batch_op.f('ix_evaluations_evaluator_id'))
        batch_op.drop_index(batch_op.f('ix_evaluations_employee_id'))

    op.drop_table('evaluations')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
    with op.batch_alter_table('employees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_employees_unit_id'))
        batch_op.drop_index(batch_op.f('ix_employees_supervisor_id'))
        batch_op.drop_index(batch_op.f('ix_employees_phone'))

    op.drop_table('employees')
    op.drop_table('units')
    op.drop_table('telegram_users')
    op.drop_table('evaluation_periods')
    
