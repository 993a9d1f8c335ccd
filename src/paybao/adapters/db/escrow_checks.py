"""Reconciliation of escrow trades against the ledger and the timers, as aggregate SQL.

* `escrow.holds_are_live`: nothing stays held forever. A hold that is still pending must belong
  to an escrow trade in a held state, and that trade must be able to move on by itself: a live
  timer job of its current generation (waiting for confirmation or for a refund answer), a
  buyer who may cancel at will (not yet shipped), or an open dispute (the operators' queue).
  Conversely a trade in a held state must have its hold pending.
* `escrow.ended_trades_have_journals`: an ended trade moved exactly its split: the post and the
  release equal the seller's part, the fee equals the fee, and a full refund voided the hold.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.domain.escrow import (
    HELD,
    LEDGER_CODE_ESCROW_FEE,
    LEDGER_CODE_ESCROW_POST,
    LEDGER_CODE_ESCROW_RELEASE,
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

_ENDED_SUMS = f"""
SELECT e.escrow_no, e.status, e.total_fen - e.refund_fen, e.fee_fen, e.total_fen,
  COALESCE(SUM(CASE WHEN l.code = {LEDGER_CODE_ESCROW_POST} THEN l.amount_fen ELSE 0 END), 0),
  COALESCE(SUM(CASE WHEN l.code = {LEDGER_CODE_ESCROW_RELEASE} THEN l.amount_fen ELSE 0 END), 0),
  COALESCE(SUM(CASE WHEN l.code = {LEDGER_CODE_ESCROW_FEE} THEN l.amount_fen ELSE 0 END), 0),
  COALESCE(SUM(CASE WHEN l.code = {LEDGER_CODE_ESCROW_VOID} THEN l.amount_fen ELSE 0 END), 0)
FROM escrow_trades e LEFT JOIN ledger_transfers l ON l.reference = e.escrow_no
WHERE e.status IN ('{EscrowStatus.TRADE_FINISHED}', '{EscrowStatus.TRADE_CLOSED}')
  AND e.paid_at_us IS NOT NULL
GROUP BY e.id, e.escrow_no, e.status, e.total_fen, e.refund_fen, e.fee_fen
ORDER BY e.id
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
        escrow_no, _status, seller_fen, fee_fen, total_fen, posted, released, fee, void = row
        expected = (seller_fen, seller_fen, fee_fen, total_fen if seller_fen == 0 else 0)
        actual = (posted, released, fee, void)
        if expected != actual:
            found.append(
                Difference("escrow_journal", f"escrow {escrow_no}", str(expected), str(actual))
            )
        if len(found) >= _LIMIT:
            break
    return found


ESCROW_CHECKS: list[tuple[str, Check]] = [
    ("escrow.holds_are_live", holds_are_live),
    ("escrow.ended_trades_have_journals", ended_trades_have_journals),
]
