"""Comment indexes for long conversations: roots in order, the official answer

Revision ID: 5c2d7e9a4b10
Revises: 3e8b1f0c6a57
Create Date: 2026-11-23 16:20:00

"""
from alembic import op

revision = '5c2d7e9a4b10'
down_revision = '3e8b1f0c6a57'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.create_index(
            'ix_comments_idea_roots', ['idea_id', 'parent_id', 'created_at'], unique=False
        )
        batch_op.create_index('ix_comments_idea_official', ['idea_id', 'is_official'], unique=False)


def downgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_idea_official')
        batch_op.drop_index('ix_comments_idea_roots')
