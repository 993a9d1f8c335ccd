"""Card payouts through their edges on the test database: the REST API (preview, Idempotency-Key,
password or device proof, codes and statuses, lists, cancel, saved cards, statement kinds) and
the wallet pages (form, confirmation with the fee, double submit, errors in Chinese)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from tests.integration.admin_support import csrf_of, wallet_browser
from tests.integration.card_payout_support import (
    PIN,
    bound_card_number,
    credit_card,
    funded_user,
    unknown_debit_card,
)
from tests.integration.test_device_confirm import add_device, signed_post

from paybao.bootstrap import Platform

LOGIN_PASSWORD = "abc12345"  # risk_support's users


@pytest.fixture
def people(platform: Platform) -> dict[str, Any]:
    payer = funded_user(platform, "13900139301", "王五", 5_000_00)
    payee = funded_user(platform, "13900139302", "赵六")
    token = platform.services["operators"].issue_token(payer.user_id)
    return {
        "payer": payer,
        "token": token,
        "auth": {"Authorization": f"Bearer {token}"},
        "card": bound_card_number(platform, payee),
        "credit": credit_card(platform, "王五", "api-own"),
    }


def post(
    client: TestClient, path: str, body: dict[str, Any], people: dict[str, Any], key: str = ""
) -> Any:
    headers = {**people["auth"], "Idempotency-Key": key or uuid.uuid4().hex}
    return client.post(f"/api/v1/wallet{path}", json=body, headers=headers)


def code_of(response: Any) -> str:
    return str(response.json()["error"]["code"])


# REST -------------------------------------------------------------------------------------------


def test_a_transfer_is_previewed_then_sent_once_per_key(
    platform: Platform, client: TestClient, people: dict[str, Any]
) -> None:
    preview = client.post(
        "/api/v1/wallet/card-transfers/preview",
        json={"card_number": people["card"], "amount_fen": 100_00},
        headers=people["auth"],
    )
    assert preview.status_code == 200, preview.text
    assert preview.json() | {"card_masked": "", "card_tail": ""} == {
        "kind": "transfer",
        "bank_code": "ICBC",
        "bank_name": "中国工商银行",
        "card_type": "DC",
        "card_masked": "",
        "card_tail": "",
        "amount_fen": 100_00,
        "fee_fen": 0,
        "total_fen": 100_00,
        "amount": "100.00",
        "fee": "0.00",
        "total": "100.00",
        "free_quota_fen": 20_000_00,
        "quota_left_fen": 20_000_00,
        "quota_month": None,
    }
    body = {
        "card_number": people["card"],
        "holder_name": "赵六",
        "amount_fen": 100_00,
        "memo": "餐费",
        "payment_password": PIN,
    }
    no_key = client.post("/api/v1/wallet/card-transfers", json=body, headers=people["auth"])
    assert (no_key.status_code, code_of(no_key)) == (400, "idempotency_key_missing")
    key = uuid.uuid4().hex
    first = post(client, "/card-transfers", body, people, key)
    assert first.status_code == 200, first.text
    sent = first.json()
    assert (sent["status"], sent["kind"], sent["card_tail"], sent["memo"]) == (
        "succeeded",
        "transfer",
        people["card"][-4:],
        "餐费",
    )
    assert post(client, "/card-transfers", body, people, key).json() == sent  # a replay
    changed = post(client, "/card-transfers", {**body, "amount_fen": 200_00}, people, key)
    assert (changed.status_code, code_of(changed)) == (409, "idempotency_key_reused")
    listed = client.get("/api/v1/wallet/card-transfers", headers=people["auth"]).json()
    assert [p["id"] for p in listed["payouts"]] == [sent["id"]] and listed["next_before"] is None
    one = client.get(f"/api/v1/wallet/card-transfers/{sent['id']}", headers=people["auth"])
    assert one.json() == sent
    # Not a repayment, and nobody else's.
    other_kind = client.get(f"/api/v1/wallet/card-repayments/{sent['id']}", headers=people["auth"])
    assert (other_kind.status_code, code_of(other_kind)) == (404, "card_payout_not_found")
    statement = client.get(
        "/api/v1/wallet/statement?kind=card_transfer", headers=people["auth"]
    ).json()
    assert [(e["kind"], e["amount_fen"]) for e in statement["entries"]] == [
        ("card_transfer", -100_00)
    ]


def test_errors_answer_their_codes_and_statuses(
    platform: Platform, client: TestClient, people: dict[str, Any]
) -> None:
    base = {"card_number": people["card"], "holder_name": "赵六", "amount_fen": 100_00}
    cases = [
        ({**base, "payment_password": PIN, "card_number": "6222 0000"}, 400, "card_number_invalid"),
        ({**base, "payment_password": PIN, "card_number": people["credit"]}, 400, "card_not_debit"),
        ({**base, "payment_password": PIN, "holder_name": "x1"}, 400, "holder_name_invalid"),
        ({**base, "payment_password": "000000"}, 403, "payment_password_wrong"),
        ({**base}, 400, "confirmation_required"),
        ({**base, "payment_password": PIN, "amount_fen": 9_000_00}, 402, "insufficient_funds"),
    ]
    for body, status, code in cases:
        answer = post(client, "/card-transfers", body, people)
        assert (answer.status_code, code_of(answer)) == (status, code), body
    repay = post(
        client,
        "/card-repayments",
        {"card_number": people["card"], "amount_fen": 1_00, "payment_password": PIN},
        people,
    )
    assert (repay.status_code, code_of(repay)) == (400, "card_not_credit")
    unauthenticated = client.post("/api/v1/wallet/card-transfers/preview", json={})
    assert unauthenticated.status_code == 401
    # A mismatch is not an error of the request: the payout answers failed, with the code.
    failed = post(
        client, "/card-transfers", {**base, "holder_name": "赵七", "payment_password": PIN}, people
    )
    assert (failed.status_code, failed.json()["status"], failed.json()["failure_code"]) == (
        200,
        "failed",
        "holder_name_mismatch",
    )
    assert client.get("/api/v1/wallet/balance", headers=people["auth"]).json()["balance_fen"] == (
        5_000_00
    )


def test_repayments_by_saved_card_and_a_later_one_cancelled(
    platform: Platform, client: TestClient, people: dict[str, Any]
) -> None:
    auth = people["auth"]
    saved = client.post(
        "/api/v1/wallet/card-repayments/cards",
        json={"card_number": people["credit"], "remind_day": 8},
        headers=auth,
    )
    assert saved.status_code == 200, saved.text
    card = saved.json()
    assert (card["bank_code"], card["remind_day"], card["card_tail"]) == (
        "CMB",
        8,
        people["credit"][-4:],
    )
    listed = client.get("/api/v1/wallet/card-repayments/cards", headers=auth).json()
    assert [c["id"] for c in listed["cards"]] == [card["id"]]
    preview = client.post(
        "/api/v1/wallet/card-repayments/preview",
        json={"card_number": people["credit"], "amount_fen": 2_500_00},
        headers=auth,
    ).json()
    assert (preview["fee_fen"], preview["quota_left_fen"], preview["total_fen"]) == (
        50,
        2_000_00,
        2_500_50,
    )
    both = post(
        client,
        "/card-repayments",
        {
            "card_id": card["id"],
            "card_number": people["credit"],
            "amount_fen": 1,
            "payment_password": PIN,
        },
        people,
    )
    assert (both.status_code, code_of(both)) == (400, "card_number_invalid")
    done = post(
        client,
        "/card-repayments",
        {"card_id": card["id"], "amount_fen": 2_500_00, "payment_password": PIN},
        people,
    )
    assert (done.json()["status"], done.json()["fee_fen"]) == ("succeeded", 50)
    later = post(
        client,
        "/card-repayments",
        {
            "card_id": card["id"],
            "amount_fen": 100_00,
            "payment_password": PIN,
            "arrival": "next_day",
        },
        people,
    ).json()
    assert later["status"] == "held"
    holds = client.get("/api/v1/wallet/holds", headers=auth).json()["holds"]
    assert [h["kind"] for h in holds] == ["fee", "card_repayment"]
    cancelled = client.post(
        f"/api/v1/wallet/card-repayments/{later['id']}/cancel",
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert cancelled.json()["status"] == "cancelled"
    again = client.post(
        f"/api/v1/wallet/card-repayments/{later['id']}/cancel",
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert (again.status_code, code_of(again)) == (409, "card_payout_not_cancellable")
    gone = client.delete(f"/api/v1/wallet/card-repayments/cards/{card['id']}", headers=auth)
    assert gone.status_code == 204
    assert client.get("/api/v1/wallet/card-repayments/cards", headers=auth).json()["cards"] == []
    kinds = client.get("/api/v1/wallet/statement", headers=auth).json()["entries"]
    assert [e["kind"] for e in kinds][:2] == ["fee", "card_repayment"]


def test_a_registered_device_confirms_exactly_what_it_signed(
    platform: Platform, client: TestClient, people: dict[str, Any]
) -> None:
    key = Ed25519PrivateKey.generate()
    added = add_device(client, people["token"], key, pin=PIN)
    assert added.status_code == 201, added.text
    device_id = added.json()["device_id"]
    body = {"card_number": people["card"], "holder_name": "赵六", "amount_fen": 300_00}
    signed = signed_post(client, platform, "/card-transfers", body, people["token"], device_id, key)
    assert (signed.status_code, signed.json()["status"]) == (200, "succeeded"), signed.text
    forged = signed_post(
        client,
        platform,
        "/card-transfers",
        {**body, "amount_fen": 500_00},
        people["token"],
        device_id,
        key,
        signed_body=body,
    )
    assert (forged.status_code, code_of(forged)) == (403, "device_signature_wrong")
    # 1,000.00 to a card never paid: risk control wants the password, not the device.
    new_card = {**body, "card_number": unknown_debit_card("api-new"), "amount_fen": 1_000_00}
    challenged = signed_post(
        client, platform, "/card-transfers", new_card, people["token"], device_id, key
    )
    assert (challenged.status_code, code_of(challenged)) == (403, "risk_password_required")
    with_pin = post(client, "/card-transfers", {**new_card, "payment_password": PIN}, people)
    assert with_pin.json()["failure_code"] == "card_not_found"  # passed; that bank says no


# Pages ------------------------------------------------------------------------------------------


def signed_in(client: TestClient, phone: str) -> TestClient:
    return wallet_browser(client, phone, LOGIN_PASSWORD)


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', html))


def test_transfer_pages_confirm_with_the_fee_and_move_money_once(
    platform: Platform, client: TestClient, people: dict[str, Any]
) -> None:
    assert client.get("/wallet/card-transfer", follow_redirects=False).status_code in (302, 303)
    browser = signed_in(client, "13900139301")
    platform.services["wallet"].fee_policy = type(platform.services["wallet"].fee_policy)(
        free_quota_fen=100_00
    )
    form = browser.get("/wallet/card-transfer")
    assert form.status_code == 200 and "转账到银行卡" in form.text
    assert "剩余 100.00 元" in form.text
    typed = {
        "csrf_token": csrf_of(form.text),
        "card_number": people["card"],
        "holder_name": "赵六",
        "amount": "300.00",
        "arrival": "instant",
        "memo": "",
    }
    confirm = browser.post("/wallet/card-transfer", data=typed)
    assert confirm.status_code == 200
    assert "中国工商银行 · 储蓄卡" in confirm.text
    assert 'id="confirm-fee" data-fee-fen="20">0.20<' in confirm.text  # 0.1% of 200.00
    assert 'id="confirm-total">300.20<' in confirm.text
    data = {**hidden_fields(confirm.text), "payment_password": PIN}
    done = browser.post("/wallet/card-transfer/confirm", data=data, follow_redirects=False)
    assert done.status_code == 303
    twice = browser.post("/wallet/card-transfer/confirm", data=data, follow_redirects=False)
    assert twice.headers["location"] == done.headers["location"]  # a double submit: once
    assert len(platform.services["card_payouts"].payouts(people["payer"].user_id)) == 1
    result = browser.get(done.headers["location"])
    assert 'data-status="succeeded"' in result.text and "已到账" in result.text
    # Back to change something keeps what was typed; a credit card is refused in Chinese.
    edit = browser.post("/wallet/card-transfer", data={**hidden_fields(confirm.text), "edit": "1"})
    assert f'value="{people["card"]}"' in edit.text
    wrong = browser.post("/wallet/card-transfer", data={**typed, "card_number": people["credit"]})
    assert wrong.status_code == 400
    assert 'data-code="card_not_debit"' in wrong.text and "仅支持储蓄卡" in wrong.text
    bad_pin = browser.post(
        "/wallet/card-transfer/confirm",
        data={
            **hidden_fields(browser.post("/wallet/card-transfer", data=typed).text),
            "payment_password": "000000",
        },
    )
    assert bad_pin.status_code == 400 and "支付密码错误" in bad_pin.text
    assert 'id="confirm-form"' in bad_pin.text  # still on the confirmation, nothing sent
    mismatch = browser.post(
        "/wallet/card-transfer/confirm",
        data={
            **hidden_fields(
                browser.post("/wallet/card-transfer", data={**typed, "holder_name": "赵七"}).text
            ),
            "payment_password": PIN,
        },
    )
    assert "收款人姓名与银行卡不符" in mismatch.text and 'data-status="failed"' in mismatch.text
    records = browser.get("/wallet/card-payouts")
    assert records.text.count('class="payout"') == 2
    home = browser.get("/wallet").text
    assert 'id="nav-card-transfer"' in home and 'id="nav-card-repayment"' in home


def test_repayment_page_saves_cards_and_repays_one(
    platform: Platform, client: TestClient, people: dict[str, Any]
) -> None:
    browser = signed_in(client, "13900139301")
    page = browser.get("/wallet/card-repayment")
    assert "每月免费还款 2000.00 元" in page.text and 'id="no-cards"' in page.text
    saved = browser.post(
        "/wallet/card-repayment/cards",
        data={
            "csrf_token": csrf_of(page.text),
            "new_card_number": people["credit"],
            "remind_day": "10",
        },
        follow_redirects=False,
    )
    assert saved.headers["location"] == "/wallet/card-repayment?done=saved"
    page = browser.get("/wallet/card-repayment?done=saved")
    assert "每月10日提醒" in page.text and "招商银行 · " + people["credit"][-4:] in page.text
    card_id = re.search(r'data-card-id="(\d+)"', page.text)
    assert card_id is not None
    confirm = browser.post(
        "/wallet/card-repayment",
        data={
            "csrf_token": csrf_of(page.text),
            "card_id": card_id.group(1),
            "card_number": "",
            "amount": "2100.00",
            "arrival": "instant",
        },
    )
    assert "招商银行 · 信用卡" in confirm.text and 'id="confirm-total">2100.10<' in confirm.text
    done = browser.post(
        "/wallet/card-repayment/confirm",
        data={**hidden_fields(confirm.text), "payment_password": PIN},
        follow_redirects=False,
    )
    result = browser.get(done.headers["location"]).text
    assert 'data-status="succeeded"' in result and 'data-kind="repayment"' in result
    debit = browser.post(
        "/wallet/card-repayment/cards",
        data={"csrf_token": csrf_of(page.text), "new_card_number": people["card"]},
    )
    assert debit.status_code == 400 and "这不是信用卡卡号" in debit.text
    english = browser.get("/wallet/card-repayment", headers={"Accept-Language": "en"})
    assert "Credit card repayment" in english.text and "China Merchants Bank" in english.text
