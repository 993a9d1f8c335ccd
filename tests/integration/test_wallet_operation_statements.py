"""How many SQL statements a top-up, withdrawal, transfer and red packet send issue through
the REST API: the redundant reads removed must not come back.

Each test counts, on SQLite or PostgreSQL, the statements of one operation after a warm-up,
and asserts the redundancies one by one (a row read back after the statement that wrote it,
a row another transaction of the same request already read and that cannot have changed),
then a bound on the total. The guards of money (the compare-and-set update that moves a
top-up's or withdrawal's row out of flight before its bank answer is applied, the user's row
locked before a withdrawal's quota) stay, and are counted too.
"""

from __future__ import annotations

import re
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from tests.integration.test_device_confirm import add_device, signed_post
from tests.integration.test_wallet_api import post, register
from tests.support.sql_log import sql_log, statements_in

from paybao.bootstrap import Platform
from paybao.wiring.red_packets import _answer as red_packet_answer

__all__ = ["sql_log"]  # the fixture

PIN = "135790"


def _count(sql: list[str], pattern: str) -> int:
    return sum(1 for s in sql if re.search(pattern, s))


def _by_id(table: str) -> str:
    """A read of one `table` row by id (locked or not)."""
    return rf"^SELECT .* FROM {table} WHERE {table}\.id ="


def _first(sql: list[str], pattern: str) -> int:
    """The index of the first statement matching `pattern`."""
    return next(i for i, s in enumerate(sql) if re.search(pattern, s))


def _users_by_id(sql: list[str]) -> int:
    return _count(sql, _by_id("users"))


def _show(sql: list[str]) -> str:
    return "\n".join(s[:200] for s in sql)


def _topped_up(client: TestClient, platform: Platform, phone: str, name: str) -> tuple[str, int]:
    token, card_id = register(client, platform, phone, name)
    body = {"card_id": card_id, "amount_fen": 1000_00, "payment_password": PIN}
    assert post(client, "/topups", body, token).status_code == 200
    return token, card_id


def test_a_transfer_is_answered_from_what_it_wrote(
    client: TestClient, platform: Platform, sql_log: list[str]
) -> None:
    payer, _ = _topped_up(client, platform, "13800138401", "张三")
    register(client, platform, "13800138402", "李四")
    body = {"payee_phone": "13800138402", "amount_fen": 1, "payment_password": PIN}
    assert post(client, "/transfers", body, payer).status_code == 200  # warm-up
    sql_log.clear()
    response = post(client, "/transfers", body, payer)
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    sql = statements_in(sql_log)
    # The payee by phone (the look-up before paying), which also gives its wallet account.
    assert _count(sql, r"FROM users WHERE users\.phone =") == 1, _show(sql)
    # The payer's password check (its own read), then the payer once in the money
    # transaction; the payee's row is not read again by id.
    assert _users_by_id(sql) == 2, _show(sql)
    # The transfer row is inserted and answered from the values written, not read back.
    assert _count(sql, _by_id("wallet_transfers")) == 0, _show(sql)
    assert _count(sql, r"FROM risk_decisions") == 0, _show(sql)
    assert len(sql) <= 15, _show(sql)  # 14 on PostgreSQL when this was written


def test_a_delayed_transfer_answers_risk_hold_without_asking_risk_control(
    client: TestClient, platform: Platform, sql_log: list[str]
) -> None:
    """A delayed transfer the payer chose is pending, not held: the answer says so without
    a look-up of risk decisions (risk control held nothing, it has just said so)."""
    payer, _ = _topped_up(client, platform, "13800138403", "王五")
    register(client, platform, "13800138404", "赵六")
    body = {"payee_phone": "13800138404", "amount_fen": 1, "payment_password": PIN}
    assert post(client, "/transfers", body, payer).status_code == 200  # warm-up
    sql_log.clear()
    response = post(client, "/transfers", {**body, "arrival": "delay_2h"}, payer)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "pending" and response.json()["risk_hold"] is False
    sql = statements_in(sql_log)
    assert _count(sql, r"FROM risk_decisions") == 0, _show(sql)
    assert _count(sql, _by_id("wallet_transfers")) == 0, _show(sql)


