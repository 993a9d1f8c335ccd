"""v3 content encryption's pieces without a server: the Node SDK's own ciphertext (alipay-sdk
4.14.0, util.aesEncryptText, captured below) opens with paybao's cipher and paybao seals the
same bytes, and the key checks answer the gateway's refusals in v3's shape."""

from __future__ import annotations

import json

import pytest

from paybao.adapters.alipay import content_crypto
from paybao.adapters.alipay.errors import WireError
from paybao.adapters.alipay.v3 import http_status, v3_code

# The key of alipay-sdk-nodejs-all's own tests, and what its util.aesEncryptText (crypto-js,
# AES-CBC, zero IV, PKCS#7) made of PLAIN and of the empty text (the body of
# `curl(..., {needEncrypt: true})` without a body).
SDK_KEY_TEXT = "aYA0GP8JEW+D7/UFaskCWA=="
PLAIN = '{"out_trade_no":"v3-测试-1","total_amount":"8.88","subject":"a \\"b\\" 😀"}'
SDK_SEALED = (
    "HJjZXDcVHUcOrByocVgEmiMZlv3LpKWkSdYze0Q1WsiOEFqWZrhzYibvY6wt+7opE0LbZcgmrGvZoS/i6AuSj13J83"
    "Wjr+W1a0e7VlebF9A="
)
SDK_SEALED_EMPTY = "KCifvlDR5/rCvwnJGXnuFg=="
APP_ID = "2021000000000777"


class Keys:
    def __init__(self, keys: dict[str, bytes]) -> None:
        self.keys = keys

    def key_of(self, app_id: str) -> bytes | None:
        return self.keys.get(app_id)


def test_the_node_sdks_ciphertext_opens_and_is_what_paybao_seals() -> None:
    key = content_crypto.key_from_text(SDK_KEY_TEXT)

    assert content_crypto.open_biz_content(SDK_SEALED, key, "utf-8") == PLAIN
    assert json.loads(PLAIN)["subject"] == 'a "b" 😀'
    assert content_crypto.encrypt(PLAIN.encode(), key) == SDK_SEALED
    assert content_crypto.open_biz_content(SDK_SEALED_EMPTY, key, "utf-8") == ""
    assert content_crypto.encrypt(b"", key) == SDK_SEALED_EMPTY


def test_the_apps_key_opens_aes_content() -> None:
    key = content_crypto.new_key()
    assert content_crypto.content_key("AES", APP_ID, Keys({APP_ID: key})) == key


@pytest.mark.parametrize("encrypt_type", ["SM4", "aes", "AES,SM4", " AES"])
def test_a_cipher_other_than_aes_is_refused(encrypt_type: str) -> None:
    keys = Keys({APP_ID: content_crypto.new_key()})
    with pytest.raises(WireError) as refused:
        content_crypto.content_key(encrypt_type, APP_ID, keys)

    assert v3_code(refused.value.sub_code) == "decryption-error-not-valid-encrypt-type"
    assert http_status(refused.value) == 400


def test_an_app_without_a_key_is_refused() -> None:
    with pytest.raises(WireError) as refused:
        content_crypto.content_key("AES", APP_ID, content_crypto.NoContentKeys())

    assert v3_code(refused.value.sub_code) == "decryption-error-not-valid-encrypt-key"
    assert refused.value.sub_msg == "解密出错, 未配置加密密钥或加密密钥格式错误"
    assert http_status(refused.value) == 400


# Cut short, not base64, not ASCII, the plain JSON itself, one character of the last block
# changed (its padding no longer checks out).
@pytest.mark.parametrize(
    "sealed",
    [SDK_SEALED[:-4], "not base64!", "密文", PLAIN, SDK_SEALED[:-8] + "A" + SDK_SEALED[-7:]],
)
def test_text_that_does_not_open_is_decryption_error_unknown(sealed: str) -> None:
    key = content_crypto.key_from_text(SDK_KEY_TEXT)
    with pytest.raises(WireError) as refused:
        content_crypto.open_biz_content(sealed, key, "utf-8")

    assert v3_code(refused.value.sub_code) == "decryption-error-unknown"
    assert refused.value.gateway_code == "40003"  # what Alipay's live gateway answers
    assert http_status(refused.value) == 400
