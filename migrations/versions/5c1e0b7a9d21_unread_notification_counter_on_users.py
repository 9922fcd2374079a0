"""unread notification counter on users

Revision ID: 5c1e0b7a9d21
Revises: f74814462d4a
Create Date: 2026-11-23 11:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c1e0b7a9d21'
down_revision = 'f74814462d4a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('unread_notifications', sa.Integer(), server_default='0', nullable=False)
        )
    # Start from the truth: the counter is moved in SQL from here on.
    op.execute(
        "UPDATE users SET unread_notifications = ("
        "SELECT count(*) FROM notifications"
        " WHERE notifications.recipient_id = users.id AND notifications.read_at IS NULL)"
    )


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('unread_notifications')
