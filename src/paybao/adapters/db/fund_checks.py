"""Reconciliation of Yu'e Bao against the ledger, as aggregate SQL.

* `fund.holdings_match_ledger`: each holding's confirmed amount is its fund account's balance
  (and the account is that user's, with nothing on hold); what it says is pending or on its way
  back is the sum of its pending orders; its income total is the sum of its daily income.
* `fund.custody_matches_orders`: the platform's fund custody account holds exactly the pending
  transfers in plus the pending NORMAL transfers out.
* `fund.orders_have_journals`: every order has the ledger transfers its status implies, each of
  its amount: in (+ confirm once confirmed), out (FAST), redeem (+ arrive once arrived).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.domain.accounts import Purpose, platform_account
from paybao.services.reconcile import Check, Difference

_LIMIT = 1000

_HOLDINGS = """
SELECT h.user_id, h.confirmed_fen, h.pending_fen, h.redeeming_fen, h.income_total_fen,
       a.key, a.credits_posted - a.debits_posted, a.debits_pending + a.credits_pending,
       COALESCE(p.pending_in, 0), COALESCE(p.redeeming, 0), COALESCE(i.income, 0)
FROM fund_holdings h
LEFT JOIN ledger_accounts a ON a.id = h.account_id
LEFT JOIN (
    SELECT user_id,
           SUM(CASE WHEN kind = 'in' THEN amount_fen ELSE 0 END) AS pending_in,
           SUM(CASE WHEN kind = 'out_normal' THEN amount_fen ELSE 0 END) AS redeeming
    FROM fund_orders WHERE status = 'pending' GROUP BY user_id
) p ON p.user_id = h.user_id
LEFT JOIN (SELECT user_id, SUM(income_fen) AS income FROM fund_incomes GROUP BY user_id) i
    ON i.user_id = h.user_id
WHERE a.id IS NULL
   OR h.confirmed_fen <> a.credits_posted - a.debits_posted
   OR a.debits_pending + a.credits_pending <> 0
   OR h.pending_fen <> COALESCE(p.pending_in, 0)
   OR h.redeeming_fen <> COALESCE(p.redeeming, 0)
   OR h.income_total_fen <> COALESCE(i.income, 0)
   OR a.key <> :user_prefix || CAST(h.user_id AS VARCHAR(20)) || :fund_suffix
ORDER BY h.user_id LIMIT :limit
"""

_CUSTODY = """
SELECT COALESCE((SELECT credits_posted - debits_posted FROM ledger_accounts WHERE key = :key), 0),
       COALESCE((SELECT SUM(amount_fen) FROM fund_orders
                 WHERE status = 'pending' AND kind IN ('in', 'out_normal')), 0)
"""

# The first transfer of each order, and the second one its status implies (else none at all).
_ORDERS = """
SELECT o.id, o.kind, o.status, o.amount_fen, t1.amount_fen, t2.amount_fen
FROM fund_orders o
LEFT JOIN ledger_transfers t1 ON t1.id =
    (CASE o.kind WHEN 'in' THEN :in_ WHEN 'out_fast' THEN :out_ ELSE :redeem_ END)
    || CAST(o.id AS VARCHAR(20))
LEFT JOIN ledger_transfers t2 ON t2.id =
    (CASE o.kind WHEN 'in' THEN :confirm_ ELSE :arrive_ END) || CAST(o.id AS VARCHAR(20))
WHERE COALESCE(t1.amount_fen, -1) <> o.amount_fen
   OR COALESCE(t2.amount_fen, -1) <> (
        CASE WHEN (o.kind = 'in' AND o.status = 'confirmed')
                  OR (o.kind = 'out_normal' AND o.status = 'succeeded')
             THEN o.amount_fen ELSE -1 END)
ORDER BY o.id LIMIT :limit
"""
_ORDER_PARAMS = {
    "in_": "fund:in:",
    "out_": "fund:out:",
    "redeem_": "fund:redeem:",
    "confirm_": "fund:confirm:",
    "arrive_": "fund:arrive:",
    "limit": _LIMIT,
}


def holdings_match_ledger(tx: Connection, _now_us: int) -> Sequence[Difference]:
    params = {"user_prefix": "user:", "fund_suffix": f":{Purpose.FUND}:CNY", "limit": _LIMIT}
    found: list[Difference] = []
    for row in tx.execute(text(_HOLDINGS), params):
        user_id, confirmed, pending, redeeming, income = row[:5]
        key, balance, held, pending_orders, redeeming_orders, income_rows = row[5:]
        subject = f"fund holding of user {user_id}"
        expected = (
            f"account user:{user_id}:fund balance {balance} held 0, pending {pending_orders},"
            f" redeeming {redeeming_orders}, income {income_rows}"
        )
        actual = (
            f"account {key} balance {confirmed} held {held}, pending {pending},"
            f" redeeming {redeeming}, income {income}"
        )
        found.append(Difference("fund_holding_mismatch", subject, expected, actual))
    return found


def custody_matches_orders(tx: Connection, _now_us: int) -> Sequence[Difference]:
    key = platform_account(Purpose.FUND_CUSTODY).key
    balance, owed = tx.execute(text(_CUSTODY), {"key": key}).one()
    if int(balance) == int(owed):
        return []
    return [Difference("fund_custody_mismatch", key, str(owed), str(balance))]


def orders_have_journals(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found: list[Difference] = []
    for order_id, kind, status, amount, first, second in tx.execute(text(_ORDERS), _ORDER_PARAMS):
        settled = (kind, status) in (("in", "confirmed"), ("out_normal", "succeeded"))
        expected = f"{amount}, {amount if settled else 'none'}"
        actual = f"{first if first is not None else 'none'}, {second if second else 'none'}"
        found.append(
            Difference("fund_order_journal", f"fund order {order_id} ({kind})", expected, actual)
        )
    return found


FUND_CHECKS: list[tuple[str, Check]] = [
    ("fund.holdings_match_ledger", holdings_match_ledger),
    ("fund.custody_matches_orders", custody_matches_orders),
    ("fund.orders_have_journals", orders_have_journals),
]
