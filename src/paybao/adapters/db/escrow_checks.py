"""Reconciliation of escrow trades against the ledger and the timers, as aggregate SQL.

* `escrow.holds_are_live`: nothing stays held forever. A hold that is still pending must belong
  to an escrow trade in a held state, and that trade must be able to move on by itself: a live
  timer job of its current generation (waiting for confirmation or for a refund answer), a
  buyer who may cancel at will (not yet shipped), or an open dispute (the operators' queue).
  Conversely a trade in a held state must have its hold pending.
* `escrow.ended_trades_have_journals`: an ended trade moved exactly its split: the release
  equals the seller's part, the post the buyer's share of it (the seller's part less the subsidy
  kept), the fee equals the fee, a hold none of which was posted was voided, the subsidy paid in
  equals the discount and the subsidy sent back its refunded share.
* `escrow.paid_trades_match_coupons`: a paid trade's hold is the price less its discount, the
  subsidy paid into escrow is the discount, and its used coupons took off exactly the discount;
  the escrow account's posted balance is the subsidies of the trades still held.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.escrow import (
    HELD,
    LEDGER_CODE_ESCROW_FEE,
    LEDGER_CODE_ESCROW_HOLD,
    LEDGER_CODE_ESCROW_POST,
    LEDGER_CODE_ESCROW_RELEASE,
    LEDGER_CODE_ESCROW_SUBSIDY,
    LEDGER_CODE_ESCROW_SUBSIDY_BACK,
    LEDGER_CODE_ESCROW_VOID,
    TIMED,
    EscrowStatus,
)
from paybao.services.escrow import JOB_TIMER
from paybao.services.reconcile import Check, Difference

_LIMIT = 1000
_HELD = ", ".join(f"'{status}'" for status in sorted(HELD))
# Colons would read as bind parameters inside the SQL text, so the id parts are parameters.
_HOLD_PARAMS = {"limit": _LIMIT, "prefix": "escrow:", "suffix": ":hold", "pattern": "escrow:%:hold"}
_TIMED_HELD = ", ".join(f"'{status}'" for status in sorted(HELD & TIMED))

# Pending holds whose trade is missing or no longer in a held state.
_STRAY_HOLDS = f"""
SELECT h.id, e.status
FROM ledger_transfers h LEFT JOIN escrow_trades e ON h.id = :prefix || e.escrow_no || :suffix
WHERE h.id LIKE :pattern AND h.pending_status = 'pending'
  AND (e.id IS NULL OR e.status NOT IN ({_HELD}))
ORDER BY h.seq LIMIT :limit
"""

# Held trades whose hold is not pending, or (in a timed state) with no live timer job.
_STUCK_TRADES = f"""
SELECT e.escrow_no, e.status, h.pending_status, j.status
FROM escrow_trades e
LEFT JOIN ledger_transfers h ON h.id = :prefix || e.escrow_no || :suffix
LEFT JOIN jobs j ON j.kind = :kind
  AND j.key = e.escrow_no || :separator || CAST(e.timer_seq AS VARCHAR(12))
WHERE e.status IN ({_HELD})
  AND (h.pending_status IS NULL OR h.pending_status <> 'pending'
       OR (e.status IN ({_TIMED_HELD}) AND (j.status IS NULL OR j.status <> 'pending')))
ORDER BY e.id LIMIT :limit
"""


def _sum_of(code: int) -> str:
    return f"COALESCE(SUM(CASE WHEN l.code = {code} THEN l.amount_fen ELSE 0 END), 0)"


_ENDED_SUMS = f"""
SELECT e.escrow_no, e.total_fen - e.refund_fen, e.fee_fen, e.total_fen - e.discount_fen,
  e.discount_fen, e.discount_back_fen,
  {_sum_of(LEDGER_CODE_ESCROW_POST)}, {_sum_of(LEDGER_CODE_ESCROW_RELEASE)},
  {_sum_of(LEDGER_CODE_ESCROW_FEE)}, {_sum_of(LEDGER_CODE_ESCROW_VOID)},
  {_sum_of(LEDGER_CODE_ESCROW_SUBSIDY)}, {_sum_of(LEDGER_CODE_ESCROW_SUBSIDY_BACK)}