def test_a_top_up_reads_its_user_and_row_once_each_where_they_guard(
    client: TestClient, platform: Platform, sql_log: list[str]
) -> None:
    token, card_id = register(client, platform, "13800138405", "孙七")
    body = {"card_id": card_id, "amount_fen": 100, "payment_password": PIN}
    assert post(client, "/topups", body, token).status_code == 200  # warm-up
    sql_log.clear()
    response = post(client, "/topups", body, token)
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    sql = statements_in(sql_log)
    # The password check, then the start transaction; the finish transaction credits the
    # wallet account the start transaction read (it never changes).
    assert _users_by_id(sql) == 2, _show(sql)
    # The top-up row: moved out of `processing` compare-and-set before the wallet is credited
    # (that UPDATE is the guard: it takes the row lock a locked read took before), answered
    # from what it returned, never read.
    assert _count(sql, _by_id("topups")) == 0, _show(sql)
    assert _count(sql, r"^UPDATE topups SET") == 1, _show(sql)
    assert _first(sql, r"^UPDATE topups SET .* topups\.status = ") < _first(
        sql, r"^INSERT INTO ledger_transfers"
    ), _show(sql)
    assert len(sql) <= 19, _show(sql)  # 18 on PostgreSQL when this was written (24 before)


def test_a_withdrawal_reads_its_card_and_row_once(
    client: TestClient, platform: Platform, sql_log: list[str]
) -> None:
    token, card_id = _topped_up(client, platform, "13800138406", "周八")
    body = {"card_id": card_id, "amount_fen": 100, "payment_password": PIN, "arrival": "instant"}
    assert post(client, "/withdrawals", body, token).status_code == 200  # warm-up
    sql_log.clear()
    response = post(client, "/withdrawals", body, token)
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    sql = statements_in(sql_log)
    # The hold checks the card; the send credits the card number it found there.
    assert _count(sql, _by_id("user_cards")) == 1, _show(sql)
    # The row: held (INSERT), claimed held -> sent and finished sent -> succeeded (UPDATE ...
    # RETURNING, compare-and-set: the finishing one guards the money, before the holds are
    # posted; the answers come from there), never read.
    assert _count(sql, _by_id("withdrawals")) == 0, _show(sql)
    assert _count(sql, r"^UPDATE withdrawals SET") == 2, _show(sql)
    finished = [i for i, s in enumerate(sql) if re.search(r"^UPDATE withdrawals SET", s)][-1]
    assert finished < _first(sql, r"^UPDATE ledger_transfers"), _show(sql)
    # The password check's read, then the row locked for the quota (a guard: kept).
    assert _users_by_id(sql) == 2, _show(sql)
    assert len(sql) <= 29, _show(sql)  # 28 on PostgreSQL when this was written (35 before)


