"""SQL for risk control (`services/risk.py`): the signals of one operation in one statement,
the decisions, the blacklist."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import BindParameter

from paybao.adapters.db.tables.card_payouts import card_payouts
from paybao.adapters.db.tables.red_packets import red_packets
from paybao.adapters.db.tables.risk import risk_blacklist, risk_decisions
from paybao.adapters.db.tables.trade import trades
from paybao.adapters.db.tables.wallet import user_cards, users, wallet_transfers, withdrawals
from paybao.domain.identity import mask_phone, mask_real_name
from paybao.services.risk import BlacklistEntry, History, RecordedDecision

# Statuses of attempts that moved (or hold) no money: they are not history.
_DEAD = ("failed", "cancelled")


class SqlRiskStore:
    def history(
        self,
        tx: Connection,
        user_id: int,
        payee_user_id: int | None,
        since_us: int,
        ops_max: int,
        payee_card: str | None = None,
    ) -> History:
        """The user's newest `ops_max` transfers, withdrawals, card payouts and red packets sent
        (each): how many since `since_us`, the largest amount; whether the user ever paid the
        payee (an account, or a card); whether it is blacklisted."""
        params: dict[str, Any] = {"user_id": user_id, "since_us": since_us, "ops_max": ops_max}
        if payee_card is not None:
            params["card_number"] = payee_card
        elif payee_user_id is not None:
            params["payee_user_id"] = payee_user_id
        payee = "card" if payee_card is not None else "none" if payee_user_id is None else "user"
        row = tx.execute(_history_statement(payee), params).one()
        count = len(_HISTORY_SOURCES)
        largest = [amount for amount in row[count : 2 * count] if amount is not None]
        return History(
            ops_since=sum(int(ops) for ops in row[:count]),
            largest_fen=max(largest) if largest else None,
            paid_payee_before=bool(row[2 * count]),
            payee_blacklisted=bool(row[2 * count + 1]),
        )

    def payment_history(self, tx: Connection, user_id: int, since_us: int, ops_max: int) -> History:
        """The user's merchant payments: how many were paid since `since_us`, and the largest
        of the newest `ops_max` (one statement on the trades' buyer index)."""
        newest = (
            select(trades.c.total_fen)
            .where(trades.c.buyer_user_id == user_id, trades.c.paid_at_us.is_not(None))
            .order_by(trades.c.paid_at_us.desc())
            .limit(ops_max)
            .subquery()
        )
        since = (
            select(func.count())
            .where(trades.c.buyer_user_id == user_id, trades.c.paid_at_us >= since_us)
            .scalar_subquery()
        )
        largest = select(func.max(newest.c.total_fen)).scalar_subquery()
        count, largest_fen = tx.execute(select(since, largest)).one()
        return History(
            ops_since=int(count),
            largest_fen=None if largest_fen is None else int(largest_fen),
            paid_payee_before=False,
            payee_blacklisted=False,
        )

    def insert_decision(self, tx: Connection, values: dict[str, Any]) -> int:
        key = tx.execute(insert(risk_decisions).values(**values)).inserted_primary_key
        assert key is not None
        return int(key[0])

    def decisions(
        self, tx: Connection, *, unreviewed: bool, limit: int, before_id: int | None
    ) -> list[RecordedDecision]:
        query = select(risk_decisions).order_by(risk_decisions.c.id.desc()).limit(limit)
        if unreviewed:
            query = query.where(
                risk_decisions.c.review.is_(None), risk_decisions.c.decision == "delay"
            )
        if before_id is not None:
            query = query.where(risk_decisions.c.id < before_id)
        return [_decision(row) for row in tx.execute(query)]

    def decision_for(self, tx: Connection, reference: str) -> RecordedDecision | None:
        query = select(risk_decisions).where(risk_decisions.c.reference == reference).limit(1)
        row = tx.execute(query).first()
        return None if row is None else _decision(row)

    def decision(
        self, tx: Connection, decision_id: int, *, for_update: bool = False
    ) -> RecordedDecision | None:
        query = select(risk_decisions).where(risk_decisions.c.id == decision_id)
        row = tx.execute(query.with_for_update() if for_update else query).first()
        return None if row is None else _decision(row)

    def review(
        self, tx: Connection, decision_id: int, review: str, operator_id: int, now_us: int
    ) -> bool:
        result = tx.execute(
            update(risk_decisions)
            .where(risk_decisions.c.id == decision_id, risk_decisions.c.review.is_(None))
            .values(review=review, reviewed_by=operator_id, reviewed_at_us=now_us)
        )
        return result.rowcount == 1

    def blacklist_add(
        self, tx: Connection, user_id: int, reason: str, operator_id: int | None, now_us: int
    ) -> bool:
        """False if the account is already on the list."""
        try:
            with tx.begin_nested():
                tx.execute(
                    insert(risk_blacklist).values(
                        user_id=user_id, reason=reason, added_by=operator_id, added_at_us=now_us
                    )
                )
        except IntegrityError:
            return False
        return True

    def blacklist_remove(self, tx: Connection, user_id: int) -> bool:
        result = tx.execute(delete(risk_blacklist).where(risk_blacklist.c.user_id == user_id))
        return result.rowcount == 1

    def blacklist(self, tx: Connection, limit: int) -> list[BlacklistEntry]:
        query = _blacklist_entries().order_by(risk_blacklist.c.added_at_us.desc())
        return _entries(tx.execute(query.limit(limit)))

    def blacklist_page(
        self, tx: Connection, limit: int, before_user_id: int | None
    ) -> list[BlacklistEntry]:
        query = _blacklist_entries().order_by(risk_blacklist.c.user_id.desc())
        if before_user_id is not None:
            query = query.where(risk_blacklist.c.user_id < before_user_id)
        return _entries(tx.execute(query.limit(limit)))


def _blacklist_entries() -> Select[Any]:
    return select(risk_blacklist, users.c.phone, users.c.real_name).join(
        users, users.c.id == risk_blacklist.c.user_id, isouter=True
    )


def _entries(rows: Any) -> list[BlacklistEntry]:
    return [
        BlacklistEntry(
            user_id=row.user_id,
            phone_masked=mask_phone(row.phone) if row.phone else "",
            name_masked=mask_real_name(row.real_name) if row.real_name else "",
            reason=row.reason,
            added_by=row.added_by,
            added_at_us=row.added_at_us,
        )
        for row in rows
    ]


# The money-outs risk history counts, as (table, the user's column): red packets come apart.
_HISTORY_SOURCES = ("wallet_transfers", "withdrawals", "card_payouts", "red_packets")
_USER: BindParameter[int] = bindparam("user_id")


@cache
def _history_statement(payee: str) -> Select[Any]:
    """`history`'s one statement for a payee kind (`none`, `user`, `card`), built once per
    process with bound parameters (user_id, since_us, ops_max, payee_user_id | card_number):
    building it afresh cost about a millisecond of CPU on every money-out."""
    sources = [
        _newest(wallet_transfers, wallet_transfers.c.payer_user_id),
        _newest(withdrawals, withdrawals.c.user_id),
        _newest(card_payouts, card_payouts.c.user_id),
        _red_packets_sent(),
    ]
    assert len(sources) == len(_HISTORY_SOURCES)
    columns: list[Any] = [_count_since(n) for n in sources] + [
        select(func.max(n.c.amount_fen)).where(n.c.status.not_in(_DEAD)).scalar_subquery()
        for n in sources
    ]
    if payee == "card":
        columns += _card_payee()
    elif payee == "none":
        columns += [literal(False), literal(False)]
    else:
        payee_id: BindParameter[int] = bindparam("payee_user_id")
        columns += [
            exists().where(
                wallet_transfers.c.payer_user_id == _USER,
                wallet_transfers.c.payee_user_id == payee_id,
                wallet_transfers.c.status == "succeeded",
            ),
            exists().where(risk_blacklist.c.user_id == payee_id),
        ]
    return select(*columns)


def _card_payee() -> list[Any]:
    """Whether the user paid this card before (or has it bound: their own card), and whether
    a blacklisted account has it bound."""
    card_number: BindParameter[str] = bindparam("card_number")
    bound = (user_cards.c.card_number == card_number, user_cards.c.status == "bound")
    paid_before = or_(
        exists().where(
            card_payouts.c.user_id == _USER,
            card_payouts.c.card_number == card_number,
            card_payouts.c.status == "succeeded",
        ),
        exists().where(user_cards.c.user_id == _USER, *bound),
    )
    blacklisted = exists().where(*bound, user_cards.c.user_id.in_(select(risk_blacklist.c.user_id)))
    return [paid_before, blacklisted]


def _newest(table: Any, user_column: Any) -> Any:
    return (
        select(table.c.amount_fen, table.c.status, table.c.created_at_us)
        .where(user_column == _USER)
        .order_by(table.c.id.desc())
        .limit(bindparam("ops_max"))
        .subquery()
    )


def _red_packets_sent() -> Any:
    """In `_newest`'s shape: a packet sent is money gone whatever became of it (an expired
    one's rest came back later, as a transfer's refund would), so none is dead."""
    return (
        select(
            red_packets.c.total_fen.label("amount_fen"),
            literal("sent").label("status"),
            red_packets.c.created_at_us,
        )
        .where(red_packets.c.sender_user_id == _USER)
        .order_by(red_packets.c.id.desc())
        .limit(bindparam("ops_max"))
        .subquery()
    )


def _count_since(newest: Any) -> Any:
    query: Select[Any] = (
        select(func.count())
        .select_from(newest)
        .where(newest.c.created_at_us >= bindparam("since_us"))
    )
    return query.scalar_subquery()


def _decision(row: Any) -> RecordedDecision:
    return RecordedDecision(
        id=row.id,
        user_id=row.user_id,
        action=row.action,
        amount_fen=row.amount_fen,
        decision=row.decision,
        reasons=tuple(reason for reason in row.reasons.split(",") if reason),
        payee_user_id=row.payee_user_id,
        reference=row.reference,
        created_at_us=row.created_at_us,
        reviewed_at_us=row.reviewed_at_us,
        reviewed_by=row.reviewed_by,
        review=row.review,
    )
