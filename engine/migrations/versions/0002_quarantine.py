"""closed_trades.leverage as BIGINT (the commands carry leverage as uint32, beyond INTEGER), and
closed_trades_quarantine: rows PostgreSQL refused, kept whole as JSON text for an operator

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("closed_trades", "leverage", type_=sa.BigInteger, existing_type=sa.Integer,
                    existing_nullable=False)  # fmt: skip
    op.create_table(
        "closed_trades_quarantine",
        sa.Column("id", sa.Text, primary_key=True),
        # the row as the engine produced it (ASCII JSON: any value fits, NUL bytes included)
        sa.Column("row_json", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("quarantined_at_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("closed_trades_quarantine")
    op.alter_column("closed_trades", "leverage", type_=sa.Integer, existing_type=sa.BigInteger,
                    existing_nullable=False)  # fmt: skip
