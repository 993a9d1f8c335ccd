"""Reconciliation of Huabei credit against the ledger, as aggregate SQL.

* `credit.lines_match_ledger`: a line's outstanding amount is its credit account's balance
  (debits - credits: what the user owes), and nothing is pending on that account;
* `credit.lines_match_rows`: outstanding = open amount + every bill's unpaid principal and
  penalty; open amount = what is left of the purchases not billed yet;
* `credit.bills_match_rows`: a bill's principal is what its purchases had left when it closed,
  its penalty the sum of its daily penalties, its repaid amounts the sum of the repayments' parts,
  its refunded amount the sum of the refunds that went back to it; PAID exactly when nothing is
  left;
* `credit.rows_have_journals`: every purchase's trade was paid with credit from the user's
  credit account for the purchase's amount (and every credit-paid trade has its purchase);
  every repayment, penalty and refund back to the line has its transfer for its amount.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.domain.credit import BillStatus
from paybao.services.reconcile import Check, Difference

_LIMIT = 1000

_LEDGER = """
SELECT l.user_id, l.outstanding_fen, a.debits_posted - a.credits_posted,
       a.debits_pending + a.credits_pending
FROM credit_lines l LEFT JOIN ledger_accounts a ON a.id = l.account_id
WHERE a.id IS NULL OR a.debits_posted - a.credits_posted <> l.outstanding_fen
   OR a.debits_pending + a.credits_pending <> 0
ORDER BY l.user_id LIMIT :limit
"""

_LINE_SUMS = """
SELECT l.user_id, l.outstanding_fen, l.open_fen,
  COALESCE((SELECT SUM(b.principal_fen - b.refunded_fen - b.repaid_principal_fen
                       + b.penalty_fen - b.repaid_penalty_fen)
            FROM credit_bills b WHERE b.user_id = l.user_id), 0),
  COALESCE((SELECT SUM(d.amount_fen - d.refunded_fen)
            FROM credit_draws d WHERE d.user_id = l.user_id AND d.bill_id IS NULL), 0)
FROM credit_lines l ORDER BY l.user_id
"""

_BILL_SUMS = """
SELECT b.id, b.principal_fen, b.penalty_fen, b.repaid_principal_fen, b.repaid_penalty_fen,
  b.refunded_fen, b.status,
  COALESCE((SELECT SUM(d.billed_fen) FROM credit_draws d WHERE d.bill_id = b.id), 0),
  COALESCE((SELECT SUM(p.amount_fen) FROM credit_penalties p WHERE p.bill_id = b.id), 0),
  COALESCE((SELECT SUM(r.principal_fen) FROM credit_repayment_parts r WHERE r.bill_id = b.id), 0),
  COALESCE((SELECT SUM(r.penalty_fen) FROM credit_repayment_parts r WHERE r.bill_id = b.id), 0),
  COALESCE((SELECT SUM(f.to_line_fen) FROM credit_refunds f WHERE f.bill_id = b.id), 0)
FROM credit_bills b ORDER BY b.id
"""

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
WHERE t.funding = 'credit' AND t.paid_at_us IS NOT NULL AND d.id IS NULL
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
    for user_id, outstanding, open_fen, billed, unbilled in tx.execute(text(_LINE_SUMS)):
        subject = f"credit line of user {user_id}"
        if outstanding != open_fen + billed:
            expected = f"open {open_fen} + bills {billed}"
            found.append(Difference("credit_line_outstanding", subject, expected, str(outstanding)))
        if open_fen != unbilled:
            found.append(Difference("credit_line_open", subject, str(unbilled), str(open_fen)))
        if len(found) >= _LIMIT:
            break
    return found


def bills_match_rows(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found: list[Difference] = []
    for row in tx.execute(text(_BILL_SUMS)):
        bill_id, principal, penalty, repaid_principal, repaid_penalty, refunded, status = row[:7]
        expected = (principal, penalty, repaid_principal, repaid_penalty, refunded)
        actual = tuple(row[7:])
        if expected != actual:
            found.append(
                Difference("credit_bill_rows", f"credit bill {bill_id}", str(expected), str(actual))
            )
        unpaid = principal - refunded - repaid_principal + penalty - repaid_penalty
        if (status == BillStatus.PAID.value) != (unpaid == 0):
            found.append(
                Difference(
                    "credit_bill_status", f"credit bill {bill_id}", f"unpaid {unpaid}", status
                )
            )
        if len(found) >= _LIMIT:
            break
    return found


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
]
