"""SQL stores of the wallet feature: cards, SMS challenges and outbox, money rows, statements."""

from __future__ import annotations

import weakref
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    Select,
    Update,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)

from paybao.adapters.db.tables.card_payouts import card_payouts
from paybao.adapters.db.tables.escrow import escrow_trades
from paybao.adapters.db.tables.ledger import ledger_transfers
from paybao.adapters.db.tables.trade import trades
from paybao.adapters.db.tables.wallet import (
    sms_challenges,
    sms_outbox,
    topups,
    user_cards,
    wallet_transfers,
    withdrawals,
)
from paybao.domain.credentials import SmsChallenge
from paybao.domain.escrow import LEDGER_CODE_ESCROW_POST
from paybao.domain.ledger import TransferFlags
from paybao.domain.trades import LEDGER_CODE_TRADE_PAY
from paybao.services.clock import datetime_from_us, us_from_datetime
from paybao.services.registration import CardRecord
from paybao.services.wallet_statement import (
    ENTRY_KIND_OTHER,
    ENTRY_KINDS,
    HOLD_KINDS,
    Entry,
    Hold,
    StatementQuery,
    trade_discount,
)

# Money rows by table name; payout tables of other features (services/wallet_payouts.py
# `PayoutRows`) are here too, as the payout machinery reads and moves them by name.
_TABLES = {t.name: t for t in (topups, withdrawals, wallet_transfers, card_payouts)}
# The tables only this store writes: their rows a transaction wrote or locked are remembered
# for it (`SqlWalletStore._rows`). Card payouts are also written by their own store.
_REMEMBERED = frozenset({"topups", "withdrawals", "wallet_transfers"})

# Built once with bound parameters: every top-up, withdrawal and transfer inserts, reads and
# finishes its money row, and building these afresh (SQLAlchemy's construction and cache-key
# walk) cost 0.08..0.15 ms of CPU apiece.
_CARD_BY_ID = select(user_cards).where(user_cards.c.id == bindparam("card_id"))


@lru_cache(maxsize=64)  # one per set of column names a caller passes: a few
def _insert_returning_id(table: str, names: tuple[str, ...]) -> Insert:
    target = _TABLES[table]
    return insert(target).values({name: bindparam(name) for name in names}).returning(target.c.id)


@cache
def _by_id(table: str, for_update: bool) -> Select[Any]:
    target = _TABLES[table]
    query = select(target).where(target.c.id == bindparam("row_id"))
    return query.with_for_update() if for_update else query


@lru_cache(maxsize=64)  # one per set of column names a caller passes: a few
def _finish(table: str, names: tuple[str, ...]) -> Update:
    """Sets the columns `names` from the parameters `set_<name>` (an UPDATE's parameters are
    named apart from its columns: SQLAlchemy keeps those names for the SET clause)."""
    target = _TABLES[table]
    query = (
        update(target)
        .where(target.c.id == bindparam("row_id"), target.c.status == bindparam("from_status"))
        .values({name: bindparam(f"set_{name}") for name in names})
    )
    return query.returning(*target.c) if table in _REMEMBERED else query


class SqlCardStore:
    def get(self, tx: Connection, card_id: int) -> CardRecord | None:
        row = tx.execute(_CARD_BY_ID, {"card_id": card_id}).first()
        return CardRecord(**row._mapping) if row is not None else None

    def of_user(self, tx: Connection, user_id: int) -> list[CardRecord]:
        query = select(user_cards).where(user_cards.c.user_id == user_id).order_by(user_cards.c.id)
        return [CardRecord(**row._mapping) for row in tx.execute(query)]

    def upsert_pending(
        self,
        tx: Connection,
        user_id: int,
        number: str,
        bank_code: str,
        card_type: str,
        phone: str,
        now_us: int,
    ) -> int:
        existing = tx.execute(
            select(user_cards.c.id).where(
                user_cards.c.user_id == user_id, user_cards.c.card_number == number
            )
        ).scalar_one_or_none()
        values = {"reserved_phone": phone, "status": "pending", "created_at_us": now_us}
        if existing is not None:
            tx.execute(update(user_cards).where(user_cards.c.id == existing).values(**values))
            return int(existing)
        result = tx.execute(
            insert(user_cards)
            .values(
                user_id=user_id,
                card_number=number,
                bank_code=bank_code,
                card_type=card_type,
                **values,
            )
            .returning(user_cards.c.id)
        )
        return int(result.scalar_one())

    def set_status(self, tx: Connection, card_id: int, status: str) -> None:
        tx.execute(update(user_cards).where(user_cards.c.id == card_id).values(status=status))


def _challenge(row: Any) -> SmsChallenge:
    return SmsChallenge(
        phone=row.phone,
        purpose=row.purpose,
        code=row.code,
        issued_at=datetime_from_us(row.issued_at_us),
        expires_at=datetime_from_us(row.expires_at_us),
        tries_wrong=row.tries_wrong,
        used_at=datetime_from_us(row.used_at_us) if row.used_at_us else None,
    )


