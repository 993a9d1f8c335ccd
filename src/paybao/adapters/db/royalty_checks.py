"""Reconciliation of profit sharing (分账), as aggregate SQL.

* `royalty.settled_is_journaled`: for every shared trade, what its state says was settled ==
  the sum of its settles == the sum of their parts == the sum of its royalty transfers in the
  ledger (code LEDGER_CODE_ROYALTY, reference the trade number). A difference means money moved
  without its settle, or a settle without its money.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.domain.royalty import LEDGER_CODE_ROYALTY
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


def settled_is_journaled(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found = []
    rows = tx.execute(text(_UNMATCHED), {"code": LEDGER_CODE_ROYALTY, "limit": _LIMIT})
    for trade_no, settled, settles, parts, journaled in rows:
        actual = f"settles {settles}, parts {parts}, journal {journaled}"
        found.append(Difference("royalty_settled", f"trade {trade_no}", str(settled), actual))
    return found


ROYALTY_CHECKS: list[tuple[str, Check]] = [
    ("royalty.settled_is_journaled", settled_is_journaled),
]
