"""wire.py, signing.py and keys.py against the protocol file's vectors and the SDKs' own code."""

from __future__ import annotations

import json
import urllib.parse
from datetime import datetime
from decimal import Decimal

import pytest
from alipay import AliPay
from alipay.aop.api.util.SignatureUtils import get_sign_content, sign_with_rsa2
from cryptography.hazmat.primitives import serialization

from paybao.adapters.alipay import keys, signing, wire
from paybao.adapters.alipay.errors import KeyFormatError, WireError
from paybao.adapters.alipay.keys import KeyPair

APP_ID = "2021000000000001"
TIMESTAMP = "2024-05-01 12:00:00"
PYTHON_SDK_SIGN_CONTENT = (
    'app_id=2021000000000001&biz_content={"out_trade_no":"20240501000001","total_amount":"88.88",'
    '"subject":"\\u6d4b\\u8bd5\\u5546\\u54c1"}&charset=utf-8&method=alipay.trade.precreate'
    "&notify_url=https://m.example/notify&sign_type=RSA2&timestamp=2024-05-01 12:00:00&version=1.0"
)
OFFICIAL_SIGN_CONTENT = (
    'app_id=2021000000000001&biz_content={"out_trade_no":"20240501000001","subject":"测试商品",'
    '"total_amount":"88.88"}&charset=utf-8&format=json&method=alipay.trade.precreate'
    "&notify_url=https://m.example/notify&sign_type=RSA2&timestamp=2024-05-01 12:00:00&version=1.0"
)


def python_sdk_query_string(app_keys: KeyPair, sign_type: str = "RSA2") -> str:
    """The exact GET query python-alipay-sdk sends, with the protocol file's fixed timestamp."""
    sdk = AliPay(
        appid=APP_ID,
        app_notify_url="https://m.example/notify",
        app_private_key_string=app_keys.private_pem_pkcs1,
        alipay_public_key_string=app_keys.public_pem_spki,
        sign_type=sign_type,
    )
    biz = {"out_trade_no": "20240501000001", "total_amount": "88.88", "subject": "测试商品"}
    data = sdk.build_body("alipay.trade.precreate", biz, timestamp=TIMESTAMP)
    return str(sdk.sign_data(data))


