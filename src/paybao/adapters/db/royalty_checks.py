"""Reconciliation of profit sharing (分账), as aggregate SQL.

* `royalty.settled_is_journaled`: for every shared trade, what its state says was settled ==
  the sum of its settles == the sum of their parts == the sum of its royalty transfers in the
  ledger (code LEDGER_CODE_ROYALTY, reference the trade number). A difference means money moved
  without its settle, or a settle without its money.
* `royalty.given_back_is_journaled`: for every trade where receivers gave shares back in
  refunds (退分账), or the ledger holds such transfers (code LEDGER_CODE_ROYALTY_BACK, reference
  the trade number), the recorded give-backs == those transfers.
* `royalty.given_back_within_settled`: no receiver gave back on a trade more than was settled
  to it on that trade.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.domain.royalty import LEDGER_CODE_ROYALTY, LEDGER_CODE_ROYALTY_BACK
from paybao.services.reconcile import Check, Difference

_LIMIT = 1000

_UNMATCHED = """
SELECT trade_no, settled_fen, settles_fen, parts_fen, journal_fen FROM (
  SELECT r.trade_no, r.settled_fen,
    (SELECT COALESCE(SUM(s.amount_fen), 0) FROM royalty_settles s
       WHERE s.trade_no = r.trade_no) AS settles_fen,
    (SELECT COALESCE(SUM(p.amount_fen), 0) FROM royalty_settles s
       JOIN royalty_settle_parts p ON p.settle_id = s.id
       WHERE s.trade_no = r.trade_no) AS parts_fen,
    (SELECT COALESCE(SUM(t.amount_fen), 0) FROM ledger_transfers t
       WHERE t.reference = r.trade_no AND t.code = :code) AS journal_fen
  FROM royalty_trades r
) sums
WHERE NOT (settled_fen = settles_fen AND settles_fen = parts_fen AND parts_fen = journal_fen)
ORDER BY trade_no LIMIT :limit
"""

_BACKS_UNMATCHED = """
SELECT trade_no, backs_fen, journal_fen FROM (
  SELECT k.trade_no,
    (SELECT COALESCE(SUM(b.amount_fen), 0) FROM royalty_backs b
       WHERE b.trade_no = k.trade_no) AS backs_fen,
    (SELECT COALESCE(SUM(t.amount_fen), 0) FROM ledger_transfers t
       WHERE t.reference = k.trade_no AND t.code = :code) AS journal_fen
  FROM (
    SELECT trade_no FROM royalty_backs
    UNION SELECT reference AS trade_no FROM ledger_transfers WHERE code = :code
  ) k
) sums
WHERE backs_fen <> journal_fen
ORDER BY trade_no LIMIT :limit
"""

_BACKS_OVER = """
SELECT trade_no, user_id, backs_fen, settled_fen FROM (
  SELECT b.trade_no, b.user_id, SUM(b.amount_fen) AS backs_fen,
    (SELECT COALESCE(SUM(p.amount_fen), 0) FROM royalty_settles s
       JOIN royalty_settle_parts p ON p.settle_id = s.id
       WHERE s.trade_no = b.trade_no AND p.user_id = b.user_id) AS settled_fen
  FROM royalty_backs b
  GROUP BY b.trade_no, b.user_id
) sums
WHERE backs_fen > settled_fen
ORDER BY trade_no, user_id LIMIT :limit
"""


def settled_is_journaled(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found = []
    rows = tx.execute(text(_UNMATCHED), {"code": LEDGER_CODE_ROYALTY, "limit": _LIMIT})
    for trade_no, settled, settles, parts, journaled in rows:
        actual = f"settles {settles}, parts {parts}, journal {journaled}"
        found.append(Difference("royalty_settled", f"trade {trade_no}", str(settled), actual))
    return found


def given_back_is_journaled(tx: Connection, _now_us: int) -> Sequence[Difference]:
    rows = tx.execute(text(_BACKS_UNMATCHED), {"code": LEDGER_CODE_ROYALTY_BACK, "limit": _LIMIT})
    return [
        Difference("royalty_given_back", f"trade {trade_no}", str(backs), f"journal {journaled}")
        for trade_no, backs, journaled in rows
    ]


def given_back_within_settled(tx: Connection, _now_us: int) -> Sequence[Difference]:
    rows = tx.execute(text(_BACKS_OVER), {"limit": _LIMIT})
    return [
        Difference(
            "royalty_given_back_over",
            f"trade {trade_no} receiver {user_id}",
            f"at most {settled}",
            str(backs),
        )
        for trade_no, user_id, backs, settled in rows
    ]


ROYALTY_CHECKS: list[tuple[str, Check]] = [
    ("royalty.settled_is_journaled", settled_is_journaled),
    ("royalty.given_back_is_journaled", given_back_is_journaled),
    ("royalty.given_back_within_settled", given_back_within_settled),
]
