"""Reconciliation of card payouts against the ledger and the users' free quota, as SQL.

* `card_payouts.have_journals`: every payout has its amount hold `cardpayout:<id>` (of its
  amount, with its kind's code) and, when it charged a fee, its fee hold `cardpayout_fee:<id>`
  of that fee; both are pending while the payout is held or at the bank, posted once it
  succeeded, voided once it failed or was cancelled.
* `card_payouts.withdraw_quota`: each user's used lifetime free quota is what their live
  withdrawals and transfers to cards used of it (the two share it).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.domain.card_payouts import LEDGER_CODE_CARD_REPAYMENT, LEDGER_CODE_CARD_TRANSFER
from paybao.services.reconcile import Check, Difference

_LIMIT = 1000

_JOURNALS = """
SELECT p.id, p.kind, p.status, p.amount_fen, p.fee_fen,
       h.amount_fen, h.code, h.pending_status, f.amount_fen, f.pending_status
FROM card_payouts p
LEFT JOIN ledger_transfers h ON h.id = 'cardpayout:' || CAST(p.id AS VARCHAR(20))
LEFT JOIN ledger_transfers f ON f.id = 'cardpayout_fee:' || CAST(p.id AS VARCHAR(20))
WHERE COALESCE(h.amount_fen, -1) <> p.amount_fen
   OR h.code <> (CASE p.kind WHEN 'transfer' THEN :transfer_code ELSE :repayment_code END)
   OR COALESCE(f.amount_fen, 0) <> p.fee_fen
   OR h.pending_status <> (CASE WHEN p.status IN ('held', 'sent') THEN 'pending'
                                WHEN p.status = 'succeeded' THEN 'posted' ELSE 'voided' END)
   OR (f.id IS NOT NULL AND f.pending_status <> h.pending_status)
ORDER BY p.id LIMIT :limit
"""

_QUOTA = """
SELECT u.id, u.withdraw_quota_used_fen, COALESCE(w.used, 0) + COALESCE(c.used, 0)
FROM users u
LEFT JOIN (SELECT user_id, SUM(quota_used_fen) AS used FROM withdrawals
           WHERE status <> 'failed' GROUP BY user_id) w ON w.user_id = u.id
LEFT JOIN (SELECT user_id, SUM(quota_used_fen) AS used FROM card_payouts
           WHERE kind = 'transfer' AND status NOT IN ('failed', 'cancelled')
           GROUP BY user_id) c ON c.user_id = u.id
WHERE u.withdraw_quota_used_fen <> COALESCE(w.used, 0) + COALESCE(c.used, 0)
ORDER BY u.id LIMIT :limit
"""


def payouts_have_journals(tx: Connection, _now_us: int) -> Sequence[Difference]:
    params = {
        "transfer_code": LEDGER_CODE_CARD_TRANSFER,
        "repayment_code": LEDGER_CODE_CARD_REPAYMENT,
        "limit": _LIMIT,
    }
    found: list[Difference] = []
    for row in tx.execute(text(_JOURNALS), params):
        payout_id, kind, status, amount, fee, held, code, held_status, fee_held, fee_status = row
        expected = f"hold {amount} ({kind}, {status}), fee hold {fee or 'none'}"
        actual = (
            f"hold {held if held is not None else 'none'} (code {code}, {held_status}),"
            f" fee hold {fee_held if fee_held is not None else 'none'} ({fee_status})"
        )
        found.append(
            Difference("card_payout_journal", f"card payout {payout_id}", expected, actual)
        )
    return found


def withdraw_quota_matches(tx: Connection, _now_us: int) -> Sequence[Difference]:
    return [
        Difference(
            "withdraw_quota_mismatch",
            f"user {user_id}",
            f"{rows_fen} used by withdrawals and card transfers",
            f"{stored_fen} stored",
        )
        for user_id, stored_fen, rows_fen in tx.execute(text(_QUOTA), {"limit": _LIMIT})
    ]


CARD_PAYOUT_CHECKS: list[tuple[str, Check]] = [
    ("card_payouts.have_journals", payouts_have_journals),
    ("card_payouts.withdraw_quota", withdraw_quota_matches),
]