class SqlSmsStore:
    def latest(
        self, tx: Connection, phone: str, purpose: str, *, for_update: bool = False
    ) -> tuple[int, SmsChallenge] | None:
        query = (
            select(sms_challenges)
            .where(sms_challenges.c.phone == phone, sms_challenges.c.purpose == purpose)
            .order_by(sms_challenges.c.id.desc())
            .limit(1)
        )
        row = tx.execute(query.with_for_update() if for_update else query).first()
        return (int(row.id), _challenge(row)) if row is not None else None

    def sent_since(self, tx: Connection, phone: str, purpose: str, since_us: int) -> list[int]:
        query = select(sms_challenges.c.issued_at_us).where(
            sms_challenges.c.phone == phone,
            sms_challenges.c.purpose == purpose,
            sms_challenges.c.issued_at_us >= since_us,
        )
        return [int(at) for at in tx.execute(query).scalars()]

    def insert(self, tx: Connection, challenge: SmsChallenge) -> int:
        result = tx.execute(
            insert(sms_challenges)
            .values(**_challenge_values(challenge))
            .returning(sms_challenges.c.id)
        )
        return int(result.scalar_one())

    def save(self, tx: Connection, challenge_id: int, challenge: SmsChallenge) -> None:
        tx.execute(
            update(sms_challenges)
            .where(sms_challenges.c.id == challenge_id)
            .values(**_challenge_values(challenge))
        )


def _challenge_values(challenge: SmsChallenge) -> dict[str, Any]:
    return {
        "phone": challenge.phone,
        "purpose": challenge.purpose,
        "code": challenge.code,
        "issued_at_us": us_from_datetime(challenge.issued_at),
        "expires_at_us": us_from_datetime(challenge.expires_at),
        "tries_wrong": challenge.tries_wrong,
        "used_at_us": us_from_datetime(challenge.used_at) if challenge.used_at else None,
    }


