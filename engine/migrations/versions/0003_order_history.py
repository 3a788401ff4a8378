"""order_history: pending orders that ended (filled, cancelled, expired, rejected), newest first per user

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TEXT = ("user_id", "asset", "side", "type", "status", "position_id", "reject_reason", "message")
_NUMBERS = (
    "price", "quantity", "leverage", "stop_loss", "take_profit", "reserved_cents", "decimal", "created_at_ms",
    "expires_at_ms", "finished_at_ms", "fill_price",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "order_history",
        sa.Column("id", sa.Text, primary_key=True),
        *(sa.Column(name, sa.Text, nullable=False) for name in _TEXT),
        *(sa.Column(name, sa.BigInteger, nullable=False) for name in _NUMBERS),
    )
    op.create_index("order_history_user_newest", "order_history", ["user_id", "finished_at_ms", "id"])


def downgrade() -> None:
    op.drop_index("order_history_user_newest", table_name="order_history")
    op.drop_table("order_history")
