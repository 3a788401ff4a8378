"""engine_fence: per stream, the newest leader epoch (fencing token) that committed rows; every group-commit
transaction checks and raises it first, so a stale leader's rows are refused

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "engine_fence",
        sa.Column("stream_key", sa.Text, primary_key=True),
        sa.Column("epoch", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("engine_fence")
