"""Partner cash top-up codes on the test database (SQLite, or PostgreSQL by URL): the user's
code pages with the QR, the partner API (look-up, redeem, idempotent retries, reversal), the
prefund and its exhaustion, the class room, expiry and cancel, the operators' partners page with
its roles and audit, and the reconcile checks."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.integration.admin_support import (
    OPERATOR_PASSWORD,
    create_operator,
    csrf_of,
    sign_in,
)
from tests.integration.card_payout_support import code_of
from tests.integration.topup_channel_support import (
    balance,
    funded_user,
    kinds,
    partner,
    set_class,
    signed_in,
)

from paybao.adapters.db.tables.wallet import audit_log
from paybao.adapters.qr import decode_image
from paybao.bootstrap import Platform

PHONE = "13900139401"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_make_a_code_and_a_counter_redeems_it_once(platform: Platform, client: TestClient) -> None:
    person = funded_user(platform, PHONE, "王五")
    counter = partner(platform)
    browser = signed_in(client, PHONE)
    form = browser.get("/wallet/topup/cash")
    made = browser.post(
        "/wallet/topup/cash",
        data={"csrf_token": csrf_of(form.text), "idem": "c1", "amount": "300"},
        follow_redirects=False,
    )
    assert made.status_code == 303
    page = browser.get(made.headers["location"])
    digits = re.search(r'id="digits">([\d ]+)<', page.text)
    assert digits and 'id="countdown"' in page.text
    code = digits.group(1).replace(" ", "")
    assert len(code) == 18 and code.startswith("66")
    qr = browser.get(made.headers["location"] + "/qr.png")
    assert decode_image(qr.content) == [code]
    # The counter scans it, sees the amount and the payee, takes the cash, redeems it.
    seen = client.get(f"/api/v1/cash-partner/codes/{code}", headers=auth(counter.api_key))
    assert seen.json()["amount_fen"] == 300_00 and seen.json()["payee_name_masked"] == "*五"
    body = {"code": code, "amount_fen": 300_00, "request_no": "R-1"}
    done = client.post("/api/v1/cash-partner/redemptions", json=body, headers=auth(counter.api_key))
    assert done.status_code == 200 and done.json()["status"] == "redeemed"
    assert balance(platform, person.user_id) == 300_00
    assert kinds(platform, person.user_id) == ["cash_topup"]
    # The counter's retry answers the same; another request number for it is refused.
    retry = client.post(
        "/api/v1/cash-partner/redemptions", json=body, headers=auth(counter.api_key)
    )
    assert retry.json() == done.json()
    other = client.post(
        "/api/v1/cash-partner/redemptions",
        json={**body, "request_no": "R-2"},
        headers=auth(counter.api_key),
    )
    assert (other.status_code, other.json()["error"]["code"]) == (409, "cash_code_used")
    reused = client.post(
        "/api/v1/cash-partner/redemptions",
        json={**body, "amount_fen": 10_00},
        headers=auth(counter.api_key),
    )
    assert reused.json()["error"]["code"] == "partner_request_no_reused"
    assert balance(platform, person.user_id) == 300_00
    assert platform.services["cash_partners"].balance(counter.partner.id).prefund_fen == 9_700_00
    status = browser.get(made.headers["location"])
    assert 'data-status="redeemed"' in status.text
    report = platform.reconcile.run()
    assert report.clean, [d.line() for d in report.differences]


def test_refusals_change_nothing(platform: Platform, client: TestClient) -> None:
    person = funded_user(platform, PHONE, "王五")
    poor = partner(platform, "拉卡拉 001", prefund_fen=100_00)
    cash = platform.services["cash_topups"]
    code = cash.create(person.user_id, 200_00)
    no_key = client.post("/api/v1/cash-partner/redemptions", json={})
    assert no_key.status_code in (401, 422)
    bad_key = client.get("/api/v1/cash-partner/balance", headers=auth("pbc_nope"))
    assert bad_key.status_code == 401
    # The prefund is too small: refused, the code still open.
    assert code_of(lambda: cash.redeem(poor.partner, code.code, 200_00, "R-9")) == (
        "cash_prefund_insufficient"
    )
    assert cash.code(person.user_id, code.id).status == "open"
    assert code_of(lambda: cash.redeem(poor.partner, code.code, 100_00, "R-9")) == (
        "cash_amount_mismatch"
    )
    wrong_digit = code.code[:-1] + str((int(code.code[-1]) + 1) % 10)
    assert code_of(lambda: cash.redeem(poor.partner, wrong_digit, 200_00, "R-9")) == (
        "cash_code_invalid"
    )
    # A disabled partner's key no longer works.
    platform.services["cash_partners"].set_active(poor.partner.id, False)
    answer = client.get("/api/v1/cash-partner/balance", headers=auth(poor.api_key))
    assert answer.json()["error"]["code"] == "cash_partner_disabled"
    assert balance(platform, person.user_id) == 0
    assert code_of(lambda: cash.create(person.user_id, 9_99)) == "topup_channel_amount_invalid"
    assert code_of(lambda: cash.create(person.user_id, 5_000_01)) == "topup_channel_amount_invalid"
    cash.create(person.user_id, 10_00)
    cash.create(person.user_id, 10_00)
    assert code_of(lambda: cash.create(person.user_id, 10_00)) == "cash_codes_open_max"


def test_codes_expire_in_30_minutes_and_can_be_cancelled(platform: Platform) -> None:
    person = funded_user(platform, PHONE, "王五")
    counter = partner(platform)
    cash = platform.services["cash_topups"]
    late = cash.create(person.user_id, 50_00)
    dropped = cash.create(person.user_id, 60_00)
    assert cash.cancel(person.user_id, dropped.id).status == "cancelled"
    assert code_of(lambda: cash.redeem(counter.partner, dropped.code, 60_00, "A")) == (
        "cash_code_expired"
    )
    platform.sandbox_clock.advance(30 * 60 + 1)
    assert cash.code(person.user_id, late.id).status == "expired"
    assert code_of(lambda: cash.redeem(counter.partner, late.code, 50_00, "B")) == (
        "cash_code_expired"
    )
    assert balance(platform, person.user_id) == 0


def test_class_room_is_checked_when_redeemed(platform: Platform) -> None:
    person = funded_user(platform, PHONE, "王五", 500_00)
    set_class(platform, person.user_id, "I")  # 1,000 CNY: 500 more at most
    counter = partner(platform)
    cash = platform.services["cash_topups"]
    assert code_of(lambda: cash.create(person.user_id, 600_00)) == "topup_over_class_room"
    first, second = cash.create(person.user_id, 400_00), cash.create(person.user_id, 400_00)
    cash.redeem(counter.partner, first.code, 400_00, "R-1")
    assert code_of(lambda: cash.redeem(counter.partner, second.code, 400_00, "R-2")) == (
        "topup_over_class_room"
    )
    assert balance(platform, person.user_id) == 900_00


def test_a_counter_voids_a_redemption_the_same_day_unless_it_was_spent(
    platform: Platform, client: TestClient
) -> None:
    person = funded_user(platform, PHONE, "王五")
    payee = funded_user(platform, "13900139402", "赵六")
    counter = partner(platform)
    cash, wallet = platform.services["cash_topups"], platform.services["wallet"]
    kept = cash.create(person.user_id, 100_00)
    cash.redeem(counter.partner, kept.code, 100_00, "R-1")
    back = client.post(
        "/api/v1/cash-partner/reversals", json={"request_no": "R-1"}, headers=auth(counter.api_key)
    )
    assert back.status_code == 200 and back.json()["status"] == "reversed"
    again = client.post(
        "/api/v1/cash-partner/reversals", json={"request_no": "R-1"}, headers=auth(counter.api_key)
    )
    assert again.json() == back.json()
    assert balance(platform, person.user_id) == 0
    assert platform.services["cash_partners"].balance(counter.partner.id).prefund_fen == 10_000_00
    spent = cash.create(person.user_id, 100_00)
    cash.redeem(counter.partner, spent.code, 100_00, "R-2")
    wallet.transfer(person.user_id, payee.phone, 50_00, "246801")
    assert code_of(lambda: cash.reverse(counter.partner, "R-2")) == "cash_topup_spent"
    assert code_of(lambda: cash.reverse(counter.partner, "R-404")) == "cash_redemption_not_found"
    report = platform.reconcile.run()
    assert report.clean, [d.line() for d in report.differences]


def test_operators_register_partners_and_record_wires_by_role(
    platform: Platform, client: TestClient
) -> None:
    _, admin_secret = create_operator(platform, "ops-admin")  # the first operator: admin
    operators = platform.services["operators"]
    viewer_secret = operators.create("ops-viewer", OPERATOR_PASSWORD, "viewer").totp_secret
    signed = sign_in(client, admin_secret, name="ops-admin")
    assert signed.status_code == 303  # type: ignore[attr-defined]
    page = client.get("/admin/cash-partners")
    assert page.status_code == 200 and 'id="register-partner"' in page.text
    made = client.post(
        "/admin/cash-partners",
        data={"csrf_token": csrf_of(page.text), "name": "邮政 西城", "kind": "post_office"},
    )
    assert made.status_code == 200
    key = re.search(r'id="new-key">([^<]+)<', made.text)
    assert key and key.group(1).startswith("pbc_")
    wired = client.post(
        "/admin/cash-partners/1/deposits",
        data={"csrf_token": csrf_of(page.text), "amount": "2000", "reference": "W-77"},
    )
    assert wired.status_code == 200 and "2000.00" in wired.text.replace(",", "")
    client.post(
        "/admin/cash-partners/1/deposits",
        data={"csrf_token": csrf_of(page.text), "amount": "2000", "reference": "W-77"},
    )
    api = client.get("/api/v1/cash-partner/balance", headers=auth(key.group(1)))
    assert api.json()["prefund_fen"] == 2_000_00  # the same wire twice recorded once
    viewer = TestClient(client.app)
    sign_in(viewer, viewer_secret, name="ops-viewer")
    refused = viewer.post(
        "/admin/cash-partners/1/deposits",
        data={
            "csrf_token": csrf_of(viewer.get("/admin/cash-partners").text),
            "amount": "1",
            "reference": "X",
        },
    )
    assert refused.status_code == 403
    with platform.engine.connect() as connection:
        actions = connection.execute(select(audit_log.c.action).order_by(audit_log.c.id)).scalars()
        logged = [a for a in actions if a.startswith("cash_partner")]
    assert logged == ["cash_partner.register", "cash_partner.deposit", "cash_partner.deposit"]
