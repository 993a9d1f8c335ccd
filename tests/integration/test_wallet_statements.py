"""How many SQL statements a wallet operation issues: redundant reads must not come back.

The bounds are loose on the total (other features may add a statement) and tight on the
redundancies that were removed: the users row read once per transaction, the idempotency row
written once inside the money transaction and once with the answer, and the platform's
accounts not re-opened (INSERT ... ON CONFLICT + SELECT) on every top-up.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.integration.test_wallet_api import post, register
from tests.support.sql_log import sql_log, statements_in

from paybao.bootstrap import Platform
from paybao.domain.accounts import AccountSpec, OwnerKind, Purpose

__all__ = ["sql_log"]  # the fixture


def _users_by_id(sql: list[str]) -> int:
    return sum(1 for s in sql if "FROM users" in s and "users.id =" in s)


def test_a_transfer_reads_each_user_once_per_transaction(
    client: TestClient, platform: Platform, sql_log: list[str]
) -> None:
    payer, card_id = register(client, platform, "13800138301", "张三")
    register(client, platform, "13800138302", "李四")
    top_up = {"card_id": card_id, "amount_fen": 1000, "payment_password": "135790"}
    assert post(client, "/topups", top_up, payer).status_code == 200
    body = {"payee_phone": "13800138302", "amount_fen": 1, "payment_password": "135790"}
    assert post(client, "/transfers", body, payer).status_code == 200  # warm-up
    sql_log.clear()
    assert post(client, "/transfers", body, payer).status_code == 200
    sql = statements_in(sql_log)
    # The payer's password check (own read), then the payer once in the money transaction;
    # the payee's wallet account comes from its phone look-up.
    assert _users_by_id(sql) == 2, "\n".join(s for s in sql if "FROM users" in s)
    idempotency = [s for s in sql if "idempotency_keys" in s]
    # The claim, then the answer stored by the transfer's own transaction: no third write.
    assert len(idempotency) == 2, "\n".join(idempotency)
    assert not any(s.startswith("SELECT") and "idempotency_keys" in s for s in sql)
    # 14 on PostgreSQL when this was written, then risk control read its signals (one statement).
    assert len(sql) <= 17, "\n".join(sql)


def test_a_top_up_does_not_reopen_the_platform_accounts(
    client: TestClient, platform: Platform, sql_log: list[str]
) -> None:
    token, card_id = register(client, platform, "13800138303", "王五")
    body = {"card_id": card_id, "amount_fen": 100, "payment_password": "135790"}
    assert post(client, "/topups", body, token).status_code == 200  # warm-up
    sql_log.clear()
    response = post(client, "/topups", body, token)
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    sql = statements_in(sql_log)
    assert not any("ledger_accounts" in s and s.startswith("INSERT") for s in sql)
    assert not any("SELECT key, id FROM ledger_accounts" in s for s in sql)
    # The topup's start transaction reads the user once; the finish transaction once.
    assert _users_by_id(sql) <= 3, "\n".join(s for s in sql if "FROM users" in s)
    assert len(sql) <= 30, "\n".join(sql)  # 25 on PostgreSQL when this was written


def test_account_ids_are_remembered_only_once_committed(platform: Platform) -> None:
    """An id read back in the transaction that inserted the account is not remembered (that
    transaction may roll back, and SQLite may give the number to another account); an id of
    an account that existed before the transaction is."""
    spec = AccountSpec(OwnerKind.PLATFORM, "test-known-ids", Purpose.SUSPENSE)

    class Rollback(Exception):
        pass

    def open_twice_then_roll_back(tx: Any) -> None:
        platform.ledger.open_accounts_in(tx, [spec])
        platform.ledger.open_accounts_in(tx, [spec])  # exists now, but only in this tx
        raise Rollback

    with pytest.raises(Rollback):
        platform.db.run(open_twice_then_roll_back)
    store: Any = platform.ledger.store
    assert store._known_ids.known([spec]) is None
    first = platform.ledger.open_accounts([spec])[spec.key]  # inserts and commits
    assert store._known_ids.known([spec]) is None
    assert platform.ledger.open_accounts([spec])[spec.key] == first  # existed before: learnt
    assert store._known_ids.known([spec]) == {spec.key: first}


def test_a_users_row_is_read_again_after_an_update_in_the_same_transaction(
    client: TestClient, platform: Platform
) -> None:
    token, _ = register(client, platform, "13800138304", "赵六")
    users = platform.services["users"]
    me = client.get("/api/v1/wallet/me", headers={"Authorization": f"Bearer {token}"})
    user_id = me.json()["user"]["id"]

    def work(tx: Any) -> tuple[int, int, int]:
        before = users.record_in(tx, user_id).pay_failures
        users.store.update(tx, user_id, pay_failures=before + 2)
        after = users.record_in(tx, user_id).pay_failures
        locked = users.record_in(tx, user_id, for_update=True).pay_failures
        return before, after, locked

    before, after, locked = platform.db.run(work)
    assert (after, locked) == (before + 2, before + 2)


def test_an_answer_stored_in_the_business_transaction_is_not_written_again(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    idempotency = platform.services["idempotency"]
    answer = (200, '{"kind": "transfer", "id": 1}')

    def work(returned: tuple[int, str]) -> tuple[int, str]:
        platform.db.run(lambda tx: idempotency.mark_done_in(tx, "transfer:1", answer=answer))
        return returned

    writes: list[tuple[Any, ...]] = []
    answer_write = idempotency.store.answer

    def spy(*args: Any) -> None:
        writes.append(args[1:])
        answer_write(*args)

    monkeypatch.setattr(idempotency.store, "answer", spy)
    assert idempotency.run("user:1", "in-tx", "sha", lambda: work(answer)) == answer
    assert writes == []
    assert idempotency.run("user:1", "in-tx", "sha", lambda: work((500, "no"))) == answer
    # The work answered something else than it stored: what it answered is stored.
    other = (200, '{"kind": "transfer", "id": 1, "status": "cancelled"}')
    assert idempotency.run("user:1", "in-tx-2", "sha", lambda: work(other)) == other
    assert len(writes) == 1
    assert idempotency.run("user:1", "in-tx-2", "sha", lambda: work(answer)) == other


def test_an_in_transaction_answer_that_did_not_match_the_claim_is_written_after(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attempt whose update found the claim already answered (an ambiguous commit of an
    earlier attempt) does not count: the request's answer is written as before."""
    idempotency = platform.services["idempotency"]
    monkeypatch.setattr(idempotency.store, "mark_answered", lambda *_args: False)
    answer = (200, '{"kind": "transfer", "id": 2}')

    def work() -> tuple[int, str]:
        platform.db.run(lambda tx: idempotency.mark_done_in(tx, "transfer:2", answer=answer))
        return answer

    assert idempotency.run("user:1", "unmatched", "sha", work) == answer
    with platform.db.read() as tx:
        assert idempotency.store.find(tx, "user:1", "unmatched")[1:3] == answer
