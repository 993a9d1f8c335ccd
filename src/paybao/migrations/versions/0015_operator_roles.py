"""operators: a role (viewer | support | finance | admin) that decides what each may do

Existing operators had every power: they become admins, so nothing breaks on upgrade. New rows
default to the read-only viewer (the services always name the role). A CHECK keeps the column
to the four known roles.

Follows 0014_portal_indexes and also merges the branches that had stayed heads since they left
0003_gateway (0004_escrow, 0005_paycode, 0006_settlement): from here there is one head.

Revision ID: 0015_operator_roles
Revises: 0014_portal_indexes, 0004_escrow, 0005_paycode, 0006_settlement
Create Date: 2026-11-29 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_operator_roles"
down_revision = ("0014_portal_indexes", "0004_escrow", "0005_paycode", "0006_settlement")
branch_labels = None
depends_on = None

ROLES = "role IN ('viewer', 'support', 'finance', 'admin')"


def upgrade() -> None:
    # In place (no rebuild on SQLite); every existing row reads 'admin'.
    op.add_column(
        "operators", sa.Column("role", sa.String(length=16), server_default="admin", nullable=False)
    )
    # Then the default for rows to come, and the CHECK (a table rebuild on SQLite: a small table).
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.alter_column(
            "role",
            existing_type=sa.String(length=16),
            existing_nullable=False,
            server_default="viewer",
        )
        batch_op.create_check_constraint(op.f("ck_operators_role_known"), ROLES)


def downgrade() -> None:
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_constraint("ck_operators_role_known", type_="check")
        batch_op.drop_column("role")
