"""SQL for merchants, apps, trades, refunds, notifications, payouts and till codes.

SQLAlchemy Core, one statement per call; status changes are compare-and-set updates so that
two concurrent payers of one trade cannot both win (the loser matches zero rows).

The statements of `alipay.trade.pay` (trade by number, the insert, spending a till code, the
notification row) go to the driver's cursor as SQL text built once: building and compiling a
Core statement costs more Python than the database spends running it (see ledger_store.py).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Update, and_, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paybao.adapters.db import notification_delivery
from paybao.adapters.db.tables.merchant import merchant_apps, merchants
from paybao.adapters.db.tables.trade import (
    fund_transfers,
    notify_attempts,
    pay_auth_codes,
    trade_notifications,
    trade_refunds,
    trades,
)
from paybao.domain.trades import Funding, TradeStatus
from paybao.services.merchants import App, Merchant
from paybao.services.notify import Attempt, Notification
from paybao.services.payouts import Payout
from paybao.services.refunds import Refund
from paybao.services.trades import Trade, TradeSearch

_TRADE_COLUMNS = [column.name for column in trades.columns]
# In the dataclass's field order, so that a row is the Trade's positional arguments.
_TRADE_FIELDS = [field.name for field in dataclasses.fields(Trade)]
assert sorted(_TRADE_FIELDS) == sorted(_TRADE_COLUMNS), "trades table and Trade disagree"
_STATUS_INDEX = _TRADE_FIELDS.index("status")
_VISIBLE_INDEX = _TRADE_FIELDS.index("visible")
_FUNDING_INDEX = _TRADE_FIELDS.index("funding")
_INSERT_FIELDS = [name for name in _TRADE_FIELDS if name != "id"]
_NOTIFICATION_COLUMNS = (
    "notify_id, trade_id, merchant_id, url, event, snapshot, status, attempts, created_at_us"
)


# Built once with bound parameters: a refund reads its merchant and its refund, inserts the
# refund and updates the trade, and building those statements afresh (SQLAlchemy's
# construction and cache-key walk) cost 0.09..0.19 ms of CPU apiece.
_MERCHANT_BY_ID = select(merchants).where(merchants.c.id == bindparam("merchant_id"))
_REFUND_BY_REQUEST = select(trade_refunds).where(
    trade_refunds.c.trade_id == bindparam("trade_id"),
    trade_refunds.c.out_request_no == bindparam("out_request_no"),
)
_REFUND_INSERTED = (
    "trade_id",
    "out_request_no",
    "amount_fen",
    "fee_back_fen",
    "reason",
    "created_at_us",
    "discount_back_fen",
    "mdiscount_back_fen",
)
_INSERT_REFUND = (
    insert(trade_refunds)
    .values({name: bindparam(name) for name in _REFUND_INSERTED})
    .returning(trade_refunds.c.id)
)


@lru_cache(maxsize=64)  # one per set of column names a caller passes: a few
def _update_trade(expected: tuple[tuple[str, bool], ...], changed: tuple[str, ...]) -> Update:
    """`update_trade`'s compare-and-set for these names: the trade by `the_trade_no`, each
    expected column equal to `expect_<name>` (or NULL, as `== None` said), each changed column
    set to `set_<name>` (an UPDATE's parameters are named apart from its columns: SQLAlchemy
    keeps those names for the SET clause)."""
    conditions = [trades.c.trade_no == bindparam("the_trade_no")]
    conditions += [
        trades.c[name].is_(None) if is_null else trades.c[name] == bindparam(f"expect_{name}")
        for name, is_null in expected
    ]
    values: dict[str, Any] = {name: bindparam(f"set_{name}") for name in changed}
    return update(trades).where(and_(*conditions)).values(values)


class _TradeSql:
    """The hot statements' text in the dialect's parameter style (psycopg %s, sqlite3 ?)."""

    def __init__(self, mark: str) -> None:
        columns = ", ".join(_TRADE_FIELDS)
        self.by_no = f"SELECT {columns} FROM trades WHERE trade_no = {mark}"
        self.by_out_no = (
            f"SELECT {columns} FROM trades WHERE app_id = {mark} AND out_trade_no = {mark}"
        )
        marks = ", ".join([mark] * len(_INSERT_FIELDS))
        self.insert = (
            f"INSERT INTO trades ({', '.join(_INSERT_FIELDS)}) VALUES ({marks})"
            " ON CONFLICT (app_id, out_trade_no) DO NOTHING RETURNING id"
        )
        # One statement: a code is live, unused, and now spent, or nothing happens.
        self.use_code = (
            f"UPDATE pay_auth_codes SET used_at_us = {mark} WHERE code = {mark}"
            f" AND used_at_us IS NULL AND expires_at_us > {mark} RETURNING user_id"
        )
        marks = ", ".join([mark] * 9)
        self.insert_notification = (
            f"INSERT INTO trade_notifications ({_NOTIFICATION_COLUMNS}) VALUES ({marks})"
            " RETURNING id"
        )


class SqlTradeStore:
    """Implements MerchantStore, TradeStore, RefundStore, NotificationStore, PayoutStore."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert
        self._sql = _TradeSql("%s" if dialect == "postgresql" else "?")

    # Merchants and apps ---------------------------------------------------------------------

    def insert_merchant(self, tx: Connection, merchant: Merchant) -> int:
        values = {
            "name": merchant.name,
            "notify_url": merchant.notify_url,
            "fee_rate_ppm": merchant.fee_rate_ppm,
            "settlement_account_id": merchant.settlement_account_id,
            "owner_user_id": merchant.owner_user_id,
            "status": merchant.status,
            "created_at_us": merchant.created_at_us,
        }
        result = tx.execute(insert(merchants).values(**values).returning(merchants.c.id))
        return int(result.scalar_one())

    def set_settlement_account(self, tx: Connection, merchant_id: int, account_id: int) -> None:
        tx.execute(
            update(merchants)
            .where(merchants.c.id == merchant_id)
            .values(settlement_account_id=account_id)
        )

    def insert_app(self, tx: Connection, app: App, now_us: int) -> bool:
        statement = (
            self._insert(merchant_apps)
            .values(
                app_id=app.app_id,
                merchant_id=app.merchant_id,
                public_key=app.public_key,
                status=app.status,
                created_at_us=now_us,
                platform_key_generation=app.platform_key_generation,
            )
            .on_conflict_do_nothing(index_elements=["app_id"])
            .returning(merchant_apps.c.id)
        )
        return _inserted(tx, statement)

    def merchant(self, tx: Connection, merchant_id: int) -> Merchant | None:
        row = tx.execute(_MERCHANT_BY_ID, {"merchant_id": merchant_id}).mappings().first()
        return _merchant(row) if row is not None else None

    def merchants_owned_by(self, tx: Connection, user_id: int) -> list[Merchant]:
        rows = tx.execute(
            select(merchants).where(merchants.c.owner_user_id == user_id).order_by(merchants.c.id)
        ).mappings()
        return [_merchant(row) for row in rows]

    def app(self, tx: Connection, app_id: str) -> App | None:
        row = tx.execute(select(merchant_apps).where(merchant_apps.c.app_id == app_id)).first()
        return _app(row) if row else None

    def apps_of(self, tx: Connection, merchant_id: int) -> list[App]:
        rows = tx.execute(
            select(merchant_apps)
            .where(merchant_apps.c.merchant_id == merchant_id)
            .order_by(merchant_apps.c.id)
        )
        return [_app(row) for row in rows]

    def set_app_key(self, tx: Connection, app_id: str, public_key: str) -> bool:
        result = tx.execute(
            update(merchant_apps)
            .where(merchant_apps.c.app_id == app_id)
            .values(public_key=public_key)
        )
        return result.rowcount == 1

    # Trades ---------------------------------------------------------------------------------

    def insert_trade(self, tx: Connection, trade: Trade) -> bool:
        return self.insert_trade_id(tx, trade) is not None

    def insert_trade_id(self, tx: Connection, trade: Trade) -> int | None:
        """Insert unless (app_id, out_trade_no) exists; the new row's id, or None."""
        values = [_db_value(getattr(trade, name)) for name in _INSERT_FIELDS]
        row = _fetchone(tx, self._sql.insert, values)
        return int(row[0]) if row is not None else None

    def trade_by_no(self, tx: Connection, trade_no: str) -> Trade | None:
        row = _fetchone(tx, self._sql.by_no, (trade_no,))
        return _trade_of_row(row) if row is not None else None

    def trade_by_out_no(self, tx: Connection, app_id: str, out_trade_no: str) -> Trade | None:
        row = _fetchone(tx, self._sql.by_out_no, (app_id, out_trade_no))
        return _trade_of_row(row) if row is not None else None

    def update_trade(
        self, tx: Connection, trade_no: str, expect: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> bool:
        expected = tuple((name, value is None) for name, value in expect.items())
        params = {f"expect_{name}": _db_value(v) for name, v in expect.items() if v is not None}
        params.update({f"set_{name}": _db_value(value) for name, value in changes.items()})
        params["the_trade_no"] = trade_no
        result = tx.execute(_update_trade(expected, tuple(changes)), params)
        return result.rowcount == 1

    def trade_ids_to_finish(self, tx: Connection, paid_until_us: int, limit: int) -> list[int]:
        """Paid trades still TRADE_SUCCESS, paid at or before `paid_until_us`, oldest payment
        first: a range read of ix_trades_status_paid. On PostgreSQL the rows are locked for
        this transaction and rows another transaction holds are skipped, so that two sweepers
        take different trades instead of queueing on each other's."""
        query = (
            select(trades.c.id)
            .where(
                trades.c.status == TradeStatus.TRADE_SUCCESS.value,
                trades.c.paid_at_us <= paid_until_us,
            )
            .order_by(trades.c.paid_at_us, trades.c.id)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [int(row[0]) for row in tx.execute(query)]

    def finish_trades(
        self, tx: Connection, trade_ids: Sequence[int], finished_at_us: int
    ) -> list[Trade]:
        """Compare-and-set of each trade TRADE_SUCCESS -> TRADE_FINISHED, in one statement:
        the trades that changed, as they are now (a trade another transaction finished or
        closed meanwhile is not matched, and not returned)."""
        if not trade_ids:
            return []
        statement = (
            update(trades)
            .where(
                trades.c.id.in_(trade_ids),
                trades.c.status == TradeStatus.TRADE_SUCCESS.value,
            )
            .values(status=TradeStatus.TRADE_FINISHED.value, finished_at_us=finished_at_us)
            .returning(*trades.c)
        )
        return [_trade(row) for row in tx.execute(statement).mappings()]

    def search(self, tx: Connection, search: TradeSearch) -> list[Trade]:
        query = select(trades).where(trades.c.merchant_id == search.merchant_id)
        if search.trade_no:
            query = query.where(trades.c.trade_no == search.trade_no)
        if search.out_trade_no:
            query = query.where(trades.c.out_trade_no == search.out_trade_no)
        if search.from_us is not None:
            query = query.where(trades.c.created_at_us >= search.from_us)
        if search.until_us is not None:
            query = query.where(trades.c.created_at_us < search.until_us)
        query = query.order_by(trades.c.created_at_us.desc(), trades.c.id.desc())
        return [_trade(row) for row in tx.execute(query.limit(search.limit)).mappings()]

    def insert_auth_code(
        self, tx: Connection, code: str, user_id: int, now_us: int, ttl_s: int
    ) -> None:
        tx.execute(
            insert(pay_auth_codes).values(
                code=code,
                user_id=user_id,
                issued_at_us=now_us,
                expires_at_us=now_us + ttl_s * 1_000_000,
            )
        )

    def use_auth_code(self, tx: Connection, code: str, now_us: int) -> int | None:
        row = _fetchone(tx, self._sql.use_code, (now_us, code, now_us))
        return int(row[0]) if row is not None else None

    # Refunds --------------------------------------------------------------------------------

    def insert_refund(self, tx: Connection, refund: Refund) -> int:
        values = {name: getattr(refund, name) for name in _REFUND_INSERTED}
        return int(tx.execute(_INSERT_REFUND, values).scalar_one())

    def refund(self, tx: Connection, trade_id: int, out_request_no: str) -> Refund | None:
        params = {"trade_id": trade_id, "out_request_no": out_request_no}
        row = tx.execute(_REFUND_BY_REQUEST, params).first()
        return Refund(*row) if row is not None else None

    def refunds_of(self, tx: Connection, trade_id: int) -> list[Refund]:
        query = (
            select(trade_refunds)
            .where(trade_refunds.c.trade_id == trade_id)
            .order_by(trade_refunds.c.id)
        )
        return [Refund(*row) for row in tx.execute(query)]

    # Notifications --------------------------------------------------------------------------

    def insert_notification(self, tx: Connection, notification: Notification) -> int:
        values = (
            notification.notify_id,
            notification.trade_id,
            notification.merchant_id,
            notification.url,
            notification.event,
            json.dumps(notification.snapshot, ensure_ascii=False),
            notification.status,
            0,
            notification.created_at_us,
        )
        row = _fetchone(tx, self._sql.insert_notification, values)
        assert row is not None
        return int(row[0])

    def notification(self, tx: Connection, notify_id: str) -> Notification | None:
        query = select(trade_notifications).where(trade_notifications.c.notify_id == notify_id)
        row = tx.execute(query).mappings().first()
        return _notification(row) if row is not None else None

    def notifications_by_notify_id(
        self, tx: Connection, notify_ids: Sequence[str]
    ) -> dict[str, Notification]:
        return notification_delivery.notifications_by_notify_id(tx, self.dialect, notify_ids)

    def record_attempts(self, tx: Any, attempts: Sequence[tuple[Attempt, str]]) -> None:
        notification_delivery.record_attempts(tx, self.dialect, attempts)

    def set_status(self, tx: Connection, notification_id: int, status: str) -> None:
        tx.execute(
            update(trade_notifications)
            .where(trade_notifications.c.id == notification_id)
            .values(status=status)
        )

    def notifications_of(self, tx: Connection, merchant_id: int, limit: int) -> list[Notification]:
        query = (
            select(trade_notifications)
            .where(trade_notifications.c.merchant_id == merchant_id)
            .order_by(trade_notifications.c.id.desc())
            .limit(limit)
        )
        return [_notification(row) for row in tx.execute(query).mappings()]

    def notifications_of_trade(self, tx: Connection, trade_id: int) -> list[Notification]:
        query = (
            select(trade_notifications)
            .where(trade_notifications.c.trade_id == trade_id)
            .order_by(trade_notifications.c.id)
        )
        return [_notification(row) for row in tx.execute(query).mappings()]

    def attempts_of(self, tx: Connection, notification_id: int) -> list[Attempt]:
        query = (
            select(notify_attempts)
            .where(notify_attempts.c.notification_id == notification_id)
            .order_by(notify_attempts.c.attempt_no)
        )
        return [
            Attempt(
                row.notification_id,
                row.attempt_no,
                row.at_us,
                row.duration_ms,
                row.http_status,
                row.outcome,
                row.detail,
            )
            for row in tx.execute(query)
        ]

    # Payouts --------------------------------------------------------------------------------

    def insert_payout(self, tx: Connection, payout: Payout) -> bool:
        statement = (
            self._insert(fund_transfers)
            .values(
                order_no=payout.order_no,
                app_id=payout.app_id,
                merchant_id=payout.merchant_id,
                out_biz_no=payout.out_biz_no,
                payee_user_id=payout.payee_user_id,
                amount_fen=payout.amount_fen,
                title=payout.title,
                fingerprint=payout.fingerprint,
                created_at_us=payout.created_at_us,
            )
            .on_conflict_do_nothing(index_elements=["app_id", "out_biz_no"])
            .returning(fund_transfers.c.id)
        )
        return _inserted(tx, statement)

    def payout(self, tx: Connection, app_id: str, out_biz_no: str) -> Payout | None:
        return _payout_where(
            tx, fund_transfers.c.app_id == app_id, fund_transfers.c.out_biz_no == out_biz_no
        )

    def payout_by_order_no(self, tx: Connection, order_no: str) -> Payout | None:
        return _payout_where(tx, fund_transfers.c.order_no == order_no)


def _payout_where(tx: Connection, *where: Any) -> Payout | None:
    row = tx.execute(select(fund_transfers).where(*where)).first()
    if row is None:
        return None
    return Payout(
        order_no=row.order_no,
        app_id=row.app_id,
        merchant_id=row.merchant_id,
        out_biz_no=row.out_biz_no,
        payee_user_id=row.payee_user_id,
        amount_fen=row.amount_fen,
        title=row.title,
        fingerprint=row.fingerprint,
        created_at_us=row.created_at_us,
    )


def _fetchone(tx: Connection, sql: str, params: Any) -> Any:
    """A statement that returns rows (SELECT, or RETURNING), run on the driver's cursor inside
    tx's transaction: its first row or None. (Not `cursor.description`: psycopg builds a
    column object per column for it, which costs more than the fetch.)"""
    cursor = tx.connection.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchone()
    finally:
        cursor.close()


def _trade_of_row(row: Any) -> Trade:
    values = list(row)
    values[_STATUS_INDEX] = TradeStatus(values[_STATUS_INDEX])
    values[_VISIBLE_INDEX] = bool(values[_VISIBLE_INDEX])
    if values[_FUNDING_INDEX] is not None:
        values[_FUNDING_INDEX] = Funding(values[_FUNDING_INDEX])
    return Trade(*values)


def _inserted(tx: Connection, statement: Any) -> bool:
    """Whether an INSERT .. ON CONFLICT DO NOTHING wrote its row. (rowcount is -1 on
    PostgreSQL once SQLAlchemy adds RETURNING, so ask for the id instead.)"""
    return tx.execute(statement).first() is not None


def _db_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, TradeStatus | Funding):
        return value.value
    return value


def _trade(row: Any) -> Trade:
    values = {name: row[name] for name in _TRADE_COLUMNS}
    values["status"] = TradeStatus(values["status"])
    values["visible"] = bool(values["visible"])
    if values["funding"] is not None:
        values["funding"] = Funding(values["funding"])
    return Trade(**values)


def _app(row: Any) -> App:
    return App(row.app_id, row.merchant_id, row.public_key, row.status, row.platform_key_generation)


def _merchant(row: Any) -> Merchant:
    return Merchant(
        row["id"],
        row["name"],
        row["notify_url"],
        row["fee_rate_ppm"],
        row["settlement_account_id"],
        row["owner_user_id"],
        row["status"],
        row["created_at_us"],
    )


def _notification(row: Any) -> Notification:
    return Notification(
        id=row["id"],
        notify_id=row["notify_id"],
        trade_id=row["trade_id"],
        merchant_id=row["merchant_id"],
        url=row["url"],
        event=row["event"],
        snapshot=json.loads(row["snapshot"]),
        status=row["status"],
        attempts=row["attempts"],
        created_at_us=row["created_at_us"],
        last_attempt_at_us=row["last_attempt_at_us"],
        delivered_at_us=row["delivered_at_us"],
    )
