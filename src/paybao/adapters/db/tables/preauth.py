"""Pre-authorisation orders (fund freezes for merchants) and their operations.

Idempotency by unique constraints: a merchant's order by `(app_id, out_order_no)`, an operation
by `(order_id, out_request_no)` (NULL for the ones paybao does by itself: the order's end, a
COMPLETE payment's rest, a cancel). Amount checks hold the money rule on every row:
paid + unfrozen never exceeds the amount frozen.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from paybao.adapters.db.tables.base import IdType, metadata

preauth_orders = Table(
    "preauth_orders",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("auth_no", String(32), nullable=False, unique=True),
    Column("app_id", String(16), nullable=False),
    Column("merchant_id", BigInteger, nullable=False),
    Column("out_order_no", String(64), nullable=False),
    Column("product_code", String(32), nullable=False),
    Column("title", String(100), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("user_id", BigInteger, nullable=True),  # whose money; NULL until frozen
    Column("paid_fen", BigInteger, nullable=False, server_default="0"),
    Column("unfrozen_fen", BigInteger, nullable=False, server_default="0"),
    # The current hold is preauth:<auth_no>:hold:<hold_seq>.
    Column("hold_seq", Integer, nullable=False, server_default="0"),
    # The one live timer: its generation and due time (NULL: the order has ended).
    Column("timer_seq", Integer, nullable=False, server_default="0"),
    Column("timer_due_at_us", BigInteger, nullable=True),
    Column("fingerprint", String(64), nullable=False),
    # App orders: the secret in the confirmation page's URL, and the time to confirm.
    Column("confirm_token", String(64), nullable=True, unique=True),
    Column("confirm_expires_at_us", BigInteger, nullable=True),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("notify_url", Text, nullable=True),
    Column("return_url", Text, nullable=True),
    Column("channel_context", Text, nullable=False, server_default="{}"),
    Column("created_at_us", BigInteger, nullable=False),
    Column("authorized_at_us", BigInteger, nullable=True),
    Column("ended_at_us", BigInteger, nullable=True),
    Column("ended_by", String(16), nullable=True),
    Column("cancel_action", String(16), nullable=True),
    CheckConstraint("status IN ('INIT', 'AUTHORIZED', 'FINISH', 'CLOSED')", name="status_known"),
    CheckConstraint(
        "amount_fen >= 0 AND paid_fen >= 0 AND unfrozen_fen >= 0"
        " AND paid_fen + unfrozen_fen <= amount_fen",
        name="amounts_in_range",
    ),
    UniqueConstraint("app_id", "out_order_no", name="uq_preauth_orders_app_out_order_no"),
)
Index("ix_preauth_orders_user", preauth_orders.c.user_id, preauth_orders.c.id)
Index("ix_preauth_orders_status", preauth_orders.c.status)

preauth_operations = Table(
    "preauth_operations",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("operation_id", String(32), nullable=False, unique=True),
    Column("order_id", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # FREEZE | UNFREEZE | PAY
    Column("out_request_no", String(64), nullable=True),
    Column("amount_fen", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # INIT | SUCCESS | CLOSED
    Column("remark", String(100), nullable=True),
    Column("trade_no", String(32), nullable=True),
    Column("actor", String(16), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("done_at_us", BigInteger, nullable=True),
    CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
    CheckConstraint("kind IN ('FREEZE', 'UNFREEZE', 'PAY')", name="kind_known"),
    UniqueConstraint(
        "order_id", "out_request_no", name="uq_preauth_operations_order_out_request_no"
    ),
)
Index("ix_preauth_operations_order", preauth_operations.c.order_id, preauth_operations.c.id)
