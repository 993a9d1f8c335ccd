"""Reconciliation of Huabei credit against the ledger, as aggregate SQL.

* `credit.lines_match_ledger`: a line's outstanding amount is its credit account's balance
  (debits - credits: what the user owes), and nothing is pending on that account;
* `credit.lines_match_rows`: outstanding = open amount + installment principal not billed yet +
  every bill's unpaid principal and charges; open amount = what is left of the purchases not
  billed yet; installment amount = the principal of the periods still scheduled;
* `credit.bills_match_rows`: a bill's principal is what its purchases had left when it closed plus
  its installment periods' principal plus the rest carried in from the bills that rolled into it;
  its fee the sum of its periods' fees, its converted amount its plan's principal, its penalty and
  interest the sums of its daily rows, its repaid amounts the sums of the repayments' parts, its
  refunded amount the sum of the refunds that went back to it; ROLLED exactly when it rolled into
  another bill, PAID exactly when nothing is left otherwise;
* `credit.rows_have_journals`: every purchase's trade was paid with credit from the user's
  credit account for the purchase's amount (and every credit-paid trade has its purchase, or
  its checkout installment plan: checkout_installment_checks.py);
  every repayment, penalty and refund back to the line has its transfer for its amount.

Installment plans, fees, interest and prepayments: `credit_installment_checks.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.adapters.db.credit_installment_checks import INSTALLMENT_CHECKS
from paybao.domain.credit import BillStatus
from paybao.services.reconcile import Check, Difference

_LIMIT = 1000
# What a bill still owes, in SQL (domain: Bill.unpaid_fen).
UNPAID_SQL = """(b.principal_fen - b.refunded_fen - b.converted_fen - b.rolled_principal_fen
  - b.repaid_principal_fen + b.penalty_fen - b.repaid_penalty_fen + b.fee_fen - b.repaid_fee_fen
  + b.interest_fen - b.repaid_interest_fen - b.rolled_interest_fen)"""

_LEDGER = """
SELECT l.user_id, l.outstanding_fen, a.debits_posted - a.credits_posted,
       a.debits_pending + a.credits_pending
FROM credit_lines l LEFT JOIN ledger_accounts a ON a.id = l.account_id
WHERE a.id IS NULL OR a.debits_posted - a.credits_posted <> l.outstanding_fen
   OR a.debits_pending + a.credits_pending <> 0
ORDER BY l.user_id LIMIT :limit
"""

_LINE_SUMS = f"""
SELECT l.user_id, l.outstanding_fen, l.open_fen, l.installment_fen,
  COALESCE((SELECT SUM({UNPAID_SQL}) FROM credit_bills b WHERE b.user_id = l.user_id), 0),
  COALESCE((SELECT SUM(d.amount_fen - d.refunded_fen)
            FROM credit_draws d WHERE d.user_id = l.user_id AND d.bill_id IS NULL), 0),
  COALESCE((SELECT SUM(p.principal_fen) FROM credit_installment_periods p
            WHERE p.user_id = l.user_id AND p.status = 'scheduled'), 0)
FROM credit_lines l ORDER BY l.user_id
"""

# Stored figures first, then the same figures summed from the rows (in the same order).
_BILL_SUMS = f"""
SELECT b.id, b.status, b.rolled_to_bill_id, {UNPAID_SQL},
  b.principal_fen, b.periods_principal_fen, b.fee_fen, b.carried_fen, b.converted_fen,
  b.penalty_fen, b.interest_fen, b.repaid_principal_fen, b.repaid_penalty_fen,
  b.repaid_interest_fen, b.repaid_fee_fen, b.refunded_fen,
  COALESCE(d.billed, 0) + COALESCE(i.principal, 0) + COALESCE(c.carried, 0),
  COALESCE(i.principal, 0), COALESCE(i.fee, 0), COALESCE(c.carried, 0),
  COALESCE(pl.principal_fen, 0), COALESCE(n.penalty, 0), COALESCE(r.interest, 0),
  COALESCE(rp.principal, 0), COALESCE(rp.penalty, 0), COALESCE(rp.interest, 0),
  COALESCE(rp.fee, 0), COALESCE(f.to_line, 0)