class SandboxSmsSender:
    """Keeps texts in `sms_outbox` (the developer inbox) instead of sending them."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock

    def send_in(self, tx: Connection, phone: str, text: str) -> None:
        tx.execute(
            insert(sms_outbox).values(
                phone=phone, text=text[:500], created_at_us=self.clock.now_us()
            )
        )


def sms_outbox_tail(tx: Connection, limit: int = 50, phone: str | None = None) -> list[Any]:
    query = select(sms_outbox).order_by(sms_outbox.c.id.desc()).limit(min(limit, 500))
    if phone:
        query = query.where(sms_outbox.c.phone == phone)
    return list(tx.execute(query).all())


class SqlWalletStore:
    """Money rows by table name, with the rows a transaction wrote or locked remembered.

    A movement's answer is its row as the transaction left it; reading it back after the
    UPDATE that wrote it cost a statement per transaction. So, for the tables only this store
    writes (`_REMEMBERED`), `finish` returns the row it wrote (UPDATE ... RETURNING, SQLite
    3.35+ and PostgreSQL) and remembers it for the transaction, keyed on its `Connection`
    (one per transaction, dropped with it), as does a locking read; a plain `get` of a
    remembered row is answered from memory. Why that is safe: every update of those rows goes
    through `finish`, which remembers what it wrote, and a row this transaction updated or
    locked cannot change under it until it ends. A locking read always goes to the database
    (it must take the lock). (An inserted row's values are the caller's own: it answers from
    them, see `WalletOperations.movement_in`.)
    """

    def __init__(self) -> None:
        self._rows: weakref.WeakKeyDictionary[Connection, dict[tuple[str, int], Any]] = (
            weakref.WeakKeyDictionary()
        )

    def _remember(self, tx: Connection, table: str, row: Any) -> None:
        if table in _REMEMBERED and row is not None:
            self._rows.setdefault(tx, {})[table, int(row.id)] = row

    def insert(self, tx: Connection, table: str, values: dict[str, Any]) -> int:
        return int(tx.execute(_insert_returning_id(table, tuple(values)), values).scalar_one())

    def get(self, tx: Connection, table: str, row_id: int, *, for_update: bool = False) -> Any:
        if not for_update:
            remembered = self._rows.get(tx)
            if remembered is not None and (table, row_id) in remembered:
                return remembered[table, row_id]
        row = tx.execute(_by_id(table, for_update), {"row_id": row_id}).first()
        if for_update:
            self._remember(tx, table, row)
        return row

    def finish(
        self, tx: Connection, table: str, row_id: int, from_status: str, **values: Any
    ) -> bool:
        params = {f"set_{name}": value for name, value in values.items()}
        params.update(row_id=row_id, from_status=from_status)
        result = tx.execute(_finish(table, tuple(values)), params)
        if table not in _REMEMBERED:
            return bool(result.rowcount == 1)
        row = result.first()
        self._remember(tx, table, row)
        return row is not None

    def due_payouts(self, tx: Connection, table: str, now_us: int, limit: int) -> list[int]:
        target = _TABLES[table]
        query = (
            select(target.c.id)
            .where(target.c.status == "held", target.c.due_at_us <= now_us)
            .order_by(target.c.due_at_us)
            .limit(limit)
        )
        return [int(i) for i in tx.execute(query).scalars()]

    def recent(self, tx: Connection, table: str, user_id: int, limit: int) -> list[Any]:
        target = _TABLES[table]
        owner = target.c.payer_user_id if table == "wallet_transfers" else target.c.user_id
        query = select(target).where(owner == user_id).order_by(target.c.id.desc()).limit(limit)
        return list(tx.execute(query).all())

    def statement(self, tx: Connection, account_id: int, query: StatementQuery) -> list[Entry]:
        t = ledger_transfers
        # Holds and voids never changed the balance; a post did, with the hold's accounts.
        effective = t.c.flags.op("&")(int(TransferFlags.PENDING | TransferFlags.VOID_PENDING)) == 0
        signed = case((t.c.credit_account_id == account_id, t.c.amount_fen), else_=-t.c.amount_fen)
        running = func.sum(signed).over(order_by=t.c.seq, rows=(None, 0))
        inner = (
            select(
                t.c.seq,
                t.c.id,
                t.c.code,
                t.c.created_at_us,
                t.c.reference,
                signed.label("amount"),
                running.label("balance_after"),
            )
            .where(or_(t.c.debit_account_id == account_id, t.c.credit_account_id == account_id))
            .where(effective)
            .subquery()
        )
        conditions: list[ColumnElement[bool]] = []
        if query.kinds:
            conditions.append(inner.c.code.in_(sorted(query.kinds)))
        if query.from_us is not None:
            conditions.append(inner.c.created_at_us >= query.from_us)
        if query.to_us is not None:
            conditions.append(inner.c.created_at_us < query.to_us)
        if query.before_seq is not None:
            conditions.append(inner.c.seq < query.before_seq)
        page = select(inner).where(*conditions).order_by(inner.c.seq.desc()).limit(query.limit)
        return [_entry(row) for row in tx.execute(_with_orders(page.subquery()))]

    def holds(
        self, tx: Connection, account_id: int, limit: int, before_seq: int | None = None
    ) -> list[Hold]:
        t = ledger_transfers
        query = (
            select(
                t.c.seq,
                t.c.id,
                t.c.code,
                t.c.amount_fen,
                t.c.created_at_us,
                t.c.expires_at_us,
                t.c.reference,
            )
            .where(t.c.debit_account_id == account_id, t.c.pending_status == "pending")
            .where(t.c.flags.op("&")(int(TransferFlags.PENDING)) != 0)
            .order_by(t.c.seq.desc())
            .limit(limit)
        )
        if before_seq is not None:
            query = query.where(t.c.seq < before_seq)
        return [
            Hold(
                seq=int(row.seq),
                transfer_id=row.id,
                kind=HOLD_KINDS.get(row.code, ENTRY_KIND_OTHER),
                amount_fen=int(row.amount_fen),
                at_us=int(row.created_at_us),
                reference=row.reference,
                expires_at_us=None if row.expires_at_us is None else int(row.expires_at_us),
            )
            for row in tx.execute(query)
        ]


def _with_orders(page: Any) -> Any:
    """The page's entries, each trade payment and escrow payment with its order's total and
    what its buyer paid: one join each on the page (trade_no and escrow_no are unique), not a
    look-up per entry."""
    e = escrow_trades
    paid_trade = and_(page.c.code == LEDGER_CODE_TRADE_PAY, trades.c.trade_no == page.c.reference)
    paid_escrow = and_(page.c.code == LEDGER_CODE_ESCROW_POST, e.c.escrow_no == page.c.reference)
    # An escrow's payment is what the seller kept of the order (a refunded part never left the
    # hold): the order less the refund, less what of the coupon was not given back.
    escrow_kept_fen = e.c.total_fen - e.c.refund_fen
    order_total_fen = func.coalesce(trades.c.total_fen, escrow_kept_fen)
    buyer_pay_fen = func.coalesce(
        trades.c.total_fen - trades.c.discount_fen - trades.c.mdiscount_fen,
        escrow_kept_fen - e.c.discount_fen + e.c.discount_back_fen,
    )
    return (
        select(page, order_total_fen.label("order_total"), buyer_pay_fen.label("buyer_pay"))
        .select_from(page.outerjoin(trades, paid_trade).outerjoin(e, paid_escrow))
        .order_by(page.c.seq.desc())
    )


def _entry(row: Any) -> Entry:
    amount_fen = int(row.amount)
    order_total_fen = discount_fen = None
    if row.order_total is not None:
        order_total_fen, discount_fen = trade_discount(int(row.order_total), int(row.buyer_pay))
    return Entry(
        seq=int(row.seq),
        transfer_id=row.id,
        kind=ENTRY_KINDS.get(row.code, ENTRY_KIND_OTHER),
        amount_fen=amount_fen,
        balance_after_fen=int(row.balance_after),
        at_us=int(row.created_at_us),
        reference=row.reference,
        order_total_fen=order_total_fen,
        discount_fen=discount_fen,
    )
