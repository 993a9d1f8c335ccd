"""The v3 protocol's pieces without a server: the Authorization header, the strings to sign,
SHA256withRSA both ways and the error mapping (code without its prefix, HTTP status)."""

from __future__ import annotations

import functools

import pytest

from paybao.adapters.alipay.errors import WireError
from paybao.adapters.alipay.keys import (
    KeyPair,
    generate_key_pair,
    load_private_key,
    load_public_key,
)
from paybao.adapters.alipay.v3 import (
    AUTH_SCHEME,
    http_status,
    parse_authorization,
    request_sign_content,
    response_sign_content,
    sign_sha256_rsa,
    v3_code,
    verify_sha256_rsa,
)

NONCE = "eb4ade8f-8cfa-4ebf-a048-7eb52684ab32"


@functools.cache
def keys() -> KeyPair:
    return generate_key_pair()


def test_the_node_sdks_header() -> None:
    auth = f"app_id=2021000000000777,nonce={NONCE},timestamp=1655869956477"
    parsed = parse_authorization(f"{AUTH_SCHEME} {auth},sign=YWJj+/==")

    assert parsed.auth_string == auth
    assert (parsed.app_id, parsed.nonce, parsed.timestamp_ms) == (
        "2021000000000777",
        NONCE,
        1655869956477,
    )
    assert (parsed.sign, parsed.expired_seconds, parsed.app_cert_sn) == ("YWJj+/==", None, None)


def test_fields_in_any_order_with_expiry_cert_sn_and_extra_info() -> None:
    auth = (
        f"timestamp=1655869956477,expired_seconds=120,nonce={NONCE},app_cert_sn=abc,"
        "app_id=2021000000000777,tenant=x"
    )
    parsed = parse_authorization(f"{AUTH_SCHEME} {auth},sign=c2ln")

    assert parsed.auth_string == auth  # verbatim: it is what was signed
    assert (parsed.expired_seconds, parsed.app_cert_sn) == (120, "abc")


@pytest.mark.parametrize(
    ("header", "sub_code"),
    [
        (None, "isv.missing-timestamp"),
        ("", "isv.missing-timestamp"),
        (
            f"ALIPAY-SHA1withRSA app_id=1,nonce={NONCE},timestamp=1,sign=x",
            "isv.invalid-signature-type",
        ),
        (f"{AUTH_SCHEME} app_id=1,nonce={NONCE},timestamp=1", "isv.missing-signature"),
        (f"{AUTH_SCHEME} app_id=1,nonce={NONCE},timestamp=1,sign=", "isv.missing-signature"),
        (f"{AUTH_SCHEME} nonce={NONCE},timestamp=1,sign=x", "isv.missing-app-id"),
        (f"{AUTH_SCHEME} app_id=1,nonce={NONCE},sign=x", "isv.missing-timestamp"),
        (
            f"{AUTH_SCHEME} app_id=1,nonce={NONCE},timestamp=2024-01-01,sign=x",
            "isv.invalid-timestamp",
        ),
        (
            f"{AUTH_SCHEME} app_id=1,nonce={NONCE},timestamp=12345678901234,sign=x",
            "isv.invalid-timestamp",
        ),
        (f"{AUTH_SCHEME} app_id=1,timestamp=1,sign=x", "isv.invalid-parameter"),
        (f"{AUTH_SCHEME} app_id=1,nonce=short,timestamp=1,sign=x", "isv.invalid-parameter"),
        (f"{AUTH_SCHEME} app_id=1,nonce=a b c d e f g,timestamp=1,sign=x", "isv.invalid-parameter"),
        (
            f"{AUTH_SCHEME} app_id=1,app_id=2,nonce={NONCE},timestamp=1,sign=x",
            "isv.invalid-parameter",
        ),
        (f"{AUTH_SCHEME} app_id=1,junk,nonce={NONCE},timestamp=1,sign=x", "isv.invalid-parameter"),
        (
            f"{AUTH_SCHEME} app_id=1,nonce={NONCE},timestamp=1,expired_seconds=0,sign=x",
            "isv.invalid-parameter",
        ),
        (
            f"{AUTH_SCHEME} app_id=1,nonce={NONCE},timestamp=1,expired_seconds=١٢,sign=x",
            "isv.invalid-parameter",
        ),
        (
            f"{AUTH_SCHEME} " + ",".join(f"k{i}=v" for i in range(20)) + ",sign=x",
            "isv.invalid-parameter",
        ),
        (
            f"{AUTH_SCHEME} app_id=1,nonce={NONCE},timestamp=1,sign=" + "x" * 5000,
            "isv.invalid-parameter",
        ),
    ],
)
def test_malformed_headers(header: str | None, sub_code: str) -> None:
    with pytest.raises(WireError) as refused:
        parse_authorization(header)
    assert refused.value.sub_code == sub_code


def test_request_sign_content_matches_the_documented_example() -> None:
    auth = "app_id=201406060016xxxx,timestamp=1655869956477,nonce=n,expired_seconds=120"
    body = '{"activity_name": "单品特价"}'.encode()
    path = "/v3/alipay/marketing/activity/ordervoucher/create?auth_token=123"

    plain = request_sign_content(auth, "POST", path, body)
    on_behalf = request_sign_content(auth, "POST", path, body, "tok")

    assert plain == f"{auth}\nPOST\n{path}\n".encode() + body + b"\n"
    assert on_behalf == plain + b"tok\n"
    assert request_sign_content(auth, "GET", "/v3/x", b"") == f"{auth}\nGET\n/v3/x\n\n".encode()


def test_signatures_round_trip_and_refuse_garbage() -> None:
    private_key = load_private_key(keys().private_pem_pkcs1)
    public_key = load_public_key(keys().public_pem_spki)
    content = response_sign_content("1700000000000", NONCE, '{"a":"中"}'.encode())
    signature = sign_sha256_rsa(content, private_key)

    assert content == f'1700000000000\n{NONCE}\n{{"a":"中"}}\n'.encode()
    assert verify_sha256_rsa(content, signature, public_key)
    assert not verify_sha256_rsa(content + b" ", signature, public_key)
    other = load_public_key(generate_key_pair().public_pem_spki)
    assert not verify_sha256_rsa(content, signature, other)
    for garbage in ("", "!!!", "YWJj", signature[:-4], "x" * 2000):
        assert not verify_sha256_rsa(content, garbage, public_key)


@pytest.mark.parametrize(
    ("sub_code", "code", "status"),
    [
        ("isv.invalid-signature", "invalid-signature", 400),
        ("isv.invalid-app-id", "invalid-app-id", 400),
        ("isv.missing-timestamp", "missing-timestamp", 400),
        ("isv.illegal-json", "illegal-json", 400),
        ("aop.invalid-app-auth-token", "invalid-app-auth-token", 401),
        ("isv.app-call-limited", "app-call-limited", 429),
        ("isp.unknow-error", "unknow-error", 500),
        ("isv.request-too-large", "request-too-large", 413),
        ("ACQ.TRADE_NOT_EXIST", "ACQ.TRADE_NOT_EXIST", 400),
        ("ACQ.SYSTEM_ERROR", "ACQ.SYSTEM_ERROR", 400),
        ("PAYER_BALANCE_NOT_ENOUGH", "PAYER_BALANCE_NOT_ENOUGH", 400),
    ],
)
def test_error_mapping(sub_code: str, code: str, status: int) -> None:
    error = WireError(sub_code, "why")
    assert (v3_code(error.sub_code), http_status(error)) == (code, status)
    assert http_status(WireError("isv.insufficient-isv-permissions", gateway_code="40006")) == 403
