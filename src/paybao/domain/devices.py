"""Device confirmation: a phone's key stands in for the payment password ("fingerprint pay").

The user registers a device once, proving it with the payment password: the app creates an
Ed25519 key pair in the phone's secure storage (unlocked by the fingerprint or face) and sends
the public key. From then on a wallet operation may be confirmed by the device instead of the
password: the app signs a digest of the exact request (method, path, idempotency key, body)
with a timestamp, and the platform checks the signature against the registered key.

Why this is safe without a lockout: unlike a 6-digit password, an Ed25519 signature cannot be
guessed, so wrong signatures count for nothing. A signature cannot be moved to another request
(the digest covers the body and the idempotency key) and a replay of the same request is the
idempotent repeat of an operation that already ran. The timestamp bounds how long a captured
request stays usable. Above `DevicePolicy.amount_max_fen` the password is still required.

Not the payment-code devices of `domain/paycode.py`: those hold a seed the platform generates
and must keep (sealed) to recompute the codes; a confirming device leaves only its public key
here, nothing secret. One phone app typically registers both.

The same functions serve clients (the load generator, tests, an app) and the platform, so both
sides build the bytes the same way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from paybao.domain.errors import Forbidden, InvalidInput

PUBLIC_KEY_BYTES = 32  # raw Ed25519
SIGNATURE_BYTES = 64
SIGNED_PREFIX = b"paybao-device-confirm-v1"
DEVICE_NAME_CHARS_MAX = 64
HEADER_DEVICE_ID = "X-Paybao-Device-Id"
HEADER_TIMESTAMP = "X-Paybao-Device-Timestamp"
HEADER_SIGNATURE = "X-Paybao-Device-Signature"


@dataclass(frozen=True, slots=True)
class DevicePolicy:
    devices_per_user_max: int = 5
    clock_skew_s: int = 300  # a signature older or newer than this is refused
    amount_max_fen: int = 2_000_00  # per operation; above it the payment password is needed


@dataclass(frozen=True, slots=True)
class DeviceConfirmation:
    """What a request carries instead of the payment password."""

    device_id: str
    timestamp_s: int
    signature: bytes
    request_digest: str  # hex SHA-256 of the request, see `request_digest`


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    user_id: int
    name: str
    public_key: bytes
    status: str  # active | revoked
    created_at_us: int
    revoked_at_us: int | None = None


def request_digest(method: str, path: str, idempotency_key: str, body: bytes) -> str:
    head = f"{method.upper()}\n{path}\n{idempotency_key}\n".encode()
    return hashlib.sha256(head + body).hexdigest()


def signed_message(device_id: str, timestamp_s: int, digest: str) -> bytes:
    return b"\n".join(
        (SIGNED_PREFIX, device_id.encode(), str(timestamp_s).encode(), digest.encode())
    )


def decode_public_key(text: str) -> bytes:
    """A raw 32-byte Ed25519 public key, base64 (standard or URL-safe, padding optional)."""
    raw = _b64(text, "invalid_device_key")
    if len(raw) != PUBLIC_KEY_BYTES:
        raise InvalidInput(
            "a device key is 32 bytes (raw Ed25519), base64", code="invalid_device_key"
        )
    return raw


def decode_signature(text: str) -> bytes:
    """Malformed is a 400 (`invalid_device_signature`); well formed but not the device's
    signature is a 403 (`device_signature_wrong`, raised by the service)."""
    raw = _b64(text, "invalid_device_signature")
    if len(raw) != SIGNATURE_BYTES:
        raise InvalidInput(
            "a device signature is 64 bytes, base64", code="invalid_device_signature"
        )
    return raw


def encode_b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_timestamp_s(text: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise InvalidInput(
            "the device timestamp is whole Unix seconds", code="invalid_device_timestamp"
        )
    return int(text)


def check_fresh(timestamp_s: int, now_s: int, policy: DevicePolicy) -> None:
    if abs(now_s - timestamp_s) > policy.clock_skew_s:
        raise Forbidden(
            f"the device signature is older or newer than {policy.clock_skew_s} s",
            code="device_signature_expired",
        )


def check_amount(amount_fen: int, policy: DevicePolicy) -> None:
    if amount_fen > policy.amount_max_fen:
        raise Forbidden(
            "above this amount the payment password is required",
            code="device_amount_above_limit",
        )


def check_device_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > DEVICE_NAME_CHARS_MAX or not name.isprintable():
        raise InvalidInput(
            f"a device name is 1 to {DEVICE_NAME_CHARS_MAX} printable characters",
            code="invalid_device_name",
        )
    return name


def _b64(text: str, code: str) -> bytes:
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    if len(cleaned) > 200:
        raise InvalidInput("too long for a key or signature", code=code)
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidInput("not base64", code=code) from error
