"""The rows of a bill, read from trades, refunds, users and the ledger (SELECTs only)."""

from __future__ import annotations

from sqlalchemy import Connection, and_, or_, select

from paybao.adapters.db.tables.ledger import ledger_transfers
from paybao.adapters.db.tables.trade import trade_refunds, trades
from paybao.adapters.db.tables.wallet import users
from paybao.domain.bills import (
    ROWS_PER_BILL_MAX,
    MovementRow,
    Period,
    RowKind,
    TradeBillRow,
    running_balances,
)
from paybao.domain.identity import mask_phone

PENDING_FLAG = 2
VOID_FLAG = 8
BUSINESS_KINDS = {
    2001: "交易",
    2002: "收费",
    2003: "退款",
    2004: "退费",
    2005: "转账",
    2006: "提现",
}


class SqlBillSource:
    def trade_rows(self, tx: Connection, app_id: str, period: Period) -> list[TradeBillRow]:
        rows = self._payments(tx, app_id, period) + self._refunds(tx, app_id, period)
        rows.sort(key=lambda row: (row.finished_at_us, row.trade_no, row.refund_request_no))
        assert len(rows) <= 2 * ROWS_PER_BILL_MAX
        return rows

    def _payments(self, tx: Connection, app_id: str, period: Period) -> list[TradeBillRow]:
        query = (
            select(trades, users.c.phone)
            .outerjoin(users, users.c.id == trades.c.buyer_user_id)
            .where(trades.c.app_id == app_id)
            .where(
                and_(trades.c.paid_at_us >= period.start_us, trades.c.paid_at_us < period.end_us)
            )
            .order_by(trades.c.paid_at_us, trades.c.id)
            .limit(ROWS_PER_BILL_MAX)
        )
        return [
            TradeBillRow(
                trade_no=row.trade_no,
                out_trade_no=row.out_trade_no,
                kind=RowKind.TRADE,
                subject=row.subject,
                created_at_us=row.created_at_us,
                finished_at_us=row.paid_at_us,
                store_id=row.store_id or "",
                operator_id=row.operator_id or "",
                terminal_id=row.terminal_id or "",
                buyer_account=_buyer(row.phone),
                order_fen=row.total_fen,
                received_fen=row.total_fen - row.mdiscount_fen,
                fee_fen=-row.fee_fen,
                refund_request_no="",
                remark=row.body or "",
                platform_discount_fen=row.discount_fen,
                merchant_discount_fen=row.mdiscount_fen,
            )
            for row in tx.execute(query)
        ]

    def _refunds(self, tx: Connection, app_id: str, period: Period) -> list[TradeBillRow]:
        r = trade_refunds
        query = (
            select(
                trades,
                users.c.phone,
                r.c.out_request_no,
                r.c.amount_fen,
                r.c.fee_back_fen,
                r.c.reason,
                r.c.discount_back_fen,
                r.c.mdiscount_back_fen,
                r.c.created_at_us.label("refunded_at_us"),
            )
            .join(trades, trades.c.id == r.c.trade_id)
            .outerjoin(users, users.c.id == trades.c.buyer_user_id)
            .where(trades.c.app_id == app_id)
            .where(and_(r.c.created_at_us >= period.start_us, r.c.created_at_us < period.end_us))
            .order_by(r.c.created_at_us, r.c.id)
            .limit(ROWS_PER_BILL_MAX)
        )
        return [
            TradeBillRow(
                trade_no=row.trade_no,
                out_trade_no=row.out_trade_no,
                kind=RowKind.REFUND,
                subject=row.subject,
                created_at_us=row.refunded_at_us,
                finished_at_us=row.refunded_at_us,
                store_id=row.store_id or "",
                operator_id=row.operator_id or "",
                terminal_id=row.terminal_id or "",
                buyer_account=_buyer(row.phone),
                order_fen=-row.amount_fen,
                received_fen=-(row.amount_fen - row.mdiscount_back_fen),
                fee_fen=row.fee_back_fen,
                refund_request_no=row.out_request_no,
                remark=row.reason or "",
                platform_discount_fen=-row.discount_back_fen,
                merchant_discount_fen=-row.mdiscount_back_fen,
            )
            for row in tx.execute(query)
        ]

    def movements(self, tx: Connection, account_id: int, period: Period) -> list[MovementRow]:
        t = ledger_transfers
        mine = or_(t.c.debit_account_id == account_id, t.c.credit_account_id == account_id)
        # Posted movements only: a hold moves nothing until it posts (its post is the movement).
        posted = t.c.flags.op("&")(PENDING_FLAG | VOID_FLAG) == 0
        before = select(t.c.debit_account_id, t.c.amount_fen).where(
            mine, posted, t.c.created_at_us < period.start_us
        )
        opening_fen = sum(
            -amount if debit == account_id else amount for debit, amount in tx.execute(before)
        )
        query = (
            select(t, trades.c.out_trade_no, trades.c.subject)
            .outerjoin(trades, trades.c.trade_no == t.c.reference)
            .where(mine, posted)
            .where(and_(t.c.created_at_us >= period.start_us, t.c.created_at_us < period.end_us))
            .order_by(t.c.seq)
            .limit(ROWS_PER_BILL_MAX)
        )
        rows = list(tx.execute(query))
        deltas = [-r.amount_fen if r.debit_account_id == account_id else r.amount_fen for r in rows]
        balances = running_balances(opening_fen, deltas)
        return [
            MovementRow(
                entry_id=row.id,
                business_no=row.reference,
                out_trade_no=row.out_trade_no or "",
                subject=row.subject or "",
                at_us=row.created_at_us,
                counterparty="",
                income_fen=max(delta, 0),
                expense_fen=max(-delta, 0),
                balance_after_fen=balance,
                channel="余额",
                business_kind=BUSINESS_KINDS.get(row.code, "其他"),
                remark="",
            )
            for row, delta, balance in zip(rows, deltas, balances, strict=True)
        ]


def _buyer(phone: str | None) -> str:
    return mask_phone(phone) if phone and len(phone) == 11 else ""
