"""account_events: every account event, keyed by (user_id, seq), the protobuf AccountEvent as bytes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_events",
        sa.Column("user_id", sa.Text, primary_key=True),
        # per account, from 1, without a gap
        sa.Column("seq", sa.BigInteger, primary_key=True),
        # stream time of the entry that caused it
        sa.Column("time_ms", sa.BigInteger, nullable=False),
        # AccountEventKind without its prefix: BALANCE rows are the statement
        sa.Column("kind", sa.Text, nullable=False),
        # exness.engine.v1.AccountEvent, serialised
        sa.Column("event", sa.LargeBinary, nullable=False),
    )
    # the statement: one account's BALANCE events, newest first
    op.create_index(
        "account_events_statement", "account_events", ["user_id", sa.text("seq DESC")],
        postgresql_where=sa.text("kind = 'BALANCE'"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("account_events")
