"""Reconciliation of Huabei checkout installments (trades paid in installments) against the
ledger, as aggregate SQL. (The plans' periods, fees and prepayments: credit_installment_checks.py;
the lines they feed: credit_checks.py.)

* `checkout_installments.plans_match_ledger`: each checkout plan's trade was paid with credit
  from its buyer's credit account for exactly the plan's principal (`trade:<no>:pay`); what that
  payment left owed on the plan (the payment less the refunds back to the line) is the principal
  of its periods (scheduled, billed or prepaid); the refunds' rows add up to what the plan says
  was refunded and cancelled; the merchant's fee moved once for the plan's amount
  (`trade:<no>:installment_fee`, none when the buyer pays the fee) and the fees given back are
  the plan's refunded merchant fee;
* `checkout_installments.income_matches_plans`: the platform's credit income from merchants'
  installment fees (code 7101) less what went back (7102) is the plans' merchant fees not
  refunded.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.domain.checkout_installments import (
    LEDGER_CODE_SELLER_FEE,
    LEDGER_CODE_SELLER_FEE_BACK,
)
from paybao.services.reconcile import Check, Difference

_LIMIT = 1000

# Stored figures first, then the same figures from the journal and the rows.
_PLANS = """
SELECT pl.id, pl.trade_no,
  pl.principal_fen,
  COALESCE(pay.amount_fen, -1) - COALESCE((
    SELECT SUM(x.amount_fen) FROM credit_refunds r JOIN ledger_transfers x
      ON x.id = :prefix || r.trade_no || :refund_infix || CAST(r.refund_id AS VARCHAR(20))
    WHERE r.trade_no = pl.trade_no), 0),
  pl.seller_fee_fen, pl.seller_fee_refunded_fen, pl.cancelled_fen, pl.refunded_fen, 'credit', 1,
  COALESCE(pay.amount_fen, -1),
  COALESCE((SELECT SUM(p.principal_fen) FROM credit_installment_periods p
            WHERE p.plan_id = pl.id), 0),
  COALESCE(fee.amount_fen, 0),
  COALESCE((
    SELECT SUM(x.amount_fen) FROM credit_refunds r JOIN ledger_transfers x
      ON x.id = :prefix || r.trade_no || :feeback_infix || CAST(r.refund_id AS VARCHAR(20))
    WHERE r.trade_no = pl.trade_no), 0),
  COALESCE((SELECT SUM(r.to_line_fen) FROM credit_refunds r WHERE r.trade_no = pl.trade_no), 0),
  COALESCE((SELECT SUM(r.to_line_fen + r.to_balance_fen) FROM credit_refunds r
            WHERE r.trade_no = pl.trade_no), 0),
  COALESCE(t.funding, 'none'),
  CASE WHEN pay.debit_account_id = l.account_id THEN 1 ELSE 0 END
FROM credit_installment_plans pl
JOIN credit_lines l ON l.user_id = pl.user_id
LEFT JOIN trades t ON t.trade_no = pl.trade_no
LEFT JOIN ledger_transfers pay ON pay.id = :prefix || pl.trade_no || :pay_suffix
LEFT JOIN ledger_transfers fee ON fee.id = :prefix || pl.trade_no || :fee_suffix
WHERE pl.trade_no IS NOT NULL
ORDER BY pl.id
"""
# Each figure: the plan's (or what the journal left owed) against the journal's (or rows').
_FIGURES = ("principal", "owed", "fee", "fee back", "cancelled", "refunded", "funding", "source")

_INCOME = """
SELECT
  (SELECT COALESCE(SUM(amount_fen), 0) FROM ledger_transfers WHERE code = :fee_code)
  - (SELECT COALESCE(SUM(amount_fen), 0) FROM ledger_transfers WHERE code = :back_code),
  (SELECT COALESCE(SUM(seller_fee_fen - seller_fee_refunded_fen), 0)
   FROM credit_installment_plans WHERE trade_no IS NOT NULL)
"""


def plans_match_ledger(tx: Connection, _now_us: int) -> Sequence[Difference]:
    params = {
        "prefix": "trade:",
        "pay_suffix": ":pay",
        "fee_suffix": ":installment_fee",
        "refund_infix": ":credit_refund:",
        "feeback_infix": ":installment_feeback:",
    }
    found: list[Difference] = []
    width = len(_FIGURES)
    for row in tx.execute(text(_PLANS), params):
        plan_id, trade_no = row[:2]
        stored, summed = row[2 : 2 + width], row[2 + width :]
        for name, expected, actual in zip(_FIGURES, stored, summed, strict=True):
            if expected != actual:
                subject = f"checkout installment plan {plan_id} (trade {trade_no}): {name}"
                found.append(
                    Difference("checkout_installment_ledger", subject, str(expected), str(actual))
                )
        if len(found) >= _LIMIT:
            break
    return found[:_LIMIT]


def income_matches_plans(tx: Connection, _now_us: int) -> Sequence[Difference]:
    codes = {"fee_code": LEDGER_CODE_SELLER_FEE, "back_code": LEDGER_CODE_SELLER_FEE_BACK}
    moved, kept = tx.execute(text(_INCOME), codes).one()
    if moved == kept:
        return []
    subject = "credit income from merchants' installment fees"
    return [Difference("checkout_installment_income", subject, f"plans {kept}", f"ledger {moved}")]


CHECKOUT_INSTALLMENT_CHECKS: list[tuple[str, Check]] = [
    ("checkout_installments.plans_match_ledger", plans_match_ledger),
    ("checkout_installments.income_matches_plans", income_matches_plans),
]
