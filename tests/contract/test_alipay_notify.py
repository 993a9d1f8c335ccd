"""Our async notifications -> the merchants' real verifiers accept them (alipay-protocol.md §3)."""

from __future__ import annotations

import urllib.parse

import pytest
from alipay import AliPay
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa
from alipay.exceptions import AliPayException

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.keys import KeyPair
from paybao.adapters.alipay.signing import notification_sign_content

NOTIFY_FIELDS = {
    "notify_time": "2024-05-01 12:00:06",
    "notify_type": "trade_status_sync",
    "notify_id": "2024050100222120001000001234567890",
    "app_id": "2021000000000001",
    "auth_app_id": "2021000000000001",
    "charset": "utf-8",
    "version": "1.0",
    "trade_no": "2024050122001446881000012345",
    "out_trade_no": "o1",
    "buyer_id": "2088102177846880",
    "seller_id": "2088102177296610",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "0.01",
    "receipt_amount": "0.01",
    "buyer_pay_amount": "0.01",
    "subject": "测试 商品 {a&b=c} 😀",
    "gmt_payment": "2024-05-01 12:00:05",
    "fund_bill_list": '[{"amount":"0.01","fundChannel":"ALIPAYACCOUNT"}]',
    "passback_params": "",
}


def merchant_sdk(app_keys: KeyPair, platform_keys: KeyPair, sign_type: str) -> AliPay:
    return AliPay(
        appid="2021000000000001",
        app_notify_url=None,
        app_private_key_string=app_keys.private_pem_pkcs1,
        alipay_public_key_string=platform_keys.public_pem_spki,
        sign_type=sign_type,
    )


def received_form(params: dict[str, str], charset: str = "utf-8") -> dict[str, str]:
    """What the merchant's web framework hands over after decoding our form POST."""
    body = wire.encode_form(params, charset)
    return dict(urllib.parse.parse_qsl(body.decode("ascii"), encoding=charset))


def test_string_to_sign_matches_the_protocol_example(platform_keys: KeyPair) -> None:
    fields = {key: value for key, value in NOTIFY_FIELDS.items() if key != "passback_params"}
    fields["subject"] = "测试 商品"
    notification = wire.build_notification(fields, platform_keys.private_pem_pkcs1)

    assert notification_sign_content(notification) == (
        "app_id=2021000000000001&auth_app_id=2021000000000001&buyer_id=2088102177846880"
        "&buyer_pay_amount=0.01&charset=utf-8"
        '&fund_bill_list=[{"amount":"0.01","fundChannel":"ALIPAYACCOUNT"}]'
        "&gmt_payment=2024-05-01 12:00:05&notify_id=2024050100222120001000001234567890"
        "&notify_time=2024-05-01 12:00:06&notify_type=trade_status_sync&out_trade_no=o1"
        "&receipt_amount=0.01&seller_id=2088102177296610&subject=测试 商品&total_amount=0.01"
        "&trade_no=2024050122001446881000012345&trade_status=TRADE_SUCCESS&version=1.0"
    )


@pytest.mark.parametrize("sign_type", ["RSA2", "RSA"])
def test_python_sdk_verify_accepts_our_notification(
    app_keys: KeyPair, platform_keys: KeyPair, sign_type: str
) -> None:
    notification = wire.build_notification(
        NOTIFY_FIELDS,
        platform_keys.private_pem_pkcs1,
        sign_type=sign_type,  # type: ignore[arg-type]
    )
    data = received_form(notification)
    signature = data.pop("sign")

    assert "passback_params" not in data  # empty fields are never sent
    assert merchant_sdk(app_keys, platform_keys, sign_type).verify(data, signature) is True


def test_official_sdk_recipe_accepts_our_notification(platform_keys: KeyPair) -> None:
    notification = wire.build_notification(NOTIFY_FIELDS, platform_keys.private_pem_pkcs1)
    data = received_form(notification)
    signature = data.pop("sign")
    data.pop("sign_type")

    content = get_sign_content(data).encode("utf-8")

    assert verify_with_rsa(platform_keys.public_base64, content, signature) is True


def test_gbk_notification_verifies_in_gbk(platform_keys: KeyPair) -> None:
    fields = {**NOTIFY_FIELDS, "charset": "GBK", "subject": "测试 商品 {a}"}
    notification = wire.build_notification(fields, platform_keys.private_pem_pkcs1, charset="gbk")
    data = received_form(notification, "gbk")

    assert wire.verify_notification(data, platform_keys.public_pem_spki, charset="gbk")
    assert not wire.verify_notification(data, platform_keys.public_pem_spki, charset="utf-8")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.update(total_amount="100.00"),
        lambda d: d.update(extra="1"),
        lambda d: d.pop("subject"),
        lambda d: d.update(sign="not base64 !!"),
        lambda d: d.update(sign=d["sign"][:-8]),
        lambda d: d.update(sign=""),
        lambda d: d.update(sign_type="MD5"),
    ],
    ids=["amount", "added", "removed", "bad-base64", "short", "empty", "sign-type"],
)
def test_tampered_notification_fails_everywhere(
    app_keys: KeyPair, platform_keys: KeyPair, tamper: object
) -> None:
    data = received_form(wire.build_notification(NOTIFY_FIELDS, platform_keys.private_pem_pkcs1))
    assert callable(tamper)
    tamper(data)

    assert wire.verify_notification(data, platform_keys.public_pem_spki) is False
    assert python_sdk_accepts(merchant_sdk(app_keys, platform_keys, "RSA2"), data) is False


def python_sdk_accepts(sdk: AliPay, data: dict[str, str]) -> bool:
    signature = data.pop("sign", "")
    try:
        return bool(sdk.verify(data, signature))
    except (ValueError, AliPayException):  # binascii.Error on bad base64, unknown sign_type
        return False


def test_notification_signed_by_another_key_fails(
    platform_keys: KeyPair, other_keys: KeyPair
) -> None:
    data = received_form(wire.build_notification(NOTIFY_FIELDS, other_keys.private_pem_pkcs1))

    assert wire.verify_notification(data, platform_keys.public_pem_spki) is False
