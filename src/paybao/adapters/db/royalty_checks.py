"""Reconciliation of profit sharing (分账), as aggregate SQL.

* `royalty.settled_is_journaled`: for every shared trade, what its state says was settled ==
  the sum of its settles == the sum of their parts that moved (SUCCESS) == the sum of its
  royalty transfers in the ledger (code LEDGER_CODE_ROYALTY, reference the trade number). A
  sync settle counts its amount (all or none moved); an asynchronous one (royalty_mode=async)
  counts its parts that succeeded. A difference means money moved without its settle, or a
  settle without its money.
* `royalty.parts_are_journaled`: each part of a settle that moved (SUCCESS) has its own
  transfer (`royalty:<settle_no>:<seq>`) of its amount, and a part that failed or has not run
  has none; an asynchronous settle's parts that moved are at most its amount.
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
       WHERE s.trade_no = r.trade_no AND s.mode = 'sync')
    + (SELECT COALESCE(SUM(p.amount_fen), 0) FROM royalty_settles s
       JOIN royalty_settle_parts p ON p.settle_id = s.id
       WHERE s.trade_no = r.trade_no AND s.mode = 'async' AND p.state = 'SUCCESS')
      AS settles_fen,
    (SELECT COALESCE(SUM(p.amount_fen), 0) FROM royalty_settles s
       JOIN royalty_settle_parts p ON p.settle_id = s.id
       WHERE s.trade_no = r.trade_no AND p.state = 'SUCCESS') AS parts_fen,
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
       WHERE s.trade_no = b.trade_no AND p.user_id = b.user_id AND p.state = 'SUCCESS')
      AS settled_fen
  FROM royalty_backs b
  GROUP BY b.trade_no, b.user_id
) sums
WHERE backs_fen > settled_fen
ORDER BY trade_no, user_id LIMIT :limit
"""


_PARTS_UNMATCHED = """
SELECT s.settle_no, p.seq, p.state, p.amount_fen, t.amount_fen
FROM royalty_settle_parts p
JOIN royalty_settles s ON s.id = p.settle_id
LEFT JOIN ledger_transfers t
  ON t.id = 'royalty:' || s.settle_no || ':' || CAST(p.seq AS VARCHAR(12)) AND t.code = :code
WHERE (p.state = 'SUCCESS' AND (t.amount_fen IS NULL OR t.amount_fen <> p.amount_fen))
   OR (p.state <> 'SUCCESS' AND t.amount_fen IS NOT NULL)
ORDER BY s.settle_no, p.seq LIMIT :limit
"""

_ASYNC_OVER = """
SELECT s.settle_no, s.amount_fen, SUM(p.amount_fen) AS moved_fen
FROM royalty_settles s
JOIN royalty_settle_parts p ON p.settle_id = s.id AND p.state = 'SUCCESS'
WHERE s.mode = 'async'
GROUP BY s.settle_no, s.amount_fen
HAVING SUM(p.amount_fen) > s.amount_fen
ORDER BY s.settle_no LIMIT :limit
"""


def parts_are_journaled(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found = []
    rows = tx.execute(text(_PARTS_UNMATCHED), {"code": LEDGER_CODE_ROYALTY, "limit": _LIMIT})
    for settle_no, seq, state, amount, journaled in rows:
        expected = str(amount) if state == "SUCCESS" else "no transfer"
        actual = "no transfer" if journaled is None else str(journaled)
        found.append(
            Difference("royalty_part", f"settle {settle_no} part {seq} {state}", expected, actual)
        )
    for settle_no, amount, moved in tx.execute(text(_ASYNC_OVER), {"limit": _LIMIT}):
        found.append(
            Difference("royalty_part", f"settle {settle_no}", f"at most {amount}", str(moved))
        )
    return found


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
    ("royalty.parts_are_journaled", parts_are_journaled),
    ("royalty.given_back_is_journaled", given_back_is_journaled),
    ("royalty.given_back_within_settled", given_back_within_settled),
]
