"""SQL for paying by code: devices, spent steps, preferences, day totals, confirmations,
static receive-money codes and order QR tokens. Every "only once" is an INSERT .. ON CONFLICT
DO NOTHING on a unique key (never check-then-insert), every state change a compare-and-set."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paybao.adapters.db.tables.paycode import (
    paycode_confirmations,
    paycode_day_totals,
    paycode_devices,
    paycode_prefs,
    paycode_uses,
    qr_order_codes,
    static_codes,
)
from paybao.services.paycodes import Confirmation, Device, OrderCode, StaticCode

DEVICES_LISTED_MAX = 50
CONFIRMATIONS_LISTED_MAX = 20


class SqlPaycodeStore:
    def __init__(self, dialect: str) -> None:
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert

    # Devices --------------------------------------------------------------------------------

    def insert_device(
        self, tx: Connection, user_id: int, name: str, seed_sealed: str, now_us: int
    ) -> int:
        values = {
            "user_id": user_id,
            "name": name,
            "seed_sealed": seed_sealed,
            "status": "active",
            "created_at_us": now_us,
        }
        row = tx.execute(insert(paycode_devices).values(**values).returning(paycode_devices.c.id))
        return int(row.scalar_one())

    def device(self, tx: Connection, device_id: int) -> Device | None:
        row = tx.execute(select(paycode_devices).where(paycode_devices.c.id == device_id)).first()
        return _device(row._mapping) if row is not None else None

    def devices_of(self, tx: Connection, user_id: int) -> list[Device]:
        query = (
            select(paycode_devices)
            .where(paycode_devices.c.user_id == user_id, paycode_devices.c.status == "active")
            .order_by(paycode_devices.c.id)
            .limit(DEVICES_LISTED_MAX)
        )
        return [_device(row) for row in tx.execute(query).mappings()]

    def unbind(self, tx: Connection, device_id: int, user_id: int, now_us: int) -> bool:
        statement = (
            update(paycode_devices)
            .where(
                paycode_devices.c.id == device_id,
                paycode_devices.c.user_id == user_id,
                paycode_devices.c.status == "active",
            )
            .values(status="unbound", unbound_at_us=now_us)
        )
        return tx.execute(statement).rowcount == 1

    def set_failures(self, tx: Connection, device_id: int, day: str, failures: int) -> None:
        statement = (
            update(paycode_devices)
            .where(paycode_devices.c.id == device_id)
            .values(failures=failures, failures_day=day)
        )
        tx.execute(statement)

    def insert_use(self, tx: Connection, device_id: int, step: int, now_us: int) -> bool:
        """Record a presented code; False if this (device, step) was presented before."""
        statement = (
            self._insert(paycode_uses)
            .values(device_id=device_id, step=step, used_at_us=now_us)
            .on_conflict_do_nothing(index_elements=["device_id", "step"])
            .returning(paycode_uses.c.id)
        )
        return tx.execute(statement).first() is not None

    # Preferences and day totals ---------------------------------------------------------------

    def password_free_fen(self, tx: Connection, user_id: int) -> int | None:
        query = select(paycode_prefs.c.password_free_fen).where(paycode_prefs.c.user_id == user_id)
        value = tx.execute(query).scalar()
        return int(value) if value is not None else None

    def set_password_free_fen(
        self, tx: Connection, user_id: int, amount_fen: int, now_us: int
    ) -> None:
        statement = self._insert(paycode_prefs).values(
            user_id=user_id, password_free_fen=amount_fen, updated_at_us=now_us
        )
        statement = statement.on_conflict_do_update(
            index_elements=["user_id"],
            set_={"password_free_fen": amount_fen, "updated_at_us": now_us},
        )
        tx.execute(statement)

    def add_day_total(
        self, tx: Connection, user_id: int, day: str, kind: str, amount_fen: int
    ) -> int:
        """Add to the day's total (the upsert locks the row) and return the new total."""
        values = self._insert(paycode_day_totals).values(
            user_id=user_id, day=day, kind=kind, amount_fen=amount_fen
        )
        statement = values.on_conflict_do_update(
            index_elements=["user_id", "day", "kind"],
            set_={"amount_fen": paycode_day_totals.c.amount_fen + amount_fen},
        ).returning(paycode_day_totals.c.amount_fen)
        return int(tx.execute(statement).scalar_one())

    def day_total(self, tx: Connection, user_id: int, day: str, kind: str) -> int:
        query = select(paycode_day_totals.c.amount_fen).where(
            paycode_day_totals.c.user_id == user_id,
            paycode_day_totals.c.day == day,
            paycode_day_totals.c.kind == kind,
        )
        return int(tx.execute(query).scalar() or 0)

    # Confirmations --------------------------------------------------------------------------

    def insert_confirmation(self, tx: Connection, values: dict[str, Any]) -> None:
        statement = (
            self._insert(paycode_confirmations)
            .values(**values, status="pending")
            .on_conflict_do_nothing(index_elements=["trade_no"])
        )
        tx.execute(statement)

    def confirmation(self, tx: Connection, confirmation_id: int) -> Confirmation | None:
        query = select(paycode_confirmations).where(paycode_confirmations.c.id == confirmation_id)
        row = tx.execute(query).first()
        return _confirmation(row._mapping) if row is not None else None

    def confirmation_of_trade(self, tx: Connection, trade_no: str) -> Confirmation | None:
        query = select(paycode_confirmations).where(paycode_confirmations.c.trade_no == trade_no)
        row = tx.execute(query).first()
        return _confirmation(row._mapping) if row is not None else None

    def pending_confirmations(self, tx: Connection, user_id: int) -> list[Confirmation]:
        query = (
            select(paycode_confirmations)
            .where(
                paycode_confirmations.c.user_id == user_id,
                paycode_confirmations.c.status == "pending",
            )
            .order_by(paycode_confirmations.c.id.desc())
            .limit(CONFIRMATIONS_LISTED_MAX)
        )
        return [_confirmation(row) for row in tx.execute(query).mappings()]

    def decide(self, tx: Connection, confirmation_id: int, status: str, now_us: int) -> bool:
        statement = (
            update(paycode_confirmations)
            .where(
                paycode_confirmations.c.id == confirmation_id,
                paycode_confirmations.c.status == "pending",
            )
            .values(status=status, decided_at_us=now_us)
        )
        return tx.execute(statement).rowcount == 1

    # Static codes and order codes -------------------------------------------------------------

    def insert_static_code(
        self, tx: Connection, token: str, owner_kind: str, owner_id: int, now_us: int
    ) -> None:
        statement = (
            self._insert(static_codes)
            .values(token=token, owner_kind=owner_kind, owner_id=owner_id, created_at_us=now_us)
            .on_conflict_do_nothing(index_elements=["owner_kind", "owner_id"])
        )
        tx.execute(statement)

    def static_code_of(self, tx: Connection, owner_kind: str, owner_id: int) -> StaticCode | None:
        query = select(static_codes).where(
            and_(static_codes.c.owner_kind == owner_kind, static_codes.c.owner_id == owner_id)
        )
        row = tx.execute(query).first()
        return _static(row._mapping) if row is not None else None

    def static_code(self, tx: Connection, token: str) -> StaticCode | None:
        row = tx.execute(select(static_codes).where(static_codes.c.token == token)).first()
        return _static(row._mapping) if row is not None else None

    def insert_order_code(
        self, tx: Connection, token: str, trade_no: str, now_us: int, expires_at_us: int
    ) -> None:
        statement = (
            self._insert(qr_order_codes)
            .values(
                token=token, trade_no=trade_no, created_at_us=now_us, expires_at_us=expires_at_us
            )
            .on_conflict_do_nothing(index_elements=["trade_no"])
        )
        tx.execute(statement)

    def order_code_of_trade(self, tx: Connection, trade_no: str) -> OrderCode | None:
        query = select(qr_order_codes).where(qr_order_codes.c.trade_no == trade_no)
        row = tx.execute(query).first()
        return _order(row._mapping) if row is not None else None

    def order_code(self, tx: Connection, token: str) -> OrderCode | None:
        row = tx.execute(select(qr_order_codes).where(qr_order_codes.c.token == token)).first()
        return _order(row._mapping) if row is not None else None

    def mark_order_scanned(self, tx: Connection, token: str, now_us: int) -> None:
        statement = (
            update(qr_order_codes)
            .where(qr_order_codes.c.token == token, qr_order_codes.c.scanned_at_us.is_(None))
            .values(scanned_at_us=now_us)
        )
        tx.execute(statement)


def _device(row: Any) -> Device:
    return Device(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        name=row["name"],
        seed_sealed=row["seed_sealed"],
        status=row["status"],
        failures=int(row["failures"]),
        failures_day=row["failures_day"],
        created_at_us=int(row["created_at_us"]),
    )


def _confirmation(row: Any) -> Confirmation:
    return Confirmation(
        id=int(row["id"]),
        trade_no=row["trade_no"],
        user_id=int(row["user_id"]),
        device_id=int(row["device_id"]),
        amount_fen=int(row["amount_fen"]),
        merchant_name=row["merchant_name"],
        subject=row["subject"],
        status=row["status"],
        created_at_us=int(row["created_at_us"]),
    )


def _static(row: Any) -> StaticCode:
    return StaticCode(
        token=row["token"], owner_kind=row["owner_kind"], owner_id=int(row["owner_id"])
    )


def _order(row: Any) -> OrderCode:
    return OrderCode(
        token=row["token"],
        trade_no=row["trade_no"],
        created_at_us=int(row["created_at_us"]),
        expires_at_us=int(row["expires_at_us"]),
        scanned_at_us=row["scanned_at_us"],
    )
