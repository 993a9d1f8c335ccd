"""SQL for escrow trades, listings and case messages. Core, one statement per call.

Rows are read `FOR UPDATE` on PostgreSQL when a service changes them (SQLite serialises
writers anyway); status changes are also compare-and-set, so a lost lock can never pay twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paybao.adapters.db.tables.escrow import escrow_listings, escrow_messages, escrow_trades
from paybao.domain.escrow import EscrowStatus, GoodsType
from paybao.services.escrow import Escrow, Evidence, Listing, Message, Party

_ESCROW_COLUMNS = [column.name for column in escrow_trades.columns]
_MESSAGE_COLUMNS = [c for c in escrow_messages.c if c.name != "image"]


class SqlEscrowStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert

    # Listings -------------------------------------------------------------------------------

    def insert_listing(self, tx: Connection, listing: Listing) -> int:
        values = {
            "seller_user_id": listing.seller_user_id,
            "title": listing.title,
            "price_fen": listing.price_fen,
            "goods_type": str(listing.goods_type),
            "active": 1 if listing.active else 0,
            "created_at_us": listing.created_at_us,
        }
        statement = insert(escrow_listings).values(**values).returning(escrow_listings.c.id)
        return int(tx.execute(statement).scalar_one())

    def listing(self, tx: Connection, listing_id: int) -> Listing | None:
        row = (
            tx.execute(select(escrow_listings).where(escrow_listings.c.id == listing_id))
            .mappings()
            .first()
        )
        return _listing(row) if row is not None else None

    def listings(self, tx: Connection, seller_user_id: int | None, limit: int) -> list[Listing]:
        query = select(escrow_listings).where(escrow_listings.c.active == 1)
        if seller_user_id is not None:
            query = query.where(escrow_listings.c.seller_user_id == seller_user_id)
        query = query.order_by(escrow_listings.c.id.desc()).limit(limit)
        return [_listing(row) for row in tx.execute(query).mappings()]

    # Escrow trades --------------------------------------------------------------------------

    def insert_escrow(self, tx: Connection, escrow: Escrow) -> bool:
        values = {name: _db_value(getattr(escrow, name)) for name in _ESCROW_COLUMNS}
        del values["id"]
        statement = self._insert(escrow_trades).values(**values).on_conflict_do_nothing()
        # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
        return tx.execute(statement.returning(escrow_trades.c.id)).scalar() is not None

    def escrow_by_no(
        self, tx: Connection, escrow_no: str, *, for_update: bool = False
    ) -> Escrow | None:
        query = select(escrow_trades).where(escrow_trades.c.escrow_no == escrow_no)
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        return _escrow(row) if row is not None else None

    def escrow_by_request(
        self, tx: Connection, buyer_user_id: int, request_key: str
    ) -> Escrow | None:
        query = select(escrow_trades).where(
            escrow_trades.c.buyer_user_id == buyer_user_id,
            escrow_trades.c.request_key == request_key,
        )
        row = tx.execute(query).mappings().first()
        return _escrow(row) if row is not None else None

    def escrow_by_out_no(self, tx: Connection, app_id: str, out_trade_no: str) -> Escrow | None:
        query = select(escrow_trades).where(
            escrow_trades.c.app_id == app_id, escrow_trades.c.out_trade_no == out_trade_no
        )
        row = tx.execute(query).mappings().first()
        return _escrow(row) if row is not None else None

    def update_escrow(
        self,
        tx: Connection,
        escrow_no: str,
        expect: Mapping[str, Any],
        changes: Mapping[str, Any],
    ) -> bool:
        conditions = [escrow_trades.c.escrow_no == escrow_no]
        conditions += [escrow_trades.c[name] == _db_value(v) for name, v in expect.items()]
        values = {name: _db_value(value) for name, value in changes.items()}
        result = tx.execute(update(escrow_trades).where(and_(*conditions)).values(**values))
        return result.rowcount == 1

    def escrows_of(self, tx: Connection, role: str, party_id: int, limit: int) -> list[Escrow]:
        column = {
            "buyer": escrow_trades.c.buyer_user_id,
            "seller": escrow_trades.c.seller_user_id,
            "merchant": escrow_trades.c.merchant_id,
        }[role]
        query = (
            select(escrow_trades)
            .where(column == party_id)
            .order_by(escrow_trades.c.id.desc())
            .limit(limit)
        )
        return [_escrow(row) for row in tx.execute(query).mappings()]

    def escrows_in(self, tx: Connection, statuses: Sequence[str], limit: int) -> list[Escrow]:
        query = (
            select(escrow_trades)
            .where(or_(*[escrow_trades.c.status == str(s) for s in statuses]))
            .order_by(escrow_trades.c.id)
            .limit(limit)
        )
        return [_escrow(row) for row in tx.execute(query).mappings()]

    # Messages -------------------------------------------------------------------------------

    def insert_message(
        self, tx: Connection, escrow_id: int, party: Party, evidence: Evidence, at: int
    ) -> int:
        values = {
            "escrow_id": escrow_id,
            "author": party.role,
            "author_id": party.id,
            "text": evidence.text,
            "image": evidence.image,
            "image_type": evidence.image_type,
            "created_at_us": at,
        }
        statement = insert(escrow_messages).values(**values).returning(escrow_messages.c.id)
        return int(tx.execute(statement).scalar_one())

    def messages(self, tx: Connection, escrow_id: int) -> list[Message]:
        has_image = escrow_messages.c.image.is_not(None).label("has_image")
        query = (
            select(*_MESSAGE_COLUMNS, has_image)
            .where(escrow_messages.c.escrow_id == escrow_id)
            .order_by(escrow_messages.c.id)
        )
        return [
            Message(
                id=row["id"],
                escrow_id=row["escrow_id"],
                author=row["author"],
                author_id=row["author_id"],
                text=row["text"],
                image_type=row["image_type"],
                has_image=bool(row["has_image"]),
                created_at_us=row["created_at_us"],
            )
            for row in tx.execute(query).mappings()
        ]

    def image(self, tx: Connection, message_id: int) -> tuple[int, bytes, str] | None:
        query = select(
            escrow_messages.c.escrow_id, escrow_messages.c.image, escrow_messages.c.image_type
        ).where(escrow_messages.c.id == message_id)
        row = tx.execute(query).first()
        if row is None or row[1] is None:
            return None
        return int(row[0]), bytes(row[1]), str(row[2])


def _db_value(value: Any) -> Any:
    return str(value) if isinstance(value, Enum) else value


def _listing(row: RowMapping) -> Listing:
    return Listing(
        id=row["id"],
        seller_user_id=row["seller_user_id"],
        title=row["title"],
        price_fen=row["price_fen"],
        goods_type=GoodsType(row["goods_type"]),
        active=bool(row["active"]),
        created_at_us=row["created_at_us"],
    )


def _escrow(row: RowMapping) -> Escrow:
    values = {name: row[name] for name in _ESCROW_COLUMNS}
    values["status"] = EscrowStatus(values["status"])
    values["goods_type"] = GoodsType(values["goods_type"])
    return Escrow(**values)


__all__ = ["SqlEscrowStore"]
