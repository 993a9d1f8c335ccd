"""A known set of rows on known Beijing days for the dashboard tests (the dashboard only reads:
rows are written straight into the tables, at explicit times).

The window: 3 days, 2026-05-08 .. 2026-05-10 Beijing time, read at NOW_US (05-10 12:00)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, Table

from paybao.adapters.db.tables.escrow import escrow_trades
from paybao.adapters.db.tables.parking import parking_orders
from paybao.adapters.db.tables.preauth import preauth_operations
from paybao.adapters.db.tables.red_packets import red_packets
from paybao.adapters.db.tables.risk import risk_decisions
from paybao.adapters.db.tables.trade import trade_refunds, trades
from paybao.adapters.db.tables.transit import transit_operators
from paybao.adapters.db.tables.wallet import topups, wallet_transfers, withdrawals

BEIJING = timezone(timedelta(hours=8))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def at_us(day: int, hour: int, minute: int = 0, second: int = 0) -> int:
    """Microseconds of 2026-05-`day` hh:mm:ss Beijing time."""
    moment = datetime(2026, 5, day, hour, minute, second, tzinfo=BEIJING)
    return int((moment - EPOCH).total_seconds()) * 1_000_000


NOW_US = at_us(10, 12)
DAYS = 3
TRANSIT_APP = "2026000000009001"


def _insert(engine: Engine, table: Table, *rows: dict[str, Any]) -> None:
    # One statement a row: an executemany takes its columns from the first row only.
    with engine.begin() as connection:
        for row in rows:
            connection.execute(table.insert().values(row))


def _trade(
    no: str,
    product: str,
    buyer: int,
    merchant: int,
    total_fen: int,
    paid_us: int | None,
    *,
    status: str = "TRADE_SUCCESS",
    app_id: str = "2026000000000001",
    discount_fen: int = 0,
) -> dict[str, Any]:
    return {
        "trade_no": no,
        "app_id": app_id,
        "merchant_id": merchant,
        "out_trade_no": f"o{no}",
        "product": product,
        "subject": "s",
        "total_fen": total_fen,
        "status": status,
        "fingerprint": "f",
        "buyer_user_id": buyer,
        "discount_fen": discount_fen,
        "created_at_us": (paid_us or NOW_US) - 1,
        "expires_at_us": (paid_us or NOW_US) + 1,
        "paid_at_us": paid_us,
    }


def seed(engine: Engine) -> None:
    """Every figure of the window is worked out by hand in test_dashboard.py."""
    _insert(
        engine,
        transit_operators,
        {
            "app_id": TRANSIT_APP,
            "merchant_id": 3,
            "name": "metro",
            "kind": "METRO",
            "fare_rule": "{}",
        },
    )
    _insert(
        engine,
        trades,
        # day 0 (05-08): a till payment with a 5.00 platform coupon; a QR one refunded in full
        _trade("T1", "pay", 101, 1, 10000, at_us(8, 9), discount_fen=500),
        _trade("T2", "precreate", 102, 2, 2000, at_us(8, 10), status="TRADE_CLOSED"),
        # one second before the window, and one never paid: neither counts
        _trade("T0", "pay", 103, 9, 99900, at_us(7, 23, 59, 59)),
        _trade("TU", "pay", 103, 9, 99900, None, status="WAIT_BUYER_PAY"),
        # day 1 (05-09): cashier, transit, withholding, parking, pre-authorisation
        _trade("T3", "wap.pay", 101, 1, 3000, at_us(9, 8), status="TRADE_FINISHED"),
        _trade("T4", "GENERAL_WITHHOLDING", 104, 3, 200, at_us(9, 8), app_id=TRANSIT_APP),
        _trade("T5", "GENERAL_WITHHOLDING", 104, 4, 1500, at_us(9, 9)),
        _trade("T6", "PARKING_PLATE_PAY", 105, 5, 800, at_us(9, 10)),
        _trade("T7", "pay", 106, 1, 5000, at_us(9, 11)),
        # day 2 (05-10): a static code at the last second of the window; one just after it
        _trade("T8", "static_code", 101, 2, 700, at_us(10, 23, 59, 59)),
        _trade("T9", "pay", 103, 9, 99900, at_us(10, 23, 59, 59) + 1_000_000),
    )
    _insert(
        engine,
        parking_orders,
        {
            "serial_no": "P1",
            "lot_id": 1,
            "merchant_id": 5,
            "plate": "京A12345",
            "out_serial_no": "s1",
            "in_at_us": at_us(9, 7),
            "pay_status": "PAID",
            "amount_fen": 800,
            "trade_no": "T6",
            "created_at_us": at_us(9, 7),
            "updated_at_us": at_us(9, 10),
        },
    )
    _insert(
        engine,
        preauth_operations,
        {
            "operation_id": "OP1",
            "order_id": 1,
            "kind": "PAY",
            "amount_fen": 5000,
            "status": "SUCCESS",
            "trade_no": "T7",
            "actor": "merchant",
            "created_at_us": at_us(9, 11),
        },
    )
    with engine.connect() as connection:
        ids = dict(
            connection.execute(
                trades.select().with_only_columns(trades.c.trade_no, trades.c.id)
            ).all()
        )
    _insert(
        engine,
        trade_refunds,
        {
            "trade_id": ids["T2"],
            "out_request_no": "r1",
            "amount_fen": 2000,
            "fee_back_fen": 0,
            "created_at_us": at_us(8, 11),
        },
        {
            "trade_id": ids["T1"],
            "out_request_no": "r2",
            "amount_fen": 1000,
            "fee_back_fen": 0,
            "discount_back_fen": 50,
            "created_at_us": at_us(10, 9),
        },
        {
            "trade_id": ids["T0"],
            "out_request_no": "r3",
            "amount_fen": 100,
            "fee_back_fen": 0,
            "created_at_us": at_us(7, 23),
        },
    )
    _insert(
        engine,
        escrow_trades,
        {
            "escrow_no": "E1",
            "seller_user_id": 201,
            "payee_account_id": 1,
            "buyer_user_id": 107,
            "title": "a bike",
            "goods_type": "physical",
            "total_fen": 4000,
            "fee_rate_ppm": 0,
            "status": "TRADE_FINISHED",
            "resolution": "rule_refund_part",
            "refund_fen": 1000,
            "discount_fen": 300,
            "discount_back_fen": 75,
            "created_at_us": at_us(9, 12),
            "pay_expires_at_us": at_us(9, 13),
            "paid_at_us": at_us(9, 12, 30),
            "ended_at_us": at_us(10, 10),
        },
    )
    _insert(
        engine,
        topups,
        {
            "user_id": 101,
            "card_id": 1,
            "amount_fen": 100,
            "status": "succeeded",
            "created_at_us": at_us(8, 8),
        },
        {
            "user_id": 101,
            "card_id": 1,
            "amount_fen": 200,
            "status": "succeeded",
            "created_at_us": at_us(8, 9),
        },
        {
            "user_id": 101,
            "card_id": 1,
            "amount_fen": 999,
            "status": "failed",
            "created_at_us": at_us(8, 9),
        },
    )
    _insert(
        engine,
        wallet_transfers,
        *[
            {
                "payer_user_id": 101,
                "payee_user_id": 102,
                "amount_fen": fen,
                "arrival": "now",
                "status": status,
                "due_at_us": at_us(9, 9),
                "created_at_us": at_us(9, 9),
            }
            for fen, status in ((500, "succeeded"), (300, "pending"), (999, "cancelled"))
        ],
    )
    _insert(
        engine,
        withdrawals,
        *[
            {
                "user_id": 101,
                "card_id": 1,
                "amount_fen": fen,
                "fee_fen": 0,
                "quota_used_fen": 0,
                "arrival": "t1",
                "status": status,
                "due_at_us": at_us(10, 9),
                "created_at_us": at_us(10, 9),
            }
            for fen, status in ((1000, "held"), (999, "failed"))
        ],
    )
    _insert(
        engine,
        red_packets,
        {
            "packet_no": "RP1",
            "sender_user_id": 101,
            "kind": "lucky",
            "total_fen": 888,
            "share_count": 3,
            "greeting": "hi",
            "state": "active",
            "claimed_count": 0,
            "claimed_fen": 0,
            "returned_fen": 0,
            "created_at_us": at_us(10, 8),
            "expires_at_us": at_us(11, 8),
        },
    )
    _insert(
        engine,
        risk_decisions,
        *[
            {
                "user_id": 101,
                "action": "transfer",
                "amount_fen": fen,
                "decision": decision,
                "reasons": "new_payee",
                "created_at_us": when,
                "review": review,
            }
            for fen, decision, when, review in (
                (300, "delay", at_us(9, 9), "cancelled"),
                (5000, "challenge", at_us(9, 10), None),
                (7000, "reject", at_us(10, 10), None),
                (6000, "reject", at_us(7, 10), None),
            )
        ],
    )
