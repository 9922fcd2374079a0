"""people found by name for @mentions: an index on lower(display_name)

Revision ID: 7a3e52c1d9b4
Revises: 0d68406eea94
Create Date: 2026-11-23 13:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7a3e52c1d9b4'
down_revision = '0d68406eea94'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_users_display_name_lower', 'users', [sa.text('lower(display_name)')], unique=False
    )


def downgrade():
    op.drop_index('ix_users_display_name_lower', table_name='users')