FROM credit_bills b
LEFT JOIN (SELECT bill_id, SUM(billed_fen) AS billed FROM credit_draws
           WHERE bill_id IS NOT NULL GROUP BY bill_id) d ON d.bill_id = b.id
LEFT JOIN (SELECT bill_id, SUM(principal_fen) AS principal, SUM(fee_fen) AS fee
           FROM credit_installment_periods WHERE bill_id IS NOT NULL GROUP BY bill_id) i
  ON i.bill_id = b.id
LEFT JOIN (SELECT rolled_to_bill_id, SUM(rolled_principal_fen + rolled_interest_fen) AS carried
           FROM credit_bills WHERE rolled_to_bill_id IS NOT NULL GROUP BY rolled_to_bill_id) c
  ON c.rolled_to_bill_id = b.id
LEFT JOIN credit_installment_plans pl ON pl.bill_id = b.id
LEFT JOIN (SELECT bill_id, SUM(amount_fen) AS penalty FROM credit_penalties GROUP BY bill_id) n
  ON n.bill_id = b.id
LEFT JOIN (SELECT bill_id, SUM(amount_fen) AS interest FROM credit_interest GROUP BY bill_id) r
  ON r.bill_id = b.id
LEFT JOIN (SELECT bill_id, SUM(principal_fen) AS principal, SUM(penalty_fen) AS penalty,
                  SUM(interest_fen) AS interest, SUM(fee_fen) AS fee
           FROM credit_repayment_parts GROUP BY bill_id) rp ON rp.bill_id = b.id
LEFT JOIN (SELECT bill_id, SUM(to_line_fen) AS to_line FROM credit_refunds
           WHERE bill_id IS NOT NULL GROUP BY bill_id) f ON f.bill_id = b.id
ORDER BY b.id
"""
_BILL_FIGURES = 12

# Purchases whose trade is not a credit payment of the same amount from the line's account,
# and credit-paid trades without a purchase.
_DRAW_JOURNALS = """
SELECT d.trade_no, d.amount_fen, t.funding, p.amount_fen
FROM credit_draws d
JOIN credit_lines l ON l.user_id = d.user_id
LEFT JOIN trades t ON t.trade_no = d.trade_no
LEFT JOIN ledger_transfers p ON p.id = :pay_prefix || d.trade_no || :pay_suffix
  AND p.debit_account_id = l.account_id
WHERE t.funding IS NULL OR t.funding <> 'credit' OR p.id IS NULL OR p.amount_fen <> d.amount_fen
UNION ALL
SELECT t.trade_no, NULL, t.funding, NULL
FROM trades t LEFT JOIN credit_draws d ON d.trade_no = t.trade_no
LEFT JOIN credit_installment_plans pl ON pl.trade_no = t.trade_no
WHERE t.funding = 'credit' AND t.paid_at_us IS NOT NULL AND d.id IS NULL AND pl.id IS NULL
LIMIT :limit
"""

_REPAY_JOURNALS = """
SELECT r.id, r.amount_fen, p.amount_fen
FROM credit_repayments r
LEFT JOIN ledger_transfers p ON p.id = :prefix || CAST(r.id AS VARCHAR(20))
WHERE p.id IS NULL OR p.amount_fen <> r.amount_fen
ORDER BY r.id LIMIT :limit
"""

_PENALTY_JOURNALS = """
SELECT c.bill_id, c.day, c.amount_fen, p.amount_fen
FROM credit_penalties c
LEFT JOIN ledger_transfers p ON p.id = :prefix || CAST(c.bill_id AS VARCHAR(20)) || :separator
  || SUBSTR(c.day, 1, 4) || SUBSTR(c.day, 6, 2) || SUBSTR(c.day, 9, 2)
WHERE p.id IS NULL OR p.amount_fen <> c.amount_fen
ORDER BY c.bill_id, c.day LIMIT :limit
"""

_REFUND_JOURNALS = """
SELECT f.refund_id, f.trade_no, f.to_line_fen, p.amount_fen
FROM credit_refunds f
LEFT JOIN ledger_transfers p
  ON p.id = :prefix || f.trade_no || :infix || CAST(f.refund_id AS VARCHAR(20))
