"""Deferred events: what a vote or a comment still has to do once committed

Revision ID: 8d41f6a2c3e7
Revises: 5c2d7e9a4b10
Create Date: 2026-11-23 18:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '8d41f6a2c3e7'
down_revision = '5c2d7e9a4b10'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'deferred_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('signal', sa.String(length=80), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('available_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('done', sa.JSON(), nullable=False),
        sa.Column('last_error', sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_deferred_events')),
    )
    with op.batch_alter_table('deferred_events', schema=None) as batch_op:
        batch_op.create_index('ix_deferred_events_available_at', ['available_at'], unique=False)


def downgrade():
    with op.batch_alter_table('deferred_events', schema=None) as batch_op:
        batch_op.drop_index('ix_deferred_events_available_at')
    op.drop_table('deferred_events')
