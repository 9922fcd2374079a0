"""account suspension

Revision ID: 185bd44583a8
Revises: 7a3e52c1d9b4
Create Date: 2026-11-23 13:34:32.914673

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '185bd44583a8'
down_revision = '7a3e52c1d9b4'
branch_labels = None
depends_on = None


def upgrade():
    # On SQLite the new foreign key means rebuilding users (env.py turns foreign keys off for
    # it and checks them after); the rebuild cannot carry an expression index, so it is dropped
    # first and made again after.
    op.drop_index('ix_users_display_name_lower', table_name='users')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('suspended_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('suspension_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('suspended_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_users_suspended_by_id_users'), 'users', ['suspended_by_id'], ['id'],
            ondelete='SET NULL',
        )
    op.create_index(
        'ix_users_display_name_lower', 'users', [sa.text('lower(display_name)')], unique=False
    )


def downgrade():
    op.drop_index('ix_users_display_name_lower', table_name='users')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_suspended_by_id_users'), type_='foreignkey')
        batch_op.drop_column('suspended_by_id')
        batch_op.drop_column('suspension_reason')
        batch_op.drop_column('suspended_until')
        batch_op.drop_column('suspended_at')
    op.create_index(
        'ix_users_display_name_lower', 'users', [sa.text('lower(display_name)')], unique=False
    )
