"""Alipay's v3 protocol through the ASGI app with real RSA signatures, on either database: the
trade cycle over the gateway's own handlers, signed answers, and every refusal with its exact
HTTP status and code, writing nothing."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gateway_support import (
    APP_ID,
    app_keys,
    call,
    count_rows,
    make_buyer,
    make_shop,
    other_keys,
)
from sqlalchemy import text

from paybao.adapters.alipay import certificates
from paybao.adapters.alipay.keys import KeyPair, load_private_key, load_public_key
from paybao.adapters.alipay.v3 import (
    AlipayV3,
    V3Request,
    request_sign_content,
    response_sign_content,
    sign_sha256_rsa,
    verify_sha256_rsa,
)
from paybao.adapters.db.v3_nonce_store import SCOPE, SqlV3Nonces
from paybao.bootstrap import Platform

TABLES = ("trades", "trade_refunds", "trade_notifications", "ledger_transfers", "jobs")
TRICKY = '{"a": "b"} & c=d " 中文 😀 \\'


def body_of(biz: dict[str, Any] | None) -> bytes:
    if biz is None:
        return b""
    return json.dumps(biz, ensure_ascii=False, separators=(",", ":")).encode()


def authorization(
    body: bytes,
    path: str,
    *,
    keys: KeyPair | None = None,
    app_id: str = APP_ID,
    timestamp_ms: int | None = None,
    nonce: str | None = None,
    extra: str = "",
    token: str | None = None,
    method: str = "POST",
) -> str:
    stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    auth = f"app_id={app_id},nonce={nonce or uuid.uuid4()},timestamp={stamp}{extra}"
    content = request_sign_content(auth, method, path, body, token)
    signature = sign_sha256_rsa(content, load_private_key((keys or app_keys()).private_pem_pkcs1))
    return f"ALIPAY-SHA256withRSA {auth},sign={signature}"


def post(
    client: TestClient,
    path: str,
    biz: dict[str, Any] | None,
    *,
    headers: dict[str, str] | None = None,
    **signing: Any,
) -> Any:
    body = body_of(biz)
    sent = {
        "Content-Type": "application/json",
        "Authorization": authorization(body, path, **signing),
        **(headers or {}),
    }
    return client.post(path, content=body, headers=sent)


def verified(platform: Platform, response: Any) -> dict[str, Any]:
    """The answer's JSON after checking its signature with the platform's public key."""
    content = response_sign_content(
        response.headers["alipay-timestamp"], response.headers["alipay-nonce"], response.content
    )
    public_key = load_public_key(platform.services["platform_key"].public_pem)
    assert verify_sha256_rsa(content, response.headers["alipay-signature"], public_key)
    answer: dict[str, Any] = response.json()
    return answer


def counts(platform: Platform) -> dict[str, int]:
    return {table: count_rows(platform, table) for table in TABLES}


def nonce_rows(platform: Platform) -> int:
    with platform.db.read() as tx:
        return int(
            tx.execute(
                text("SELECT COUNT(*) FROM idempotency_keys WHERE scope = :scope"),
                {"scope": SCOPE},
            ).scalar_one()
        )


@pytest.fixture
def shop(platform: Platform) -> Any:
    return make_shop(platform, notify_url="http://127.0.0.1:9/notify")


def test_trade_cycle(platform: Platform, client: TestClient, shop: Any) -> None:
    buyer = make_buyer(platform, balance_fen=100_00)
    code = platform.services["trades"].issue_auth_code(buyer)

    pre = post(
        client,
        "/v3/alipay/trade/precreate",
        {"out_trade_no": "v3-qr", "total_amount": "1.00", "subject": TRICKY},
    )
    paid = post(
        client,
        "/v3/alipay/trade/pay",
        {
            "out_trade_no": "v3-1",
            "scene": "bar_code",
            "auth_code": code,
            "subject": TRICKY,
            "total_amount": "12.34",
            "notify_url": "http://127.0.0.1:9/v3-notify",
        },
    )
    query = post(client, "/v3/alipay/trade/query", {"out_trade_no": "v3-1"})
    refund = post(
        client,
        "/v3/alipay/trade/refund",
        {"out_trade_no": "v3-1", "refund_amount": "2.00", "out_request_no": "r1"},
    )
    found = post(
        client,
        "/v3/alipay/trade/fastpay/refund/query",
        {"out_trade_no": "v3-1", "out_request_no": "r1"},
    )
    cancel = post(client, "/v3/alipay/trade/cancel", {"out_trade_no": "v3-1"})

    assert [r.status_code for r in (pre, paid, query, refund, found, cancel)] == [200] * 6
    assert verified(platform, pre)["qr_code"].startswith("http://testserver")
    paid_answer = verified(platform, paid)
    assert "code" not in paid_answer and "msg" not in paid_answer
    assert (paid_answer["total_amount"], paid_answer["out_trade_no"]) == ("12.34", "v3-1")
    assert (verified(platform, query)["trade_status"], query.json()["subject"]) == (
        "TRADE_SUCCESS",
        TRICKY,
    )
    assert verified(platform, refund)["refund_fee"] == "2.00"
    assert verified(platform, found)["refund_status"] == "REFUND_SUCCESS"
    assert verified(platform, cancel)["action"] == "refund"
    # One business path: the classic gateway sees the same trade.
    assert call(client, "alipay.trade.query", {"out_trade_no": "v3-1"})["trade_status"] == (
        "TRADE_CLOSED"
    )
    with platform.db.read() as tx:
        notify_url = tx.execute(
            text("SELECT notify_url FROM trades WHERE out_trade_no = 'v3-1'")
        ).scalar_one()
    assert notify_url == "http://127.0.0.1:9/v3-notify"
    assert nonce_rows(platform) == 6


def test_create_close_and_a_signed_business_error(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, balance_fen=0)
    created = post(
        client,
        "/v3/alipay/trade/create",
        {
            "out_trade_no": "v3-c",
            "total_amount": "3.00",
            "subject": "c",
            "buyer_id": f"2088{buyer:012d}",
        },
    )
    closed = post(client, "/v3/alipay/trade/close", {"out_trade_no": "v3-c"})
    again = post(client, "/v3/alipay/trade/close", {"out_trade_no": "v3-c"})
    missing = post(client, "/v3/alipay/trade/query", {"out_trade_no": "nope"})

    assert (created.status_code, closed.status_code) == (200, 200)
    assert len(verified(platform, created)["trade_no"]) == 28
    assert verified(platform, closed)["out_trade_no"] == "v3-c"
    assert again.status_code == 400
    assert verified(platform, again)["code"] == "ACQ.TRADE_STATUS_ERROR"
    assert missing.status_code == 400
    # The classic gateway's sub_msg, as message.
    assert verified(platform, missing) == {
        "code": "ACQ.TRADE_NOT_EXIST",
        "message": "no such trade",
    }


def _refused(
    platform: Platform, client: TestClient, send: Any, status: int, code: str, *, signed: bool
) -> dict[str, Any]:
    before, nonces = counts(platform), nonce_rows(platform)
    response = send()
    assert response.status_code == status, response.text
    answer = verified(platform, response) if signed else response.json()
    if not signed:
        assert "alipay-signature" not in response.headers
    assert answer["code"] == code, answer
    assert counts(platform) == before
    assert nonce_rows(platform) == nonces
    return answer


def _pay_biz(platform: Platform, out: str) -> dict[str, Any]:
    buyer = make_buyer(platform, phone=f"1390000{len(out):04d}", balance_fen=10_00)
    return {
        "out_trade_no": out,
        "scene": "bar_code",
        "auth_code": platform.services["trades"].issue_auth_code(buyer),
        "subject": "x",
        "total_amount": "1.00",
    }


def test_refusals_write_nothing(platform: Platform, client: TestClient, shop: Any) -> None:
    path = "/v3/alipay/trade/pay"
    biz = _pay_biz(platform, "v3-refused")
    body = body_of(biz)
    good = authorization(body, path)

    def raw(headers: dict[str, str], content: bytes = body) -> Any:
        return lambda: client.post(path, content=content, headers=headers)

    json_type = {"Content-Type": "application/json"}
    _refused(platform, client, raw(json_type), 400, "missing-timestamp", signed=False)
    _refused(
        platform,
        client,
        lambda: post(client, path, biz, app_id="2021000000009999"),
        400,
        "invalid-app-id",
        signed=False,
    )
    _refused(
        platform,
        client,
        raw({**json_type, "Authorization": good.replace("SHA256", "SHA1")}),
        400,
        "invalid-signature-type",
        signed=False,
    )
    wrong_key = _refused(
        platform,
        client,
        lambda: post(client, path, biz, keys=other_keys()),
        400,
        "invalid-signature",
        signed=True,
    )
    assert "网关生成的验签字符串为" in wrong_key["message"]
    tampered = body.replace(b'"1.00"', b'"9.00"')
    _refused(
        platform,
        client,
        raw({**json_type, "Authorization": good}, tampered),
        400,
        "invalid-signature",
        signed=True,
    )
    _refused(
        platform,
        client,
        raw({**json_type, "Authorization": good.rsplit(",sign=", 1)[0]}),
        400,
        "missing-signature",
        signed=False,
    )
    stale = int(time.time() * 1000) - 3_600_000
    _refused(
        platform,
        client,
        lambda: post(client, path, biz, timestamp_ms=stale),
        400,
        "invalid-timestamp",
        signed=True,
    )
    two_minutes_ago = int(time.time() * 1000) - 120_000
    _refused(
        platform,
        client,
        lambda: post(client, path, biz, timestamp_ms=two_minutes_ago, extra=",expired_seconds=60"),
        400,
        "invalid-timestamp",
        signed=True,
    )
    _refused(
        platform,
        client,
        raw({"Content-Type": "text/plain", "Authorization": good}),
        400,
        "invalid-content-type",
        signed=True,
    )
    _refused(
        platform,
        client,
        lambda: post(
            client,
            path,
            biz,
            token="someone-elses-token",
            headers={"alipay-app-auth-token": "someone-elses-token"},
        ),
        401,
        "invalid-app-auth-token",
        signed=True,
    )
    # The very request refused above for its type still works: no nonce was spent on it.
    assert (
        client.post(path, content=body, headers={**json_type, "Authorization": good}).status_code
        == 200
    )


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"a":1,"a":2}', b"[1,2]", '{"subject":"中"}'.encode("gbk"), b'{"x":NaN}'],
)
def test_bad_json_is_illegal_json(
    platform: Platform, client: TestClient, shop: Any, body: bytes
) -> None:
    path = "/v3/alipay/trade/query"
    headers = {"Content-Type": "application/json", "Authorization": authorization(body, path)}
    _refused(
        platform,
        client,
        lambda: client.post(path, content=body, headers=headers),
        400,
        "illegal-json",
        signed=True,
    )


def test_a_replayed_request_is_refused(platform: Platform, client: TestClient, shop: Any) -> None:
    path = "/v3/alipay/trade/pay"
    body = body_of(_pay_biz(platform, "v3-replay"))
    headers = {"Content-Type": "application/json", "Authorization": authorization(body, path)}

    first = client.post(path, content=body, headers=headers)
    assert first.status_code == 200
    answer = _refused(
        platform,
        client,
        lambda: client.post(path, content=body, headers=headers),
        400,
        "invalid-parameter",
        signed=True,
    )
    assert "nonce" in answer["message"]
    assert count_rows(platform, "trades") == 1


def test_nonces_are_per_app_and_purged(platform: Platform) -> None:
    nonces = SqlV3Nonces(platform.db, timestamp_window_s=900)
    now_us = 1_800_000_000_000_000

    assert nonces.first_use(APP_ID, "nonce-0001", now_us)
    assert not nonces.first_use(APP_ID, "nonce-0001", now_us + 1)
    assert nonces.first_use("2021000000000778", "nonce-0001", now_us)
    assert nonces.purge(now_us + 1_000 * 1_000_000) == 0  # still inside twice the window
    assert nonces.purge(now_us + 1_861 * 1_000_000) == 2
    assert nonces.first_use(APP_ID, "nonce-0001", now_us + 1_861 * 1_000_000)


def test_body_too_large_and_unknown_paths(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    path = "/v3/alipay/trade/query"
    body = b'{"out_trade_no":"' + b"x" * 70_000 + b'"}'
    headers = {"Content-Type": "application/json", "Authorization": authorization(body, path)}
    _refused(
        platform,
        client,
        lambda: client.post(path, content=body, headers=headers),
        413,
        "request-too-large",
        signed=False,
    )
    # Any other path or verb under /v3 answers in the protocol, not with the REST API's errors.
    unknown = post(client, "/v3/alipay/trade/nothing", {})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "invalid-method")
    slash = post(client, path + "/", {"out_trade_no": "x"})
    assert (slash.status_code, slash.json()["code"]) == (404, "invalid-method")
    verb = client.get(path)
    assert (verb.status_code, verb.json()["code"]) == (405, "invalid-method")


def test_trace_id_echoes_the_request_id(platform: Platform, client: TestClient, shop: Any) -> None:
    response = post(
        client,
        "/v3/alipay/trade/query",
        {"out_trade_no": "x"},
        headers={"alipay-request-id": "abc123"},
    )
    assert response.headers["alipay-trace-id"] == "abc123"


def test_certificate_mode_names_the_platform_certificate(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    """`app_cert_sn` in the Authorization fields and the `alipay-root-cert-sn` header, as the
    Node SDK sends them: the answer carries `alipay-sn`, the platform certificate's SN."""
    files = platform.services["app_certificates"].files(APP_ID, actor="test")
    root_sn = certificates.root_cert_sn(certificates.load_bundle(files.root_pem))
    platform_sn = certificates.cert_sn(certificates.load_cert(files.platform_cert_pem))
    path = "/v3/alipay/trade/query"
    biz = {"out_trade_no": "nope"}
    extra = f",app_cert_sn={files.app_cert_sn}"

    good = post(client, path, biz, extra=extra, headers={"alipay-root-cert-sn": root_sn})
    wrong_root = post(client, path, biz, extra=extra, headers={"alipay-root-cert-sn": "1" * 32})
    no_app_sn = post(client, path, biz, headers={"alipay-root-cert-sn": root_sn})
    plain = post(client, path, biz)

    assert (good.status_code, verified(platform, good)["code"]) == (400, "ACQ.TRADE_NOT_EXIST")
    assert good.headers["alipay-sn"] == platform_sn
    assert verified(platform, wrong_root)["code"] == "invalid-alipay-root-cert-sn"
    assert (no_app_sn.status_code, no_app_sn.json()["code"]) == (400, "missing-app-cert-sn")
    assert "alipay-sn" not in plain.headers


def test_the_same_request_at_once_from_four_threads_runs_once(
    platform: Platform, shop: Any
) -> None:
    """The replay guard is the database's unique key, not a check-then-insert: four server
    threads handed the same signed pay at the same moment make one trade."""
    v3 = AlipayV3(
        platform.services["alipay_gateway"], SqlV3Nonces(platform.db, timestamp_window_s=900)
    )
    path = "/v3/alipay/trade/pay"
    body = body_of(_pay_biz(platform, "v3-race"))
    request = V3Request(
        http_method="POST",
        path_and_query=path,
        path=path,
        headers={"content-type": "application/json", "authorization": authorization(body, path)},
        body=body,
    )
    barrier = threading.Barrier(4)
    outcomes: list[tuple[int, str]] = []

    def attempt() -> None:
        barrier.wait()
        reply = v3.handle(request)
        outcomes.append((reply.status, json.loads(reply.body).get("code", "")))

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(outcomes) == [(200, "")] + [(400, "invalid-parameter")] * 3
    assert count_rows(platform, "trades") == 1
    assert platform.reconcile.run().clean
