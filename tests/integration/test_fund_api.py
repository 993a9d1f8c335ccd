"""Yu'e Bao through its edges on the test database: the REST API (idempotency keys, payment
password or device, error codes and statuses), the wallet pages (forms, double submit, errors in
the page's language), the operators' page, and `paybao fund publish-rate`."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.integration.admin_support import create_operator, sign_in, wallet_browser
from tests.integration.gateway_support import (
    LOGIN_PASSWORD,
    PAYMENT_PASSWORD,
    make_buyer,
    wallet_balance,
)
from tests.integration.test_device_confirm import add_device
from tests.integration.test_fund import (
    MONDAY,
    TUESDAY,
    china_now,
    fund_of,
    holder,
    move_to,
    next_day,
)
from typer.testing import CliRunner

from paybao.adapters.db.tables.wallet import audit_log
from paybao.bootstrap import Platform
from paybao.cli import app as cli_app
from paybao.domain.devices import (
    HEADER_DEVICE_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    request_digest,
    signed_message,
)
from paybao.settings import Settings

PHONE = "13800138300"


@pytest.fixture
def user(platform: Platform) -> dict[str, Any]:
    user_id = make_buyer(platform, PHONE, balance_fen=30_000_00)
    token = platform.services["operators"].issue_token(user_id)
    return {"id": user_id, "auth": {"Authorization": f"Bearer {token}"}, "token": token}


def post(
    client: TestClient, path: str, body: dict[str, Any], user: dict[str, Any], key: str = ""
) -> Any:
    headers = {**user["auth"], "Idempotency-Key": key or uuid.uuid4().hex}
    return client.post(f"/api/v1/fund{path}", json=body, headers=headers)


def code_of(response: Any) -> str:
    return str(response.json()["error"]["code"])


# REST -------------------------------------------------------------------------------------------


def test_transfer_in_needs_a_key_and_a_proof_and_replays_its_answer(
    platform: Platform, client: TestClient, user: dict[str, Any]
) -> None:
    body = {"amount_fen": 10_000_00, "payment_password": PAYMENT_PASSWORD}
    no_key = client.post("/api/v1/fund/transfer-in", json=body, headers=user["auth"])
    assert (no_key.status_code, code_of(no_key)) == (400, "idempotency_key_missing")
    no_proof = post(client, "/transfer-in", {"amount_fen": 100}, user)
    assert (no_proof.status_code, code_of(no_proof)) == (400, "confirmation_required")
    wrong = post(client, "/transfer-in", {**body, "payment_password": "000000"}, user)
    assert (wrong.status_code, code_of(wrong)) == (403, "payment_password_wrong")
    too_much = post(client, "/transfer-in", {**body, "amount_fen": 30_000_01}, user)
    assert (too_much.status_code, code_of(too_much)) == (402, "insufficient_funds")
    unauthenticated = client.post("/api/v1/fund/transfer-in", json=body)
    assert unauthenticated.status_code == 401

    first = post(client, "/transfer-in", body, user, key="in-1")
    assert first.status_code == 200, first.text
    answer = first.json()
    assert (answer["kind"], answer["status"], answer["amount"]) == ("in", "pending", "10000.00")
    assert answer["settle_date"] > answer["trade_date"]
    again = post(client, "/transfer-in", body, user, key="in-1")
    assert again.json() == answer
    changed = post(client, "/transfer-in", {**body, "amount_fen": 1}, user, key="in-1")
    assert (changed.status_code, code_of(changed)) == (409, "idempotency_key_reused")
    assert len(fund_of(platform).orders(user["id"])) == 1
    assert wallet_balance(platform, user["id"]) == 20_000_00

    holdings = client.get("/api/v1/fund", headers=user["auth"]).json()
    assert (holdings["total"], holdings["pending_fen"], holdings["confirmed_fen"]) == (
        "10000.00",
        10_000_00,
        0,
    )
    assert holdings["pending"] == [
        {
            "id": answer["id"],
            "kind": "in",
            "amount_fen": 10_000_00,
            "amount": "10000.00",
            "settle_date": answer["settle_date"],
        }
    ]
    assert (holdings["income_per_10k"], holdings["yield_7d_percent"]) == ("0.6500", "2.4008")
    assert holdings["fast_left_fen"] == holdings["fast_quota_fen"] == 10_000_00


def test_transfer_out_refusals_speeds_records_and_statement(
    platform: Platform, client: TestClient, user: dict[str, Any]
) -> None:
    move_to(platform, MONDAY, 10)
    proof = {"payment_password": PAYMENT_PASSWORD}
    assert post(client, "/transfer-in", {"amount_fen": 25_000_00, **proof}, user).status_code == 200
    early = post(client, "/transfer-out", {"amount_fen": 100, **proof}, user)
    assert (early.status_code, code_of(early)) == (409, "fund_shares_pending_confirmation")
    move_to(platform, TUESDAY, 10)
    over = post(client, "/transfer-out", {"amount_fen": 10_000_01, **proof}, user)
    assert (over.status_code, code_of(over)) == (403, "fund_fast_redeem_quota_exceeded")
    short = post(client, "/transfer-out", {"amount_fen": 25_000_01, **proof}, user)
    assert (short.status_code, code_of(short)) == (402, "fund_insufficient_shares")
    speed = post(client, "/transfer-out", {"amount_fen": 100, "speed": "slow", **proof}, user)
    assert (speed.status_code, code_of(speed)) == (400, "fund_speed_invalid")
    zero = post(client, "/transfer-out", {"amount_fen": 0, **proof}, user)
    assert zero.status_code == 422

    fast = post(client, "/transfer-out", {"amount_fen": 10_000_00, **proof}, user).json()
    assert (fast["kind"], fast["status"], fast["settle_date"]) == ("out_fast", "succeeded", None)
    body = {"amount_fen": 5_000_00, "speed": "normal", **proof}
    normal = post(client, "/transfer-out", body, user).json()
    assert (normal["kind"], normal["status"]) == ("out_normal", "pending")
    assert normal["settle_date"] == (china_now(platform).date() + timedelta(days=1)).isoformat()
    next_day(platform)
    next_day(platform)

    page = client.get("/api/v1/fund/records?limit=2", headers=user["auth"]).json()
    assert [r["kind"] for r in page["records"]] == ["out_normal", "out_fast"]
    assert page["records"][0]["status"] == "succeeded"
    rest = client.get(
        f"/api/v1/fund/records?limit=2&before={page['next_before']}", headers=user["auth"]
    ).json()
    assert [r["kind"] for r in rest["records"]] == ["in"]
    assert rest["next_before"] is None
    income = client.get("/api/v1/fund/income", headers=user["auth"]).json()["income"]
    # Tuesday earned on 10,000.00 left at its end (15,000 -> 5,000 more arrived Wednesday).
    assert income[-1] == {
        "date": income[-1]["date"],
        "income_fen": 65,
        "income": "0.65",
        "base_fen": 10_000_00,
        "income_per_10k": "0.6500",
    }
    statement = client.get(
        "/api/v1/wallet/statement?kind=fund_in,fund_out", headers=user["auth"]
    ).json()
    assert [(e["kind"], e["amount_fen"]) for e in statement["entries"]] == [
        ("fund_out", 5_000_00),
        ("fund_out", 10_000_00),
        ("fund_in", -25_000_00),
    ]


def test_a_registered_device_confirms_a_transfer_in(
    platform: Platform, client: TestClient, user: dict[str, Any]
) -> None:
    key = Ed25519PrivateKey.generate()
    added = add_device(client, user["token"], key, pin=PAYMENT_PASSWORD)
    assert added.status_code == 201, added.text
    device_id = added.json()["device_id"]
    path, idempotency_key = "/api/v1/fund/transfer-in", uuid.uuid4().hex
    raw = json.dumps({"amount_fen": 1_000_00}).encode()
    timestamp_s = platform.clock.now_us() // 1_000_000
    digest = request_digest("POST", path, idempotency_key, raw)
    signature = key.sign(signed_message(device_id, timestamp_s, digest))
    headers = {
        **user["auth"],
        "Idempotency-Key": idempotency_key,
        "Content-Type": "application/json",
        HEADER_DEVICE_ID: device_id,
        HEADER_TIMESTAMP: str(timestamp_s),
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }
    signed = client.post(path, content=raw, headers=headers)
    assert signed.status_code == 200, signed.text
    # The same signature over another amount proves nothing.
    forged = client.post(
        path,
        content=json.dumps({"amount_fen": 2_000_00}).encode(),
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert (forged.status_code, code_of(forged)) == (403, "device_signature_wrong")
    assert [o.amount_fen for o in fund_of(platform).orders(user["id"])] == [1_000_00]


# Pages ------------------------------------------------------------------------------------------


def signed_in(client: TestClient, phone: str = PHONE) -> TestClient:
    return wallet_browser(client, phone, LOGIN_PASSWORD)


def form_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', html))


def test_fund_pages_transfer_in_once_and_show_errors_in_chinese(
    platform: Platform, client: TestClient, user: dict[str, Any]
) -> None:
    browser = signed_in(client)
    empty = browser.get("/wallet/fund")
    assert empty.status_code == 200
    assert 'id="fund-total">0.00<' in empty.text
    form = browser.get("/wallet/fund/in")
    assert "可用余额 30000.00 元" in form.text
    hidden = form_fields(form.text)
    data = {**hidden, "amount": "1000.00", "payment_password": PAYMENT_PASSWORD}
    done = browser.post("/wallet/fund/in", data=data, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/wallet/fund?done=pending")
    twice = browser.post("/wallet/fund/in", data=data, follow_redirects=False)
    assert twice.headers["location"] == "/wallet/fund?done=pending"
    assert len(fund_of(platform).orders(user["id"])) == 1  # a double submit moves money once

    home = browser.get("/wallet/fund?done=pending").text
    assert "转入成功,等待确认" in home
    assert 'id="fund-pending">1000.00<' in home
    assert re.search(r'class="pending-order" data-kind="in" data-settle-date="[0-9-]+"', home)

    wrong = {**form_fields(browser.get("/wallet/fund/in").text), "amount": "10.00"}
    refused = browser.post("/wallet/fund/in", data={**wrong, "payment_password": "000000"})
    assert refused.status_code == 400
    assert 'data-code="payment_password_wrong"' in refused.text and "支付密码错误" in refused.text
    out = form_fields(browser.get("/wallet/fund/out").text)
    pending = browser.post(
        "/wallet/fund/out",
        data={**out, "amount": "10.00", "speed": "fast", "payment_password": PAYMENT_PASSWORD},
    )
    assert 'data-code="fund_shares_pending_confirmation"' in pending.text
    assert "确认后才能转出" in pending.text
    english = browser.get("/wallet/fund", headers={"Accept-Language": "en"})
    assert "Yu'e Bao" in english.text or "Yu&#39;e Bao" in english.text
    statement = browser.get("/wallet/statement?kind=fund_in").text
    assert 'data-kind="fund_in"' in statement and "转入余额宝" in statement


def test_operators_see_the_fund_page(platform: Platform, client: TestClient) -> None:
    _, secret = create_operator(platform)
    assert sign_in(client, secret).status_code == 303  # type: ignore[attr-defined]
    fund_of(platform).publish_rate(china_now(platform).date(), 7000, by="ops.alice")
    page = client.get("/admin/fund")
    assert page.status_code == 200
    assert 'class="rate"' in page.text and "0.7000" in page.text
    assert 'id="daily-pass"' in page.text and 'href="/admin/fund"' in page.text


# The command ------------------------------------------------------------------------------------


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PAYBAO_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("PAYBAO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PAYBAO_SANDBOX", "1")
    return settings


def test_publish_rate_from_the_command_line(platform: Platform, env: Settings) -> None:
    runner = CliRunner()
    user_id = holder(platform, "13800138301", confirmed_fen=10_000_00)  # Tuesday 10:00
    today = china_now(platform).date()
    published = runner.invoke(cli_app, ["fund", "publish-rate", "0.7000", "--by", "ops.bob"])
    assert published.exit_code == 0, published.output
    assert f"{today}: 0.7000 CNY per 10,000 CNY" in published.output
    listed = runner.invoke(cli_app, ["fund", "rates"])
    assert f"{today}  0.7000" in listed.output and "ops.bob" in listed.output
    past = (today - timedelta(days=1)).isoformat()
    closed = runner.invoke(cli_app, ["fund", "publish-rate", "0.7000", "--date", past])
    assert closed.exit_code == 2
    assert "fund_rate_date_closed" in closed.output
    bad = runner.invoke(cli_app, ["fund", "publish-rate", "0.70001"])
    assert (bad.exit_code, "fund_rate_invalid" in bad.output) == (2, True)
    with platform.engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.action, audit_log.c.subject, audit_log.c.actor).where(
                audit_log.c.action == "fund.publish_rate"
            )
        ).all()
    assert [tuple(row) for row in rows] == [("fund.publish_rate", f"fund_rate:{today}", "ops.bob")]
    # The next day's pass pays today's income on the published figure: 0.70, not 0.65.
    next_day(platform)
    [income] = fund_of(platform).incomes(user_id)
    assert (income.income_date, income.per_10k_e4, income.income_fen) == (today, 7000, 70)
