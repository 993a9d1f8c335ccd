"""Read-only SQL over the other features' tables: the facts a credit score is computed from, the
accounts of an identity, and the risk flags admission checks.

Nothing here writes. Every query is bounded: by the user (an indexed column leads), by the
window (`domain.score.WINDOW_DAYS` before now), and by LIMIT where rows come back. Sources:
wallet (users, top-ups, transfers), ledger (the wallet balance), gateway (trades paid as buyer,
merchants' transfers to the user), Yu'e Bao (holding, income), Huabei (line, bills),
withholding (deductions under the user's agreements), risk control (decisions, blacklist).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, func, literal, or_, select, union
from sqlalchemy.sql import ColumnElement, exists

from paybao.adapters.db.tables.agreements import agreement_deductions, agreements
from paybao.adapters.db.tables.credit import credit_bills, credit_lines
from paybao.adapters.db.tables.fund import fund_holdings, fund_incomes
from paybao.adapters.db.tables.ledger import ledger_accounts
from paybao.adapters.db.tables.risk import risk_blacklist, risk_decisions
from paybao.adapters.db.tables.trade import fund_transfers, trades
from paybao.adapters.db.tables.wallet import topups, users, wallet_transfers
from paybao.domain.fund import china_day, day_start_us
from paybao.domain.score import (
    WINDOW_DAYS,
    BillRecord,
    ScoreFacts,
    classify_bill,
    month_windows,
)
from paybao.services.clock import US_PER_S
from paybao.services.score import IdentityAccount, RiskFlags

DAY_US = 86_400 * US_PER_S
BILLS_MAX = 60  # a user's Huabei bills read: a year's, and any still overdue
COUNTERPARTIES_MAX = 1000
LANDED = "succeeded"


class SqlScoreQueries:
    def facts(self, tx: Connection, user_id: int, now_us: int) -> ScoreFacts:
        user = tx.execute(select(users).where(users.c.id == user_id)).mappings().first()
        assert user is not None, f"user {user_id} not found"
        since_us = now_us - WINDOW_DAYS * DAY_US
        bills = self._bills(tx, user_id, since_us)
        return ScoreFacts(
            account_class=user["account_class"],
            account_age_days=max(0, (now_us - int(user["created_at_us"])) // DAY_US),
            payments=_count(tx, _paid_by(user_id, since_us)),
            transfers=_count(tx, _sent_by(user_id, since_us)),
            months_active=self._months_active(tx, user_id, now_us),
            balance_fen=_balance_fen(tx, user["wallet_account_id"]),
            fund_fen=_fund_fen(tx, user_id),
            inflows_fen=_inflows_fen(tx, user_id, since_us),
            credit_line=_exists(tx, credit_lines.c.user_id == user_id),
            bills_on_time=bills.count(BillRecord.ON_TIME),
            withholding_honoured=_withholding(tx, user_id, since_us),
            counterparties=_counterparties(tx, user_id, since_us),
            bills_late=bills.count(BillRecord.LATE),
            bills_overdue=bills.count(BillRecord.OVERDUE),
            risk_refusals=_refusals(tx, user_id, since_us),
            blacklisted=_exists(tx, risk_blacklist.c.user_id == user_id),
            frozen=user["status"] == "frozen",
        )

    def _bills(self, tx: Connection, user_id: int, since_us: int) -> list[BillRecord]:
        query = (
            select(credit_bills.c.status, credit_bills.c.due_date, credit_bills.c.paid_at_us)
            .where(
                credit_bills.c.user_id == user_id,
                or_(credit_bills.c.created_at_us >= since_us, credit_bills.c.status == "overdue"),
            )
            .order_by(credit_bills.c.id.desc())
            .limit(BILLS_MAX)
        )
        return [
            classify_bill(status, _day_end_us(due_date), paid_at_us)
            for status, due_date, paid_at_us in tx.execute(query)
        ]

    def _months_active(self, tx: Connection, user_id: int, now_us: int) -> int:
        """Of the last 12 China months, those with a payment, a transfer sent or a top-up:
        one statement of indexed EXISTS probes."""
        columns = []
        for index, (first, following) in enumerate(month_windows(china_day(now_us))):
            start_us, end_us = day_start_us(first), day_start_us(following)
            active = or_(
                exists(_paid_by(user_id, start_us, end_us)),
                exists(_sent_by(user_id, start_us, end_us)),
                exists(
                    select(topups.c.id).where(
                        topups.c.user_id == user_id,
                        topups.c.status == LANDED,
                        topups.c.created_at_us >= start_us,
                        topups.c.created_at_us < end_us,
                    )
                ),
            )
            columns.append(active.label(f"m{index}"))
        row = tx.execute(select(*columns)).one()
        return sum(1 for value in row if value)

    def accounts_of_id_number(
        self, tx: Connection, id_number: str, limit: int
    ) -> list[IdentityAccount]:
        assert 0 < limit <= 100
        query = (
            select(users.c.id, users.c.real_name)
            .where(users.c.id_number == id_number)
            .order_by(users.c.id)
            .limit(limit)
        )
        return [IdentityAccount(int(user_id), name) for user_id, name in tx.execute(query)]

    def user_exists(self, tx: Connection, user_id: int) -> bool:
        return _exists(tx, users.c.id == user_id)

    def flags(self, tx: Connection, user_ids: Sequence[int]) -> dict[int, RiskFlags]:
        """Frozen, blacklisted, overdue on Huabei: for each of a person's few accounts."""
        assert len(user_ids) <= 100
        if not user_ids:
            return {}
        blacklisted = exists(
            select(risk_blacklist.c.user_id).where(risk_blacklist.c.user_id == users.c.id)
        )
        overdue = exists(
            select(credit_bills.c.id).where(
                credit_bills.c.user_id == users.c.id, credit_bills.c.status == "overdue"
            )
        )
        query = select(users.c.id, users.c.status, blacklisted, overdue).where(
            users.c.id.in_(list(user_ids))
        )
        return {
            int(user_id): RiskFlags(status == "frozen", bool(black), bool(late))
            for user_id, status, black, late in tx.execute(query)
        }


