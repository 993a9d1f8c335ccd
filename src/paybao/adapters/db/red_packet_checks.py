"""Reconciliation of red packets (红包) against the ledger, as aggregate SQL.

* `red_packets.account_holds_unclaimed`: the platform's `red_packets` account holds exactly
  the shares nobody has claimed of the packets still active (claimed shares were paid out,
  and an ended packet's rest went back to its sender).
* `red_packets.packets_match_rows`: each packet's counters agree with its share and claim
  rows, and its journals (sent, claimed, returned) with those counters.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.red_packets import (
    LEDGER_CODE_RED_PACKET_CLAIM,
    LEDGER_CODE_RED_PACKET_RETURN,
    LEDGER_CODE_RED_PACKET_SEND,
)
from paybao.services.reconcile import Check, Difference

_LIMIT = 1000

_ACCOUNT = """
SELECT a.credits_posted - a.debits_posted, a.debits_pending + a.credits_pending,
  (SELECT COALESCE(SUM(s.amount_fen), 0) FROM red_packet_shares s
     JOIN red_packets p ON p.id = s.packet_id
     WHERE p.state = 'active' AND s.seq >= p.claimed_count)
FROM ledger_accounts a WHERE a.key = :key
"""

# A packet whose rows or journals disagree with it. A claim's journal carries the packet's
# reference, as the send and the return do: the sums are by reference and code.
_PACKETS = f"""
SELECT p.packet_no, p.state, p.total_fen, p.share_count, p.claimed_count, p.claimed_fen,
  p.returned_fen, x.shares_fen, x.shares, x.claims_fen, x.claims, x.sent_fen, x.paid_fen,
  x.back_fen
FROM red_packets p
JOIN (
  SELECT q.id,
    (SELECT COALESCE(SUM(s.amount_fen), 0) FROM red_packet_shares s WHERE s.packet_id = q.id)
      AS shares_fen,
    (SELECT COUNT(*) FROM red_packet_shares s WHERE s.packet_id = q.id) AS shares,
    (SELECT COALESCE(SUM(c.amount_fen), 0) FROM red_packet_claims c WHERE c.packet_id = q.id)
      AS claims_fen,
    (SELECT COUNT(*) FROM red_packet_claims c WHERE c.packet_id = q.id) AS claims,
    (SELECT COALESCE(SUM(l.amount_fen), 0) FROM ledger_transfers l
       WHERE l.reference = :prefix || CAST(q.id AS VARCHAR(20))
         AND l.code = {LEDGER_CODE_RED_PACKET_SEND}) AS sent_fen,
    (SELECT COALESCE(SUM(l.amount_fen), 0) FROM ledger_transfers l
       WHERE l.reference = :prefix || CAST(q.id AS VARCHAR(20))
         AND l.code = {LEDGER_CODE_RED_PACKET_CLAIM}) AS paid_fen,
    (SELECT COALESCE(SUM(l.amount_fen), 0) FROM ledger_transfers l
       WHERE l.reference = :prefix || CAST(q.id AS VARCHAR(20))
         AND l.code = {LEDGER_CODE_RED_PACKET_RETURN}) AS back_fen
  FROM red_packets q
) x ON x.id = p.id
ORDER BY p.id
"""


def account_holds_unclaimed(tx: Connection, _now_us: int) -> Sequence[Difference]:
    key = platform_account(Purpose.RED_PACKETS).key
    row = tx.execute(text(_ACCOUNT), {"key": key}).first()
    if row is None:
        return []  # never used: no packet was sent
    balance, pending, unclaimed = row
    if (balance, pending) == (unclaimed, 0):
        return []
    expected = f"balance {unclaimed} (unclaimed shares of active packets), nothing pending"
    actual = f"balance {balance}, pending {pending}"
    return [Difference("red_packets_account", "platform red_packets account", expected, actual)]


def packets_match_rows(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found: list[Difference] = []
    for row in tx.execute(text(_PACKETS), {"prefix": "redpacket:"}):
        packet_no, state, total, count, claimed_count, claimed, returned = row[:7]
        shares_fen, shares, claims_fen, claims, sent, paid, back = row[7:]
        ended_rest = total - claimed if state == "expired" else 0
        expected = (total, count, claimed, claimed_count, total, claimed, ended_rest)
        actual = (shares_fen, shares, claims_fen, claims, sent, paid, returned)
        if (
            expected != actual
            or back != returned
            or (state == "finished" and claimed_count != count)
        ):
            found.append(
                Difference(
                    "red_packet_rows",
                    f"red packet {packet_no}",
                    f"shares/claims/journals {expected}, returned {returned}",
                    f"{actual}, returned journal {back}",
                )
            )
        if len(found) >= _LIMIT:
            break
    return found


RED_PACKET_CHECKS: list[tuple[str, Check]] = [
    ("red_packets.account_holds_unclaimed", account_holds_unclaimed),
    ("red_packets.packets_match_rows", packets_match_rows),
]
