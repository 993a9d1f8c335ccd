"""DeviceService on in-memory fakes: what a device confirmation checks, in which order, and that
it costs no password hash. Real Ed25519 keys; the store and the unit of work are fakes."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from tests.unit.test_wallet_service_users import (
    MID_YEAR_US,
    PIN,
    FakeUserDatabase,
    FakeUserStore,
    PlainHasher,
    add_user,
    code_of,
)

from paybao.adapters.device_signatures import verify_ed25519
from paybao.domain.devices import (
    Device,
    DeviceConfirmation,
    DevicePolicy,
    encode_b64,
    request_digest,
    signed_message,
)
from paybao.services.clock import US_PER_S, ManualClock
from paybao.services.devices import DeviceService
from paybao.services.users import UserService


class FakeDeviceStore:
    def _all(self, tx: Any) -> dict[str, Device]:
        devices: dict[str, Device] = tx.state.setdefault("devices", {})
        return devices

    def insert(self, tx: Any, device: Device) -> None:
        self._all(tx)[device.device_id] = device

    def get(self, tx: Any, device_id: str) -> Device | None:
        return self._all(tx).get(device_id)

    def find_key(self, tx: Any, user_id: int, public_key: bytes) -> Device | None:
        found = [
            d for d in self._all(tx).values() if (d.user_id, d.public_key) == (user_id, public_key)
        ]
        return found[0] if found else None

    def count_active(self, tx: Any, user_id: int) -> int:
        return len(self.active(tx, user_id, 1000))

    def active(self, tx: Any, user_id: int, limit: int) -> list[Device]:
        mine = [d for d in self._all(tx).values() if d.user_id == user_id and d.status == "active"]
        return mine[:limit]

    def revoke(self, tx: Any, user_id: int, device_id: str, now_us: int) -> bool:
        device = self._all(tx).get(device_id)
        if device is None or device.user_id != user_id or device.status != "active":
            return False
        self._all(tx)[device_id] = dataclasses.replace(
            device, status="revoked", revoked_at_us=now_us
        )
        return True


class CountingHasher(PlainHasher):
    def __init__(self) -> None:
        self.verifies = 0

    def verify(self, password_hash: str | None, password: str) -> bool:
        self.verifies += 1
        return super().verify(password_hash, password)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MID_YEAR_US)


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def devices(clock: ManualClock, hasher: CountingHasher) -> DeviceService:
    database = FakeUserDatabase()
    users = UserService(database, FakeUserStore(), clock, hasher)  # type: ignore[arg-type]
    return DeviceService(
        database,  # type: ignore[arg-type]
        FakeDeviceStore(),
        users,
        clock,
        verify_ed25519,
        DevicePolicy(devices_per_user_max=2, clock_skew_s=300, amount_max_fen=500_00),
    )


def public_b64(key: Ed25519PrivateKey) -> str:
    return encode_b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def confirmation(
    key: Ed25519PrivateKey,
    device_id: str,
    clock: ManualClock,
    *,
    body: bytes = b"{}",
    skew_s: int = 0,
) -> DeviceConfirmation:
    timestamp_s = clock.now_us() // US_PER_S + skew_s
    digest = request_digest("POST", "/api/v1/wallet/transfers", "k1", body)
    signature = key.sign(signed_message(device_id, timestamp_s, digest))
    return DeviceConfirmation(device_id, timestamp_s, signature, digest)


def test_a_good_signature_confirms_without_hashing_a_password(
    devices: DeviceService, clock: ManualClock, hasher: CountingHasher
) -> None:
    user_id = add_user(devices.users)
    key = Ed25519PrivateKey.generate()
    device = devices.register(user_id, "phone", public_b64(key), PIN)
    hashed_at_registration = hasher.verifies
    devices.confirm_payment(user_id, confirmation(key, device.device_id, clock), 100_00)
    assert hasher.verifies == hashed_at_registration  # no argon2 on the device path
    devices.confirm_payment(user_id, PIN, 100_00)  # the password path still works
    assert hasher.verifies == hashed_at_registration + 1


def test_each_refusal_has_its_code(devices: DeviceService, clock: ManualClock) -> None:
    user_id = add_user(devices.users)
    other_id = add_user(devices.users, "13800000002")
    key = Ed25519PrivateKey.generate()
    device_id = devices.register(user_id, "phone", public_b64(key), PIN).device_id
    good = confirmation(key, device_id, clock)
    assert code_of(lambda: devices.confirm(user_id, good, 500_01)) == "device_amount_above_limit"
    stale = confirmation(key, device_id, clock, skew_s=-301)
    assert code_of(lambda: devices.confirm(user_id, stale, 1)) == "device_signature_expired"
    early = confirmation(key, device_id, clock, skew_s=301)
    assert code_of(lambda: devices.confirm(user_id, early, 1)) == "device_signature_expired"
    assert code_of(lambda: devices.confirm(other_id, good, 1)) == "device_not_registered"
    forged = dataclasses.replace(good, request_digest=request_digest("POST", "/x", "k1", b"{}"))
    assert code_of(lambda: devices.confirm(user_id, forged, 1)) == "device_signature_wrong"
    impostor = confirmation(Ed25519PrivateKey.generate(), device_id, clock)
    assert code_of(lambda: devices.confirm(user_id, impostor, 1)) == "device_signature_wrong"
    devices.confirm(user_id, good, 500_00)  # at the limit: fine
    devices.revoke(user_id, device_id)
    assert code_of(lambda: devices.confirm(user_id, good, 1)) == "device_not_registered"


def test_wrong_signatures_do_not_count_toward_the_password_lockout(
    devices: DeviceService, clock: ManualClock
) -> None:
    user_id = add_user(devices.users)
    key = Ed25519PrivateKey.generate()
    device_id = devices.register(user_id, "phone", public_b64(key), PIN).device_id
    impostor = confirmation(Ed25519PrivateKey.generate(), device_id, clock)
    for _ in range(10):
        assert code_of(lambda: devices.confirm(user_id, impostor, 1)) == "device_signature_wrong"
    assert devices.users.record(user_id).pay_failures == 0
    devices.confirm(user_id, confirmation(key, device_id, clock), 1)


def test_registration_is_idempotent_per_key_and_bounded(devices: DeviceService) -> None:
    user_id = add_user(devices.users)
    key = Ed25519PrivateKey.generate()
    first = devices.register(user_id, "phone", public_b64(key), PIN)
    assert devices.register(user_id, "phone again", public_b64(key), PIN) == first
    devices.register(user_id, "tablet", public_b64(Ed25519PrivateKey.generate()), PIN)
    third = public_b64(Ed25519PrivateKey.generate())
    assert code_of(lambda: devices.register(user_id, "x", third, PIN)) == "device_limit_reached"
    devices.revoke(user_id, first.device_id)
    devices.register(user_id, "x", third, PIN)  # room again
    revoked_key = public_b64(key)
    assert code_of(lambda: devices.register(user_id, "p", revoked_key, PIN)) == "device_key_revoked"
    assert code_of(lambda: devices.register(user_id, "p", "AAAA", PIN)) == "invalid_device_key"
    assert code_of(lambda: devices.register(user_id, " ", third, PIN)) == "invalid_device_name"
    raw = base64.b64encode(b"\x00" * 32).decode()
    assert (
        code_of(lambda: devices.register(user_id, "p", raw, "000000")) == "payment_password_wrong"
    )
