"""Reconciliation of the top-up channels against the ledger, as SQL (the bank's daily file is
compared by services/bank_pay_topups.py `file_differences`).

* `bank_pay.have_journals`: every credited online-banking top-up has exactly its transfer
  `bankpay:<id>` (its amount, code 9901) and no other top-up has one.
* `cash_topups.have_journals`: every redeemed or reversed cash code has `cashtopup:<id>` of its
  amount (code 9902), every reversed one `cashreverse:<id>` (code 9904), and no open, expired
  or cancelled code has either.
* `cash_topups.prefunds`: each partner's prefund balance is its recorded deposits, less its
  live redemptions (redeemed, not reversed).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.domain.topup_channels import (
    LEDGER_CODE_BANK_PAY_TOPUP,
    LEDGER_CODE_CASH_REVERSAL,
    LEDGER_CODE_CASH_TOPUP,
)
from paybao.services.reconcile import Check, Difference

_LIMIT = 1000

_BANK_PAY = """
SELECT b.id, b.status, b.amount_fen, t.amount_fen, t.code
FROM bank_pay_topups b
LEFT JOIN ledger_transfers t ON t.id = 'bankpay:' || CAST(b.id AS VARCHAR(20))
WHERE (b.status = 'succeeded' AND (t.id IS NULL OR t.amount_fen <> b.amount_fen
                                    OR t.code <> :code))
   OR (b.status <> 'succeeded' AND t.id IS NOT NULL)
ORDER BY b.id LIMIT :limit
"""

_CASH = """
SELECT c.id, c.status, c.amount_fen, t.amount_fen, t.code, r.amount_fen, r.code
FROM cash_topup_codes c
LEFT JOIN ledger_transfers t ON t.id = 'cashtopup:' || CAST(c.id AS VARCHAR(20))
LEFT JOIN ledger_transfers r ON r.id = 'cashreverse:' || CAST(c.id AS VARCHAR(20))
WHERE (c.status IN ('redeemed', 'reversed')
       AND (t.id IS NULL OR t.amount_fen <> c.amount_fen OR t.code <> :topup_code))
   OR (c.status = 'reversed'
       AND (r.id IS NULL OR r.amount_fen <> c.amount_fen OR r.code <> :reversal_code))
   OR (c.status = 'redeemed' AND r.id IS NOT NULL)
   OR (c.status NOT IN ('redeemed', 'reversed') AND (t.id IS NOT NULL OR r.id IS NOT NULL))
ORDER BY c.id LIMIT :limit
"""

_PREFUNDS = """
SELECT p.id, a.credits_posted - a.debits_posted,
       COALESCE(d.total, 0) - COALESCE(c.total, 0)
FROM cash_topup_partners p
JOIN ledger_accounts a ON a.id = p.prefund_account_id
LEFT JOIN (SELECT partner_id, SUM(amount_fen) AS total FROM cash_topup_deposits
           GROUP BY partner_id) d ON d.partner_id = p.id
LEFT JOIN (SELECT partner_id, SUM(amount_fen) AS total FROM cash_topup_codes
           WHERE status = 'redeemed' GROUP BY partner_id) c ON c.partner_id = p.id
WHERE a.credits_posted - a.debits_posted <> COALESCE(d.total, 0) - COALESCE(c.total, 0)
ORDER BY p.id LIMIT :limit
"""


def bank_pay_journals(tx: Connection, _now_us: int) -> Sequence[Difference]:
    params = {"code": LEDGER_CODE_BANK_PAY_TOPUP, "limit": _LIMIT}
    return [
        Difference(
            "bank_pay_journal",
            f"bank-pay top-up {topup_id}",
            f"{amount if status == 'succeeded' else 'no'} transfer ({status})",
            f"{moved if moved is not None else 'none'} (code {code})",
        )
        for topup_id, status, amount, moved, code in tx.execute(text(_BANK_PAY), params)
    ]


def cash_journals(tx: Connection, _now_us: int) -> Sequence[Difference]:
    params = {
        "topup_code": LEDGER_CODE_CASH_TOPUP,
        "reversal_code": LEDGER_CODE_CASH_REVERSAL,
        "limit": _LIMIT,
    }
    return [
        Difference(
            "cash_topup_journal",
            f"cash code {code_id}",
            f"{amount} ({status})",
            f"top-up {moved} (code {code}), reversal {back} (code {back_code})",
        )
        for code_id, status, amount, moved, code, back, back_code in tx.execute(text(_CASH), params)
    ]


def prefunds_match(tx: Connection, _now_us: int) -> Sequence[Difference]:
    return [
        Difference(
            "cash_prefund_mismatch",
            f"cash partner {partner_id}",
            f"{expected} deposited less redeemed",
            f"{balance} in the ledger",
        )
        for partner_id, balance, expected in tx.execute(text(_PREFUNDS), {"limit": _LIMIT})
    ]


TOPUP_CHANNEL_CHECKS: list[tuple[str, Check]] = [
    ("bank_pay.have_journals", bank_pay_journals),
    ("cash_topups.have_journals", cash_journals),
    ("cash_topups.prefunds", prefunds_match),
]
