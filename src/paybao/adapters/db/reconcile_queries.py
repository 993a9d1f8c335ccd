"""What the daily three-way reconciliation reads: bank-backed movements as the ledger and the
business tables record them, and trades/refunds with the journal they must have (SELECTs)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, and_, func, select, text

from paybao.adapters.db.tables.card_payouts import card_payouts
from paybao.adapters.db.tables.ledger import ledger_accounts, ledger_transfers
from paybao.adapters.db.tables.merchant_portal import card_payments, card_refunds
from paybao.adapters.db.tables.settlement import merchant_settlements
from paybao.adapters.db.tables.topup_channels import bank_pay_topups
from paybao.adapters.db.tables.trade import trade_refunds, trades
from paybao.adapters.db.tables.wallet import topups, withdrawals
from paybao.domain.trades import LEDGER_CODE_REFUND, LEDGER_CODE_TRADE_PAY

ITEMS_MAX = 200_000
IN_CHUNK = 500
Item = tuple[str, int, int]  # (request id, amount fen, at us)

# A bank-backed movement is a transfer touching bank clearing: posted outright (top-up), or a
# hold (withdrawal, settlement) that was posted; its time is the post's.
_LEDGER_BANK_ITEMS = """
SELECT t.id, t.amount_fen, COALESCE(p.created_at_us, t.created_at_us) AS at_us
FROM ledger_transfers t
LEFT JOIN ledger_transfers p ON p.pending_id = t.id AND (p.flags & 4) = 4
WHERE (t.debit_account_id = :clearing OR t.credit_account_id = :clearing)
  AND (t.flags & 12) = 0
  AND ((t.flags & 2) = 0 OR t.pending_status = 'posted')
  AND COALESCE(p.created_at_us, t.created_at_us) >= :start_us
  AND COALESCE(p.created_at_us, t.created_at_us) < :end_us
