"""v3 content encryption (接口内容加密) through the ASGI app, on either database: requests
encrypted and signed as alipay-sdk 4.x's `curl(..., {needEncrypt: true})` makes them, answers
whose signature is checked over the ciphertext before it is opened, and every refusal with its
HTTP status and code, plain and signed, writing nothing and spending no nonce."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gateway_support import APP_ID, count_rows, make_buyer, make_shop
from sqlalchemy import text
from test_alipay_v3 import authorization, body_of, counts, nonce_rows, verified

from paybao.adapters.alipay import content_crypto
from paybao.adapters.alipay.keys import load_public_key
from paybao.adapters.alipay.v3 import response_sign_content, verify_sha256_rsa
from paybao.bootstrap import Platform

TRICKY = '{"a": "b"} & c=d " 中文 😀 \\'
# Headers as the Node SDK sends them with needEncrypt (dist/commonjs/alipay.js, curl()).
SDK_HEADERS = {
    "Content-Type": "text/plain",
    "alipay-encrypt-type": "AES",
    "alipay-encryption-algm": "AES",
}


@pytest.fixture
def shop(platform: Platform) -> Any:
    return make_shop(platform, notify_url="http://127.0.0.1:9/notify")


@pytest.fixture
def aes_key(platform: Platform, shop: Any) -> bytes:
    return base64.b64decode(platform.services["app_aes_keys"].set(APP_ID))


def sealed(biz: dict[str, Any], key: bytes) -> bytes:
    return content_crypto.encrypt(body_of(biz), key).encode("ascii")


def post_sealed(
    client: TestClient,
    path: str,
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
    nonce: str | None = None,
    signed_body: bytes | None = None,
) -> Any:
    """POST `body` (already sealed) signed over `signed_body` (default: the body as sent)."""
    sent = {
        **SDK_HEADERS,
        "Authorization": authorization(
            body if signed_body is None else signed_body, path, nonce=nonce
        ),
        **(headers or {}),
    }
    return client.post(path, content=body, headers=sent)


def opened(platform: Platform, response: Any, key: bytes) -> dict[str, Any]:
    """An encrypted answer as the SDK reads it: verify the body as received, then decrypt."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    content = response_sign_content(
        response.headers["alipay-timestamp"], response.headers["alipay-nonce"], response.content
    )
    public_key = load_public_key(platform.services["platform_key"].public_pem)
    assert verify_sha256_rsa(content, response.headers["alipay-signature"], public_key)
    answer: dict[str, Any] = json.loads(content_crypto.decrypt(response.text, key))
    return answer


def refused(
    platform: Platform, send: Any, status: int, code: str, message: str | None = None
) -> None:
    """A plain JSON refusal, signed, that wrote nothing and spent no nonce."""
    before, nonces = counts(platform), nonce_rows(platform)
    response = send()
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    answer = verified(platform, response)
    assert answer["code"] == code, answer
    if message is not None:
        assert answer["message"] == message
    assert counts(platform) == before
    assert nonce_rows(platform) == nonces


def test_an_encrypted_trade_cycle(platform: Platform, client: TestClient, aes_key: bytes) -> None:
    buyer = make_buyer(platform, balance_fen=100_00)
    code = platform.services["trades"].issue_auth_code(buyer)
    pay_biz = {
        "out_trade_no": "v3-aes-1",
        "scene": "bar_code",
        "auth_code": code,
        "subject": TRICKY,
        "total_amount": "12.34",
        "notify_url": "http://127.0.0.1:9/v3-aes-notify",
    }
    pre_biz = {"out_trade_no": "v3-aes-qr", "total_amount": "1.00", "subject": TRICKY}

    pre = post_sealed(client, "/v3/alipay/trade/precreate", sealed(pre_biz, aes_key))
    paid = post_sealed(client, "/v3/alipay/trade/pay", sealed(pay_biz, aes_key))
    query = post_sealed(
        client, "/v3/alipay/trade/query", sealed({"out_trade_no": "v3-aes-1"}, aes_key)
    )

    assert opened(platform, pre, aes_key)["qr_code"].startswith("http://testserver")
    paid_answer = opened(platform, paid, aes_key)
    assert "code" not in paid_answer
    assert (paid_answer["total_amount"], paid_answer["out_trade_no"]) == ("12.34", "v3-aes-1")
    query_answer = opened(platform, query, aes_key)
    assert (query_answer["trade_status"], query_answer["subject"]) == ("TRADE_SUCCESS", TRICKY)
    # Nothing of the answer travels in clear.
    assert b"TRADE_SUCCESS" not in query.content and b"v3-aes-1" not in query.content
    with platform.db.read() as tx:
        row = tx.execute(
            text("SELECT subject, notify_url FROM trades WHERE out_trade_no = 'v3-aes-1'")
        ).one()
    assert tuple(row) == (TRICKY, "http://127.0.0.1:9/v3-aes-notify")
    assert nonce_rows(platform) == 3
    assert platform.reconcile.run().clean


