"""gateway_users.account_created: true once the user's first CreateAccount succeeded, so a sign-in only
re-creates the engine account of a signup that never completed (never refills a completed one).

Rows that exist already signed up under the old code, which gave them their account: true. New rows start
false (the column's default from here on) and are set true when CreateAccount answers.

Revision ID: 0002_account_created
Revises: 0001_gateway_users
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_account_created"
down_revision = "0001_gateway_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("gateway_users", sa.Column("account_created", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.alter_column("gateway_users", "account_created", server_default=sa.false())


def downgrade() -> None:
    op.drop_column("gateway_users", "account_created")
