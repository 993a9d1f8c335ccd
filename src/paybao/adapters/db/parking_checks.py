"""Reconciliation of plate-bound parking, as aggregate SQL.

* `parking.paid_orders_are_deductions`: every parking order paid by auto-pay is a paid trade of
  its lot's merchant, for its amount, by its user, taken as a withholding deduction under the
  agreement bound to its plate at the time (so it went through the withholding caps).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.services.reconcile import Check, Difference

_LIMIT = 1000

_UNMATCHED = """
SELECT o.serial_no, o.trade_no, o.amount_fen, o.merchant_id, o.user_id,
  t.total_fen, t.paid_at_us, t.merchant_id, t.buyer_user_id, d.id
FROM parking_orders o
LEFT JOIN trades t ON t.trade_no = o.trade_no
LEFT JOIN agreement_deductions d ON d.trade_no = o.trade_no
WHERE o.pay_status = 'PAID' AND (t.id IS NULL OR t.paid_at_us IS NULL
  OR t.total_fen <> o.amount_fen OR t.merchant_id <> o.merchant_id
  OR t.buyer_user_id <> o.user_id OR d.id IS NULL)
ORDER BY o.id LIMIT :limit
"""


def paid_orders_are_deductions(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found = []
    for row in tx.execute(text(_UNMATCHED), {"limit": _LIMIT}):
        serial_no, trade_no, amount_fen, merchant_id, user_id = row[:5]
        total_fen, paid_at_us, t_merchant, buyer, deduction_id = row[5:]
        expected = (
            f"deduction {trade_no} paid {amount_fen} by user {user_id} to merchant {merchant_id}"
        )
        actual = (
            "no trade"
            if total_fen is None
            else f"{'paid' if paid_at_us else 'unpaid'} {total_fen} by user {buyer} to merchant"
            f" {t_merchant}{'' if deduction_id else ', no deduction'}"
        )
        found.append(Difference("parking_order_trade", f"parking {serial_no}", expected, actual))
    return found


PARKING_CHECKS: list[tuple[str, Check]] = [
    ("parking.paid_orders_are_deductions", paid_orders_are_deductions),
]
