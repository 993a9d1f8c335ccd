"""plate-bound parking, second part: the car parks' service configuration
(alipay.eco.mycar.parking.config.set), car ids issued to them (vehicle.query), and an index
for the merchant portal's stays by merchant

Revision ID: 0033_parking_more
Revises: 0032_transit_more
Create Date: 2026-11-26 12:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033_parking_more"
down_revision = "0032_transit_more"
branch_labels = None
depends_on = None


_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "parking_configs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("app_id", sa.String(length=16), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_name", sa.String(length=64), nullable=False),
        sa.Column("service_phone", sa.String(length=32), nullable=False),
        sa.Column("account_no", sa.String(length=100), nullable=False),
        sa.Column("logo", sa.Text(), nullable=True),
        sa.Column("interfaces", sa.Text(), nullable=False),
        sa.Column("userpage_url", sa.String(length=512), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_configs")),
        sa.UniqueConstraint("app_id", name=op.f("uq_parking_configs_app_id")),
    )
    op.create_index("ix_parking_configs_merchant", "parking_configs", ["merchant_id"], unique=False)
    op.create_table(
        "parking_cars",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("car_id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("plate_id", sa.BigInteger(), nullable=False),
        sa.Column("plate", sa.String(length=8), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_cars")),
        sa.UniqueConstraint("car_id", name=op.f("uq_parking_cars_car_id")),
        sa.UniqueConstraint("app_id", "plate_id", name="uq_parking_cars_app_plate"),
    )
    op.create_index(
        "ix_parking_orders_merchant", "parking_orders", ["merchant_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_parking_orders_merchant", table_name="parking_orders")
    op.drop_table("parking_cars")
    op.drop_index("ix_parking_configs_merchant", table_name="parking_configs")
    op.drop_table("parking_configs")
