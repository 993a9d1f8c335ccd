"""Real-time risk control of transfers and withdrawals, on SQLite and PostgreSQL: refusals
move nothing and leave one decision row; a held transfer waits for the operators, who land it
or return it (once: a race with the payer's own cancel has one winner); the blacklist and the
hourly velocity; a device confirmation asked for the password."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.integration.risk_support import PIN, Funded, funded_user, held_transfer
from tests.integration.test_device_confirm import add_device, error_code, signed_post
from tests.integration.test_wallet_api import ledger_clean, post, register

from paybao.adapters.db.tables.risk import risk_decisions
from paybao.adapters.db.tables.wallet import wallet_transfers
from paybao.bootstrap import Platform
from paybao.domain.errors import DomainError
from paybao.domain.red_packets import Kind
from paybao.domain.risk import RiskRules
from paybao.services.red_packets import SendRequest
from paybao.services.risk import RecordedDecision


def wallet(platform: Platform) -> Any:
    return platform.services["wallet"]


def risk(platform: Platform) -> Any:
    return platform.services["risk"]


def balance_fen(platform: Platform, who: Funded) -> tuple[int, int]:
    result: tuple[int, int] = wallet(platform).balance(who.user_id)
    return result


def decisions(platform: Platform) -> list[RecordedDecision]:
    found: list[RecordedDecision] = risk(platform).decisions(limit=100)
    return found


def count(platform: Platform, table: Any) -> int:
    with platform.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def refused_code(call: Any) -> str:
    with pytest.raises(DomainError) as refused:
        call()
    return refused.value.code


def test_nobody_can_pay_a_blacklisted_account_and_the_refusal_moves_nothing(
    platform: Platform,
) -> None:
    payer = funded_user(platform, "13900139101", "钱一", 500_00)
    payee = funded_user(platform, "13900139102", "孙二")
    risk(platform).blacklist_add(payee.phone, "reported scam account", None)
    before = count(platform, wallet_transfers)

    code = refused_code(lambda: wallet(platform).transfer(payer.user_id, payee.phone, 100, PIN))
    assert code == "risk_rejected"
    assert balance_fen(platform, payer) == (500_00, 500_00)
    assert balance_fen(platform, payee) == (0, 0)
    assert count(platform, wallet_transfers) == before
    (decision,) = decisions(platform)
    assert (decision.decision, decision.reasons, decision.reference) == (
        "reject",
        ("blacklisted_payee",),
        None,
    )
    assert (decision.user_id, decision.payee_user_id, decision.amount_fen) == (
        payer.user_id,
        payee.user_id,
        100,
    )
    assert ledger_clean(platform)

    risk(platform).blacklist_remove(payee.user_id, None)
    assert wallet(platform).transfer(payer.user_id, payee.phone, 100, PIN).status == "succeeded"
    assert balance_fen(platform, payee) == (100, 100)


def test_the_blacklist_refuses_duplicates_unknown_phones_and_empty_reasons(
    platform: Platform,
) -> None:
    user = funded_user(platform, "13900139111", "周三")
    service = risk(platform)
    assert refused_code(lambda: service.blacklist_add(user.phone, "  ", None)) == (
        "blacklist_reason_invalid"
    )
    assert refused_code(lambda: service.blacklist_add("13900139119", "x", None)) == (
        "user_not_found"
    )
    service.blacklist_add(user.phone, "mule account", None)
    assert refused_code(lambda: service.blacklist_add(user.phone, "again", None)) == (
        "already_blacklisted"
    )
    assert [entry.user_id for entry in service.blacklist()] == [user.user_id]
    service.blacklist_remove(user.user_id, None)
    assert refused_code(lambda: service.blacklist_remove(user.user_id, None)) == "not_blacklisted"


def test_velocity_refuses_money_out_beyond_the_hourly_maximum_then_lets_it_through(
    platform: Platform,
) -> None:
    risk(platform).rules = RiskRules(ops_per_hour_max=3)
    payer = funded_user(platform, "13900139201", "吴四", 500_00)
    payee = funded_user(platform, "13900139202", "郑五")
    for _ in range(2):
        wallet(platform).transfer(payer.user_id, payee.phone, 100, PIN)
    wallet(platform).withdraw(payer.user_id, payer.card_id, 100, PIN)
    assert refused_code(
        lambda: wallet(platform).transfer(payer.user_id, payee.phone, 100, PIN)
    ) == ("risk_rejected")
    assert refused_code(
        lambda: wallet(platform).withdraw(payer.user_id, payer.card_id, 100, PIN)
    ) == ("risk_rejected")
    assert [d.reasons for d in decisions(platform)] == [("velocity",), ("velocity",)]
    assert balance_fen(platform, payee) == (200, 200)

    platform.sandbox_clock.advance(3601)
    assert wallet(platform).transfer(payer.user_id, payee.phone, 100, PIN).status == "succeeded"
    assert ledger_clean(platform)


def test_a_large_transfer_to_a_new_payee_is_held_two_hours_then_lands(
    platform: Platform,
) -> None:
    payer, payee, movement = held_transfer(platform)
    assert movement.risk_hold
    assert movement.due_at_us is not None
    due_in_s = (movement.due_at_us - platform.clock.now_us()) / 1_000_000
    assert 2 * 3600 - 60 < due_in_s <= 2 * 3600
    assert balance_fen(platform, payer) == (7_000_00, 1_000_00)  # held, not gone
    assert balance_fen(platform, payee) == (0, 0)
    (waiting,) = risk(platform).decisions(unreviewed=True)
    assert waiting.reference == f"p2p:{movement.id}"
    assert waiting.reasons == ("new_payee", "amount_anomaly")

    platform.sandbox_clock.advance(2 * 3600 + 1)  # nobody reviewed it: it lands on time
    landed = wallet(platform).movement("transfer", movement.id)
    assert (landed.status, landed.risk_hold) == ("succeeded", False)
    assert balance_fen(platform, payee) == (6_000_00, 6_000_00)
    assert balance_fen(platform, payer) == (1_000_00, 1_000_00)
    # The payee is known now: the same amount passes (and is no anomaly any more).
    again = wallet(platform).transfer(payee.user_id, payer.phone, 10, PIN)
    assert again.status == "succeeded"
    back = wallet(platform).transfer(payer.user_id, payee.phone, 100, PIN)
    assert back.status == "succeeded"
    assert ledger_clean(platform)


@pytest.mark.parametrize("review", ["released", "cancelled", "confirmed"])
def test_an_operator_lands_returns_or_confirms_a_held_transfer_once(
    platform: Platform, review: str
) -> None:
    payer, payee, movement = held_transfer(platform)
    operator = platform.services["operators"].create("ops.risk", "correct horse 42", "support")
    (waiting,) = risk(platform).decisions(unreviewed=True)

    reviewed = risk(platform).review(waiting.id, review, operator.id)
    assert (reviewed.review, reviewed.reviewed_by) == (review, operator.id)
    assert risk(platform).decisions(unreviewed=True) == []
    status = wallet(platform).movement("transfer", movement.id).status
    expected = {"released": "succeeded", "cancelled": "cancelled", "confirmed": "pending"}
    assert status == expected[review]
    payee_fen = 6_000_00 if review == "released" else 0
    assert balance_fen(platform, payee) == (payee_fen, payee_fen)
    if review == "cancelled":
        assert balance_fen(platform, payer) == (7_000_00, 7_000_00)
    assert refused_code(lambda: risk(platform).review(waiting.id, "released", operator.id)) == (
        "risk_already_reviewed"
    )
    assert ledger_clean(platform)


def test_a_review_of_a_transfer_the_payer_cancelled_is_refused_and_changes_nothing(
    platform: Platform,
) -> None:
    payer, _payee, movement = held_transfer(platform)
    wallet(platform).cancel_transfer(payer.user_id, movement.id)
    (waiting,) = risk(platform).decisions(unreviewed=True)
    assert refused_code(lambda: risk(platform).review(waiting.id, "released", 1)) == (
        "risk_already_resolved"
    )
    assert risk(platform).decisions(unreviewed=True) == [waiting]  # still to be confirmed
    risk(platform).review(waiting.id, "confirmed", 1)
    assert balance_fen(platform, payer) == (7_000_00, 7_000_00)


def test_a_release_racing_the_payers_cancel_has_exactly_one_winner(platform: Platform) -> None:
    payer, payee, movement = held_transfer(platform)
    (waiting,) = risk(platform).decisions(unreviewed=True)
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def attempt(name: str, call: Any) -> None:
        start.wait()
        try:
            call()
            outcomes[name] = "ok"
        except DomainError as error:
            outcomes[name] = error.code

    threads = [
        threading.Thread(
            target=attempt,
            args=("release", lambda: risk(platform).review(waiting.id, "released", 1)),
        ),
        threading.Thread(
            target=attempt,
            args=("cancel", lambda: wallet(platform).cancel_transfer(payer.user_id, movement.id)),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes.values()).count("ok") == 1, outcomes
    landed = wallet(platform).movement("transfer", movement.id).status == "succeeded"
    assert balance_fen(platform, payee)[0] == (6_000_00 if landed else 0)
    assert balance_fen(platform, payer)[0] == (1_000_00 if landed else 7_000_00)
    assert ledger_clean(platform)


def test_rest_a_device_confirmed_transfer_to_a_new_payee_asks_for_the_password(
    client: TestClient, platform: Platform
) -> None:
    token, card_id = register(client, platform, "13800138501", "冯七")
    register(client, platform, "13800138502", "陈八")
    payer = platform.services["users"].find_by_phone("13800138501")
    users = platform.services["users"]
    platform.db.run(lambda tx: users.store.update(tx, payer.id, account_class="III"))
    assert (
        post(
            client,
            "/topups",
            {"card_id": card_id, "amount_fen": 1_500_00, "payment_password": "135790"},
            token,
        ).status_code
        == 200
    )
    key = Ed25519PrivateKey.generate()
    device_id = add_device(client, token, key).json()["device_id"]
    body = {"payee_phone": "13800138502", "amount_fen": 1_000_00}

    refused = signed_post(client, platform, "/transfers", body, token, device_id, key)
    assert refused.status_code == 403, refused.text
    assert error_code(refused) == "risk_password_required"
    assert [d.decision for d in decisions(platform)] == ["challenge"]
    # The app asks for the password and sends the operation again, under a new key.
    confirmed = post(client, "/transfers", {**body, "payment_password": "135790"}, token)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "succeeded"
    # A small device-confirmed transfer to the now-known payee passes.
    small = signed_post(
        client, platform, "/transfers", {**body, "amount_fen": 100}, token, device_id, key
    )
    assert small.status_code == 200, small.text
    assert count(platform, risk_decisions) == 1


def test_the_wallet_page_says_a_transfer_was_held_and_offers_the_cancel(
    client: TestClient, platform: Platform
) -> None:
    from tests.integration.admin_support import csrf_of

    payer = funded_user(platform, "13900139401", "何十一", 7_000_00)
    payee = funded_user(platform, "13900139402", "吕十二")
    page = client.get("/login")
    signed_in = client.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "phone": payer.phone, "password": "abc12345"},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text
    form = client.get("/wallet/transfer")
    sent = client.post(
        "/wallet/transfer",
        data={
            "csrf_token": csrf_of(form.text),
            "payee_phone": payee.phone,
            "amount": "6000.00",
            "payment_password": PIN,
            "arrival": "instant",
        },
    )
    assert sent.status_code == 200, sent.text
    assert "this transfer arrives in 2 hours" in sent.text or "2小时后到账" in sent.text
    assert "/cancel" in sent.text  # the pending transfer is listed with its cancel button
    assert balance_fen(platform, payee) == (0, 0)


def test_red_packets_sent_count_in_the_hourly_velocity(platform: Platform) -> None:
    risk(platform).rules = RiskRules(ops_per_hour_max=2)
    payer = funded_user(platform, "13900139211", "冯六", 500_00)
    packets = platform.services["red_packets"]
    for _ in range(2):
        packets.send(payer.user_id, SendRequest(kind=Kind.LUCKY, count=2, total_fen=200), PIN)
    assert refused_code(
        lambda: packets.send(payer.user_id, SendRequest(kind=Kind.EQUAL, count=1, share_fen=1), PIN)
    ) == ("risk_rejected")
    payee = funded_user(platform, "13900139212", "陈七")
    assert refused_code(
        lambda: wallet(platform).transfer(payer.user_id, payee.phone, 100, PIN)
    ) == ("risk_rejected")
    assert [d.reasons for d in decisions(platform)] == [("velocity",), ("velocity",)]
