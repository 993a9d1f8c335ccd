"""Reconciliation of withholding agreements, as aggregate SQL.

* `agreements.deductions_are_paid_trades`: every deduction is a paid trade of the agreement's
  merchant (or, for a parking agreement, of the lot its parking order names), paid by the
  agreement's signer, for the deduction's amount: what the signer paid (the trade's total less
  the coupons' discounts, services/withholding.py), which is what every limit counts.
* `agreements.counters_match_deductions`: an agreement's paid_count / paid_fen (what the cycle
  limits are checked against) equal the count and sum of its deductions.
* `agreements.usage_matches_deductions`: each user's withholding totals per day and month (what
  the product caps are checked against) equal the sum of that user's deductions then.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.services.reconcile import Check, Difference

_LIMIT = 1000

_UNPAID = """
SELECT d.trade_no, d.amount_fen, t.total_fen - t.discount_fen - t.mdiscount_fen, t.paid_at_us,
  t.buyer_user_id, d.user_id,
  t.merchant_id, a.merchant_id, a.user_id
FROM agreement_deductions d
JOIN agreements a ON a.id = d.agreement_id
LEFT JOIN trades t ON t.trade_no = d.trade_no
WHERE t.id IS NULL OR t.paid_at_us IS NULL
  OR t.total_fen - t.discount_fen - t.mdiscount_fen <> d.amount_fen
  OR t.buyer_user_id <> d.user_id OR d.user_id <> a.user_id
  OR (t.merchant_id <> a.merchant_id AND NOT EXISTS (
    SELECT 1 FROM parking_orders p WHERE p.trade_no = d.trade_no AND p.merchant_id = t.merchant_id))
ORDER BY d.id LIMIT :limit
"""

_COUNTERS = """
SELECT a.agreement_no, a.paid_count, a.paid_fen, COUNT(d.id), COALESCE(SUM(d.amount_fen), 0)
FROM agreements a LEFT JOIN agreement_deductions d ON d.agreement_id = a.id
WHERE a.user_id IS NOT NULL
GROUP BY a.id, a.agreement_no, a.paid_count, a.paid_fen
HAVING a.paid_count <> COUNT(d.id) OR a.paid_fen <> COALESCE(SUM(d.amount_fen), 0)
ORDER BY a.id LIMIT :limit
"""

# Usage rows against the deductions of their period; a missing side counts as zero.
_USAGE = """
SELECT u.user_id, u.period, u.used_fen, COALESCE(s.fen, 0)
FROM withholding_usage u
LEFT JOIN (
  SELECT user_id, :day || china_day AS period, SUM(amount_fen) AS fen
  FROM agreement_deductions GROUP BY user_id, china_day
  UNION ALL
  SELECT user_id, :month || china_month AS period, SUM(amount_fen) AS fen
  FROM agreement_deductions GROUP BY user_id, china_month
) s ON s.user_id = u.user_id AND s.period = u.period
WHERE u.used_fen <> COALESCE(s.fen, 0)
ORDER BY u.user_id, u.period LIMIT :limit
"""

_UNCOUNTED = """
SELECT d.user_id, :day || d.china_day, SUM(d.amount_fen)
FROM agreement_deductions d
LEFT JOIN withholding_usage u ON u.user_id = d.user_id AND u.period = :day || d.china_day
WHERE u.user_id IS NULL
GROUP BY d.user_id, d.china_day
ORDER BY d.user_id LIMIT :limit
"""

_PARAMS = {"limit": _LIMIT, "day": "d:", "month": "m:"}


def deductions_are_paid_trades(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found = []
    for row in tx.execute(text(_UNPAID), _PARAMS):
        trade_no, amount_fen, buyer_pay_fen, paid_at_us, buyer, user = row[:6]
        t_merchant, a_merchant, signer = row[6:]
        expected = f"paid {amount_fen} by user {user} to merchant {a_merchant} (signer {signer})"
        actual = (
            "no trade"
            if buyer_pay_fen is None
            else f"{'paid' if paid_at_us else 'unpaid'} {buyer_pay_fen} by user {buyer}"
            f" to merchant {t_merchant}"
        )
        found.append(Difference("agreement_deduction_trade", f"trade {trade_no}", expected, actual))
    return found


def counters_match_deductions(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found = []
    for agreement_no, count, fen, deductions, deducted_fen in tx.execute(text(_COUNTERS), _PARAMS):
        found.append(
            Difference(
                "agreement_counters",
                f"agreement {agreement_no}",
                f"{deductions} deductions, {deducted_fen} fen",
                f"paid_count {count}, paid_fen {fen}",
            )
        )
    return found


def usage_matches_deductions(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found = []
    for user_id, period, used_fen, deducted_fen in tx.execute(text(_USAGE), _PARAMS):
        subject = f"user {user_id} {period}"
        found.append(
            Difference("withholding_usage", subject, f"{deducted_fen} fen", f"{used_fen} fen")
        )
    for user_id, period, deducted_fen in tx.execute(text(_UNCOUNTED), _PARAMS):
        subject = f"user {user_id} {period}"
        found.append(Difference("withholding_usage", subject, f"{deducted_fen} fen", "no row"))
    return found[:_LIMIT]


AGREEMENT_CHECKS: list[tuple[str, Check]] = [
    ("agreements.deductions_are_paid_trades", deductions_are_paid_trades),
    ("agreements.counters_match_deductions", counters_match_deductions),
    ("agreements.usage_matches_deductions", usage_matches_deductions),
]
