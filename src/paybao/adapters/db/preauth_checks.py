"""Reconciliation of pre-authorisations against the ledger and the timers, as aggregate SQL.

* `preauth.holds_are_live`: what is frozen is exactly what the orders say is left. A pending
  `preauth:<auth_no>:hold:<n>` must be the current hold of an AUTHORIZED order; every
  AUTHORIZED order has its current hold pending for exactly its rest (amount - paid -
  unfrozen) and a live timer job of its current generation, so it ends by itself.
* `preauth.orders_match_journals`: a frozen order's first hold froze its amount, the posts from
  its holds add up to what it paid, and its operations add up to its totals.
* `preauth.account_holds_only_rests`: the platform's pre-authorisation account keeps nothing
  posted (a payment's part is paid on in the same transaction) and holds, pending, exactly
  the rests of the AUTHORIZED orders.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.preauth import LEDGER_CODE_PREAUTH_POST
from paybao.services.preauth import JOB_TIMER
from paybao.services.reconcile import Check, Difference

_LIMIT = 1000
# Colons would read as bind parameters inside the SQL text, so the id parts are parameters.
_PARAMS = {
    "limit": _LIMIT,
    "prefix": "preauth:",
    "hold": ":hold:",
    "pattern": "preauth:%:hold:%",
    "kind": JOB_TIMER,
    "separator": ":",
}
_CURRENT_HOLD = "o.auth_no || :hold || CAST(o.hold_seq AS VARCHAR(12))"

_STRAY_HOLDS = f"""
SELECT h.id, o.status
FROM ledger_transfers h
LEFT JOIN preauth_orders o ON h.id = :prefix || {_CURRENT_HOLD}
WHERE h.id LIKE :pattern AND h.pending_status = 'pending'
  AND (o.id IS NULL OR o.status <> 'AUTHORIZED')
ORDER BY h.seq LIMIT :limit
"""

_STUCK_ORDERS = f"""
SELECT o.auth_no, o.amount_fen - o.paid_fen - o.unfrozen_fen, h.pending_status, h.amount_fen,
       j.status
FROM preauth_orders o
LEFT JOIN ledger_transfers h ON h.id = :prefix || {_CURRENT_HOLD}
LEFT JOIN jobs j ON j.kind = :kind
  AND j.key = o.auth_no || :separator || CAST(o.timer_seq AS VARCHAR(12))
WHERE o.status = 'AUTHORIZED'
  AND (h.pending_status IS NULL OR h.pending_status <> 'pending'
       OR h.amount_fen <> o.amount_fen - o.paid_fen - o.unfrozen_fen
       OR j.status IS NULL OR j.status <> 'pending')
ORDER BY o.id LIMIT :limit
"""

_ORDER_SUMS = f"""
SELECT o.auth_no, o.amount_fen, o.paid_fen, o.unfrozen_fen,
  (SELECT h.amount_fen FROM ledger_transfers h WHERE h.id = :first_hold_prefix || o.auth_no
     || :first_hold_suffix),
  (SELECT COALESCE(SUM(l.amount_fen), 0) FROM ledger_transfers l
     WHERE l.reference = o.auth_no AND l.code = {LEDGER_CODE_PREAUTH_POST}),
  (SELECT COALESCE(SUM(p.amount_fen), 0) FROM preauth_operations p
     WHERE p.order_id = o.id AND p.kind = 'FREEZE' AND p.status = 'SUCCESS'),
  (SELECT COALESCE(SUM(p.amount_fen), 0) FROM preauth_operations p
     WHERE p.order_id = o.id AND p.kind = 'PAY'),
  (SELECT COALESCE(SUM(p.amount_fen), 0) FROM preauth_operations p
     WHERE p.order_id = o.id AND p.kind = 'UNFREEZE')
FROM preauth_orders o
WHERE o.authorized_at_us IS NOT NULL
ORDER BY o.id
"""

_ACCOUNT = """
SELECT a.credits_posted - a.debits_posted, a.debits_pending, a.credits_pending,
  (SELECT COALESCE(SUM(o.amount_fen - o.paid_fen - o.unfrozen_fen), 0) FROM preauth_orders o
     WHERE o.status = 'AUTHORIZED')
FROM ledger_accounts a WHERE a.key = :key
"""


def holds_are_live(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found: list[Difference] = []
    for hold_id, status in tx.execute(text(_STRAY_HOLDS), _PARAMS):
        expected = "the current hold of an AUTHORIZED order"
        found.append(Difference("preauth_stray_hold", hold_id, expected, str(status)))
    for auth_no, rest_fen, hold_status, held_fen, job_status in tx.execute(
        text(_STUCK_ORDERS), _PARAMS
    ):
        actual = f"hold {hold_status} of {held_fen}, timer {job_status}"
        expected = f"hold pending of {rest_fen}, timer pending"
        found.append(Difference("preauth_stuck_order", f"preauth {auth_no}", expected, actual))
    return found[:_LIMIT]


def orders_match_journals(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found: list[Difference] = []
    params = {"first_hold_prefix": "preauth:", "first_hold_suffix": ":hold:0"}
    for row in tx.execute(text(_ORDER_SUMS), params):
        auth_no, amount, paid, unfrozen, first_hold, posted, frozen_ops, paid_ops, unfrozen_ops = (
            row
        )
        expected = (amount, paid, amount, paid, unfrozen)
        actual = (first_hold, posted, frozen_ops, paid_ops, unfrozen_ops)
        if expected != actual:
            found.append(
                Difference("preauth_journal", f"preauth {auth_no}", str(expected), str(actual))
            )
        if len(found) >= _LIMIT:
            break
    return found


def account_holds_only_rests(tx: Connection, _now_us: int) -> Sequence[Difference]:
    row = tx.execute(text(_ACCOUNT), {"key": platform_account(Purpose.PREAUTH).key}).first()
    if row is None:
        return []  # never used: no order has frozen anything
    balance, debits_pending, credits_pending, rests = row
    if (balance, debits_pending, credits_pending) == (0, 0, rests):
        return []
    expected = f"balance 0, debits pending 0, credits pending {rests}"
    actual = (
        f"balance {balance}, debits pending {debits_pending}, credits pending {credits_pending}"
    )
    return [Difference("preauth_account", "platform preauth account", expected, actual)]


PREAUTH_CHECKS: list[tuple[str, Check]] = [
    ("preauth.holds_are_live", holds_are_live),
    ("preauth.orders_match_journals", orders_match_journals),
    ("preauth.account_holds_only_rests", account_holds_only_rests),
]