def _answered_in_the_money_transaction(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    """Red packets store their REST answer in the money transaction once the wiring gives
    them `answer_of` (the REST shape, as the idempotency renderers make it)."""
    service = platform.services["red_packets"]
    if service.answer_of is None:
        monkeypatch.setattr(service, "answer_of", red_packet_answer)


def test_a_red_packet_send_and_claim_are_answered_from_what_they_wrote(
    client: TestClient, platform: Platform, sql_log: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _answered_in_the_money_transaction(platform, monkeypatch)
    token, _ = _topped_up(client, platform, "13800138407", "吴九")
    claimant, _ = register(client, platform, "13800138412", "卫四")
    body = {"kind": "lucky", "total_fen": 300, "count": 3, "payment_password": PIN}

    def call(path: str, token: str, json: object = None) -> dict[str, object]:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
        response = client.post(path, json=json, headers=headers)
        assert response.status_code == 200, response.text
        answer: dict[str, object] = response.json()
        return answer

    call("/api/v1/red-packets", token, body)  # warm-up
    sql_log.clear()
    answer = call("/api/v1/red-packets", token, body)
    assert answer["state"] == "active" and answer["total_fen"] == 300
    sql = statements_in(sql_log)
    assert _count(sql, _by_id("red_packets")) == 0, _show(sql)  # not read back
    assert _users_by_id(sql) == 2, _show(sql)  # the password check; the money transaction
    # The claim, then the answer stored by the send's own transaction: no third write.
    assert _count(sql, r"idempotency_keys") == 2, _show(sql)
    assert len(sql) <= 15, _show(sql)  # 14 on PostgreSQL when this was written

    sql_log.clear()
    claimed = call(f"/api/v1/red-packets/{answer['id']}/claim", claimant)
    assert claimed["packet_id"] == answer["id"]
    sql = statements_in(sql_log)
    assert _count(sql, r"idempotency_keys") == 2, _show(sql)
    assert len(sql) <= 13, _show(sql)  # 12 on PostgreSQL when this was written
    # A replay answers what was stored, byte for byte the same.
    replay = client.post(
        f"/api/v1/red-packets/{answer['id']}/claim",
        headers={"Authorization": f"Bearer {claimant}", "Idempotency-Key": "same"},
    )
    again = client.post(
        f"/api/v1/red-packets/{answer['id']}/claim",
        headers={"Authorization": f"Bearer {claimant}", "Idempotency-Key": "same"},
    )
    assert replay.status_code == again.status_code and replay.json() == again.json()


def _device(client: TestClient, token: str) -> tuple[str, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    response = add_device(client, token, key)
    assert response.status_code == 201, response.text
    return str(response.json()["device_id"]), key


def test_a_device_confirmed_transfer_reads_the_payer_once(
    client: TestClient, platform: Platform, sql_log: list[str]
) -> None:
    payer, _ = _topped_up(client, platform, "13800138408", "郑十")
    register(client, platform, "13800138409", "冯一")
    device_id, key = _device(client, payer)
    body = {"payee_phone": "13800138409", "amount_fen": 1}

    def transfer() -> None:
        response = signed_post(client, platform, "/transfers", body, payer, device_id, key)
        assert response.status_code == 200 and response.json()["status"] == "succeeded"

    transfer()  # warm-up
    sql_log.clear()
    transfer()
    sql = statements_in(sql_log)
    assert _count(sql, r"FROM user_devices WHERE") == 1, _show(sql)
    # The device check runs first in the money transaction: its read of the payer is the
    # one the payment checks use (no read of its own before).
    assert _users_by_id(sql) == 1, _show(sql)
    assert _count(sql, _by_id("wallet_transfers")) == 0, _show(sql)
    assert len(sql) <= 14, _show(sql)  # 13 on PostgreSQL when this was written


def test_a_device_confirmed_top_up_and_withdrawal_read_the_user_once(
    client: TestClient, platform: Platform, sql_log: list[str]
) -> None:
    token, card_id = _topped_up(client, platform, "13800138411", "褚三")
    device_id, key = _device(client, token)
    topup = {"card_id": card_id, "amount_fen": 100}
    withdrawal = {"card_id": card_id, "amount_fen": 100, "arrival": "instant"}
    counts: dict[str, tuple[int, int]] = {}
    for path, body in (("/topups", topup), ("/withdrawals", withdrawal)):
        signed_post(client, platform, path, body, token, device_id, key)  # warm-up
        sql_log.clear()
        response = signed_post(client, platform, path, body, token, device_id, key)
        assert response.status_code == 200 and response.json()["status"] == "succeeded"
        sql = statements_in(sql_log)
        locked = _count(sql, _by_id("users") + r".* FOR UPDATE$")
        counts[path] = (_users_by_id(sql), locked)
        assert len(sql) <= {"/topups": 24, "/withdrawals": 35}[path], _show(sql)
    # A withdrawal's device check reads the user's row locked, as its hold then needs it.
    locked_withdrawal = 1 if platform.engine.dialect.name == "postgresql" else 0
    assert counts == {"/topups": (1, 0), "/withdrawals": (1, locked_withdrawal)}


def test_a_row_updated_in_the_transaction_is_answered_from_what_the_update_returned(
    client: TestClient, platform: Platform, sql_log: list[str]
) -> None:
    """The wallet store remembers the row its UPDATE ... RETURNING wrote, for that transaction
    only; an update that matched nothing changes nothing it remembers."""
    token, card_id = register(client, platform, "13800138410", "陈二")
    body = {"card_id": card_id, "amount_fen": 100, "payment_password": PIN}
    topup_id = post(client, "/topups", body, token).json()["id"]
    store = platform.services["wallet"].store

    def work(tx: object) -> tuple[str, str, bool]:
        assert store.finish(tx, "topups", topup_id, "succeeded", status="failed")
        sql_log.clear()
        remembered = store.get(tx, "topups", topup_id).status
        read = len(statements_in(sql_log))
        assert not store.finish(tx, "topups", topup_id, "processing", status="succeeded")
        return remembered, store.get(tx, "topups", topup_id).status, read == 0

    class Undo(Exception):
        pass

    def undone(tx: object) -> None:
        result.append(work(tx))
        raise Undo

    result: list[tuple[str, str, bool]] = []
    with pytest.raises(Undo):
        platform.db.run(undone)
    assert result == [("failed", "failed", True)]
    with platform.db.read() as tx:  # rolled back: another transaction reads the database
        assert store.get(tx, "topups", topup_id).status == "succeeded"
