"""PaycodeService.spend_code on in-memory fakes: binding, single use, skew, wrong seed, unbound
devices, failure counting (password required, never a lock-out), random codes change nothing."""

from __future__ import annotations

import base64
import copy
import dataclasses
import random
from typing import Any

import pytest
from tests.support.fakes import FakeDatabase, FakeTx

from paybao.domain.paycode import encode_with_locator
from paybao.domain.trades import AuthCodeInvalid
from paybao.services.paycodes import Device, PaycodePolicy, PaycodeService

NOW_S = 1_800_000_000
KEY = b"k" * 32


class FixedClock:
    def __init__(self) -> None:
        self.now_s = NOW_S

    def now_us(self) -> int:
        return self.now_s * 1_000_000


class PlainVault:
    locator_key = KEY

    def seal(self, seed: bytes, user_id: int) -> str:
        return base64.b64encode(seed).decode()

    def open(self, sealed_text: str, user_id: int) -> bytes:
        return base64.b64decode(sealed_text)


class Users:
    def verify_payment_password(self, user_id: int, payment_password: str) -> None:
        assert payment_password == "135790"


class FakeStore:
    """The device half of PaycodeStore, over FakeDatabase's state."""

    def _devices(self, tx: FakeTx) -> dict[int, Device]:
        return tx.state.setdefault("devices", {})  # type: ignore[no-any-return]

    def insert_device(self, tx: FakeTx, user_id: int, name: str, sealed: str, now_us: int) -> int:
        device_id = len(self._devices(tx)) + 1
        self._devices(tx)[device_id] = Device(device_id, user_id, name, sealed, "active", 0, "", 0)
        return device_id

    def device(self, tx: FakeTx, device_id: int) -> Device | None:
        return self._devices(tx).get(device_id)

    def devices_of(self, tx: FakeTx, user_id: int) -> list[Device]:
        return [d for d in self._devices(tx).values() if d.user_id == user_id]

    def unbind(self, tx: FakeTx, device_id: int, user_id: int, now_us: int) -> bool:
        device = self._devices(tx)[device_id]
        self._devices(tx)[device_id] = dataclasses.replace(device, status="unbound")
        return True

    def set_failures(self, tx: FakeTx, device_id: int, day: str, failures: int) -> None:
        device = self._devices(tx)[device_id]
        self._devices(tx)[device_id] = Device(
            device.id,
            device.user_id,
            device.name,
            device.seed_sealed,
            device.status,
            failures,
            day,
            0,
        )

    def insert_use(self, tx: FakeTx, device_id: int, step: int, now_us: int) -> bool:
        uses: set[tuple[int, int]] = tx.state.setdefault("uses", set())
        if (device_id, step) in uses:
            return False
        uses.add((device_id, step))
        return True


@pytest.fixture
def service() -> Any:
    return PaycodeService(
        db=FakeDatabase(),
        store=FakeStore(),  # type: ignore[arg-type]
        vault=PlainVault(),
        clock=FixedClock(),
        users=Users(),  # type: ignore[arg-type]
        trades=None,  # type: ignore[arg-type]
        merchants=None,  # type: ignore[arg-type]
        policy=PaycodePolicy(failures_per_day_max=3),
    )


def code(bound: Any, at_s: int = NOW_S, seed: bytes | None = None) -> str:
    seed = seed or base64.b64decode(bound.seed_base64)
    return encode_with_locator(bound.locator_digits, seed, at_s)


def test_valid_code_is_spent_once(service: Any) -> None:
    bound = service.bind_device(7, "phone", "135790")

    use = service.spend_code(code(bound))

    assert (use.user_id, use.device_id, use.password_required) == (7, bound.device_id, False)
    with pytest.raises(AuthCodeInvalid):
        service.spend_code(code(bound))


@pytest.mark.parametrize(
    ("offset_s", "accepted"), [(-60, True), (60, True), (-120, False), (120, False)]
)
def test_skew_window(service: Any, offset_s: int, accepted: bool) -> None:
    bound = service.bind_device(7, "phone", "135790")
    if accepted:
        assert service.spend_code(code(bound, NOW_S + offset_s)) is not None
    else:
        with pytest.raises(AuthCodeInvalid):
            service.spend_code(code(bound, NOW_S + offset_s))


def test_wrong_seed_and_unbound_device(service: Any) -> None:
    bound = service.bind_device(7, "phone", "135790")
    with pytest.raises(AuthCodeInvalid):
        service.spend_code(code(bound, seed=b"\x00" * 32))

    service.unbind_device(7, bound.device_id)

    with pytest.raises(AuthCodeInvalid):
        service.spend_code(code(bound))


def test_failures_require_password_but_never_lock(service: Any) -> None:
    bound = service.bind_device(7, "phone", "135790")
    for attempt in range(5):
        with pytest.raises(AuthCodeInvalid):
            service.spend_code(code(bound, seed=bytes([attempt + 1]) * 32))

    use = service.spend_code(code(bound))

    assert use is not None and use.password_required


def test_random_codes_change_nothing(service: Any) -> None:
    service.bind_device(7, "phone", "135790")
    before = copy.deepcopy(service.db.state)
    rng = random.Random(5)

    for _ in range(500):
        text = str(rng.randint(25, 30)) + f"{rng.randrange(10**16):016d}"
        assert service.spend_code(text) is None  # names no bound device

    assert service.db.state == before


def test_not_a_code(service: Any) -> None:
    assert service.spend_code("hello") is None
    assert service.spend_code("123456789012345678") is None