FROM escrow_trades e LEFT JOIN ledger_transfers l ON l.reference = e.escrow_no
WHERE e.status IN ('{EscrowStatus.TRADE_FINISHED}', '{EscrowStatus.TRADE_CLOSED}')
  AND e.paid_at_us IS NOT NULL
GROUP BY e.id, e.escrow_no, e.total_fen, e.refund_fen, e.fee_fen, e.discount_fen,
  e.discount_back_fen
ORDER BY e.id
"""

# Paid trades whose hold, subsidy or coupons disagree with the price and the discount.
_PAID_SUMS = f"""
SELECT x.escrow_no, x.total_fen, x.discount_fen, x.hold_fen, x.subsidy_fen,
       COALESCE((SELECT SUM(c.discount_fen) FROM coupons c WHERE c.trade_no = x.escrow_no), 0)
         AS coupons_fen
FROM (
  SELECT e.escrow_no, e.total_fen, e.discount_fen,
         {_sum_of(LEDGER_CODE_ESCROW_HOLD)} AS hold_fen,
         {_sum_of(LEDGER_CODE_ESCROW_SUBSIDY)} AS subsidy_fen
  FROM escrow_trades e LEFT JOIN ledger_transfers l ON l.reference = e.escrow_no
  WHERE e.paid_at_us IS NOT NULL
  GROUP BY e.id, e.escrow_no, e.total_fen, e.discount_fen
) x
ORDER BY x.escrow_no
"""

# The escrow account's posted balance against the subsidies of the trades still held.
_SUBSIDIES_HELD = f"""
SELECT
  COALESCE((SELECT a.credits_posted - a.debits_posted FROM ledger_accounts a
            WHERE a.key = :key), 0),
  COALESCE((SELECT SUM(e.discount_fen) FROM escrow_trades e
            WHERE e.status IN ({_HELD}) AND e.paid_at_us IS NOT NULL), 0)
"""


def holds_are_live(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found: list[Difference] = []
    for hold_id, status in tx.execute(text(_STRAY_HOLDS), _HOLD_PARAMS):
        found.append(
            Difference("escrow_orphaned_hold", hold_id, "a held escrow trade", str(status))
        )
    params = dict(_HOLD_PARAMS, kind=JOB_TIMER, separator=":")
    for escrow_no, status, hold_status, job_status in tx.execute(text(_STUCK_TRADES), params):
        actual = f"{status}, hold {hold_status}, timer {job_status}"
        found.append(Difference("escrow_stuck_hold", f"escrow {escrow_no}", "a live hold", actual))
    return found[:_LIMIT]


def ended_trades_have_journals(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found: list[Difference] = []
    for row in tx.execute(text(_ENDED_SUMS)):
        escrow_no, seller_fen, fee_fen, hold_fen, discount_fen, back_fen, *sums = row
        post_fen = seller_fen - (discount_fen - back_fen)  # the subsidy kept pays the rest
        void_fen = hold_fen if post_fen == 0 else 0
        expected = (post_fen, seller_fen, fee_fen, void_fen, discount_fen, back_fen)
        actual = tuple(int(value) for value in sums)
        if expected != actual:
            found.append(
                Difference("escrow_journal", f"escrow {escrow_no}", str(expected), str(actual))
            )
        if len(found) >= _LIMIT:
            break
    return found


def paid_trades_match_coupons(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found: list[Difference] = []
    for escrow_no, total_fen, discount_fen, hold, subsidy, coupons in tx.execute(text(_PAID_SUMS)):
        expected = (total_fen - discount_fen, discount_fen, discount_fen)
        actual = (int(hold), int(subsidy), int(coupons))
        if expected != actual:
            subject = f"escrow {escrow_no}"
            found.append(Difference("escrow_coupon_split", subject, str(expected), str(actual)))
        if len(found) >= _LIMIT:
            return found
    key = platform_account(Purpose.ESCROW).key
    posted, held = tx.execute(text(_SUBSIDIES_HELD), {"key": key}).one()
    if posted != held:
        found.append(
            Difference("escrow_subsidies_held", "platform escrow account", str(held), str(posted))
        )
    return found


ESCROW_CHECKS: list[tuple[str, Check]] = [
    ("escrow.holds_are_live", holds_are_live),
    ("escrow.ended_trades_have_journals", ended_trades_have_journals),
    ("escrow.paid_trades_match_coupons", paid_trades_match_coupons),
]
