"""Balances kept by the ledger: each entry's move of lifetime points, and a trigger

Revision ID: b7e4c2a91f30
Revises: 5c2d7e9a4b10
Create Date: 2026-11-23 20:40:00

Every ledger entry now says how it moves the person's lifetime points (``lifetime``; a reversal
takes back all it undoes, spending moves nothing), and the database moves the balance as each
entry is written: one statement pays points, where three did. The balance's CHECK (never
negative) refuses an entry that would overdraw it.
"""
import sqlalchemy as sa
from alembic import op

revision = 'b7e4c2a91f30'
down_revision = '5c2d7e9a4b10'
branch_labels = None
depends_on = None

# The row is made first, empty, then moved: a CHECK is tested on the row an upsert would
# insert before its conflict is seen, so an upsert of a negative amount would fail even with
# enough points held.
MOVE_BALANCE = """
    INSERT INTO balances (user_id, balance, lifetime) VALUES (NEW.user_id, 0, 0)
    ON CONFLICT (user_id) DO NOTHING;
    UPDATE balances SET
        balance = balance + NEW.amount,
        lifetime = {greatest}(lifetime + NEW.lifetime, 0)
    WHERE user_id = NEW.user_id;
"""

SQLITE_TRIGGER = (
    "CREATE TRIGGER ledger_entries_move_balance AFTER INSERT ON ledger_entries\nBEGIN"
    + MOVE_BALANCE.format(greatest="max")
    + "END"
)

POSTGRES_FUNCTION = (
    "CREATE FUNCTION ledger_entries_move_balance() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN"
    + MOVE_BALANCE.format(greatest="GREATEST")
    + "    RETURN NULL;\nEND\n$$"
)

POSTGRES_TRIGGER = """
CREATE TRIGGER ledger_entries_move_balance AFTER INSERT ON ledger_entries
FOR EACH ROW EXECUTE FUNCTION ledger_entries_move_balance()
"""


def upgrade():
    # A plain ADD COLUMN on both databases: SQLite's batch mode would rebuild the table, and a
    # rebuilt table loses its triggers (a later migration that rebuilds ledger_entries must
    # create this one again).
    op.add_column(
        'ledger_entries',
        sa.Column('lifetime', sa.Integer(), server_default=sa.text('0'), nullable=False),
    )
    # What each entry written so far did to lifetime points: its amount, nothing for spending
    # and its refunds, and for a reversal minus all the entry it undid paid.
    op.execute(
        "UPDATE ledger_entries SET lifetime = CASE WHEN reason = 'redemption' THEN 0 ELSE amount END"
    )
    op.execute(
        sa.text(
            """
            UPDATE ledger_entries SET lifetime = COALESCE((
                SELECT -original.amount FROM ledger_entries AS original
                WHERE original.idempotency_key = substr(
                    ledger_entries.idempotency_key, 1, length(ledger_entries.idempotency_key) - 9
                )
            ), amount)
            WHERE idempotency_key LIKE '%' || :suffix AND reason != 'redemption'
            """
        ).bindparams(suffix=':reversed')
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_move_balance ON ledger_entries")
        op.execute("DROP FUNCTION IF EXISTS ledger_entries_move_balance()")
    else:
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_move_balance")
    op.drop_column('ledger_entries', 'lifetime')

