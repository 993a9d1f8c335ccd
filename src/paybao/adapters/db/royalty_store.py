"""SQL for profit sharing (分账): relations, each trade's sharing state, settles, and what
receivers gave back in refunds (退分账). Core.

An asynchronous settle's parts change state once, from PROCESSING (compare-and-set), and the
settle's status once, from processing; what a receiver received counts SUCCESS parts only.

The state row a settle changes, and the app row a bind counts under, are read `FOR UPDATE` on
PostgreSQL (SQLite serialises writers with BEGIN IMMEDIATE); the state's change is also
compare-and-set. Inserts are plain: a unique race
fails the transaction, and `Database.run` runs it again, when the re-read sees the winner's row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from paybao.adapters.db.tables.merchant import merchant_apps
from paybao.adapters.db.tables.royalty import (
    royalty_backs,
    royalty_relations,
    royalty_settle_parts,
    royalty_settles,
    royalty_trades,
)
from paybao.domain.royalty import PartState, Received, ReceiverType
from paybao.services.royalty import Back, Relation, RoyaltyState, Settle, SettlePart

_R = royalty_relations.c
_T = royalty_trades.c
_S = royalty_settles.c
_P = royalty_settle_parts.c
_B = royalty_backs.c


class SqlRoyaltyStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    # Relations ------------------------------------------------------------------------------

    def relation(self, tx: Connection, app_id: str, user_id: int) -> Relation | None:
        query = select(royalty_relations).where(_R.app_id == app_id, _R.user_id == user_id)
        row = tx.execute(query).mappings().first()
        return _relation(row) if row is not None else None

    def lock_relations(self, tx: Connection, app_id: str) -> None:
        # The app's row stands for its set of relations: binds of one app queue on it, so the
        # count each one checks against the limit is the count it adds to.
        if self.dialect == "postgresql":
            query = select(merchant_apps.c.app_id).where(merchant_apps.c.app_id == app_id)
            tx.execute(query.with_for_update()).first()

    def count_relations(self, tx: Connection, app_id: str) -> int:
        query = select(func.count()).select_from(royalty_relations).where(_R.app_id == app_id)
        return int(tx.execute(query).scalar_one())

    def insert_relation(self, tx: Connection, relation: Relation) -> None:
        tx.execute(
            insert(royalty_relations).values(
                app_id=relation.app_id,
                user_id=relation.user_id,
                receiver_type=relation.receiver_type.value,
                account=relation.account,
                memo=relation.memo,
                created_at_us=relation.created_at_us,
            )
        )

    def delete_relation(self, tx: Connection, app_id: str, user_id: int) -> None:
        tx.execute(delete(royalty_relations).where(_R.app_id == app_id, _R.user_id == user_id))

    def relations(self, tx: Connection, app_id: str, offset: int, limit: int) -> list[Relation]:
        query = (
            select(royalty_relations)
            .where(_R.app_id == app_id)
            .order_by(_R.id)
            .offset(offset)
            .limit(limit)
        )
        return [_relation(row) for row in tx.execute(query).mappings()]

    # The trade's sharing state ----------------------------------------------------------------

    def state(
        self, tx: Connection, trade_no: str, *, for_update: bool = False
    ) -> RoyaltyState | None:
        query = select(royalty_trades).where(_T.trade_no == trade_no)
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        if row is None:
            return None
        return RoyaltyState(
            trade_no=row["trade_no"],
            app_id=row["app_id"],
            settled_fen=int(row["settled_fen"]),
            settles=int(row["settles"]),
            finished=bool(row["finished"]),
            updated_at_us=int(row["updated_at_us"]),
        )

    def insert_state(self, tx: Connection, state: RoyaltyState) -> None:
        tx.execute(insert(royalty_trades).values(**_state_values(state)))

    def update_state(self, tx: Connection, before: RoyaltyState, after: RoyaltyState) -> bool:
        assert before.trade_no == after.trade_no
        statement = (
            update(royalty_trades)
            .where(
                _T.trade_no == before.trade_no,
                _T.settled_fen == before.settled_fen,
                _T.settles == before.settles,
                _T.finished == int(before.finished),
            )
            .values(**_state_values(after))
        )
        return tx.execute(statement).rowcount == 1

    # Settles --------------------------------------------------------------------------------

    def insert_settle(self, tx: Connection, settle: Settle) -> int:
        statement = (
            insert(royalty_settles)
            .values(
                settle_no=settle.settle_no,
                app_id=settle.app_id,
                merchant_id=settle.merchant_id,
                trade_no=settle.trade_no,
                out_request_no=settle.out_request_no,
                fingerprint=settle.fingerprint,
                amount_fen=settle.amount_fen,
                finish=int(settle.finish),
                created_at_us=settle.created_at_us,
                mode=settle.mode,
                status=settle.status,
            )
            .returning(_S.id)
        )
        settle_id = int(tx.execute(statement).scalar_one())
        if settle.parts:
            tx.execute(
                insert(royalty_settle_parts),
                [
                    {
                        "settle_id": settle_id,
                        "seq": part.seq,
                        "user_id": part.user_id,
                        "trans_in_type": part.trans_in_type.value,
                        "trans_in": part.trans_in,
                        "amount_fen": part.amount_fen,
                        "description": part.description,
                        "state": part.state.value,
                        "error_code": part.error_code,
                        "executed_at_us": part.executed_at_us,
                    }
                    for part in settle.parts
                ],
            )
        return settle_id

    def settle_by_request(self, tx: Connection, app_id: str, out_request_no: str) -> Settle | None:
        query = select(royalty_settles).where(
            _S.app_id == app_id, _S.out_request_no == out_request_no
        )
        return self._settle(tx, query)

    def settle_by_no(self, tx: Connection, settle_no: str) -> Settle | None:
        return self._settle(tx, select(royalty_settles).where(_S.settle_no == settle_no))

    def _settle(self, tx: Connection, query: Any) -> Settle | None:
        row = tx.execute(query).mappings().first()
        if row is None:
            return None
        parts_query = select(royalty_settle_parts).where(_P.settle_id == row["id"]).order_by(_P.seq)
        parts = [_part(part) for part in tx.execute(parts_query).mappings()]
        return Settle(
            id=int(row["id"]),
            settle_no=row["settle_no"],
            app_id=row["app_id"],
            merchant_id=int(row["merchant_id"]),
            trade_no=row["trade_no"],
            out_request_no=row["out_request_no"],
            fingerprint=row["fingerprint"],
            amount_fen=int(row["amount_fen"]),
            finish=bool(row["finish"]),
            created_at_us=int(row["created_at_us"]),
            parts=tuple(parts),
            mode=row["mode"],
            status=row["status"],
        )

    def set_part_result(
        self,
        tx: Connection,
        settle_id: int,
        seq: int,
        state: PartState,
        error_code: str,
        at_us: int,
    ) -> bool:
        assert state is not PartState.PROCESSING
        statement = (
            update(royalty_settle_parts)
            .where(
                _P.settle_id == settle_id,
                _P.seq == seq,
                _P.state == PartState.PROCESSING.value,
            )
            .values(state=state.value, error_code=error_code, executed_at_us=at_us)
        )
        return tx.execute(statement).rowcount == 1

    def set_settle_status(self, tx: Connection, settle_id: int, before: str, after: str) -> bool:
        statement = (
            update(royalty_settles)
            .where(_S.id == settle_id, _S.status == before)
            .values(status=after)
        )
        return tx.execute(statement).rowcount == 1

    # Give-backs ----------------------------------------------------------------------------

    def received(self, tx: Connection, trade_no: str) -> dict[int, Received]:
        settled_query = (
            select(_P.user_id, func.sum(_P.amount_fen))
            .select_from(royalty_settle_parts.join(royalty_settles, _S.id == _P.settle_id))
            # Only what moved: an asynchronous part that failed or has not run gave nothing.
            .where(_S.trade_no == trade_no, _P.state == PartState.SUCCESS.value)
            .group_by(_P.user_id)
        )
        settled = {int(user): int(fen) for user, fen in tx.execute(settled_query)}
        back_query = (
            select(_B.user_id, func.sum(_B.amount_fen))
            .where(_B.trade_no == trade_no)
            .group_by(_B.user_id)
        )
        given = {int(user): int(fen) for user, fen in tx.execute(back_query)}
        return {
            user: Received(settled.get(user, 0), given.get(user, 0))
            for user in settled.keys() | given.keys()
        }

    def insert_backs(self, tx: Connection, backs: Sequence[Back]) -> None:
        tx.execute(
            insert(royalty_backs),
            [
                {
                    "refund_id": back.refund_id,
                    "seq": back.seq,
                    "trade_no": back.trade_no,
                    "app_id": back.app_id,
                    "user_id": back.user_id,
                    "trans_out_type": back.trans_out_type.value,
                    "trans_out": back.trans_out,
                    "amount_fen": back.amount_fen,
                    "description": back.description,
                    "created_at_us": back.created_at_us,
                }
                for back in backs
            ],
        )

    def backs_of(self, tx: Connection, refund_id: int) -> list[Back]:
        query = select(royalty_backs).where(_B.refund_id == refund_id).order_by(_B.seq)
        return [
            Back(
                refund_id=int(row["refund_id"]),
                seq=int(row["seq"]),
                trade_no=row["trade_no"],
                app_id=row["app_id"],
                user_id=int(row["user_id"]),
                trans_out_type=ReceiverType(row["trans_out_type"]),
                trans_out=row["trans_out"],
                amount_fen=int(row["amount_fen"]),
                description=row["description"],
                created_at_us=int(row["created_at_us"]),
            )
            for row in tx.execute(query).mappings()
        ]


def _relation(row: RowMapping) -> Relation:
    return Relation(
        id=int(row["id"]),
        app_id=row["app_id"],
        user_id=int(row["user_id"]),
        receiver_type=ReceiverType(row["receiver_type"]),
        account=row["account"],
        memo=row["memo"],
        created_at_us=int(row["created_at_us"]),
    )


def _part(row: RowMapping) -> SettlePart:
    return SettlePart(
        seq=int(row["seq"]),
        user_id=int(row["user_id"]),
        trans_in_type=ReceiverType(row["trans_in_type"]),
        trans_in=row["trans_in"],
        amount_fen=int(row["amount_fen"]),
        description=row["description"],
        state=PartState(row["state"]),
        error_code=row["error_code"],
        executed_at_us=None if row["executed_at_us"] is None else int(row["executed_at_us"]),
    )


def _state_values(state: RoyaltyState) -> dict[str, object]:
    return {
        "trade_no": state.trade_no,
        "app_id": state.app_id,
        "settled_fen": state.settled_fen,
        "settles": state.settles,
        "finished": int(state.finished),
        "updated_at_us": state.updated_at_us,
    }


__all__: Sequence[str] = ["SqlRoyaltyStore"]
