"""Reconciliation of transit ride codes, as aggregate SQL.

* `transit.settled_rides_are_paid_trades`: every PAID or REPAID ride is a paid trade of its
  operator (app and merchant), under its own out_trade_no, for its fare, by its rider; a PAID
  one is also a withholding deduction (it went through the agreement's caps).
* `transit.unpaid_rides_have_no_paid_trade`: an OWED ride (arrears) or a REFUSED one (the
  operator's loss) was never charged: no paid trade under its out_trade_no.
* `transit.debts_match_owed_rides`: each account's owed_fen and owed_count are the sum and
  number of its OWED rides (the blacklist and the credit guarantee rely on them).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.services.reconcile import Check, Difference

_LIMIT = 1000

_SETTLED_UNMATCHED = """
SELECT r.out_trade_no, r.app_id, r.status, r.trade_no, r.fare_fen, r.user_id, a.merchant_id,
  t.total_fen, t.paid_at_us, t.app_id, t.out_trade_no, t.buyer_user_id, t.merchant_id, d.id
FROM transit_rides r
JOIN transit_accounts a ON a.id = r.account_id
LEFT JOIN trades t ON t.trade_no = r.trade_no
LEFT JOIN agreement_deductions d ON d.trade_no = r.trade_no
WHERE r.status IN ('PAID', 'REPAID') AND (t.id IS NULL OR t.paid_at_us IS NULL
  OR t.total_fen <> r.fare_fen OR t.app_id <> r.app_id OR t.out_trade_no <> r.out_trade_no
  OR t.buyer_user_id IS NULL OR t.buyer_user_id <> r.user_id
  OR t.merchant_id <> a.merchant_id OR (r.status = 'PAID' AND d.id IS NULL))
ORDER BY r.id LIMIT :limit
"""

_UNPAID_CHARGED = """
SELECT r.out_trade_no, r.app_id, r.status, t.trade_no, t.total_fen
FROM transit_rides r
JOIN trades t ON t.app_id = r.app_id AND t.out_trade_no = r.out_trade_no
WHERE r.status IN ('OWED', 'REFUSED') AND t.paid_at_us IS NOT NULL
ORDER BY r.id LIMIT :limit
"""

_DEBT_MISMATCH = """
SELECT a.id, a.user_id, a.owed_fen, a.owed_count,
  COALESCE(o.fen, 0), COALESCE(o.n, 0)
FROM transit_accounts a
LEFT JOIN (
  SELECT account_id, SUM(fare_fen) AS fen, COUNT(*) AS n
  FROM transit_rides WHERE status = 'OWED' GROUP BY account_id
) o ON o.account_id = a.id
WHERE a.owed_fen <> COALESCE(o.fen, 0) OR a.owed_count <> COALESCE(o.n, 0)
ORDER BY a.id LIMIT :limit
"""


def settled_rides_are_paid_trades(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found = []
    for row in tx.execute(text(_SETTLED_UNMATCHED), {"limit": _LIMIT}):
        out_trade_no, app_id, status, trade_no, fare_fen, user_id, merchant_id = row[:7]
        total_fen, paid_at_us, t_app, t_out, buyer, t_merchant, deduction_id = row[7:]
        expected = (
            f"trade {trade_no} of app {app_id} ({out_trade_no}, merchant {merchant_id}) paid"
            f" {fare_fen} by user {user_id}{', a deduction' if status == 'PAID' else ''}"
        )
        actual = (
            "no trade"
            if total_fen is None
            else f"{'paid' if paid_at_us else 'unpaid'} {total_fen} of app {t_app} ({t_out},"
            f" merchant {t_merchant}) by user {buyer}"
            f"{'' if deduction_id or status != 'PAID' else ', no deduction'}"
        )
        subject = f"ride {app_id}/{out_trade_no} {status}"
        found.append(Difference("transit_ride_trade", subject, expected, actual))
    return found


def unpaid_rides_have_no_paid_trade(tx: Connection, _now_us: int) -> Sequence[Difference]:
    return [
        Difference(
            "transit_unpaid_ride_charged",
            f"ride {app_id}/{out_trade_no} {status}",
            "no paid trade",
            f"trade {trade_no} paid {total_fen}",
        )
        for out_trade_no, app_id, status, trade_no, total_fen in tx.execute(
            text(_UNPAID_CHARGED), {"limit": _LIMIT}
        )
    ]


def debts_match_owed_rides(tx: Connection, _now_us: int) -> Sequence[Difference]:
    return [
        Difference(
            "transit_debt",
            f"transit account {account_id} (user {user_id})",
            f"owed {rides_fen} in {rides_n} rides",
            f"owed {owed_fen} in {owed_count}",
        )
        for account_id, user_id, owed_fen, owed_count, rides_fen, rides_n in tx.execute(
            text(_DEBT_MISMATCH), {"limit": _LIMIT}
        )
    ]


TRANSIT_CHECKS: list[tuple[str, Check]] = [
    ("transit.settled_rides_are_paid_trades", settled_rides_are_paid_trades),
    ("transit.unpaid_rides_have_no_paid_trade", unpaid_rides_have_no_paid_trade),
    ("transit.debts_match_owed_rides", debts_match_owed_rides),
]
