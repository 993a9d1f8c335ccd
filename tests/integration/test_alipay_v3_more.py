"""Alipay's v3 protocol beyond trades and transfers, through the ASGI app with real RSA
signatures, on either database: profit sharing, fund authorisation, withholding agreements,
transfer and balance queries, the bill download URL and the user-OAuth top-level fields, each
on the HTTP verb Alipay documents for it. GET paths carry their fields in the query string and
are signed over `authString\\nGET\\n/path?query\\n\\n`; another verb on a known path is 405
invalid-method; every refusal writes nothing (no money, no rows, no nonce)."""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from typing import Any

import pytest
from agreement_support import signed_agreement
from fastapi.testclient import TestClient
from gateway_support import (
    APP_ID,
    PAYMENT_PASSWORD,
    app_keys,
    balance_fen,
    count_rows,
    make_buyer,
    make_shop,
    wallet_balance,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from preauth_support import money_of, reconcile_clean
from royalty_support import bind_biz, paid_trade, part, receiver, settle_biz
from sqlalchemy import text
from tests.reliability.v3_hostile_support import check_v3_answer

from paybao.adapters.alipay.keys import load_private_key, load_public_key
from paybao.adapters.alipay.v3 import (
    V3_METHODS,
    V3_ROUTES,
    request_sign_content,
    response_sign_content,
    sign_sha256_rsa,
    verify_sha256_rsa,
)
from paybao.adapters.db.v3_nonce_store import SCOPE
from paybao.bootstrap import Platform
from paybao.domain.bills import day_period, last_closed_day
from paybao.services.clock import US_PER_S
from paybao.services.trades import NewTrade

TABLES = (
    "trades",
    "ledger_transfers",
    "royalty_settles",
    "royalty_settle_parts",
    "jobs",
)
PHONE = "13800138000"
SCENE = {"product_code": "TRANS_ACCOUNT_NO_PWD", "biz_scene": "DIRECT_TRANSFER"}


def authorization(
    verb: str, target: str, body: bytes, *, nonce: str | None = None, token: str | None = None
) -> str:
    stamp = int(time.time() * 1000)
    auth = f"app_id={APP_ID},nonce={nonce or uuid.uuid4()},timestamp={stamp}"
    content = request_sign_content(auth, verb, target, body, token)
    signature = sign_sha256_rsa(content, load_private_key(app_keys().private_pem_pkcs1))
    return f"ALIPAY-SHA256withRSA {auth},sign={signature}"


def post(client: TestClient, path: str, biz: dict[str, Any] | None) -> Any:
    body = b"" if biz is None else json.dumps(biz, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "Authorization": authorization("POST", path, body),
    }
    return client.post(path, content=body, headers=headers)


def get(client: TestClient, path: str, fields: dict[str, str], verb: str = "GET") -> Any:
    """A signed GET (or DELETE) with the fields form-encoded as the Node SDK's URL does."""
    target = path + ("?" + urllib.parse.urlencode(fields) if fields else "")
    headers = {"Authorization": authorization(verb, target, b"")}
    return client.request(verb, target, headers=headers)


def verified(platform: Platform, response: Any, status: int = 200) -> dict[str, Any]:
    """The answer's JSON, its status checked and its signature verified."""
    assert response.status_code == status, response.text
    content = response_sign_content(
        response.headers["alipay-timestamp"], response.headers["alipay-nonce"], response.content
    )
    public_key = load_public_key(platform.services["platform_key"].public_pem)
    assert verify_sha256_rsa(content, response.headers["alipay-signature"], public_key)
    answer: dict[str, Any] = response.json()
    if status != 200:
        assert set(answer) == {"code", "message"}, answer
    return answer


def refused(platform: Platform, response: Any, status: int, code: str) -> None:
    assert verified(platform, response, status)["code"] == code


def counts(platform: Platform) -> dict[str, int]:
    rows = {table: count_rows(platform, table) for table in TABLES}
    with platform.db.read() as tx:
        rows["nonces"] = int(
            tx.execute(
                text("SELECT COUNT(*) FROM idempotency_keys WHERE scope = :scope"),
                {"scope": SCOPE},
            ).scalar_one()
        )
    return rows


def test_the_table_names_alipays_v3_paths_with_their_verbs() -> None:
    table = {path: (route.method, route.verb) for path, route in V3_ROUTES.items()}
    assert table["/v3/alipay/trade/order/settle"] == ("alipay.trade.order.settle", "POST")
    assert table["/v3/alipay/trade/order/settle/query"][1] == "GET"
    assert table["/v3/alipay/fund/auth/operation/detail/query"][1] == "POST"
    assert table["/v3/alipay/user/agreement/query"][1] == "GET"
    assert table["/v3/alipay/fund/trans/common/query"][1] == "GET"
    assert table["/v3/alipay/data/dataservice/bill/downloadurl/query"][1] == "GET"
    assert table["/v3/alipay/marketing/card/delete"][1] == "DELETE"
    assert all(path.replace("/", ".")[4:] == method for path, (method, _) in table.items())
    assert set(V3_METHODS) == {p for p, (_, verb) in table.items() if verb == "POST"}


def test_settle_over_v3_moves_money_and_a_refused_one_writes_nothing(
    platform: Platform, client: TestClient
) -> None:
    shop = make_shop(platform)
    buyer = make_buyer(platform, "13900000001", balance_fen=1_000_00)
    alice = receiver(platform, "13900000002")
    bound = post(client, "/v3/alipay/trade/royalty/relation/bind", bind_biz(alice))
    assert verified(platform, bound) == {"result_code": "SUCCESS"}
    trade_no = paid_trade(platform, client, buyer, "100.00")
    settlement_before = balance_fen(platform, shop.merchant.settlement_account_id)

    settled = verified(
        platform,
        post(
            client,
            "/v3/alipay/trade/order/settle",
            settle_biz("s1", trade_no, part(alice, "10.00")),
        ),
    )
    assert settled["trade_no"] == trade_no and len(settled["settle_no"]) == 32
    assert wallet_balance(platform, alice.user_id) == 10_00
    moved = settlement_before - balance_fen(platform, shop.merchant.settlement_account_id)
    assert moved == 10_00

    before = counts(platform)
    over = post(
        client, "/v3/alipay/trade/order/settle", settle_biz("s2", trade_no, part(alice, "20.01"))
    )
    refused(platform, over, 400, "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR")
    after = counts(platform)
    assert after == {**before, "nonces": before["nonces"] + 1}  # a business refusal: nonce only
    assert wallet_balance(platform, alice.user_id) == 10_00

    path = "/v3/alipay/trade/order/settle/query"
    by_no = verified(platform, get(client, path, {"settle_no": settled["settle_no"]}))
    by_request = verified(
        platform, get(client, path, {"out_request_no": "s1", "trade_no": trade_no})
    )
    assert by_no == by_request and by_no["out_request_no"] == "s1"
    assert [(d["amount"], d["state"]) for d in by_no["royalty_detail_list"]] == [
        ("10.00", "SUCCESS")
    ]
    refused(platform, get(client, path, {"settle_no": "0" * 32}), 400, "ACQ.TRADE_NOT_EXIST")
    rate = verified(
        platform, get(client, "/v3/alipay/trade/royalty/rate/query", {"out_request_no": "r1"})
    )
    assert rate["max_ratio"] == 30
    reconcile_clean(platform)


def test_freeze_and_unfreeze_over_v3(platform: Platform, client: TestClient) -> None:
    make_shop(platform)
    user_id = make_buyer(platform, "13900000011", balance_fen=1_000_00)
    code = platform.services["trades"].issue_auth_code(user_id)
    biz = {
        "auth_code": code,
        "auth_code_type": "bar_code",
        "out_order_no": "room-1",
        "out_request_no": "room-1-f",
        "order_title": "酒店押金",
        "amount": "300.00",
        "product_code": "PRE_AUTH",
    }
    frozen = verified(platform, post(client, "/v3/alipay/fund/auth/order/freeze", biz))
    assert frozen["status"] == "SUCCESS" and frozen["amount"] == "300.00"
    assert money_of(platform, user_id) == (1_000_00, 300_00)
    auth_no = frozen["auth_no"]

    before = counts(platform)
    unfreeze = "/v3/alipay/fund/auth/order/unfreeze"
    too_much = {"auth_no": auth_no, "out_request_no": "u0", "amount": "300.01", "remark": "退"}
    over = post(client, unfreeze, too_much)
    assert over.status_code == 400 and verified(platform, over, 400)["code"].isupper()
    assert counts(platform) == {**before, "nonces": before["nonces"] + 1}
    assert money_of(platform, user_id) == (1_000_00, 300_00)

    back = {"auth_no": auth_no, "out_request_no": "u1", "amount": "100.00", "remark": "退押金"}
    unfrozen = verified(platform, post(client, unfreeze, back))
    assert unfrozen["auth_no"] == auth_no and unfrozen["status"] == "SUCCESS"
    assert money_of(platform, user_id) == (1_000_00, 200_00)
    detail = verified(
        platform,
        post(
            client,
            "/v3/alipay/fund/auth/operation/detail/query",
            {"auth_no": auth_no, "out_request_no": "u1"},
        ),
    )
    assert (detail["operation_type"], detail["amount"]) == ("UNFREEZE", "100.00")
    assert detail["rest_amount"] == "200.00"
    reconcile_clean(platform)


def test_agreement_query_over_get(platform: Platform, client: TestClient) -> None:
    make_shop(platform)
    user_id = make_buyer(platform, PHONE)
    number = signed_agreement(client, PHONE)
    client.cookies.clear()
    path = "/v3/alipay/user/agreement/query"
    found = verified(platform, get(client, path, {"agreement_no": number}))
    assert (found["agreement_no"], found["status"]) == (number, "NORMAL")
    assert found["principal_id"] == f"2088{user_id:012d}"
    by_user = verified(
        platform,
        get(
            client,
            path,
            {
                "personal_product_code": "GENERAL_WITHHOLDING_P",
                "alipay_user_id": found["principal_id"],
            },
        ),
    )
    assert by_user["agreement_no"] == number
    # Form-encoded as the SDKs send it: `|` escaped, a space as `+` (the logon id has none).
    scene = {"alipay_logon_id": PHONE, "sign_scene": "INDUSTRY|PARKING"}
    by_scene = get(client, path, {"personal_product_code": "GENERAL_WITHHOLDING_P", **scene})
    assert "%7C" in by_scene.request.url.query.decode()
    assert verified(platform, by_scene)["agreement_no"] == number
    before = counts(platform)
    missing = get(client, path, {"agreement_no": "20260101000000000000"})
    refused(platform, missing, 400, "USER_AGREEMENT_NOT_EXIST")
    assert counts(platform) == {**before, "nonces": before["nonces"] + 1}


def test_transfer_and_balance_queries_over_get(platform: Platform, client: TestClient) -> None:
    make_shop(platform)
    buyer = make_buyer(platform, "13700000101", balance_fen=100_00)
    code = platform.services["trades"].issue_auth_code(buyer)
    pay = {"out_trade_no": "in-1", "scene": "bar_code", "auth_code": code, "subject": "s"}
    verified(platform, post(client, "/v3/alipay/trade/pay", {**pay, "total_amount": "80.00"}))
    payee = make_buyer(platform, "13700000103", balance_fen=0)
    transfer = {
        **SCENE,
        "out_biz_no": "t-1",
        "trans_amount": "12.34",
        "payee_info": {"identity": f"2088{payee:012d}", "identity_type": "ALIPAY_USER_ID"},
    }
    sent = verified(platform, post(client, "/v3/alipay/fund/trans/uni/transfer", transfer))
    assert wallet_balance(platform, payee) == 12_34

    path = "/v3/alipay/fund/trans/common/query"
    by_out = verified(platform, get(client, path, {**SCENE, "out_biz_no": "t-1"}))
    by_order = verified(platform, get(client, path, {"order_id": sent["order_id"]}))
    assert by_out == by_order
    assert (by_out["order_id"], by_out["trans_amount"], by_out["status"]) == (
        sent["order_id"],
        "12.34",
        "SUCCESS",
    )
    refused(platform, get(client, path, {"order_id": "2" * 32}), 400, "ORDER_NOT_EXIST")
    account = verified(platform, get(client, "/v3/alipay/fund/account/query", {}))
    assert "available_amount" in account


def _pay_today(platform: Platform, buyer: int) -> None:
    trades = platform.services["trades"]
    trade = trades.create(NewTrade(APP_ID, "o1", "create", "商品", 12_34, "fp1"))
    trades.pay_by_buyer(trade.trade_no, buyer, PAYMENT_PASSWORD)


def test_bill_download_url_over_get(platform: Platform, client: TestClient) -> None:
    make_shop(platform)
    _pay_today(platform, make_buyer(platform))
    day = last_closed_day(platform.clock.now_us() + 86_400 * US_PER_S)
    path = "/v3/alipay/data/dataservice/bill/downloadurl/query"
    fields = {"bill_type": "trade", "bill_date": day.isoformat()}
    refused(platform, get(client, path, fields), 400, "bill_not_exist")

    today_end_us = day_period(last_closed_day(platform.clock.now_us())).end_us
    platform.services["day_close"].ensure_scheduled()
    platform.sandbox_clock.advance(
        (today_end_us + 86_400 * US_PER_S - platform.clock.now_us()) // US_PER_S + 5
    )
    answer = verified(platform, get(client, path, fields))
    url = urllib.parse.urlsplit(answer["bill_download_url"])
    assert client.get(f"{url.path}?{url.query}").status_code == 200


def test_get_signing_covers_the_query_and_only_the_query(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    path = "/v3/alipay/fund/trans/common/query"
    target = path + "?order_id=" + "2" * 32
    before = counts(platform)

    def send(auth_target: str, sent_target: str, verb: str = "GET", body: bytes = b"") -> Any:
        headers = {"Authorization": authorization(verb, auth_target, body)}
        return client.request("GET", sent_target, headers=headers, content=body)

    # The query is signed: another query, or the signature of a POST, does not verify.
    refused(platform, send(path + "?order_id=" + "3" * 32, target), 400, "invalid-signature")
    refused(platform, send(target, target, verb="POST"), 400, "invalid-signature")
    # A body on a GET, a field named twice, bytes that are not UTF-8: refused, signed.
    refused(platform, send(target, target, body=b"{}"), 400, "invalid-parameter")
    twice = target + "&order_id=x"
    refused(platform, send(twice, twice), 400, "invalid-parameter")
    latin = path + "?order_id=%FF%FE"
    refused(platform, send(latin, latin), 400, "invalid-parameter")
    assert counts(platform) == before  # nothing written, not even a nonce


def test_another_verb_on_a_known_path_is_invalid_method(
    platform: Platform, client: TestClient
) -> None:
    make_shop(platform)
    before = counts(platform)
    cases = [
        ("GET", "/v3/alipay/trade/order/settle"),
        ("PUT", "/v3/alipay/fund/auth/order/freeze"),
        ("DELETE", "/v3/alipay/trade/query"),
        ("POST", "/v3/alipay/user/agreement/query"),
        ("PUT", "/v3/alipay/data/dataservice/bill/downloadurl/query"),
        ("GET", "/v3/alipay/marketing/card/delete"),
        ("PATCH", "/v3/alipay/fund/trans/common/query"),
    ]
    for verb, path in cases:
        # Signed for real with the verb sent: the verb alone is wrong.
        headers = {
            "Authorization": authorization(verb, path, b""),
            "Content-Type": "application/json",
        }
        response = client.request(verb, path, headers=headers)
        assert response.status_code == 405, (verb, path, response.text)
        answer = response.json()
        assert answer["code"] == "invalid-method", answer
        assert answer["message"] == f"请使用{V3_ROUTES[path].verb}"
    unknown = client.get("/v3/alipay/trade/order/onsettle/query", headers=headers)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "invalid-method")
    assert counts(platform) == before


@pytest.mark.parametrize(
    ("path", "biz", "query", "status", "code"),
    [
        # auth_token comes in the query string of a POST (Alipay's v3 user.info.share).
        ("/v3/alipay/user/info/share", None, {"auth_token": "bogus"}, 401, "invalid-auth-token"),
        # oauth.token's grant fields come in the body and reach the handler's top level.
        ("/v3/alipay/system/oauth/token", {"grant_type": "x"}, {}, 400, "grant-type-invalid"),
        (
            "/v3/alipay/system/oauth/token",
            {"grant_type": "authorization_code", "code": "nope"},
            {},
            400,
            "code-invalid",
        ),
    ],
)
def test_classic_top_level_fields_reach_the_handler(
    platform: Platform,
    client: TestClient,
    path: str,
    biz: dict[str, Any] | None,
    query: dict[str, str],
    status: int,
    code: str,
) -> None:
    make_shop(platform)
    target = path + ("?" + urllib.parse.urlencode(query) if query else "")
    body = b"" if biz is None else json.dumps(biz).encode()
    headers = {
        "Authorization": authorization("POST", target, body),
        "Content-Type": "application/json",
    }
    refused(platform, client.post(target, content=body, headers=headers), status, code)


QUERY_NAMES = (
    "out_request_no",
    "trade_no",
    "settle_no",
    "order_id",
    "out_biz_no",
    "product_code",
    "biz_scene",
    "bill_type",
    "bill_date",
    "agreement_no",
    "personal_product_code",
    "alipay_user_id",
    "account_type",
    "template_id",
    "app_auth_token",
    "car_id",
)


def test_signed_gets_with_any_query_answer_in_the_protocol_and_write_nothing(
    platform: Platform, client: TestClient
) -> None:
    """Random query strings, signed for real, on every GET and DELETE route: the v3 answer's
    shape (no 5xx, no bug code, signed), and no money or rows but the nonce."""
    make_shop(platform)
    make_buyer(platform, "13900000099", balance_fen=10_00)
    routes = sorted(p for p, r in V3_ROUTES.items() if r.verb != "POST")
    name = st.one_of(st.sampled_from(QUERY_NAMES), st.text(max_size=8))
    field_value = st.one_of(
        st.text(max_size=24),
        st.sampled_from(["", "trade", "2024-05-01", "2" * 32, "-1", "%", "+", "&", "测试"]),
    )
    raw = st.text(alphabet="abcz=&%+_-.09测\x00 ", max_size=24)

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(
        path=st.sampled_from(routes),
        fields=st.lists(st.tuples(name, field_value), max_size=6),
        tail=st.one_of(st.just(""), raw),
    )
    def check(path: str, fields: list[tuple[str, str]], tail: str) -> None:
        query = urllib.parse.urlencode(fields)
        if tail:
            query = (query + "&" if query else "") + urllib.parse.quote(tail, safe="=&%+")
        target = path + ("?" + query if query else "")
        verb = V3_ROUTES[path].verb
        before = counts(platform)
        response = client.request(
            verb, target, headers={"Authorization": authorization(verb, target, b"")}
        )
        answer = check_v3_answer(response, platform, routed=True)
        assert answer.signed, answer
        after = counts(platform)
        assert after["nonces"] - before["nonces"] in (0, 1)
        assert {**after, "nonces": 0} == {**before, "nonces": 0}, (target, answer)

    check()
