"""Reconciliation of trades against the ledger, as aggregate SQL.

* every paid trade has its payment journal (`trade:<no>:pay`, what the buyer paid: the total
  less the coupons' discounts) and no unpaid trade has one;
* per trade, what the ledger moved equals the trade's totals: the buyer's payment less what
  refunds gave back to the buyer, the platform's subsidy less what refunds reclaimed, fee -
  fee given back to the platform, and the refund rows add up to `refunded_fen`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.domain.trades import (
    LEDGER_CODE_FEE_BACK,
    LEDGER_CODE_REFUND,
    LEDGER_CODE_SUBSIDY_BACK,
    LEDGER_CODE_TRADE_FEE,
    LEDGER_CODE_TRADE_PAY,
    LEDGER_CODE_TRADE_SUBSIDY,
)
from paybao.services.reconcile import Check, Difference

_LIMIT = 1000

_PAY_JOURNAL = """
SELECT t.trade_no, t.paid_at_us, t.total_fen, p.amount_fen
FROM trades t LEFT JOIN ledger_transfers p ON p.id = :prefix || t.trade_no || :suffix
WHERE (t.paid_at_us IS NOT NULL
       AND (p.id IS NULL OR p.amount_fen <> t.total_fen - t.discount_fen - t.mdiscount_fen))
   OR (t.paid_at_us IS NULL AND p.id IS NOT NULL)
ORDER BY t.id LIMIT :limit
"""

# Per trade: (buyer's net, its ledger net), (fee net, ledger), (subsidy net, ledger). The
# refunds' discount parts come from a per-trade sum, joined once.
_TRADE_SUMS = f"""
SELECT t.trade_no,
       CASE WHEN t.paid_at_us IS NULL THEN 0
            ELSE t.total_fen - t.discount_fen - t.mdiscount_fen
                 - (t.refunded_fen - COALESCE(MAX(r.off_back), 0)) END,
       COALESCE(SUM(CASE WHEN l.code = {LEDGER_CODE_TRADE_PAY} THEN l.amount_fen
                         WHEN l.code = {LEDGER_CODE_REFUND} THEN -l.amount_fen ELSE 0 END), 0),
       t.fee_fen - t.fee_refunded_fen,
       COALESCE(SUM(CASE WHEN l.code = {LEDGER_CODE_TRADE_FEE} THEN l.amount_fen
                         WHEN l.code = {LEDGER_CODE_FEE_BACK} THEN -l.amount_fen ELSE 0 END), 0),
       CASE WHEN t.paid_at_us IS NULL THEN 0
            ELSE t.discount_fen - COALESCE(MAX(r.discount_back), 0) END,
       COALESCE(SUM(CASE WHEN l.code = {LEDGER_CODE_TRADE_SUBSIDY} THEN l.amount_fen
                         WHEN l.code = {LEDGER_CODE_SUBSIDY_BACK} THEN -l.amount_fen
                         ELSE 0 END), 0)
FROM trades t
LEFT JOIN ledger_transfers l ON l.reference = t.trade_no
LEFT JOIN (SELECT trade_id, SUM(discount_back_fen + mdiscount_back_fen) AS off_back,
                  SUM(discount_back_fen) AS discount_back
           FROM trade_refunds GROUP BY trade_id) r ON r.trade_id = t.id
GROUP BY t.id, t.trade_no, t.paid_at_us, t.total_fen, t.refunded_fen, t.fee_fen,
         t.fee_refunded_fen, t.discount_fen, t.mdiscount_fen
ORDER BY t.id
"""

_REFUND_ROWS = """
SELECT t.trade_no, t.refunded_fen, COALESCE(SUM(r.amount_fen), 0)
FROM trades t LEFT JOIN trade_refunds r ON r.trade_id = t.id
GROUP BY t.id, t.trade_no, t.refunded_fen
HAVING t.refunded_fen <> COALESCE(SUM(r.amount_fen), 0)
ORDER BY t.id LIMIT :limit
"""


def paid_trades_have_journal(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found = []
    for trade_no, paid_at_us, total_fen, amount_fen in tx.execute(
        text(_PAY_JOURNAL), {"limit": _LIMIT, "prefix": "trade:", "suffix": ":pay"}
    ):
        expected = str(total_fen) if paid_at_us is not None else "no journal"
        found.append(
            Difference("trade_pay_journal", f"trade {trade_no}", expected, str(amount_fen))
        )
    return found


def ledger_matches_trades(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found: list[Difference] = []
    for row in tx.execute(text(_TRADE_SUMS)):
        trade_no, net, moved, fee_net, fee_moved, subsidy_net, subsidy_moved = row
        if net != moved:
            found.append(Difference("trade_net_amount", f"trade {trade_no}", str(net), str(moved)))
        if fee_net != fee_moved:
            found.append(
                Difference("trade_fee_amount", f"trade {trade_no}", str(fee_net), str(fee_moved))
            )
        if subsidy_net != subsidy_moved:
            found.append(
                Difference(
                    "trade_subsidy_amount",
                    f"trade {trade_no}",
                    str(subsidy_net),
                    str(subsidy_moved),
                )
            )
        if len(found) >= _LIMIT:
            break
    return found


def refund_rows_match(tx: Connection, _now_us: int) -> Sequence[Difference]:
    return [
        Difference("trade_refund_rows", f"trade {trade_no}", str(refunded), str(summed))
        for trade_no, refunded, summed in tx.execute(text(_REFUND_ROWS), {"limit": _LIMIT})
    ]


TRADE_CHECKS: list[tuple[str, Check]] = [
    ("trades.paid_trades_have_journal", paid_trades_have_journal),
    ("trades.ledger_matches_trades", ledger_matches_trades),
    ("trades.refund_rows_match", refund_rows_match),
]
