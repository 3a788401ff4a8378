"""closed_trades: one row per closed position, keyed by the deterministic trade id

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "closed_trades",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("asset", sa.Text, nullable=False),
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("leverage", sa.Integer, nullable=False),
        sa.Column("entry_price", sa.BigInteger, nullable=False),
        sa.Column("close_price", sa.BigInteger, nullable=False),
        sa.Column("margin_cents", sa.BigInteger, nullable=False),
        sa.Column("pnl_cents", sa.BigInteger, nullable=False),
        sa.Column("credited_cents", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decimal", sa.Integer, nullable=False),
        sa.Column("opened_at_ms", sa.BigInteger, nullable=False),
        sa.Column("closed_at_ms", sa.BigInteger, nullable=False),
        sa.Column("stop_loss", sa.BigInteger, nullable=False),
        sa.Column("take_profit", sa.BigInteger, nullable=False),
        sa.Column("liquidation_price", sa.BigInteger, nullable=False),
    )
    # ListClosedTrades: one user's trades, newest first, keyset-paginated on (closed_at_ms, id)
    op.create_index(
        "closed_trades_user_newest", "closed_trades", ["user_id", sa.text("closed_at_ms DESC"), sa.text("id DESC")]
    )


def downgrade() -> None:
    op.drop_table("closed_trades")