WHERE (f.to_line_fen > 0 AND (p.id IS NULL OR p.amount_fen <> f.to_line_fen))
   OR (f.to_line_fen = 0 AND p.id IS NOT NULL)
ORDER BY f.refund_id LIMIT :limit
"""


def lines_match_ledger(tx: Connection, _now_us: int) -> Sequence[Difference]:
    return [
        Difference(
            "credit_line_ledger",
            f"credit line of user {user_id}",
            f"{outstanding} owed, 0 pending",
            f"{balance} owed, {pending} pending",
        )
        for user_id, outstanding, balance, pending in tx.execute(text(_LEDGER), {"limit": _LIMIT})
    ]


def lines_match_rows(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found: list[Difference] = []
    for row in tx.execute(text(_LINE_SUMS)):
        user_id, outstanding, open_fen, installment, billed, unbilled, scheduled = row
        subject = f"credit line of user {user_id}"
        if outstanding != open_fen + installment + billed:
            expected = f"open {open_fen} + installments {installment} + bills {billed}"
            found.append(Difference("credit_line_outstanding", subject, expected, str(outstanding)))
        if open_fen != unbilled:
            found.append(Difference("credit_line_open", subject, str(unbilled), str(open_fen)))
        if installment != scheduled:
            found.append(
                Difference("credit_line_installment", subject, str(scheduled), str(installment))
            )
        if len(found) >= _LIMIT:
            break
    return found


def bills_match_rows(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found: list[Difference] = []
    for row in tx.execute(text(_BILL_SUMS)):
        bill_id, status, rolled_to, unpaid = row[:4]
        stored = tuple(row[4 : 4 + _BILL_FIGURES])
        summed = tuple(row[4 + _BILL_FIGURES :])
        subject = f"credit bill {bill_id}"
        if stored != summed:
            found.append(Difference("credit_bill_rows", subject, str(stored), str(summed)))
        if _status_wrong(status, rolled_to, unpaid):
            found.append(Difference("credit_bill_status", subject, f"unpaid {unpaid}", status))
        if len(found) >= _LIMIT:
            break
    return found


def _status_wrong(status: str, rolled_to: int | None, unpaid: int) -> bool:
    if (status == BillStatus.ROLLED.value) != (rolled_to is not None):
        return True
    if status == BillStatus.ROLLED.value:
        return unpaid != 0
    return (status == BillStatus.PAID.value) != (unpaid == 0)


def rows_have_journals(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found: list[Difference] = []
    params = {"limit": _LIMIT, "pay_prefix": "trade:", "pay_suffix": ":pay"}
    for trade_no, amount, funding, paid in tx.execute(text(_DRAW_JOURNALS), params):
        expected = f"credit payment of {amount}" if amount is not None else "a credit purchase"
        actual = f"{funding} payment of {paid}" if amount is not None else "none"
        found.append(Difference("credit_draw_journal", f"trade {trade_no}", expected, actual))
    params = {"limit": _LIMIT, "prefix": "credit:repay:"}
    for repayment_id, amount, moved in tx.execute(text(_REPAY_JOURNALS), params):
        found.append(
            Difference("credit_repay_journal", f"repayment {repayment_id}", str(amount), str(moved))
        )
    params = {"limit": _LIMIT, "prefix": "credit:penalty:", "separator": ":"}
    for bill_id, day, amount, moved in tx.execute(text(_PENALTY_JOURNALS), params):
        subject = f"penalty of bill {bill_id} on {day}"
        found.append(Difference("credit_penalty_journal", subject, str(amount), str(moved)))
    params = {"limit": _LIMIT, "prefix": "trade:", "infix": ":credit_refund:"}
    for refund_id, trade_no, to_line, moved in tx.execute(text(_REFUND_JOURNALS), params):
        subject = f"refund {refund_id} of trade {trade_no}"
        found.append(Difference("credit_refund_journal", subject, str(to_line), str(moved)))
    return found[:_LIMIT]


CREDIT_CHECKS: list[tuple[str, Check]] = [
    ("credit.lines_match_ledger", lines_match_ledger),
    ("credit.lines_match_rows", lines_match_rows),
    ("credit.bills_match_rows", bills_match_rows),
    ("credit.rows_have_journals", rows_have_journals),
    *INSTALLMENT_CHECKS,
]