ORDER BY t.seq
LIMIT :limit
"""


class SqlReconcileSource:
    def ledger_bank_items(self, tx: Connection, start_us: int, end_us: int) -> list[Item]:
        clearing = tx.execute(
            select(ledger_accounts.c.id).where(
                ledger_accounts.c.key == "platform:paybao:bank_clearing:CNY"
            )
        ).scalar()
        if clearing is None:
            return []
        params = {"clearing": clearing, "start_us": start_us, "end_us": end_us, "limit": ITEMS_MAX}
        return [
            (str(a), int(b), int(c)) for a, b, c in tx.execute(text(_LEDGER_BANK_ITEMS), params)
        ]

    def business_bank_items(self, tx: Connection, start_us: int, end_us: int) -> list[Item]:
        found: list[Item] = []
        # Card transfers and credit-card repayments are paid out as withdrawals are.
        # Online-banking top-ups are card debits at the bank under `bankpay:<id>`.
        paid_out = (
            (topups, "topup"),
            (withdrawals, "withdraw"),
            (card_payouts, "cardpayout"),
            (bank_pay_topups, "bankpay"),
        )
        for table, prefix in paid_out:
            query = select(table.c.id, table.c.amount_fen, table.c.finished_at_us).where(
                table.c.status == "succeeded",
                and_(table.c.finished_at_us >= start_us, table.c.finished_at_us < end_us),
            )
            found += [
                (f"{prefix}:{a}", int(b), int(c)) for a, b, c in tx.execute(query.limit(ITEMS_MAX))
            ]
        s = merchant_settlements
        query = select(s.c.request_id, s.c.amount_fen, s.c.paid_at_us).where(
            s.c.status == "paid", and_(s.c.paid_at_us >= start_us, s.c.paid_at_us < end_us)
        )
        found += [(str(a), int(b), int(c)) for a, b, c in tx.execute(query.limit(ITEMS_MAX))]
        # The cashier's card debits (the trade paid, or the money left in the wallet) and
        # refunds credited back to a card.
        p = card_payments
        query = select(p.c.id, p.c.amount_fen, p.c.finished_at_us).where(
            p.c.status.in_(("paid", "credited")),
            and_(p.c.finished_at_us >= start_us, p.c.finished_at_us < end_us),
        )
        found += [
            (f"cardpay:{a}", int(b), int(c)) for a, b, c in tx.execute(query.limit(ITEMS_MAX))
        ]
        r = card_refunds
        query = select(r.c.refund_id, r.c.amount_fen, r.c.finished_at_us).where(
            r.c.status == "succeeded",
            and_(r.c.finished_at_us >= start_us, r.c.finished_at_us < end_us),
        )
        found += [
            (f"cardrefund:{a}", int(b), int(c)) for a, b, c in tx.execute(query.limit(ITEMS_MAX))
        ]
        return found

    def trade_journal(self, tx: Connection, start_us: int, end_us: int) -> list[tuple[str, int]]:
        """(transfer id, amount) every paid trade and refund of the window must have."""
        expected: list[tuple[str, int]] = []
        # What the buyer paid: the total less coupons' discounts (0 without coupons).
        buyer_pay = trades.c.total_fen - trades.c.discount_fen - trades.c.mdiscount_fen
        paid = select(trades.c.trade_no, buyer_pay, trades.c.fee_fen).where(
            and_(trades.c.paid_at_us >= start_us, trades.c.paid_at_us < end_us)
        )
        for trade_no, buyer_pay_fen, fee_fen in tx.execute(paid.limit(ITEMS_MAX)):
            expected.append((f"trade:{trade_no}:pay", int(buyer_pay_fen)))
            if fee_fen:
                expected.append((f"trade:{trade_no}:fee", int(fee_fen)))
        r = trade_refunds
        buyer_back = r.c.amount_fen - r.c.discount_back_fen - r.c.mdiscount_back_fen
        refunded = (
            select(trades.c.trade_no, r.c.id, buyer_back, r.c.fee_back_fen)
            .join(trades, trades.c.id == r.c.trade_id)
            .where(and_(r.c.created_at_us >= start_us, r.c.created_at_us < end_us))
        )
        for trade_no, refund_id, buyer_fen, fee_back_fen in tx.execute(refunded.limit(ITEMS_MAX)):
            if buyer_fen:  # a refund that is all discount moves nothing to the buyer
                expected.append((f"trade:{trade_no}:refund:{refund_id}", int(buyer_fen)))
            if fee_back_fen:
                expected.append((f"trade:{trade_no}:feeback:{refund_id}", int(fee_back_fen)))
        return expected

    def trade_transfers(self, tx: Connection, start_us: int, end_us: int) -> list[tuple[str, int]]:
        """Payment and refund transfers the ledger holds for the window."""
        t = ledger_transfers
        query = select(t.c.id, t.c.amount_fen).where(
            t.c.code.in_((LEDGER_CODE_TRADE_PAY, LEDGER_CODE_REFUND)),
            and_(t.c.created_at_us >= start_us, t.c.created_at_us < end_us),
        )
        return [(str(a), int(b)) for a, b in tx.execute(query.limit(ITEMS_MAX))]

    def transfer_amounts(self, tx: Connection, ids: Sequence[str]) -> dict[str, int]:
        t = ledger_transfers
        found: dict[str, int] = {}
        for start in range(0, len(ids), IN_CHUNK):
            chunk = list(ids[start : start + IN_CHUNK])
            query = select(t.c.id, t.c.amount_fen).where(t.c.id.in_(chunk))
            found.update({str(a): int(b) for a, b in tx.execute(query)})
        return found

    def class_balances(self, tx: Connection) -> dict[str, int]:
        a = ledger_accounts
        query = (
            select(
                a.c.owner_kind,
                a.c.purpose,
                func.sum(a.c.credits_posted - a.c.debits_posted),
            )
            .group_by(a.c.owner_kind, a.c.purpose)
            .order_by(a.c.owner_kind, a.c.purpose)
        )
        return {f"{k}.{p}": int(total or 0) for k, p, total in tx.execute(query).all()}
