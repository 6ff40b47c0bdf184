"""outbox: messages

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 05:12:40.118204
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('messages',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('clinic_id', sa.UUID(), nullable=False),
    sa.Column('patient_id', sa.UUID(), nullable=False),
    sa.Column('care_plan_id', sa.UUID(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=True),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='queued', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('max_attempts', sa.Integer(), server_default='8', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('provider_message_id', sa.String(length=200), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.CheckConstraint("status IN ('queued','sending','sent','failed','dead')", name=op.f('ck_messages_status')),
    sa.CheckConstraint('attempts >= 0 AND max_attempts >= 1', name=op.f('ck_messages_attempts')),
    sa.ForeignKeyConstraint(['care_plan_id'], ['care_plans.id'], name=op.f('fk_messages_care_plan_id_care_plans')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_messages_clinic_id_clinics')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_messages_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('clinic_id', 'idempotency_key', name='uq_messages_clinic_key')
    )
    op.create_index('ix_messages_due', 'messages', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status IN ('queued','failed')"))
    op.create_index('ix_messages_lease', 'messages', ['lease_until'], unique=False, postgresql_where=sa.text("status = 'sending'"))
    op.create_index('ix_messages_clinic_created', 'messages', ['clinic_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_messages_clinic_status', 'messages', ['clinic_id', 'status', 'created_at', 'id'], unique=False)
    op.create_index('ix_messages_patient', 'messages', ['patient_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_messages_patient', table_name='messages')
    op.drop_index('ix_messages_clinic_status', table_name='messages')
    op.drop_index('ix_messages_clinic_created', table_name='messages')
    op.drop_index('ix_messages_lease', table_name='messages', postgresql_where=sa.text("status = 'sending'"))
    op.drop_index('ix_messages_due', table_name='messages', postgresql_where=sa.text("status IN ('queued','failed')"))
    op.drop_table('messages')
