"""The ledger's reconciliation checks, as aggregate SQL (the database does the summing)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.services.reconcile import Check, Difference

# Holds may outlive their timeout by this much before the sweeper is considered late.
EXPIRY_GRACE_US = 5 * 60 * 1_000_000


def balances_sum_to_zero(tx: Connection, _now_us: int) -> Sequence[Difference]:
    rows = tx.execute(
        text(
            "SELECT currency, SUM(debits_posted), SUM(credits_posted), SUM(debits_pending),"
            " SUM(credits_pending) FROM ledger_accounts GROUP BY currency ORDER BY currency"
        )
    ).all()
    found: list[Difference] = []
    for currency, debits, credits, debits_pending, credits_pending in rows:
        if debits != credits:
            found.append(Difference("posted_not_balanced", currency, str(debits), str(credits)))
        if debits_pending != credits_pending:
            found.append(
                Difference(
                    "pending_not_balanced", currency, str(debits_pending), str(credits_pending)
                )
            )
    return found


_COUNTERS_FROM_TRANSFERS = """
WITH movements AS (
    SELECT debit_account_id AS account_id,
           CASE WHEN flags & 2 = 0 THEN amount_fen ELSE 0 END AS debits_posted,
           CASE WHEN flags & 2 = 2 AND pending_status = 'pending' THEN amount_fen ELSE 0 END
               AS debits_pending,
           0 AS credits_posted, 0 AS credits_pending
    FROM ledger_transfers WHERE flags & 8 = 0
    UNION ALL
    SELECT credit_account_id,
           0, 0,
           CASE WHEN flags & 2 = 0 THEN amount_fen ELSE 0 END,
           CASE WHEN flags & 2 = 2 AND pending_status = 'pending' THEN amount_fen ELSE 0 END
    FROM ledger_transfers WHERE flags & 8 = 0
), sums AS (
    SELECT account_id, SUM(debits_posted) AS dpo, SUM(debits_pending) AS dp,
           SUM(credits_posted) AS cpo, SUM(credits_pending) AS cp
    FROM movements GROUP BY account_id
)
SELECT a.id, a.debits_posted, a.debits_pending, a.credits_posted, a.credits_pending,
       COALESCE(s.dpo, 0), COALESCE(s.dp, 0), COALESCE(s.cpo, 0), COALESCE(s.cp, 0)
FROM ledger_accounts a LEFT JOIN sums s ON s.account_id = a.id
WHERE a.debits_posted <> COALESCE(s.dpo, 0) OR a.debits_pending <> COALESCE(s.dp, 0)
   OR a.credits_posted <> COALESCE(s.cpo, 0) OR a.credits_pending <> COALESCE(s.cp, 0)
ORDER BY a.id
"""


def counters_equal_transfers(tx: Connection, _now_us: int) -> Sequence[Difference]:
    """Voids (flag 8) move nothing posted; posts carry the posted amount with the hold's
    accounts; a hold counts as pending only while its status is pending."""
    found: list[Difference] = []
    names = ("debits_posted", "debits_pending", "credits_posted", "credits_pending")
    for row in tx.execute(text(_COUNTERS_FROM_TRANSFERS)).all():
        for index, name in enumerate(names):
            stored, summed = row[1 + index], row[5 + index]
            if stored != summed:
                found.append(
                    Difference(
                        f"counter_mismatch_{name}", f"account {row[0]}", str(summed), str(stored)
                    )
                )
    return found


def no_overdue_holds(tx: Connection, now_us: int) -> Sequence[Difference]:
    rows = tx.execute(
        text(
            "SELECT id, expires_at_us FROM ledger_transfers WHERE pending_status = 'pending'"
            " AND expires_at_us < :cutoff ORDER BY id LIMIT 1000"
        ),
        {"cutoff": now_us - EXPIRY_GRACE_US},
    ).all()
    return [Difference("hold_past_expiry", f"transfer {row[0]}") for row in rows]


def limits_respected(tx: Connection, _now_us: int) -> Sequence[Difference]:
    rows = tx.execute(
        text(
            "SELECT id FROM ledger_accounts WHERE"
            " ((flags & 1) = 1 AND debits_posted + debits_pending > credits_posted)"
            " OR ((flags & 2) = 2 AND credits_posted + credits_pending > debits_posted)"
            " ORDER BY id LIMIT 1000"
        )
    ).all()
    return [Difference("account_limit_broken", f"account {row[0]}") for row in rows]


def transfers_reference_accounts(tx: Connection, _now_us: int) -> Sequence[Difference]:
    rows = tx.execute(
        text(
            "SELECT t.id FROM ledger_transfers t"
            " LEFT JOIN ledger_accounts d ON d.id = t.debit_account_id"
            " LEFT JOIN ledger_accounts c ON c.id = t.credit_account_id"
            " WHERE d.id IS NULL OR c.id IS NULL OR d.currency <> t.currency"
            " OR c.currency <> t.currency ORDER BY t.id LIMIT 1000"
        )
    ).all()
    return [Difference("transfer_accounts_invalid", f"transfer {row[0]}") for row in rows]


LEDGER_CHECKS: list[tuple[str, Check]] = [
    ("ledger.balances_sum_to_zero", balances_sum_to_zero),
    ("ledger.counters_equal_transfers", counters_equal_transfers),
    ("ledger.limits_respected", limits_respected),
    ("ledger.no_overdue_holds", no_overdue_holds),
    ("ledger.transfers_reference_accounts", transfers_reference_accounts),
]
