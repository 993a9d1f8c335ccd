"""Alipay string-to-sign rules and RSA/RSA2 signatures (alipay-protocol.md §1.2, §3).

Two string-to-sign rules exist and they differ on purpose:
* request (merchant -> gateway): drop `sign` only, keep `sign_type`; Alipay skips empty values
  but the Python SDKs would sign `k=` for any key they send, so we try both.
* notification / return_url (platform -> merchant): drop `sign` AND `sign_type`; verifiers
  include empties as `k=`, so the sender must never send empty fields.
Values are joined raw (decoded, no URL encoding, no trimming, no JSON re-serialising).

Verification never raises on garbage from the wire: bad base64, wrong length, unknown
sign_type and undecodable text all make it return False.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from paybao.adapters.alipay.keys import load_private_key, load_public_key

SignType = Literal["RSA2", "RSA"]
SIGN_TYPES: Final[tuple[SignType, ...]] = ("RSA2", "RSA")
SIGN_TYPE_DEFAULT: Final[SignType] = "RSA2"

REQUEST_EXCLUDED_KEYS: Final = frozenset({"sign"})
NOTIFICATION_EXCLUDED_KEYS: Final = frozenset({"sign", "sign_type"})
# A base64 signature for an 8192-bit key is 1,368 characters; anything longer is garbage.
SIGNATURE_TEXT_LENGTH_MAX: Final = 1368

PrivateKeyLike = rsa.RSAPrivateKey | str
PublicKeyLike = rsa.RSAPublicKey | str


def parse_sign_type(value: str | None) -> SignType | None:
    """The sign_type as sent (case-sensitive, as Alipay is), or None if unsupported."""
    if value == "RSA2":
        return "RSA2"
    if value == "RSA":
        return "RSA"
    return None


def request_sign_content(params: Mapping[str, str], *, include_empty: bool = False) -> str:
    """`k=v&...` over sorted keys minus `sign`; empty values skipped unless `include_empty`."""
    return _join_sorted(params, REQUEST_EXCLUDED_KEYS, include_empty=include_empty)


def notification_sign_content(params: Mapping[str, str]) -> str:
    """`k=v&...` over sorted keys minus `sign` and `sign_type`; empties kept, as verifiers do."""
    return _join_sorted(params, NOTIFICATION_EXCLUDED_KEYS, include_empty=True)


def sign_content(
    content: bytes, private_key: PrivateKeyLike, sign_type: SignType = SIGN_TYPE_DEFAULT
) -> str:
    """PKCS#1 v1.5 signature, base64 on one line (344 characters for a 2048-bit key)."""
    key = load_private_key(private_key) if isinstance(private_key, str) else private_key
    signature = key.sign(content, padding.PKCS1v15(), _hash_for(sign_type))
    return base64.b64encode(signature).decode("ascii")


def verify_content(
    content: bytes, signature_text: str, public_key: PublicKeyLike, sign_type: str
) -> bool:
    """True only for a valid signature; False for anything else, never an exception."""
    parsed_sign_type = parse_sign_type(sign_type)
    if parsed_sign_type is None:
        return False
    key = load_public_key(public_key) if isinstance(public_key, str) else public_key
    signature = decode_signature(signature_text, key.key_size)
    if signature is None:
        return False
    try:
        key.verify(signature, content, padding.PKCS1v15(), _hash_for(parsed_sign_type))
    except InvalidSignature:
        return False
    return True


def decode_signature(signature_text: str, key_size_bits: int) -> bytes | None:
    """Strict base64 of exactly the key's length, or None."""
    if not isinstance(signature_text, str) or len(signature_text) > SIGNATURE_TEXT_LENGTH_MAX:
        return None
    # A `+` sent unencoded in a query string arrives as a space; a signature never holds one,
    # so putting the `+` back is safe and spares merchants who build URLs by hand.
    cleaned = signature_text.replace(" ", "+")
    try:
        signature = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(signature) != (key_size_bits + 7) // 8:
        return None
    return signature


def sign_request_params(
    params: Mapping[str, str],
    private_key: PrivateKeyLike,
    sign_type: SignType = SIGN_TYPE_DEFAULT,
    charset: str = "utf-8",
) -> str:
    """What a merchant SDK does: sign the request string-to-sign (for tests and tools)."""
    content = request_sign_content(params, include_empty=True).encode(charset)
    return sign_content(content, private_key, sign_type)


def verify_request_params(
    params: Mapping[str, str], public_key: PublicKeyLike, charset: str = "utf-8"
) -> bool:
    """Verify a decoded gateway request: `sign` and `sign_type` are taken from `params`."""
    signature_text = params.get("sign", "")
    sign_type = params.get("sign_type", "")
    for include_empty in _empty_value_rules(params):
        text = request_sign_content(params, include_empty=include_empty)
        content = _encode_or_none(text, charset)
        if content is not None and verify_content(content, signature_text, public_key, sign_type):
            return True
    return False


def sign_notification_params(
    params: Mapping[str, str],
    private_key: PrivateKeyLike,
    sign_type: SignType = SIGN_TYPE_DEFAULT,
    charset: str = "utf-8",
) -> str:
    """Sign notification / return_url fields (`sign` and `sign_type` are not signed)."""
    assert all(value != "" for value in params.values()), "never send empty notify fields"
    return sign_content(notification_sign_content(params).encode(charset), private_key, sign_type)


def verify_notification_params(
    params: Mapping[str, str], public_key: PublicKeyLike, charset: str = "utf-8"
) -> bool:
    """What a merchant does on notify_url: check `sign` with the platform public key."""
    content = _encode_or_none(notification_sign_content(params), charset)
    if content is None:
        return False
    sign_type = params.get("sign_type", SIGN_TYPE_DEFAULT)
    return verify_content(content, params.get("sign", ""), public_key, sign_type)


def _join_sorted(
    params: Mapping[str, str], excluded_keys: frozenset[str], *, include_empty: bool
) -> str:
    items = sorted(
        (key, value)
        for key, value in params.items()
        if key not in excluded_keys and (include_empty or value != "")
    )
    return "&".join(f"{key}={value}" for key, value in items)


def _empty_value_rules(params: Mapping[str, str]) -> tuple[bool, ...]:
    """Alipay's rule (skip empties) first; retry with `k=` only if an empty value exists."""
    has_empty = any(value == "" for key, value in params.items() if key != "sign")
    return (False, True) if has_empty else (False,)


def _encode_or_none(text: str, charset: str) -> bytes | None:
    try:
        return text.encode(charset)
    except (UnicodeEncodeError, LookupError):
        return None


def _hash_for(sign_type: SignType) -> hashes.HashAlgorithm:
    # RSA (SHA1withRSA) exists only because old merchant apps still use it.
    return hashes.SHA256() if sign_type == "RSA2" else hashes.SHA1()  # noqa: S303
