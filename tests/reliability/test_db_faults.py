"""Database faults: the connection is cut in the middle of a payment's transaction (terminated
from a second connection, as a network fault or a failover would). The request fails cleanly
with a retryable code, nothing is half-written, and the client's retry with the same key then
succeeds exactly once. PostgreSQL only (SQLite has no server connection to lose)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from paybao.adapters.db.engine import make_engine
from paybao.bootstrap import Platform
from paybao.domain.accounts import Purpose, platform_account, user_account
from paybao.domain.ledger import Transfer
from tests.conftest import database_kind
from tests.integration.gateway_support import (
    APP_ID,
    PAYMENT_PASSWORD,
    call,
    make_buyer,
    make_shop,
    wallet_balance,
)

pytestmark = pytest.mark.skipif(database_kind() != "postgresql", reason="PostgreSQL only")


class CutConnections:
    """Makes the ledger's write step (`write`, or `write_and_commit` where the journal
    commits the transaction) lose its connection, `times` times in a row."""

    def __init__(self, platform: Platform, times: int) -> None:
        self.platform = platform
        self.left = times
        self.cuts = 0
        store = platform.ledger.store
        self.original = store.write
        self.original_committing = store.write_and_commit
        store.write = self.write  # type: ignore[method-assign]
        store.write_and_commit = self.write_and_commit  # type: ignore[method-assign]

    def write_and_commit(self, tx: Any, *args: Any) -> None:
        self._maybe_cut(tx)
        self.original_committing(tx, *args)

    def write(self, tx: Any, *args: Any) -> int:
        self._maybe_cut(tx)
        return self.original(tx, *args)

    def _maybe_cut(self, tx: Any) -> None:
        if self.left > 0:
            self.left -= 1
            self.cuts += 1
            cursor = tx.connection.cursor()  # a SQLAlchemy Connection or a DriverTx
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
            killer = make_engine(self.platform.settings.resolved_database_url())
            with killer.connect() as connection:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                connection.commit()
            killer.dispose()

    def restore(self) -> None:
        store = self.platform.ledger.store
        store.write = self.original  # type: ignore[method-assign]
        store.write_and_commit = self.original_committing  # type: ignore[method-assign]


@pytest.fixture
def cut(platform: Platform) -> Iterator[type[CutConnections]]:
    made: list[CutConnections] = []

    def factory(times: int) -> CutConnections:
        made.append(CutConnections(platform, times))
        return made[-1]

    yield factory  # type: ignore[misc]
    for item in made:
        item.restore()


def counts(platform: Platform) -> tuple[int, int, int]:
    with platform.engine.connect() as connection:
        return (
            int(connection.execute(text("SELECT COUNT(*) FROM ledger_transfers")).scalar() or 0),
            int(connection.execute(text("SELECT COUNT(*) FROM wallet_transfers")).scalar() or 0),
            int(connection.execute(text("SELECT COUNT(*) FROM trades")).scalar() or 0),
        )


def test_a_cut_mid_transaction_is_retried_inside_and_the_transfer_lands_once(
    platform: Platform, client: TestClient, cut: Any
) -> None:
    payer = make_buyer(platform, phone="13700000001", balance_fen=50_00)
    make_buyer(platform, phone="13700000002", balance_fen=0)
    token = platform.services["operators"].issue_token(payer)
    faults = cut(1)
    response = client.post(
        "/api/v1/wallet/transfers",
        json={
            "payee_phone": "13700000002",
            "amount_fen": 10_00,
            "payment_password": PAYMENT_PASSWORD,
        },
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "cut-1"},
    )
    assert faults.cuts == 1
    assert response.status_code == 200, response.text
    assert wallet_balance(platform, payer) == 40_00
    assert platform.reconcile.run().clean


def test_persistent_cuts_fail_cleanly_then_the_retry_succeeds_once(
    platform: Platform, client: TestClient, cut: Any
) -> None:
    payer = make_buyer(platform, phone="13700000003", balance_fen=50_00)
    make_buyer(platform, phone="13700000004", balance_fen=0)
    token = platform.services["operators"].issue_token(payer)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "cut-2"}
    body = {"payee_phone": "13700000004", "amount_fen": 10_00, "payment_password": PAYMENT_PASSWORD}
    before = counts(platform)
    faults = cut(50)
    failed = client.post("/api/v1/wallet/transfers", json=body, headers=headers)
    assert failed.status_code == 503, failed.text
    assert failed.json()["error"]["code"] == "temporarily_unavailable"
    assert failed.headers.get("retry-after")
    assert counts(platform) == before, "something was half-written"
    faults.restore()
    retried = client.post("/api/v1/wallet/transfers", json=body, headers=headers)
    assert retried.status_code == 200, retried.text
    again = client.post("/api/v1/wallet/transfers", json=body, headers=headers)
    assert again.json() == retried.json()
    assert wallet_balance(platform, payer) == 40_00
    assert platform.reconcile.run().clean


def test_gateway_pay_under_persistent_cuts_answers_in_protocol(
    platform: Platform, client: TestClient, cut: Any
) -> None:
    make_shop(platform)
    buyer = make_buyer(platform, phone="13700000005", balance_fen=50_00)
    code = platform.services["trades"].issue_auth_code(buyer)
    biz = {
        "out_trade_no": "cut-pay",
        "scene": "bar_code",
        "auth_code": code,
        "subject": "cut",
        "total_amount": "5.00",
    }
    before = counts(platform)
    faults = cut(50)
    answer = call(client, "alipay.trade.pay", biz)
    # Alipay's answer to a system fault in a trade method: retry with the same out_trade_no.
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.SYSTEM_ERROR"), answer
    assert counts(platform)[0] == before[0], "no journal may be written"
    faults.restore()
    paid = call(client, "alipay.trade.pay", biz)
    assert paid["code"] == "10000", paid
    assert wallet_balance(platform, buyer) == 45_00
    assert platform.reconcile.run().clean
    _ = APP_ID


def test_a_cut_in_the_ledgers_own_commit_is_retried_and_lands_once(platform: Platform) -> None:
    """The ledger's own transactions (the poster's) write and COMMIT in one round trip on
    the bare driver connection: a connection lost there is retried, and the retry finds
    the transfer either absent (applied now) or present (answered `exists`), never twice."""
    bank = platform_account(Purpose.BANK_CLEARING)
    wallet = user_account(424242)
    ids = platform.ledger.open_accounts([bank, wallet])
    store = platform.ledger.store
    original = store.write_and_commit
    cuts: list[int] = []

    def cut_once(tx: Any, *args: Any) -> None:
        if not cuts:
            cursor = tx.connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
            killer = make_engine(platform.settings.resolved_database_url())
            with killer.connect() as connection:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                connection.commit()
            killer.dispose()
            cuts.append(pid)
        original(tx, *args)

    store.write_and_commit = cut_once  # type: ignore[method-assign]
    try:
        transfer = Transfer("driver-cut-1", ids[bank.key], ids[wallet.key], 7_00)
        outcome = platform.ledger.apply([transfer])[0]
    finally:
        store.write_and_commit = original  # type: ignore[method-assign]
    assert cuts and outcome.result.succeeded
    assert platform.ledger.balance(ids[wallet.key]).balance_fen == 7_00
    assert platform.ledger.apply([transfer])[0].result.value == "exists"
    assert platform.reconcile.run().clean
