"""AES content encryption (adapters/alipay/content_crypto.py) against a fixed vector and against
the official SDK's own functions: its encryption, its decryption and its response parser."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.constant.CommonConstants import THREAD_LOCAL
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.exception.Exception import ResponseException
from alipay.aop.api.util.EncryptUtils import aes_decrypt_content, aes_encrypt_content
from tests.support.alipay_aes_compat import python2_style_aes

from paybao.adapters.alipay import content_crypto, wire
from paybao.adapters.alipay.errors import WireError
from paybao.adapters.alipay.keys import KeyPair, generate_key_pair

KEY = bytes(range(16))
KEY_TEXT = "AAECAwQFBgcICQoLDA0ODw=="
PLAIN = '{"subject":"测试 😀 {a} & = \\"","total_amount":"8.88"}'
# `openssl enc -aes-128-cbc -K 000102...0f -iv 00...00` of PLAIN's UTF-8 bytes, base64.
VECTOR = "AtNf+uDtXWlvKzh5M58gq1QPP2JgVJ9VMntu5fcCHj81wm59IOx6xcapbtadD2tJfXlghCpU0FZVRQ9lrpE0vg=="
TEXTS = ["", "a", "x" * 16, "x" * 17, PLAIN, '{"subject":"' + "商品" * 40 + '"}']


@pytest.fixture(scope="module")
def platform_keys() -> KeyPair:
    return generate_key_pair()


def test_the_fixed_vector_both_ways() -> None:
    assert content_crypto.key_from_text(KEY_TEXT) == KEY
    assert content_crypto.key_to_text(KEY) == KEY_TEXT
    assert content_crypto.encrypt(PLAIN.encode(), KEY) == VECTOR
    assert content_crypto.decrypt(VECTOR, KEY).decode() == PLAIN


@pytest.mark.parametrize("size_bytes", [16, 32])
@pytest.mark.parametrize("text", TEXTS)
def test_the_sdk_and_paybao_agree(
    monkeypatch: pytest.MonkeyPatch, size_bytes: int, text: str
) -> None:
    python2_style_aes(monkeypatch)
    key = content_crypto.new_key(size_bytes)
    key_text = content_crypto.key_to_text(key)

    by_sdk = aes_encrypt_content(text, key_text, "utf-8")

    assert by_sdk == content_crypto.encrypt(text.encode(), key)
    assert content_crypto.open_biz_content(by_sdk, key, "utf-8") == text
    by_paybao = content_crypto.encrypt(text.encode(), key)
    assert aes_decrypt_content(by_paybao, key_text, "utf-8") == text


def test_gbk_text_is_padded_in_its_own_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    python2_style_aes(monkeypatch, "gbk")
    text = '{"subject":"测试商品 & = \\" {x}"}'

    by_sdk = aes_encrypt_content(text, KEY_TEXT, "gbk")

    assert by_sdk == content_crypto.encrypt(text.encode("gbk"), KEY)
    assert content_crypto.open_biz_content(by_sdk, KEY, "gbk") == text


@pytest.mark.parametrize(
    "cipher_text",
    [
        "not base64!",
        base64.b64encode(b"short").decode(),  # not whole AES blocks
        base64.b64encode(bytes(16)).decode(),  # one block, whose padding under KEY is wrong
        content_crypto.encrypt("测".encode(), KEY),  # opens, but is not the charset's text
        "",
    ],
)
def test_what_does_not_open_is_alipays_decryption_error(cipher_text: str) -> None:
    with pytest.raises(WireError) as caught:
        content_crypto.open_biz_content(cipher_text, KEY, "ascii")
    assert caught.value.sub_code == "isv.decryption-error-unknown"
    assert caught.value.gateway_code == "40003"


def test_a_wrong_key_does_not_open() -> None:
    sealed = content_crypto.encrypt(PLAIN.encode(), KEY)
    with pytest.raises(WireError, match="解密出错"):
        content_crypto.open_biz_content(sealed, content_crypto.new_key(), "utf-8")


class _Keys:
    def __init__(self, keys: dict[str, bytes]) -> None:
        self.keys = keys

    def key_of(self, app_id: str) -> bytes | None:
        return self.keys.get(app_id)


def test_which_requests_are_encrypted_and_what_is_refused() -> None:
    keys = _Keys({"2021000000000001": KEY})
    biz = {"biz_content": "x"}

    assert content_crypto.request_key(biz, "2021000000000001", keys) is None
    assert content_crypto.request_key({**biz, "encrypt_type": ""}, "2021000000000001", keys) is None
    # Nothing to open: the official SDK sends encrypt_type on calls without biz_content too.
    assert content_crypto.request_key({"encrypt_type": "AES"}, "2021000000000009", keys) is None
    found = content_crypto.request_key({**biz, "encrypt_type": "AES"}, "2021000000000001", keys)
    assert found == KEY
    with pytest.raises(WireError) as no_key:
        content_crypto.request_key({**biz, "encrypt_type": "AES"}, "2021000000000009", keys)
    assert no_key.value.sub_code == "isv.decryption-error-not-valid-encrypt-key"
    assert no_key.value.gateway_code == "40002"
    for other in ("SM4", "aes", "RSA"):
        with pytest.raises(WireError) as not_aes:
            content_crypto.request_key({**biz, "encrypt_type": other}, "2021000000000001", keys)
        assert not_aes.value.sub_code == "isv.decryption-error-not-valid-encrypt-type"


def test_keys_of_other_sizes_are_refused() -> None:
    for text in ("AAEC", base64.b64encode(bytes(20)).decode(), "not a key"):
        with pytest.raises(ValueError):
            content_crypto.key_from_text(text)


def _sdk_parse(
    body: bytes, platform_keys: KeyPair, key_text: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The official SDK's own response parser: cut, verify, decrypt."""
    python2_style_aes(monkeypatch)
    config = AlipayClientConfig()
    config.alipay_public_key = platform_keys.public_base64
    config.encrypt_type = "AES"
    config.encrypt_key = key_text
    THREAD_LOCAL.logger = None
    THREAD_LOCAL.uuid = "unit"
    client = DefaultAlipayClient(config)
    parsed: str = client._DefaultAlipayClient__parse_response(body)  # type: ignore[attr-defined]
    return dict(json.loads(parsed))


def test_the_sdk_verifies_and_decrypts_an_encrypted_answer(
    platform_keys: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = {"code": "10000", "msg": "Success", "subject": PLAIN, "total_amount": "8.88"}
    body = content_crypto.build_encrypted_response(
        "alipay.trade.query",
        fields,
        platform_keys.private_pem_pkcs1,
        KEY,
        sign_type="RSA2",
        charset="utf-8",
    )

    assert body.startswith(b'{"alipay_trade_query_response":"')
    assert _sdk_parse(body, platform_keys, KEY_TEXT, monkeypatch) == fields
    tampered = body.replace(b'response":"', b'response":"A', 1)
    with pytest.raises(ResponseException):
        _sdk_parse(tampered, platform_keys, KEY_TEXT, monkeypatch)


def test_the_sdk_reads_a_plain_refusal_to_an_encrypted_request(
    platform_keys: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = WireError("isv.decryption-error-not-valid-encrypt-key", "解密出错")
    body = wire.build_error_response("alipay.trade.query", error, platform_keys.private_pem_pkcs1)

    parsed = _sdk_parse(body, platform_keys, KEY_TEXT, monkeypatch)

    assert parsed["sub_code"] == "isv.decryption-error-not-valid-encrypt-key"
