"""The credit score on the database: facts read from every feature (payments, transfers, top-ups,
Yu'e Bao, Huabei bills on time and late, withholding, risk refusals, the blacklist), the monthly
pass on the sandbox clock (00:00 China time on the 6th, run twice), consent on the wallet page and
over REST (unticked is no; off deletes), and the operators' read-only view."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from credit_support import advance_to, next_month, reconcile_clean, shop_trade
from fastapi.testclient import TestClient
from gateway_support import LOGIN_PASSWORD, PAYMENT_PASSWORD, make_shop
from score_support import Person, person, score_of, switched_on
from sqlalchemy import func, select
from tests.integration.admin_support import create_operator, csrf_of, sign_in, wallet_browser
from tests.integration.agreement_support import deduct, signed_agreement

from paybao.adapters.db.score_queries import SqlScoreQueries
from paybao.adapters.db.tables.score import score_snapshots
from paybao.adapters.db.tables.wallet import audit_log
from paybao.bootstrap import Platform
from paybao.domain.account_class import CHINA_TZ
from paybao.domain.errors import DomainError
from paybao.domain.score import Purpose, ScoreFacts
from paybao.domain.trades import Funding
from paybao.services.score import AdmissionQuery
from paybao.services.trades import Trade


def facts(platform: Platform, user: Person) -> ScoreFacts:
    with platform.db.read() as tx:
        return SqlScoreQueries().facts(tx, user.user_id, platform.clock.now_us())


def pay_with_credit(platform: Platform, user: Person, out_trade_no: str, total_fen: int) -> Trade:
    trade = shop_trade(platform, out_trade_no, total_fen)
    trades = platform.services["trades"]
    paid: Trade = trades.pay_by_buyer(
        trade.trade_no, user.user_id, PAYMENT_PASSWORD, funding=Funding.CREDIT
    )
    return paid


def wallet_balance(platform: Platform, user: Person) -> int:
    record = platform.services["users"].record(user.user_id)
    return int(platform.ledger.balance(record.wallet_account_id).balance_fen)


def snapshot_rows(platform: Platform) -> list[tuple[int, str]]:
    with platform.db.read() as tx:
        query = select(score_snapshots.c.user_id, score_snapshots.c.period)
        return sorted((int(u), str(p)) for u, p in tx.execute(query))


def test_the_facts_come_from_every_feature(platform: Platform, client: TestClient) -> None:
    alice = person(platform, "13800000101", "王小明", balance_fen=10_000_00)
    bob = person(platform, "13800000102", "李四", balance_fen=1_000_00)
    carol = person(platform, "13800000103", "张三")
    services = platform.services
    wallet, trades = services["wallet"], services["trades"]
    # The shop with the keys agreement_support signs with (shop_trade then finds it).
    make_shop(platform)
    for number in ("score-1", "score-2"):
        trade = shop_trade(platform, number, 88_00)
        trades.pay_by_buyer(trade.trade_no, alice.user_id, PAYMENT_PASSWORD)
    assert wallet.transfer(alice.user_id, bob.phone, 100_00, PAYMENT_PASSWORD).status == "succeeded"
    assert wallet.transfer(alice.user_id, carol.phone, 50_00, PAYMENT_PASSWORD).status == (
        "succeeded"
    )
    assert wallet.transfer(bob.user_id, alice.phone, 200_00, PAYMENT_PASSWORD).status == (
        "succeeded"
    )
    services["fund"].transfer_in(alice.user_id, 1_000_00, PAYMENT_PASSWORD)
    services["credit"].grant(alice.user_id, 2_000_00, reason="test", actor="test")
    agreement_no = signed_agreement(client, alice.phone)
    assert deduct(client, agreement_no, "park-1", "15.00")["code"] == "10000"
    services["risk"].blacklist_add(carol.phone, "test: fraud reports", None)
    with pytest.raises(DomainError) as refused:
        wallet.transfer(alice.user_id, carol.phone, 10_00, PAYMENT_PASSWORD)
    assert refused.value.code == "risk_rejected"

    found = facts(platform, alice)
    assert found == ScoreFacts(
        account_class="III",
        account_age_days=0,
        payments=3,  # two at the cashier, one withheld at the car park
        transfers=2,
        months_active=1,
        balance_fen=wallet_balance(platform, alice),
        fund_fen=1_000_00,
        inflows_fen=200_00,
        credit_line=True,
        withholding_honoured=1,
        counterparties=2,
        risk_refusals=1,
    )
    assert found.balance_fen == 10_000_00 - 176_00 - 150_00 + 200_00 - 1_000_00 - 15_00
    carol_facts = facts(platform, carol)
    assert carol_facts.blacklisted and carol_facts.inflows_fen == 50_00
    assert facts(platform, bob).counterparties == 1
    with platform.db.read() as tx:
        flags = SqlScoreQueries().flags(tx, [alice.user_id, carol.user_id])
    assert flags[carol.user_id].blacklisted and not flags[alice.user_id].blacklisted
    assert reconcile_clean(platform) == []


def test_huabei_bills_on_time_late_and_overdue(platform: Platform) -> None:
    prompt = person(platform, "13800000111", "王小明", balance_fen=1_000_00)
    tardy = person(platform, "13800000112", "李四", balance_fen=1_000_00)
    credit = platform.services["credit"]
    for user in (prompt, tardy):
        credit.grant(user.user_id, 1_000_00, reason="test", actor="test")
        pay_with_credit(platform, user, f"hb-{user.user_id}", 300_00)
    year, month = next_month(platform)
    advance_to(platform, year, month, 2)  # the 1st closed both bills, due on the 10th
    credit.repay(prompt.user_id, 300_00, PAYMENT_PASSWORD)
    advance_to(platform, year, month, 12)
    assert facts(platform, prompt).bills_on_time == 1
    overdue = facts(platform, tardy)
    assert (overdue.bills_overdue, overdue.bills_on_time, overdue.bills_late) == (1, 0, 0)
    with platform.db.read() as tx:
        assert SqlScoreQueries().flags(tx, [tardy.user_id])[tardy.user_id].credit_overdue
    due = credit.summary(tardy.user_id).due_fen
    credit.repay(tardy.user_id, due, PAYMENT_PASSWORD)
    late = facts(platform, tardy)
    assert (late.bills_overdue, late.bills_late) == (0, 1)
    assert reconcile_clean(platform) == []


def test_the_pass_on_the_sixth_scores_only_consenting_users_once(platform: Platform) -> None:
    alice = switched_on(platform, person(platform, "13800000121", balance_fen=500_00))
    bob = person(platform, "13800000122", "李四")  # never switches on
    first = snapshot_rows(platform)
    assert [u for u, _ in first] == [alice.user_id]
    year, month = next_month(platform)
    advance_to(platform, year, month, 6, 1)
    period = f"{year:04d}-{month:02d}"
    assert (alice.user_id, period) in snapshot_rows(platform)
    assert all(user_id != bob.user_id for user_id, _ in snapshot_rows(platform))
    state = platform.services["score_months"].state()
    assert (state.period, state.status, state.users_scored) == (period, "done", 1)
    # The job delivered again, and the whole pass again: nothing new.
    rows = snapshot_rows(platform)
    platform.services["score_months"].on_wake()
    score_of(platform).score_user(alice.user_id, period)
    assert snapshot_rows(platform) == rows
    current = score_of(platform).current(alice.user_id)
    assert current.period == period
    computed = datetime.fromtimestamp(current.computed_at_us / 1e6, CHINA_TZ)
    assert (computed.day, computed.hour) == (6, 0)


# The wallet page ----------------------------------------------------------------------------


def signed_in(client: TestClient, phone: str) -> TestClient:
    return wallet_browser(client, phone, LOGIN_PASSWORD)


def switch(browser: TestClient, purpose: str, action: str, agree: bool = False) -> Any:
    page = browser.get("/wallet/score")
    data = {"csrf_token": csrf_of(page.text), "purpose": purpose, "action": action}
    if agree:
        data["agree"] = "yes"
    return browser.post("/wallet/score/consent", data=data, follow_redirects=False)


def test_the_page_asks_first_and_forgets_when_switched_off(
    platform: Platform, client: TestClient
) -> None:
    alice = person(platform, "13800000131", balance_fen=2_000_00)
    browser = signed_in(client, alice.phone)
    page = browser.get("/wallet/score")
    assert page.status_code == 200
    assert 'id="score-on-form"' in page.text and 'id="score-total"' not in page.text
    # Never pre-ticked: the box has no `checked`.
    box = r'<input type="checkbox" name="agree" value="yes" id="score-agree">'
    assert re.search(box, page.text)
    unticked = switch(browser, "score", "on")
    assert unticked.status_code == 400
    assert 'data-code="score_agreement_required"' in unticked.text
    assert "请先勾选同意" in unticked.text
    assert snapshot_rows(platform) == []

    on = switch(browser, "score", "on", agree=True)
    assert (on.status_code, on.headers["location"]) == (303, "/wallet/score?done=on")
    shown = browser.get("/wallet/score?done=on").text
    total = score_of(platform).current(alice.user_id).score.total
    assert f'id="score-total">{total}<' in shown and "信用分已开启" in shown
    assert shown.count('class="dim"') == 5 and 'id="dim-credit"' in shown
    assert 'id="score-tips"' in shown and "余额宝" in shown  # tips and reasons in Chinese
    assert 'data-on="no"' in shown

    assert switch(browser, "admission", "on").status_code == 400  # unticked again
    assert switch(browser, "admission", "on", agree=True).status_code == 303
    assert 'data-on="yes"' in browser.get("/wallet/score").text
    english = browser.get("/wallet/score", headers={"Accept-Language": "en"}).text
    assert "Five dimensions" in english and "Credit history" in english

    off = switch(browser, "score", "off")
    assert off.headers["location"] == "/wallet/score?done=off"
    after = browser.get("/wallet/score?done=off").text
    assert 'id="score-total"' not in after and "信用分已关闭,分数已删除" in after
    assert snapshot_rows(platform) == []
    state = score_of(platform).consent(alice.user_id)
    assert (state.scoring, state.admitting) == (False, False)
    with platform.db.read() as tx:
        query = select(func.count()).where(audit_log.c.action == "score.consent")
        assert tx.execute(query).scalar_one() == 3
    assert client.get("/wallet/score", follow_redirects=False).status_code in (302, 303)


# REST ---------------------------------------------------------------------------------------


def test_rest_shows_nothing_until_switched_on(platform: Platform, client: TestClient) -> None:
    alice = person(platform, "13800000141", balance_fen=3_000_00)
    token = platform.services["operators"].issue_token(alice.user_id)
    auth = {"Authorization": f"Bearer {token}"}
    empty = client.get("/api/v1/score", headers=auth)
    assert empty.status_code == 200
    assert empty.json()["score"] is None and empty.json()["consent"]["score"]["granted"] is False
    early = client.post("/api/v1/score/consent", json={"purpose": "admission"}, headers=auth)
    assert (early.status_code, early.json()["error"]["code"]) == (409, "score_consent_required")
    bad = client.post("/api/v1/score/consent", json={"purpose": "ads"}, headers=auth)
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "score_purpose_invalid")

    on = client.post("/api/v1/score/consent", json={"purpose": "score"}, headers=auth)
    assert on.status_code == 200 and on.json()["score"]["granted"] is True
    body = client.get("/api/v1/score", headers=auth).json()
    score = body["score"]
    assert 350 <= score["total"] <= 950 and score["model"] == "rules-1"
    assert [(d["dimension"], d["weight_pct"]) for d in score["dimensions"]] == [
        ("credit", 35),
        ("capacity", 25),
        ("behaviour", 20),
        ("identity", 15),
        ("social", 5),
    ]
    capacity = score["dimensions"][1]["reasons"]
    assert {"code": "assets_fen", "value": 3_000_00, "points": 283} in capacity
    assert body["history"] == [{"period": score["period"], "total": score["total"]}]

    off = client.delete("/api/v1/score/consent/score", headers=auth)
    assert off.status_code == 200 and off.json()["admission"]["granted"] is False
    assert client.get("/api/v1/score", headers=auth).json()["score"] is None
    assert client.get("/api/v1/score").status_code == 401
    assert "/api/v1/score" in client.get("/openapi.json").json()["paths"]


# The operators' view ------------------------------------------------------------------------


def test_operators_see_the_score_read_only(platform: Platform, client: TestClient) -> None:
    alice = switched_on(platform, person(platform, "13800000151", balance_fen=800_00))
    bob = person(platform, "13800000152", "李四")
    shop = make_shop(platform)
    asked = AdmissionQuery(
        app_id=shop.app.app_id,
        merchant_id=shop.merchant.id,
        transaction_id="adm-ops-1",
        fingerprint="adm-ops-1",
        threshold=400,
        id_number=alice.id_number,
        name=alice.name,
    )
    assert score_of(platform).answer(asked).outcome.value == "Y"
    _, secret = create_operator(platform)
    assert sign_in(client, secret).status_code == 303  # type: ignore[attr-defined]
    page = client.get(f"/admin/users/{alice.user_id}").text
    total = score_of(platform).current(alice.user_id).score.total
    assert f'id="score-admin-total">{total} ·' in page
    assert page.count("<tr data-dimension=") == 5
    assert 'id="score-admin-card" data-scoring="yes"' in page
    # A merchant's check in words, its code beside them for the operator.
    assert 'data-outcome="Y">通过 <code class="muted">Y</code>' in page
    other = client.get(f"/admin/users/{bob.user_id}").text
    assert 'data-scoring="no"' in other and "用户未开启信用分" in other
    assert snapshot_rows(platform) == [(alice.user_id, snapshot_rows(platform)[0][1])]
    # Switched off: operators no longer see a score either.
    score_of(platform).revoke(alice.user_id, Purpose.SCORE)
    assert 'id="score-admin-total"' not in client.get(f"/admin/users/{alice.user_id}").text


def test_a_trade_paid_with_credit_counts_as_a_payment(platform: Platform) -> None:
    alice = person(platform, "13800000161", balance_fen=100_00)
    platform.services["credit"].grant(alice.user_id, 1_000_00, reason="test", actor="test")
    paid = pay_with_credit(platform, alice, "hb-pay", 50_00)
    assert paid.funding is Funding.CREDIT
    assert facts(platform, alice).payments == 1