def test_an_app_with_a_key_may_still_call_in_plain(
    platform: Platform, client: TestClient, aes_key: bytes
) -> None:
    body = body_of({"out_trade_no": "v3-plain", "total_amount": "1.00", "subject": "p"})
    path = "/v3/alipay/trade/precreate"
    response = client.post(
        path,
        content=body,
        headers={"Content-Type": "application/json", "Authorization": authorization(body, path)},
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert verified(platform, response)["out_trade_no"] == "v3-plain"


def test_a_business_refusal_to_an_encrypted_request_is_plain_json(
    platform: Platform, client: TestClient, aes_key: bytes
) -> None:
    # The SDK parses a 4xx body as JSON without decrypting it, so the refusal stays readable.
    path = "/v3/alipay/trade/query"
    missing = post_sealed(client, path, sealed({"out_trade_no": "nope"}, aes_key))

    assert missing.status_code == 400
    assert verified(platform, missing) == {
        "code": "ACQ.TRADE_NOT_EXIST",
        "message": "no such trade",
    }
    assert nonce_rows(platform) == 1  # the request was opened and ran


def test_a_replayed_encrypted_request_is_refused(
    platform: Platform, client: TestClient, aes_key: bytes
) -> None:
    path = "/v3/alipay/trade/precreate"
    body = sealed({"out_trade_no": "v3-aes-r", "total_amount": "1.00", "subject": "r"}, aes_key)
    nonce = str(uuid.uuid4())

    first = post_sealed(client, path, body, nonce=nonce)
    assert opened(platform, first, aes_key)["out_trade_no"] == "v3-aes-r"
    refused(
        platform, lambda: post_sealed(client, path, body, nonce=nonce), 400, "invalid-parameter"
    )
    assert count_rows(platform, "trades") == 1


def test_an_app_without_a_key_is_refused(platform: Platform, client: TestClient, shop: Any) -> None:
    body = sealed({"out_trade_no": "v3-nokey"}, content_crypto.new_key())
    refused(
        platform,
        lambda: post_sealed(client, "/v3/alipay/trade/query", body),
        400,
        "decryption-error-not-valid-encrypt-key",
        "解密出错, 未配置加密密钥或加密密钥格式错误",
    )


def test_content_that_does_not_open_is_refused(
    platform: Platform, client: TestClient, aes_key: bytes
) -> None:
    path = "/v3/alipay/trade/pay"
    buyer = make_buyer(platform, balance_fen=10_00)
    biz = {
        "out_trade_no": "v3-aes-bad",
        "scene": "bar_code",
        "auth_code": platform.services["trades"].issue_auth_code(buyer),
        "subject": "x",
        "total_amount": "1.00",
    }
    good = sealed(biz, aes_key)
    # One base64 character changed in the last block: the padding no longer checks out.
    tampered = good[:-6] + (b"A" if good[-6:-5] != b"A" else b"B") + good[-5:]
    other_key = bytes(range(16)) if aes_key != bytes(range(16)) else bytes(16)
    unknown = "解密出错, 未知错误"

    def send(body: bytes, **options: Any) -> Any:
        return lambda: post_sealed(client, path, body, **options)

    # Tampered in flight, after signing: the signature over the ciphertext catches it first.
    refused(platform, send(tampered, signed_body=good), 400, "invalid-signature")
    # Tampered and signed (the app's own bug): the content does not open.
    refused(platform, send(tampered), 400, "decryption-error-unknown", unknown)
    refused(platform, send(sealed(biz, other_key)), 400, "decryption-error-unknown", unknown)
    refused(platform, send(b"not base64 at all!"), 400, "decryption-error-unknown", unknown)
    refused(platform, send("密文".encode()), 400, "decryption-error-unknown", unknown)
    refused(platform, send(body_of(biz)), 400, "decryption-error-unknown", unknown)
    # Opens, but to no JSON object.
    not_json = content_crypto.encrypt(b"[1, 2]", aes_key).encode("ascii")
    refused(platform, send(not_json), 400, "illegal-json")
    # The cipher named wrong, or named twice differently.
    for headers in (
        {"alipay-encrypt-type": "SM4", "alipay-encryption-algm": "SM4"},
        {"alipay-encrypt-type": "aes", "alipay-encryption-algm": "aes"},
        {"alipay-encrypt-type": "AES", "alipay-encryption-algm": "SM4"},
    ):
        refused(
            platform,
            send(good, headers=headers),
            400,
            "decryption-error-not-valid-encrypt-type",
            "解密出错，不支持的加密算法",
        )
    refused(
        platform,
        send(good, headers={"Content-Type": "application/xml"}),
        400,
        "invalid-content-type",
    )

    # The very request, untouched, still goes through: no refusal spent its nonce or wrote.
    assert opened(platform, post_sealed(client, path, good), aes_key)["total_amount"] == "1.00"
    assert count_rows(platform, "trades") == 1


def test_one_cipher_header_is_enough(
    platform: Platform, client: TestClient, aes_key: bytes
) -> None:
    # Other clients (gopay, hand-written ones) send only alipay-encrypt-type, some with JSON's
    # content type.
    path = "/v3/alipay/trade/precreate"
    biz = {"out_trade_no": "v3-one", "total_amount": "1.00", "subject": "o"}
    response = client.post(
        path,
        content=sealed(biz, aes_key),
        headers={
            "Content-Type": "application/json",
            "alipay-encrypt-type": "AES",
            "Authorization": authorization(sealed(biz, aes_key), path),
        },
    )
    assert opened(platform, response, aes_key)["out_trade_no"] == "v3-one"
