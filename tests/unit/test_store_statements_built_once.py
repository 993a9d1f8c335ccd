"""The hot paths' store methods run statements built once, not afresh on every call.

Building a SQLAlchemy Core statement (and walking it for its cache key, which SQLAlchemy
memoises on the object) costs about as much CPU as running it; the wallet operations, the
bearer token, the Idempotency-Key, red packets and refunds run these on every request. A
recording connection sees the statement objects: two calls with different values must execute
the same object, the values travelling as parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from paybao.adapters.db.admin_store import SqlAdminStore, SqlIdempotencyStore
from paybao.adapters.db.device_store import SqlDeviceStore
from paybao.adapters.db.job_store import SqlJobStore
from paybao.adapters.db.red_packet_store import SqlRedPacketStore
from paybao.adapters.db.trade_store import SqlTradeStore
from paybao.adapters.db.user_store import SqlUserStore
from paybao.adapters.db.wallet_store import SqlCardStore, SqlWalletStore
from paybao.domain.trades import TradeStatus
from paybao.services.refunds import Refund


class _Result:
    rowcount = 1
    inserted_primary_key = (7,)

    def first(self) -> None:
        return None

    def scalar_one(self) -> int:
        return 7

    def mappings(self) -> _Result:
        return self


class RecordingConnection:
    def __init__(self) -> None:
        self.executed: list[tuple[Any, Any]] = []

    def execute(self, statement: Any, parameters: Any = None) -> _Result:
        self.executed.append((statement, parameters))
        return _Result()


def _transfer_row(amount_fen: int) -> dict[str, Any]:
    return {"payer_user_id": 1, "payee_user_id": 2, "amount_fen": amount_fen, "status": "pending"}


def _refund(out_request_no: str) -> Refund:
    return Refund(0, 9, out_request_no, 100, 1, None, 5)


# name -> a call taking (connection, a value that differs between the two calls)
CALLS: dict[str, Callable[[Any, int], object]] = {
    "token_user": lambda tx, n: SqlAdminStore().token_user(tx, f"sha{n}", n),
    "idempotency answer": lambda tx, n: SqlIdempotencyStore().answer(tx, "s", f"k{n}", n, "b"),
    "idempotency mark": lambda tx, n: SqlIdempotencyStore().mark(tx, "s", f"k{n}", "ref"),
    "idempotency mark_answered": lambda tx, n: SqlIdempotencyStore().mark_answered(
        tx, "s", f"k{n}", 200, f"b{n}"
    ),
    "card": lambda tx, n: SqlCardStore().get(tx, n),
    "money row insert": lambda tx, n: SqlWalletStore().insert(
        tx, "wallet_transfers", _transfer_row(n)
    ),
    "money row get": lambda tx, n: SqlWalletStore().get(tx, "topups", n, for_update=True),
    "money row finish": lambda tx, n: SqlWalletStore().finish(
        tx, "withdrawals", n, "held", status="sent", finished_at_us=n
    ),
    "user by phone": lambda tx, n: SqlUserStore().get_by_phone(tx, f"1380000000{n}"),
    "user update": lambda tx, n: SqlUserStore().update(tx, n, withdraw_quota_used_fen=n),
    "device": lambda tx, n: SqlDeviceStore().get(tx, f"dev{n}"),
    "job cancel": lambda tx, n: SqlJobStore("sqlite").cancel(tx, "bank_query", f"topup:{n}"),
    "packet": lambda tx, n: SqlRedPacketStore().packet(tx, packet_id=n, for_update=True),
    "packet by number": lambda tx, n: SqlRedPacketStore().packet(tx, packet_no=f"P{n}"),
    "packet insert": lambda tx, n: SqlRedPacketStore().insert_packet(
        tx, {"packet_no": f"P{n}", "total_fen": n}
    ),
    "share amount": lambda tx, n: SqlRedPacketStore().share_amount(tx, n, n),
    "claim of": lambda tx, n: SqlRedPacketStore().claim_of(tx, n, n),
    "claim insert": lambda tx, n: SqlRedPacketStore().insert_claim(
        tx, {"packet_id": n, "seq": n, "user_id": n, "amount_fen": n, "claimed_at_us": n}
    ),
    "packet advance": lambda tx, n: SqlRedPacketStore().advance(tx, n, n, n, n, last=False),
    "packet advance, last": lambda tx, n: SqlRedPacketStore().advance(tx, n, n, n, n, last=True),
    "merchant": lambda tx, n: SqlTradeStore("sqlite").merchant(tx, n),
    "refund": lambda tx, n: SqlTradeStore("sqlite").refund(tx, n, f"r{n}"),
    "refund insert": lambda tx, n: SqlTradeStore("sqlite").insert_refund(tx, _refund(f"r{n}")),
    "trade compare-and-set": lambda tx, n: SqlTradeStore("sqlite").update_trade(
        tx,
        f"T{n}",
        {"status": TradeStatus.TRADE_SUCCESS, "refunded_fen": n},
        {"status": TradeStatus.TRADE_CLOSED, "refunded_fen": n + 1},
    ),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_same_statement_runs_with_other_values(name: str) -> None:
    tx = RecordingConnection()
    CALLS[name](tx, 1)
    CALLS[name](tx, 2)
    assert len(tx.executed) == 2
    (first, first_parameters), (second, second_parameters) = tx.executed
    assert first is second, f"{name}: a statement built afresh on every call"
    assert first_parameters != second_parameters


def test_a_null_expectation_still_reads_is_null() -> None:
    """`update_trade` compared with `== None` before (SQL `IS NULL`); a bound NULL would match
    nothing."""
    tx: Any = RecordingConnection()
    SqlTradeStore("sqlite").update_trade(tx, "T1", {"closed_at_us": None}, {"visible": 1})
    statement, parameters = tx.executed[0]
    assert "trades.closed_at_us IS NULL" in str(statement)
    assert parameters == {"the_trade_no": "T1", "set_visible": 1}
