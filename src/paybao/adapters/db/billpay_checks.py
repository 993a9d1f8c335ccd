"""Reconciliation of city services, as aggregate SQL.

* `billpay.payments_match_holds`: every payment has its hold `billpay:<id>` in the ledger, for
  its amount, from the payer's wallet to its biller merchant's settlement account, in the state
  the payment's status says: processing -> still pending, paid -> posted, failed -> voided or
  expired (the money went back).
* `billpay.holds_have_payments`: every ledger transfer of the bill-payment and top-up codes
  belongs to a payment (no money moved under these codes without its row).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.domain.billpay import LEDGER_CODE_BILL_PAYMENT, LEDGER_CODE_MOBILE_TOPUP
from paybao.services.reconcile import Check, Difference

_LIMIT = 1000

_MISMATCHED = """
SELECT p.id, p.status, p.amount_fen, h.id, h.pending_status, h.amount_fen,
  h.debit_account_id, u.wallet_account_id, h.credit_account_id, m.settlement_account_id
FROM billpay_payments p
JOIN billers b ON b.id = p.biller_id
JOIN merchants m ON m.id = b.merchant_id
JOIN users u ON u.id = p.user_id
LEFT JOIN ledger_transfers h ON h.id = 'billpay:' || p.id
WHERE h.id IS NULL
  OR h.amount_fen <> p.amount_fen
  OR h.debit_account_id <> u.wallet_account_id
  OR h.credit_account_id <> m.settlement_account_id
  OR NOT (
    (p.status = 'processing' AND h.pending_status = 'pending')
    OR (p.status = 'paid' AND h.pending_status = 'posted')
    OR (p.status = 'failed' AND h.pending_status IN ('voided', 'expired'))
  )
ORDER BY p.id LIMIT :limit
"""

_ORPHANS = """
SELECT t.id, t.reference, t.amount_fen
FROM ledger_transfers t
LEFT JOIN billpay_payments p ON p.id = CASE
  WHEN t.reference LIKE 'billpay:%' THEN CAST(substr(t.reference, 9) AS BIGINT) END
WHERE t.code IN (:bill, :topup) AND p.id IS NULL
ORDER BY t.seq LIMIT :limit
"""

_PARAMS = {"limit": _LIMIT, "bill": LEDGER_CODE_BILL_PAYMENT, "topup": LEDGER_CODE_MOBILE_TOPUP}
_HOLD_STATE = {"processing": "pending", "paid": "posted", "failed": "voided or expired"}


def payments_match_holds(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found = []
    for row in tx.execute(text(_MISMATCHED), _PARAMS):
        payment_id, status, amount_fen, hold_id, hold_state, hold_fen = row[:6]
        debit, wallet, credit, settlement = row[6:]
        expected = (
            f"hold {_HOLD_STATE[status]} of {amount_fen} from account {wallet} to {settlement}"
        )
        actual = (
            "no hold"
            if hold_id is None
            else f"hold {hold_state} of {hold_fen} from account {debit} to {credit}"
        )
        found.append(Difference("billpay_hold", f"payment {payment_id} {status}", expected, actual))
    return found


def holds_have_payments(tx: Connection, _now_us: int) -> Sequence[Difference]:
    return [
        Difference("billpay_orphan", f"transfer {transfer_id}", "a payment", f"none ({fen} fen)")
        for transfer_id, _reference, fen in tx.execute(text(_ORPHANS), _PARAMS)
    ]


BILLPAY_CHECKS: list[tuple[str, Check]] = [
    ("billpay.payments_match_holds", payments_match_holds),
    ("billpay.holds_have_payments", holds_have_payments),
]