def _paid_by(user_id: int, since_us: int, until_us: int | None = None) -> Any:
    """Trades the user paid (any funding; refunded later or not)."""
    query = select(trades.c.id).where(
        trades.c.buyer_user_id == user_id, trades.c.paid_at_us >= since_us
    )
    return query if until_us is None else query.where(trades.c.paid_at_us < until_us)


def _sent_by(user_id: int, since_us: int, until_us: int | None = None) -> Any:
    query = select(wallet_transfers.c.id).where(
        wallet_transfers.c.payer_user_id == user_id,
        wallet_transfers.c.status == LANDED,
        wallet_transfers.c.created_at_us >= since_us,
    )
    return query if until_us is None else query.where(wallet_transfers.c.created_at_us < until_us)


def _count(tx: Connection, query: Any) -> int:
    return int(tx.execute(select(func.count()).select_from(query.subquery())).scalar_one())


def _exists(tx: Connection, condition: ColumnElement[bool]) -> bool:
    return bool(tx.execute(select(literal(1)).where(condition).limit(1)).first())


def _balance_fen(tx: Connection, account_id: int | None) -> int:
    if account_id is None:
        return 0
    a = ledger_accounts.c
    query = select(a.credits_posted - a.debits_posted).where(a.id == account_id)
    return max(0, int(tx.execute(query).scalar() or 0))


def _fund_fen(tx: Connection, user_id: int) -> int:
    h = fund_holdings.c
    query = select(h.confirmed_fen + h.pending_fen).where(h.user_id == user_id)
    return int(tx.execute(query).scalar() or 0)


def _inflows_fen(tx: Connection, user_id: int, since_us: int) -> int:
    """Income-like money in: transfers received, merchants' transfers, Yu'e Bao income (not
    top-ups: they are the user's own money moving from a card)."""
    received = select(func.coalesce(func.sum(wallet_transfers.c.amount_fen), 0)).where(
        wallet_transfers.c.payee_user_id == user_id,
        wallet_transfers.c.status == LANDED,
        wallet_transfers.c.created_at_us >= since_us,
    )
    paid_out = select(func.coalesce(func.sum(fund_transfers.c.amount_fen), 0)).where(
        fund_transfers.c.payee_user_id == user_id, fund_transfers.c.created_at_us >= since_us
    )
    income = select(func.coalesce(func.sum(fund_incomes.c.income_fen), 0)).where(
        fund_incomes.c.user_id == user_id, fund_incomes.c.created_at_us >= since_us
    )
    query = select(received.scalar_subquery(), paid_out.scalar_subquery(), income.scalar_subquery())
    return sum(int(value or 0) for value in tx.execute(query).one())


def _withholding(tx: Connection, user_id: int, since_us: int) -> int:
    """Deductions paid under the user's agreements (by agreement: both sides are indexed)."""
    query = (
        select(func.count())
        .select_from(
            agreement_deductions.join(
                agreements, agreements.c.id == agreement_deductions.c.agreement_id
            )
        )
        .where(agreements.c.user_id == user_id, agreement_deductions.c.created_at_us >= since_us)
    )
    return int(tx.execute(query).scalar_one())


def _counterparties(tx: Connection, user_id: int, since_us: int) -> int:
    t = wallet_transfers.c
    paid = select(t.payee_user_id.label("other")).where(
        t.payer_user_id == user_id, t.status == LANDED, t.created_at_us >= since_us
    )
    received = select(t.payer_user_id.label("other")).where(
        t.payee_user_id == user_id, t.status == LANDED, t.created_at_us >= since_us
    )
    others = union(paid, received).subquery()
    bounded = select(others.c.other).limit(COUNTERPARTIES_MAX).subquery()
    return int(tx.execute(select(func.count()).select_from(bounded)).scalar_one())


def _refusals(tx: Connection, user_id: int, since_us: int) -> int:
    """Money-outs risk control rejected, and held ones operators cancelled as fraud."""
    d = risk_decisions.c
    query = select(func.count()).where(
        d.user_id == user_id,
        d.created_at_us >= since_us,
        or_(d.decision == "reject", d.review == "cancelled"),
    )
    return int(tx.execute(query).scalar_one())


def _day_end_us(due_date: str) -> int:
    """The end of a China date given as 'YYYY-MM-DD' (a bill's due date)."""
    return day_start_us(date.fromisoformat(due_date) + timedelta(days=1))
