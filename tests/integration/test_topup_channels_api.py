"""The wallet's REST API of the top-up channels on the test database (SQLite, or PostgreSQL by
URL): online-banking top-ups (start, the bank's page, reading asks the bank, list, another
user's), cash codes (create, QR, read, list open, a counter redeems, cancel, the open limit,
the class room), the Idempotency-Key (missing, replayed, reused, a retry after a crash), codes
and statuses of the refusals, and that the OpenAPI document lists what the routes answer."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.integration.topup_channel_support import (
    Notices,
    balance,
    bound_card_number,
    funded_user,
    kinds,
    partner,
    pay_at_bank,
    set_class,
)

from paybao.adapters.qr import decode_image
from paybao.bootstrap import Platform
from paybao.services.idempotency import fingerprint
from paybao.web.api_wallet import _public_body

PHONE = "13900139501"
API = "/api/v1/wallet"


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs in that request."""


def auth_of(platform: Platform, user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.services['operators'].issue_token(user_id)}"}


def post(client: TestClient, path: str, body: Any, headers: dict[str, str], key: str = "") -> Any:
    return client.post(
        f"{API}{path}",
        json=body,
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, str(response.json()["error"]["code"])


def counter_redeems(client: TestClient, key: str, code: str, amount_fen: int) -> Any:
    return client.post(
        "/api/v1/cash-partner/redemptions",
        json={"code": code, "amount_fen": amount_fen, "request_no": uuid.uuid4().hex},
        headers={"Authorization": f"Bearer {key}"},
    )


# Online banking ---------------------------------------------------------------------------------


def test_a_bank_pay_top_up_started_by_an_app_is_read_back_credited_once(
    platform: Platform, client: TestClient
) -> None:
    person = funded_user(platform, PHONE, "王五")
    headers = auth_of(platform, person.user_id)
    notices = Notices(platform, client)
    body = {"bank_code": "ICBC", "amount_fen": 120_00}
    missing = client.post(f"{API}/bank-pay-topups", json=body, headers=headers)
    assert error_of(missing) == (400, "idempotency_key_missing")
    started = post(client, "/bank-pay-topups", body, headers, key="bp-1")
    assert started.status_code == 200, started.text
    topup = started.json()
    assert (topup["status"], topup["amount_fen"], topup["amount"]) == ("pending", 120_00, "120.00")
    assert "/sandbox-bank/netbank?" in topup["payment_url"] and "sign=" in topup["payment_url"]
    # The same key again: the first answer, byte for byte; with another body: refused.
    replay = post(client, "/bank-pay-topups", body, headers, key="bp-1")
    assert replay.status_code == 200 and replay.json() == topup
    reused = post(client, "/bank-pay-topups", {**body, "amount_fen": 1_00}, headers, key="bp-1")
    assert error_of(reused) == (409, "idempotency_key_reused")
    listed = client.get(f"{API}/bank-pay-topups", headers=headers).json()
    assert [t["id"] for t in listed["topups"]] == [topup["id"]] and listed["next_before"] is None
    # The user pays on the bank's page; the bank's notice is lost on the way.
    platform.services["bank_pay"].script.append("drop_notice")
    pay_at_bank(TestClient(client.app), topup["payment_url"], bound_card_number(platform, person))
    assert notices.sent == [] and balance(platform, person.user_id) == 0
    # The app reads the top-up: paybao asks the bank, which says paid.
    read = client.get(f"{API}/bank-pay-topups/{topup['id']}", headers=headers)
    assert read.status_code == 200 and read.headers["cache-control"] == "no-store"
    done = read.json()
    assert (done["status"], done["confirmed_by"], done["payment_url"]) == (
        "succeeded",
        "return",
        None,
    )
    assert client.get(f"{API}/bank-pay-topups/{topup['id']}", headers=headers).json() == done
    assert balance(platform, person.user_id) == 120_00
    assert kinds(platform, person.user_id) == ["bank_pay_topup"]
    # Another user sees none of it.
    other = funded_user(platform, "13900139502", "赵六")
    theirs = client.get(
        f"{API}/bank-pay-topups/{topup['id']}", headers=auth_of(platform, other.user_id)
    )
    assert error_of(theirs) == (404, "bank_pay_topup_not_found")
    report = platform.reconcile.run()
    assert report.clean, [d.line() for d in report.differences]


def test_bank_pay_refusals_answer_their_codes_and_write_nothing(
    platform: Platform, client: TestClient
) -> None:
    person = funded_user(platform, PHONE, "王五")
    headers = auth_of(platform, person.user_id)
    cases = [
        ({"bank_code": "NOPE", "amount_fen": 100_00}, (400, "bank_pay_bank_unknown")),
        ({"bank_code": "ICBC", "amount_fen": 99}, (400, "topup_channel_amount_invalid")),
        ({"bank_code": "ICBC", "amount_fen": 50_000_01}, (400, "topup_channel_amount_invalid")),
        ({"bank_code": "ICBC", "amount_fen": 0}, (422, "invalid_request")),
        ({"bank_code": "ICBC"}, (422, "invalid_request")),
    ]
    for body, expected in cases:
        assert error_of(post(client, "/bank-pay-topups", body, headers)) == expected, body
    set_class(platform, person.user_id, "I")  # 1,000.00 since opening
    over = post(client, "/bank-pay-topups", {"bank_code": "ICBC", "amount_fen": 1_000_01}, headers)
    assert error_of(over) == (403, "topup_over_class_room")
    unauthenticated = post(
        client, "/bank-pay-topups", {"bank_code": "ICBC", "amount_fen": 1_00}, {}
    )
    assert unauthenticated.status_code == 401
    bad_token = {"Authorization": "Bearer nope"}
    assert error_of(client.get(f"{API}/bank-pay-topups", headers=bad_token)) == (401, "bad_token")
    assert error_of(client.get(f"{API}/bank-pay-topups?limit=51", headers=headers)) == (
        400,
        "page_size_invalid",
    )
    assert client.get(f"{API}/bank-pay-topups", headers=headers).json()["topups"] == []


def test_bank_pay_topups_list_newest_first_page_by_page(
    platform: Platform, client: TestClient
) -> None:
    person = funded_user(platform, PHONE, "王五")
    headers = auth_of(platform, person.user_id)
    made = [
        post(
            client, "/bank-pay-topups", {"bank_code": "CMB", "amount_fen": n * 100}, headers
        ).json()["id"]
        for n in (1, 2, 3)
    ]
    first = client.get(f"{API}/bank-pay-topups?limit=2", headers=headers).json()
    assert [t["id"] for t in first["topups"]] == made[:0:-1]
    assert first["next_before"] == made[1]
    rest = client.get(
        f"{API}/bank-pay-topups?limit=2&before={first['next_before']}", headers=headers
    ).json()
    assert [t["id"] for t in rest["topups"]] == [made[0]] and rest["next_before"] is None
    # A pending one still answers the bank's page (the app may reopen it).
    assert all(t["payment_url"] for t in first["topups"])


# Cash codes -------------------------------------------------------------------------------------


def test_a_cash_code_made_by_an_app_is_redeemed_at_a_counter(
    platform: Platform, client: TestClient
) -> None:
    person = funded_user(platform, PHONE, "王五")
    headers = auth_of(platform, person.user_id)
    counter = partner(platform)
    made = post(client, "/cash-codes", {"amount_fen": 300_00}, headers, key="cc-1")
    assert made.status_code == 200, made.text
    code = made.json()
    assert (code["status"], code["amount_fen"], len(code["code"])) == ("open", 300_00, 18)
    assert code["code"].startswith("66") and code["code_grouped"].replace(" ", "") == code["code"]
    assert post(client, "/cash-codes", {"amount_fen": 300_00}, headers, key="cc-1").json() == code
    qr = client.get(code["qr_url"], headers=headers)
    assert qr.headers["content-type"] == "image/png"
    assert decode_image(qr.content) == [code["code"]]
    assert client.get(code["qr_url"]).status_code == 401  # the QR needs the same auth
    opened = client.get(f"{API}/cash-codes", headers=headers).json()
    assert [c["id"] for c in opened["codes"]] == [code["id"]]
    assert counter_redeems(client, counter.api_key, code["code"], 300_00).status_code == 200
    read = client.get(f"{API}/cash-codes/{code['id']}", headers=headers).json()
    assert (read["status"], read["partner_name"]) == ("redeemed", "建设银行 海淀支行")
    assert client.get(f"{API}/cash-codes", headers=headers).json()["codes"] == []
    every = client.get(f"{API}/cash-codes?status=all", headers=headers).json()
    assert [c["status"] for c in every["codes"]] == ["redeemed"]
    cancel = post(client, f"/cash-codes/{code['id']}/cancel", None, headers)
    assert error_of(cancel) == (409, "cash_code_not_open")
    assert balance(platform, person.user_id) == 300_00
    report = platform.reconcile.run()
    assert report.clean, [d.line() for d in report.differences]


def test_cash_codes_are_cancelled_once_limited_and_kept_within_the_class_room(
    platform: Platform, client: TestClient
) -> None:
    person = funded_user(platform, PHONE, "王五")
    headers = auth_of(platform, person.user_id)
    ids = [post(client, "/cash-codes", {"amount_fen": 50_00}, headers).json()["id"] for _ in "abc"]
    fourth = post(client, "/cash-codes", {"amount_fen": 50_00}, headers)
    assert error_of(fourth) == (403, "cash_codes_open_max")
    cancelled = post(client, f"/cash-codes/{ids[0]}/cancel", None, headers, key="x-1")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = post(client, f"/cash-codes/{ids[0]}/cancel", None, headers, key="x-1")
    assert again.json() == cancelled.json()  # a replay, not cash_code_not_open
    opened = client.get(f"{API}/cash-codes", headers=headers).json()["codes"]
    assert [c["id"] for c in opened] == ids[:0:-1]
    platform.sandbox_clock.advance(31 * 60)  # the others expire
    assert client.get(f"{API}/cash-codes", headers=headers).json()["codes"] == []
    statuses = [
        c["status"]
        for c in client.get(f"{API}/cash-codes?status=all", headers=headers).json()["codes"]
    ]
    assert statuses == ["expired", "expired", "cancelled"]
    for body, expected in [
        ({"amount_fen": 9_99}, (400, "topup_channel_amount_invalid")),
        ({"amount_fen": 5_000_01}, (400, "topup_channel_amount_invalid")),
        ({"amount_fen": "many"}, (422, "invalid_request")),
    ]:
        assert error_of(post(client, "/cash-codes", body, headers)) == expected
    set_class(platform, person.user_id, "I")
    over = post(client, "/cash-codes", {"amount_fen": 1_000_01}, headers)
    assert error_of(over) == (403, "topup_over_class_room")
    other = funded_user(platform, "13900139502", "赵六")
    theirs = auth_of(platform, other.user_id)
    assert error_of(client.get(f"{API}/cash-codes/{ids[1]}", headers=theirs)) == (
        404,
        "cash_code_not_found",
    )
    assert error_of(post(client, f"/cash-codes/{ids[1]}/cancel", None, theirs)) == (
        404,
        "cash_code_not_found",
    )
    assert client.get(f"{API}/cash-codes?status=any", headers=headers).status_code == 422


@pytest.mark.parametrize("kind", ["cash-codes", "bank-pay-topups"])
def test_a_retry_after_a_crash_before_the_answer_was_stored_makes_nothing_twice(
    platform: Platform, client: TestClient, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    person = funded_user(platform, PHONE, "王五")
    headers = auth_of(platform, person.user_id)
    body: dict[str, Any] = {"amount_fen": 200_00}
    if kind == "bank-pay-topups":
        body["bank_code"] = "ICBC"
    idempotency = platform.services["idempotency"]
    # The request as the API fingerprints it, run up to the crash in process (a crash inside
    # the test client would stop its event loop).
    request_sha256 = fingerprint("POST", f"{API}/{kind}", _public_body(json.dumps(body).encode()))

    def work() -> tuple[int, str]:
        if kind == "cash-codes":
            made = platform.services["cash_topups"].create(person.user_id, 200_00)
            return 200, json.dumps({"id": made.id})
        topup, _ = platform.services["bank_pay_topups"].start(person.user_id, "ICBC", 200_00)
        return 200, json.dumps({"id": topup.id})

    def crash(*_args: Any) -> None:
        raise Crash

    original = idempotency.store.answer
    monkeypatch.setattr(idempotency.store, "answer", crash)
    with pytest.raises(Crash):
        idempotency.run(f"user:{person.user_id}", "crash-1", request_sha256, work)
    monkeypatch.setattr(idempotency.store, "answer", original)
    platform.sandbox_clock.advance(60)  # an unmarked claim would count as abandoned by now
    retry = post(client, f"/{kind}", body, headers, key="crash-1")
    assert retry.status_code == 200, retry.text
    answer = retry.json()
    assert answer["amount_fen"] == 200_00 and answer["status"] in ("open", "pending")
    listed = client.get(f"{API}/{kind}?status=all", headers=headers).json()
    rows = listed["codes" if kind == "cash-codes" else "topups"]
    assert [row["id"] for row in rows] == [answer["id"]]  # the first one, not a second
    assert post(client, f"/{kind}", body, headers, key="crash-1").json() == answer


def test_the_openapi_document_lists_the_routes_and_their_refusals(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    create = paths[f"{API}/bank-pay-topups"]["post"]
    assert {"200", "400", "401", "403", "409", "422", "503"} <= set(create["responses"])
    assert "topup_over_class_room" in create["responses"]["403"]["description"]
    assert {"200", "403"} <= set(paths[f"{API}/cash-codes"]["post"]["responses"])
    for path in (
        f"{API}/bank-pay-topups/{{topup_id}}",
        f"{API}/cash-codes/{{code_id}}",
        f"{API}/cash-codes/{{code_id}}/qr.png",
        f"{API}/cash-codes/{{code_id}}/cancel",
    ):
        assert "404" in next(iter(paths[path].values()))["responses"], path
    schema = json.dumps(paths[f"{API}/cash-codes"]["get"])
    assert '"open"' in schema and '"all"' in schema
