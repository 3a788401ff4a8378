"""candles, candle_cursor, candle_gaps: the bid's candles per asset and interval, the builder's cursor on
the stream, and the gaps it noted

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "candles",
        sa.Column("asset", sa.String(32), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("bucket_ms", sa.BigInteger, nullable=False),
        sa.Column("open", sa.BigInteger, nullable=False),
        sa.Column("high", sa.BigInteger, nullable=False),
        sa.Column("low", sa.BigInteger, nullable=False),
        sa.Column("close", sa.BigInteger, nullable=False),
        sa.Column("ticks", sa.BigInteger, nullable=False),
        # ListCandles reads the newest buckets of one (asset, interval): the key's order serves it backwards
        sa.PrimaryKeyConstraint("asset", "interval", "bucket_ms", name="pk_candles"),
    )
    op.create_table(
        "candle_cursor",
        sa.Column("stream_key", sa.String(200), primary_key=True),
        sa.Column("last_id", sa.String(48), nullable=False),
        sa.Column("entries_read", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "candle_gaps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("stream_key", sa.String(200), nullable=False),
        sa.Column("after_id", sa.String(48), nullable=False),
        sa.Column("resumed_id", sa.String(48), nullable=False),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("candle_gaps")
    op.drop_table("candle_cursor")
    op.drop_table("candles")
