"""Plate-bound parking: lots, plates bound to accounts, parking orders (entry to payment).

Unique constraints instead of check-then-insert: one plate per account and one account per
plate (`parking_plates`), a lot's own numbers (`out_parking_id` per merchant, `out_serial_no`
and `out_order_no` per lot), and our numbers (`parking_id`, `serial_no`).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from paybao.adapters.db.tables.base import IdType, metadata

parking_lots = Table(
    "parking_lots",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("parking_id", String(32), nullable=False, unique=True),  # ours, Alipay's "PI..."
    Column("merchant_id", BigInteger, nullable=False),
    Column("app_id", String(16), nullable=False),
    Column("out_parking_id", String(64), nullable=False),
    Column("name", String(64), nullable=False),
    Column("address", String(128), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("merchant_id", "out_parking_id", name="uq_parking_lots_out_id"),
)

parking_plates = Table(
    "parking_plates",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False, unique=True),
    Column("plate", String(8), nullable=False, unique=True),
    Column("single_cap_fen", BigInteger, nullable=False),
    # The password-free parking agreement (agreements.agreement_no) once auto-pay is enabled.
    Column("agreement_no", String(32), nullable=True),
    Column("bound_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    CheckConstraint("single_cap_fen > 0", name="cap_positive"),
)

parking_orders = Table(
    "parking_orders",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("serial_no", String(32), nullable=False, unique=True),
    Column("lot_id", BigInteger, nullable=False),
    Column("merchant_id", BigInteger, nullable=False),
    Column("plate", String(8), nullable=False),
    Column("user_id", BigInteger, nullable=True),  # the plate's account when it entered/paid
    Column("out_serial_no", String(64), nullable=False),
    Column("in_at_us", BigInteger, nullable=False),
    Column("out_at_us", BigInteger, nullable=True),
    Column("pay_status", String(12), nullable=False),
    Column("amount_fen", BigInteger, nullable=True),
    Column("trade_no", String(32), nullable=True, unique=True),
    Column("out_trade_no", String(64), nullable=True),
    Column("out_order_no", String(64), nullable=True),
    Column("failure_code", String(64), nullable=True),
    Column("paid_at_us", BigInteger, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    UniqueConstraint("lot_id", "out_serial_no", name="uq_parking_orders_out_serial"),
    UniqueConstraint("lot_id", "out_order_no", name="uq_parking_orders_out_order"),
    CheckConstraint(
        "pay_status IN ('UNPAID', 'PAID', 'REFUSED', 'PAID_OTHER')", name="pay_status_known"
    ),
    CheckConstraint("amount_fen IS NULL OR amount_fen >= 0", name="amount_not_negative"),
    CheckConstraint("pay_status <> 'PAID' OR trade_no IS NOT NULL", name="paid_has_trade"),
)
Index("ix_parking_orders_user", parking_orders.c.user_id, parking_orders.c.id)
Index(
    "ix_parking_orders_plate", parking_orders.c.lot_id, parking_orders.c.plate, parking_orders.c.id
)
Index("ix_parking_orders_merchant", parking_orders.c.merchant_id, parking_orders.c.id)

# A car park app's service configuration (alipay.eco.mycar.parking.config.set): one per app,
# replaced by each call. `interfaces` is the interface_info_list as JSON; `userpage_url` is
# the `alipay.eco.mycar.parking.userpage.query` page a driver is sent to with a car_id.
parking_configs = Table(
    "parking_configs",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("app_id", String(16), nullable=False, unique=True),
    Column("merchant_id", BigInteger, nullable=False),
    Column("merchant_name", String(64), nullable=False),
    Column("service_phone", String(32), nullable=False),
    Column("account_no", String(100), nullable=False),
    Column("logo", Text, nullable=True),
    Column("interfaces", Text, nullable=False),
    Column("userpage_url", String(512), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)
Index("ix_parking_configs_merchant", parking_configs.c.merchant_id)

# A car id (alipay.eco.mycar.parking.vehicle.query) issued to one app for one plate binding
# when the driver opens that app's page from the wallet. A new binding (unbind, bind again)
# gets a new one; the old one then names nothing.
parking_cars = Table(
    "parking_cars",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("car_id", String(32), nullable=False, unique=True),
    Column("app_id", String(16), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("plate_id", BigInteger, nullable=False),
    Column("plate", String(8), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("app_id", "plate_id", name="uq_parking_cars_app_plate"),
)