def official_request(app_keys: KeyPair, charset: str) -> tuple[bytes, bytes, str]:
    """(query, body, content type) shaped like the official SDK's POST, signed by its code."""
    biz = {"out_trade_no": "20240501000001", "total_amount": "88.88", "subject": "测试商品"}
    common = {
        "timestamp": TIMESTAMP,
        "app_id": APP_ID,
        "method": "alipay.trade.precreate",
        "charset": charset,
        "format": "json",
        "version": "1.0",
        "sign_type": "RSA2",
        "notify_url": "https://m.example/notify",
    }
    body = {
        "biz_content": json.dumps(biz, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    }
    content = get_sign_content({**common, **body})
    common["sign"] = sign_with_rsa2(app_keys.private_base64, content, charset)
    query = urllib.parse.urlencode(common, encoding=charset).encode("ascii")
    form = urllib.parse.urlencode(body, encoding=charset).encode("ascii")
    return query, form, f"application/x-www-form-urlencoded;charset={charset}"


# Requests: string-to-sign, parsing, verification.


def test_python_sdk_request_string_to_sign_is_the_protocol_example(app_keys: KeyPair) -> None:
    request = wire.parse_gateway_request(python_sdk_query_string(app_keys))

    assert signing.request_sign_content(request.params) == PYTHON_SDK_SIGN_CONTENT
    wire.verify_request_signature(request, app_keys.public_pem_spki)


@pytest.mark.parametrize("charset", ["utf-8", "GBK"])
def test_official_request_string_to_sign_and_verification(app_keys: KeyPair, charset: str) -> None:
    query, body, content_type = official_request(app_keys, charset)

    request = wire.parse_gateway_request(query, body, content_type)

    assert request.charset_codec == charset.lower()
    expected = OFFICIAL_SIGN_CONTENT.replace("charset=utf-8", f"charset={charset}")
    assert signing.request_sign_content(request.params) == expected
    wire.verify_request_signature(request, app_keys.public_base64)
    biz = wire.parse_biz_content(request.params["biz_content"])
    assert biz["subject"] == "测试商品"


def test_python_sdk_rsa1_request_verifies(app_keys: KeyPair) -> None:
    request = wire.parse_gateway_request(python_sdk_query_string(app_keys, "RSA"))

    assert wire.check_common_params(request).sign_type == "RSA"
    wire.verify_request_signature(request, app_keys.public_pem_spki)


def test_empty_param_verifies_either_way(app_keys: KeyPair) -> None:
    params = {"app_id": APP_ID, "method": "m.a", "sign_type": "RSA2", "return_url": ""}
    with_empty = signing.sign_request_params(params, app_keys.private_pem_pkcs1)
    without_empty = signing.sign_content(
        signing.request_sign_content(params).encode(), app_keys.private_pem_pkcs1
    )

    public_key = app_keys.public_pem_spki
    assert signing.verify_request_params({**params, "sign": with_empty}, public_key)
    assert signing.verify_request_params({**params, "sign": without_empty}, public_key)


@pytest.mark.parametrize(
    ("mutation", "sub_code"),
    [
        (
            lambda p: p.update(biz_content=p["biz_content"].replace("88.88", "8.88")),
            "isv.invalid-signature",
        ),
        (lambda p: p.update(extra="1"), "isv.invalid-signature"),
        (lambda p: p.update(sign="%%%not base64%%%"), "isv.invalid-signature"),
        (lambda p: p.update(sign=p["sign"][:100]), "isv.invalid-signature"),
        (lambda p: p.update(sign_type="MD5"), "isv.invalid-signature-type"),
        (lambda p: p.pop("sign"), "isv.missing-signature"),
        (lambda p: p.pop("sign_type"), "isv.missing-signature-type"),
        (lambda p: p.pop("method"), "isv.missing-method"),
        (lambda p: p.pop("app_id"), "isv.missing-app-id"),
        (lambda p: p.pop("timestamp"), "isv.missing-timestamp"),
        (lambda p: p.update(method='alipay.trade"}{'), "isv.invalid-method"),
        (lambda p: p.update(format="xml"), "isv.invalid-format"),
    ],
)
def test_bad_requests_get_their_specific_code(
    app_keys: KeyPair, mutation: object, sub_code: str
) -> None:
    params = dict(wire.parse_gateway_request(python_sdk_query_string(app_keys)).params)
    assert callable(mutation)
    mutation(params)
    request = wire.GatewayRequest(params=params, charset_codec="utf-8")

    with pytest.raises(WireError) as caught:
        wire.check_common_params(request)
        wire.verify_request_signature(request, app_keys.public_pem_spki)

    assert caught.value.sub_code == sub_code
    assert caught.value.gateway_code in ("40001", "40002")


def test_request_signed_by_another_key_is_refused(app_keys: KeyPair, other_keys: KeyPair) -> None:
    request = wire.parse_gateway_request(python_sdk_query_string(other_keys))

    with pytest.raises(WireError) as caught:
        wire.verify_request_signature(request, app_keys.public_pem_spki)

    assert caught.value.sub_code == "isv.invalid-signature"
    assert caught.value.sub_msg.endswith("&amp;version=1.0")


def test_oversize_body_and_query() -> None:
    with pytest.raises(WireError) as caught:
        wire.parse_gateway_request(b"", b"a=" + b"x" * (64 * 1024))
    assert (caught.value.gateway_code, caught.value.sub_code) == ("40002", "isv.request-too-large")

    with pytest.raises(WireError) as caught:
        wire.parse_gateway_request(b"a=" + b"x" * (64 * 1024))
    assert caught.value.sub_code == "isv.request-too-large"
    wire.parse_gateway_request(b"a=" + b"x" * (64 * 1024 - 2))


def test_query_and_body_merge_and_duplicates() -> None:
    request = wire.parse_gateway_request(
        b"a=1&b=2", b"c=3&a=1", "application/x-www-form-urlencoded"
    )
    assert request.params == {"a": "1", "b": "2", "c": "3"}

    with pytest.raises(WireError) as caught:
        wire.parse_gateway_request(b"a=1", b"a=2")
    assert caught.value.sub_code == "isv.invalid-parameter"
    with pytest.raises(WireError):
        wire.parse_gateway_request(b"a=1&a=2")


def test_charset_errors() -> None:
    with pytest.raises(WireError) as caught:
        wire.parse_gateway_request(b"charset=latin-9&a=1")
    assert caught.value.sub_code == "isv.invalid-charset"
    with pytest.raises(WireError) as caught:
        wire.parse_gateway_request(b"charset=utf-8&a=%FF%FE")
    assert caught.value.sub_code == "isv.invalid-charset"
    gbk = wire.parse_gateway_request(b"charset=GBK&s=%B2%E2%CA%D4")
    assert gbk.params["s"] == "测试"


def test_unsupported_content_type() -> None:
    with pytest.raises(WireError) as caught:
        wire.parse_gateway_request(b"", b'{"a":1}', "application/json")
    assert caught.value.sub_code == "isv.invalid-parameter"


def test_signature_verification_never_raises(app_keys: KeyPair) -> None:
    public_key = keys.load_public_key(app_keys.public_pem_spki)
    for garbage in ["", "=", "abc", "!!!!", "测试", "A" * 5000, "A" * 344, None]:
        assert signing.verify_content(b"x", garbage, public_key, "RSA2") is False  # type: ignore[arg-type]
    good = signing.sign_content(b"x", app_keys.private_pem_pkcs1)
    assert signing.verify_content(b"x", good, public_key, "RSA2") is True
    assert signing.verify_content(b"x", good, public_key, "RSA") is False
    assert signing.verify_content(b"x", good, public_key, "rsa2") is False
    assert signing.verify_content(b"x", good.replace("+", " "), public_key, "RSA2") is True


# biz_content, amounts, timestamps.


def test_biz_content_parsing() -> None:
    biz = wire.parse_biz_content('{"total_amount":88.8,"n":1,"s":"\\u6d4b"}')
    assert biz == {"total_amount": Decimal("88.8"), "n": 1, "s": "测"}
    assert wire.parse_biz_content(None) == {}
    for bad in ["{", "[]", '"x"', '{"a":1,"a":2}', '{"a":NaN}', "[" * 100_000]:
        with pytest.raises(WireError) as caught:
            wire.parse_biz_content(bad)
        assert caught.value.sub_code == "isv.illegal-json"


@pytest.mark.parametrize(
    ("value", "amount_fen"),
    [
        ("88.88", 8888),
        ("0.01", 1),
        ("100000000.00", 10_000_000_000),
        (Decimal("88.8"), 8880),
        (Decimal("1.00"), 100),
        (Decimal("1E+2"), 10000),
        (1, 100),
        (88.88, 8888),
        (0.1, 10),
    ],
)
def test_amounts_accepted(value: object, amount_fen: int) -> None:
    assert wire.parse_amount_fen(value, field="total_amount") == amount_fen


@pytest.mark.parametrize(
    "value",
    [
        "88.888",
        "-1",
        "0",
        "0.00",
        " 1",
        "1e2",
        "",
        "abc",
        "100000000.01",
        Decimal("88.888"),
        Decimal("NaN"),
        Decimal("1E+999999999"),
        88.888,
        True,
        None,
        [1],
        Decimal("-1"),
    ],
)
def test_amounts_refused(value: object) -> None:
    with pytest.raises(WireError) as caught:
        wire.parse_amount_fen(value, field="total_amount")
    assert caught.value.sub_code == "ACQ.INVALID_PARAMETER"
    assert caught.value.gateway_code == "40004"
    assert caught.value.sub_msg.startswith("total_amount:")


def test_biz_content_number_to_fen_without_float() -> None:
    biz = wire.parse_biz_content('{"total_amount":0.07,"refund_amount":1.005}')
    assert wire.parse_amount_fen(biz["total_amount"], field="total_amount") == 7
    with pytest.raises(WireError):
        wire.parse_amount_fen(biz["refund_amount"], field="refund_amount")


def test_timestamps() -> None:
    moment = wire.parse_timestamp("2024-05-01 12:00:00")
    assert moment.utcoffset() is not None
    assert moment.isoformat() == "2024-05-01T12:00:00+08:00"
    assert wire.format_timestamp(moment) == "2024-05-01 12:00:00"
    for bad in ["2024-05-01T12:00:00", "2024-5-1 12:00:00", "2024-02-30 12:00:00", "", "x"]:
        with pytest.raises(WireError) as caught:
            wire.parse_timestamp(bad)
        assert caught.value.sub_code == "isv.invalid-timestamp"


def test_timestamp_window() -> None:
    sent = wire.parse_timestamp("2024-05-01 12:00:00")
    now = datetime.fromisoformat("2024-05-01T04:09:00+00:00")  # 12:09 in Beijing
    wire.check_timestamp_window(sent, now, window_s=600)
    with pytest.raises(WireError) as caught:
        wire.check_timestamp_window(sent, now, window_s=300)
    assert (caught.value.gateway_code, caught.value.sub_code) == ("40002", "isv.invalid-timestamp")


# Responses: checked by each SDK's own slicing + verification code, without HTTP.


@pytest.mark.parametrize(
    "subject",
    ["plain", "测试商品", "{", "}", "}}{", '"},"sign":"x"}', "a\\", "\\u007b", "😀", "a\nb"],
)
def test_both_sdks_verify_our_envelope(
    app_keys: KeyPair, platform_keys: KeyPair, subject: str
) -> None:
    fields = {"code": "10000", "msg": "Success", "subject": subject, "list": [{"a": "{x}"}]}
    body = wire.build_response("alipay.trade.query", fields, platform_keys.private_pem_pkcs1)

    sdk = AliPay(
        appid=APP_ID,
        app_notify_url=None,
        app_private_key_string=app_keys.private_pem_pkcs1,
        alipay_public_key_string=platform_keys.public_pem_spki,
    )
    result = sdk._verify_and_return_sync_response(body.decode(), "alipay_trade_query_response")
    assert result == fields
    assert json.loads(body)["alipay_trade_query_response"] == fields


def test_envelope_shape_and_signed_substring(platform_keys: KeyPair) -> None:
    fields = {"code": "10000", "msg": "Success", "out_trade_no": "o1"}
    body = wire.build_response("alipay.trade.precreate", fields, platform_keys.private_pem_pkcs1)

    head = (
        b'{"alipay_trade_precreate_response":{"code":"10000","msg":"Success","out_trade_no":"o1"}'
    )
    assert body.startswith(head + b',"sign":"')
    signature = json.loads(body)["sign"]
    assert len(signature) == 344
    public_key = platform_keys.public_pem_spki
    assert signing.verify_content(
        head[len(b'{"alipay_trade_precreate_response":') :], signature, public_key, "RSA2"
    )


def test_signed_error_envelope(platform_keys: KeyPair) -> None:
    error = WireError("isv.invalid-signature", "验签出错")
    body = wire.build_error_response("alipay.trade.query", error, platform_keys.private_pem_pkcs1)

    envelope = json.loads(body)
    assert envelope["alipay_trade_query_response"] == {
        "code": "40002",
        "msg": "Invalid Arguments",
        "sub_code": "isv.invalid-signature",
        "sub_msg": "验签出错",
    }
    assert "sign" in envelope
    unknown = wire.build_error_response('x"}', error, None)
    assert list(json.loads(unknown)) == ["error_response"]


def test_gbk_envelope_escapes_what_gbk_cannot_hold(platform_keys: KeyPair) -> None:
    fields = {"code": "10000", "subject": "测试😀"}
    body = wire.build_response(
        "alipay.trade.query", fields, platform_keys.private_pem_pkcs1, charset="gbk"
    )

    assert "测试".encode("gbk") in body
    assert b"\\ud83d\\ude00" in body
    assert json.loads(body.decode("gbk"))["alipay_trade_query_response"] == fields


def test_floats_never_leave_in_responses(platform_keys: KeyPair) -> None:
    with pytest.raises(TypeError):
        wire.encode_response_object({"total_amount": 1.5})


# Keys.


def test_keys_load_every_format(app_keys: KeyPair) -> None:
    private_key = keys.load_private_key(app_keys.private_pem_pkcs1)
    pkcs8 = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    pkcs1_public = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        .decode()
    )
    one_line = app_keys.private_pem_pkcs1.replace("\n", "\r\n")

    numbers = private_key.private_numbers()
    for text in [pkcs8, app_keys.private_base64, keys.pem_to_base64(pkcs8), one_line]:
        assert keys.load_private_key(text).private_numbers() == numbers
    public_numbers = private_key.public_key().public_numbers()
    for text in [
        app_keys.public_pem_spki,
        app_keys.public_base64,
        pkcs1_public,
        keys.pem_to_base64(pkcs1_public),
    ]:
        assert keys.load_public_key(text).public_numbers() == public_numbers


def test_keys_are_cached(app_keys: KeyPair) -> None:
    assert keys.load_private_key(app_keys.private_pem_pkcs1) is keys.load_private_key(
        app_keys.private_pem_pkcs1
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a key",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        "QUJD",
        "x" * 20_000,
    ],
)
def test_bad_keys_raise_key_format_error(text: str) -> None:
    with pytest.raises(KeyFormatError):
        keys.load_private_key(text)
    with pytest.raises(KeyFormatError):
        keys.load_public_key(text)


def test_private_pem_is_not_a_public_key(app_keys: KeyPair) -> None:
    with pytest.raises(KeyFormatError):
        keys.load_public_key(app_keys.private_pem_pkcs1)
    with pytest.raises(KeyFormatError):
        keys.load_private_key(app_keys.public_pem_spki)
