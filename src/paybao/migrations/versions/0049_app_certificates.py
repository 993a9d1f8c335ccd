"""app certificates: public key certificate mode (公钥证书模式)

`app_certificates` holds every certificate the platform CA issued for an app's public key
(adapters/alipay/platform_ca.py), looked up by its SN when a request carries `app_cert_sn`.
A new table: nothing existing changes.

Revision ID: 0049_app_certificates
Revises: 0048_trade_designated_buyer
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0049_app_certificates"
down_revision = "0048_trade_designated_buyer"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "app_certificates",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("app_id", sa.String(length=16), nullable=False),
        sa.Column("sn", sa.String(length=32), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("pem", sa.Text(), nullable=False),
        sa.Column("issued_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_app_certificates"),
        sa.UniqueConstraint("sn", name="uq_app_certificates_sn"),
    )
    op.create_index("ix_app_certificates_app", "app_certificates", ["app_id", "issued_at_us"])


def downgrade() -> None:
    op.drop_index("ix_app_certificates_app", table_name="app_certificates")
    op.drop_table("app_certificates")
