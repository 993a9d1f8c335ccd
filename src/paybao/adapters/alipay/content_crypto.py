"""Alipay's 接口内容加密 (AES content encryption): opening an encrypted `biz_content` and
sealing the answer, byte for byte as the official SDKs do it.

The cipher (alipay-sdk-python's util/EncryptUtils.py, the Java SDK's AlipayEncrypt): AES-CBC
under the app's key (Alipay's console hands out 128-bit keys as base64), an all-zero IV,
PKCS#7 padding of the text's bytes in the request's charset, standard base64 of the result.
The IV is fixed, so equal texts give equal ciphertexts: that is Alipay's protocol and not ours
to change; the RSA signatures, not this cipher, make a message authentic.

Request: `encrypt_type=AES` names the cipher and `biz_content` is the base64 ciphertext. The
SDK encrypts first and signs after, so the signature covers the ciphertext: the gateway checks
it first and opens the content only then.

Answer: `{"<method>_response":"<base64 ciphertext of the object>","sign":"..."}`. The signature
covers the ciphertext WITH its two quotes: the official SDK cuts the signed text from the quote
that opens the value to the quote that closes it, and decrypts what lies between them.

Refusals before the content is open (signature, timestamp, an app without a key, a text that
does not decrypt) are answered as plain signed objects, as Alipay does (its answer to content it
could not decrypt, captured in alipay-sdk-nodejs's tests, is a plain object); the official SDK
reads a plain answer when it finds no encrypted one. Once the content is open, every answer is
encrypted, a business refusal (40004) as well as a success.

Only `biz_content` is ever encrypted. A request that names `encrypt_type` but carries no
`biz_content` (the official SDK adds `encrypt_type` to every call once configured, for example
alipay.system.oauth.token) has nothing to open and is answered in plain.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Mapping
from typing import Final, Protocol

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from paybao.adapters.alipay.envelope import encode_response_object, response_key
from paybao.adapters.alipay.errors import WireError
from paybao.adapters.alipay.signing import PrivateKeyLike, SignType, sign_content

ENCRYPT_TYPE_AES: Final = "AES"
# AES-128 is what Alipay's console generates; 192 and 256 are what AES itself allows.
KEY_SIZES_BYTES: Final = frozenset({16, 24, 32})
KEY_BYTES_DEFAULT: Final = 16
_BLOCK_BYTES: Final = 16
_ZERO_IV: Final = bytes(_BLOCK_BYTES)
# sub_msg texts as in Alipay's public error table (开放平台 公共错误码).
_NOT_AES: Final = "解密出错，不支持的加密算法"
_NO_KEY: Final = "解密出错, 未配置加密密钥或加密密钥格式错误"
# Alipay's live answer to content it cannot decrypt is 40003 "解密出错, 未知错误" (captured in
# alipay-sdk-nodejs's tests), though its public table lists the sub_code under 40002: we answer
# what the live gateway answers.
_UNKNOWN: Final = "解密出错, 未知错误"
_UNKNOWN_GATEWAY_CODE: Final = "40003"


class ContentKeys(Protocol):
    def key_of(self, app_id: str) -> bytes | None:
        """The app's AES key, or None when it has none."""
        ...


class NoContentKeys:
    """No app has a key: every encrypted request is refused (the gateway's default)."""

    def key_of(self, app_id: str) -> bytes | None:
        return None


def new_key(size_bytes: int = KEY_BYTES_DEFAULT) -> bytes:
    assert size_bytes in KEY_SIZES_BYTES
    return secrets.token_bytes(size_bytes)


def key_to_text(key: bytes) -> str:
    """The key as Alipay's console shows it and the SDKs take it (`encrypt_key`): base64."""
    assert len(key) in KEY_SIZES_BYTES
    return base64.b64encode(key).decode("ascii")


def key_from_text(text: str) -> bytes:
    """A base64 AES key of 128, 192 or 256 bits, or ValueError."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("an AES key is base64") from None
    if len(key) not in KEY_SIZES_BYTES:
        raise ValueError("an AES key has 128, 192 or 256 bits")
    return key


def encrypt(plain: bytes, key: bytes) -> str:
    """AES-CBC, zero IV, PKCS#7; base64 text (what the SDK's aes_encrypt_content returns)."""
    padder = padding.PKCS7(_BLOCK_BYTES * 8).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(_ZERO_IV)).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def decrypt(text: str, key: bytes) -> bytes:
    """The inverse of `encrypt`; ValueError for anything that is not such a ciphertext."""
    # Line breaks are what an old Java codec put into long base64; nothing else is tolerated.
    cleaned = text.replace("\r", "").replace("\n", "")
    try:
        sealed = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("ciphertext is not base64") from None
    if not sealed or len(sealed) % _BLOCK_BYTES:
        raise ValueError("ciphertext is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(_ZERO_IV)).decryptor()
    padded = decryptor.update(sealed) + decryptor.finalize()
    unpadder = padding.PKCS7(_BLOCK_BYTES * 8).unpadder()
    return unpadder.update(padded) + unpadder.finalize()  # ValueError on bad padding


def request_key(params: Mapping[str, str], app_id: str, keys: ContentKeys) -> bytes | None:
    """The key that opens this request's biz_content; None for a request in plain. Call it
    after the signature check: the refusals name the app's configuration."""
    encrypt_type = params.get("encrypt_type", "")
    if encrypt_type == "" or not params.get("biz_content"):
        return None
    if encrypt_type != ENCRYPT_TYPE_AES:  # case-sensitive, as sign_type is
        raise WireError("isv.decryption-error-not-valid-encrypt-type", _NOT_AES)
    key = keys.key_of(app_id)
    if key is None:
        raise WireError("isv.decryption-error-not-valid-encrypt-key", _NO_KEY)
    return key


def content_key(encrypt_type: str, app_id: str, keys: ContentKeys) -> bytes:
    """The key that opens content sealed with `encrypt_type`, for a caller that has already
    found the content encrypted (v3 names the cipher in its `alipay-encrypt-type` header):
    the same refusals as `request_key`. Call it after the signature check."""
    if encrypt_type != ENCRYPT_TYPE_AES:  # case-sensitive, as on the gateway
        raise WireError("isv.decryption-error-not-valid-encrypt-type", _NOT_AES)
    key = keys.key_of(app_id)
    if key is None:
        raise WireError("isv.decryption-error-not-valid-encrypt-key", _NO_KEY)
    return key


def open_biz_content(text: str, key: bytes, charset: str) -> str:
    """The plain biz_content of an encrypted request, in the request's charset."""
    try:
        return decrypt(text, key).decode(charset)
    except ValueError:  # UnicodeDecodeError included: a wrong key yields garbage bytes
        raise WireError(
            "isv.decryption-error-unknown", _UNKNOWN, gateway_code=_UNKNOWN_GATEWAY_CODE
        ) from None


def build_encrypted_response(
    method: str,
    fields: Mapping[str, object],
    private_key: PrivateKeyLike,
    content_key: bytes,
    *,
    sign_type: SignType,
    charset: str,
) -> bytes:
    """The exact HTTP 200 body of an answer to an encrypted request (module docstring)."""
    plain = encode_response_object(fields, charset)
    value = b'"' + encrypt(plain, content_key).encode("ascii") + b'"'
    signature = sign_content(value, private_key, sign_type)
    key_bytes = json.dumps(response_key(method)).encode("ascii")
    return b"{" + key_bytes + b":" + value + b',"sign":"' + signature.encode("ascii") + b'"}'
