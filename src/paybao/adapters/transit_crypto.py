"""ECDSA P-256 for transit ride codes, and the issuer keys sealed at rest.

Signatures are r||s (64 bytes, what WebCrypto produces), public keys compressed points (33
bytes). Issuer private keys live in the database sealed with AES-256-GCM under 32 random bytes
in `<data_dir>/transit.key` (made once, mode 0600), so a copy of the database alone signs no
certificate. The key id is bound as associated data: a sealed key moved to another id fails.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from paybao.adapters.key_files import load_or_create_secret

KEY_FILE_NAME = "transit.key"
_CURVE = ec.SECP256R1()
_HALF = 32
_NONCE_BYTES = 12


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(_CURVE)


def compressed(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )


def compress_raw(raw_point: bytes) -> bytes:
    """A WebCrypto 'raw' export (65-byte uncompressed point), or a compressed one, as a
    compressed point; ValueError if it is not on the curve."""
    return compressed(ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, raw_point))


def sign(private_key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    der = private_key.sign(message, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return r.to_bytes(_HALF, "big") + s.to_bytes(_HALF, "big")


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True only for a valid r||s signature by this compressed (or raw) public key."""
    if len(signature) != 2 * _HALF:
        return False
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, public_key)
        der = encode_dss_signature(
            int.from_bytes(signature[:_HALF], "big"), int.from_bytes(signature[_HALF:], "big")
        )
        key.verify(der, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


class IssuerVault:
    """Makes issuer key pairs and seals/opens their private halves."""

    def __init__(self, seal_key: bytes) -> None:
        assert len(seal_key) == 32
        self._aead = AESGCM(seal_key)
        self._cache: dict[int, ec.EllipticCurvePrivateKey] = {}

    @classmethod
    def in_dir(cls, data_dir: Path) -> IssuerVault:
        return cls(load_or_create_secret(data_dir / KEY_FILE_NAME, 32))

    def new_key(self, key_id: int) -> tuple[str, bytes]:
        """(sealed private key text, compressed public key)."""
        private_key = new_private_key()
        der = private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, der, _label(key_id))
        return base64.b64encode(sealed).decode("ascii"), compressed(private_key.public_key())

    def sign(self, key_id: int, sealed: str, message: bytes) -> bytes:
        private_key = self._cache.get(key_id)
        if private_key is None:
            private_key = self._open(key_id, sealed)
            self._cache[key_id] = private_key  # parsing keys costs; a day's key signs a lot
        return sign(private_key, message)

    def _open(self, key_id: int, sealed: str) -> ec.EllipticCurvePrivateKey:
        raw = base64.b64decode(sealed)
        try:
            der = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _label(key_id))
        except InvalidTag:
            raise AssertionError(f"issuer key {key_id} does not open with transit.key") from None
        key = serialization.load_der_private_key(der, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key


def _label(key_id: int) -> bytes:
    return f"paybao/transit/issuer/{key_id}".encode()


__all__ = ["IssuerVault", "compress_raw", "compressed", "new_private_key", "sign", "verify"]
