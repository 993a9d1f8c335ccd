"""RSA keys as Alipay consoles and SDKs hand them around: PEM or bare base64 DER.

Accepted private keys: PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`), as
PEM or as the bare base64 body. Accepted public keys: SubjectPublicKeyInfo (`BEGIN PUBLIC
KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`), PEM or bare. Everything goes through DER so that
one-line bodies, CRLF and stray indentation (common after copy-paste) all load.

Parsing a private key with validation costs ~46 ms, so parsed keys are cached by their text.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from paybao.adapters.alipay.errors import KeyFormatError

RSA_KEY_SIZE_BITS_DEFAULT: Final = 2048
RSA_PUBLIC_EXPONENT: Final = 65537
# Bounds on what we accept: below 1024 bits is breakable, above 8192 is a CPU-exhaustion vector.
RSA_KEY_SIZE_BITS_MIN: Final = 1024
RSA_KEY_SIZE_BITS_MAX: Final = 8192
KEY_TEXT_LENGTH_MAX: Final = 16_384
# Distinct keys kept parsed: one platform key plus one public key per merchant app in use.
KEY_CACHE_SIZE_MAX: Final = 4096

_PEM_BLOCK: Final = re.compile(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.DOTALL)
_WHITESPACE: Final = re.compile(r"\s+")


@dataclass(frozen=True)
class KeyPair:
    """A freshly generated key pair in the formats the SDKs want."""

    private_pem_pkcs1: str
    public_pem_spki: str

    @property
    def private_base64(self) -> str:
        """Bare PKCS#1 body: what the official SDK's `app_private_key` expects."""
        return pem_to_base64(self.private_pem_pkcs1)

    @property
    def public_base64(self) -> str:
        """Bare SPKI body: what Alipay consoles show as the 'public key'."""
        return pem_to_base64(self.public_pem_spki)


def generate_key_pair(key_size_bits: int = RSA_KEY_SIZE_BITS_DEFAULT) -> KeyPair:
    assert RSA_KEY_SIZE_BITS_MIN <= key_size_bits <= RSA_KEY_SIZE_BITS_MAX
    private_key = rsa.generate_private_key(
        public_exponent=RSA_PUBLIC_EXPONENT, key_size=key_size_bits
    )
    return KeyPair(
        private_pem_pkcs1=private_key_to_pem(private_key),
        public_pem_spki=public_key_to_pem(private_key.public_key()),
    )


def private_key_to_pem(private_key: rsa.RSAPrivateKey) -> str:
    """PKCS#1 PEM: the one format both SDKs accept for the app private key."""
    return private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.TraditionalOpenSSL,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")


def public_key_to_pem(public_key: rsa.RSAPublicKey) -> str:
    """SubjectPublicKeyInfo PEM: the one format both SDKs accept for public keys."""
    return public_key.public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    ).decode("ascii")


def pem_to_base64(pem_text: str) -> str:
    """The body of a PEM block on one line, as Alipay consoles display keys."""
    _label, der = _decode_key_text(pem_text)
    return base64.b64encode(der).decode("ascii")


@functools.lru_cache(maxsize=KEY_CACHE_SIZE_MAX)
def load_private_key(key_text: str) -> rsa.RSAPrivateKey:
    """Parse (once; cached) an RSA private key from PEM or bare base64, PKCS#1 or PKCS#8."""
    label, der = _decode_key_text(key_text)
    if label not in (None, "RSA PRIVATE KEY", "PRIVATE KEY"):
        raise KeyFormatError(f"expected an RSA private key, got a PEM block {label!r}")
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError) as error:
        raise KeyFormatError(f"not an RSA private key: {error}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFormatError(f"expected an RSA private key, got {type(key).__name__}")
    _check_key_size(key.key_size)
    return key


@functools.lru_cache(maxsize=KEY_CACHE_SIZE_MAX)
def load_public_key(key_text: str) -> rsa.RSAPublicKey:
    """Parse (once; cached) an RSA public key from PEM or bare base64, SPKI or PKCS#1."""
    label, der = _decode_key_text(key_text)
    if label not in (None, "PUBLIC KEY", "RSA PUBLIC KEY"):
        raise KeyFormatError(f"expected an RSA public key, got a PEM block {label!r}")
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError) as error:
        raise KeyFormatError(f"not an RSA public key: {error}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyFormatError(f"expected an RSA public key, got {type(key).__name__}")
    _check_key_size(key.key_size)
    return key


def _decode_key_text(key_text: str) -> tuple[str | None, bytes]:
    """Split key text into (PEM label or None for bare base64, DER bytes)."""
    if not isinstance(key_text, str) or len(key_text) > KEY_TEXT_LENGTH_MAX:
        raise KeyFormatError("key text must be a string of at most 16 KiB")
    match = _PEM_BLOCK.search(key_text)
    label = match.group(1) if match else None
    body = match.group(2) if match else key_text
    if label is None and "-----" in key_text:
        raise KeyFormatError("malformed PEM: BEGIN and END lines do not match")
    if "ENCRYPTED" in (label or "") or "Proc-Type:" in body:
        raise KeyFormatError("encrypted keys are not supported; export the key unencrypted")
    try:
        der = base64.b64decode(_WHITESPACE.sub("", body), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError("key body is not valid base64") from None
    if not der:
        raise KeyFormatError("key text is empty")
    return label, der


def _check_key_size(key_size_bits: int) -> None:
    if not RSA_KEY_SIZE_BITS_MIN <= key_size_bits <= RSA_KEY_SIZE_BITS_MAX:
        raise KeyFormatError(
            f"RSA key of {key_size_bits} bits; expected {RSA_KEY_SIZE_BITS_MIN}.."
            f"{RSA_KEY_SIZE_BITS_MAX}"
        )
