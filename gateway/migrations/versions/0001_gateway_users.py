"""gateway_users: accounts that can sign in (the engine holds their money).

Revision ID: 0001_gateway_users
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_gateway_users"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_users",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("last_logged_in", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("gateway_users_email_key", "gateway_users", ["email"], unique=True)


def downgrade() -> None:
    op.drop_index("gateway_users_email_key", table_name="gateway_users")
    op.drop_table("gateway_users")
