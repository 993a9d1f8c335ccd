"""Devices that confirm wallet operations in place of the payment password.

- `register(user_id, name, public_key_b64, payment_password)`: proven once by the payment
  password (a wrong one counts toward its lockout). Registering the same key again returns the
  same device; at most `policy.devices_per_user_max` active devices per user
  (`device_limit_reached`); a revoked key cannot come back (`device_key_revoked`).
- `confirm(user_id, confirmation, amount_fen)`: what a wallet operation calls instead of
  `UserService.verify_payment_password`. Refusals: `device_amount_above_limit`,
  `device_signature_expired`, `device_not_registered` (unknown, another user's, or revoked),
  `payment_password_locked` (a lock after wrong passwords stops device confirmations too: it
  means someone is trying), `device_signature_wrong`.
  Nothing is written: a confirmation costs one read and one Ed25519 verification (~0.1 ms)
  where the password costs an argon2 hash (~20 ms of CPU). The wallet's own operations split
  it: `check_request` (amount, age) before their transaction, `confirm_in` first in it, where
  the user's row it reads is the one the operation reads anyway.
- `revoke(user_id, device_id)`: the device confirms nothing from then on.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from paybao.domain.devices import (
    Device,
    DeviceConfirmation,
    DevicePolicy,
    check_amount,
    check_device_name,
    check_fresh,
    decode_public_key,
    signed_message,
)
from paybao.domain.errors import Conflict, Forbidden, LimitExceeded, NotFound
from paybao.services.clock import US_PER_S
from paybao.services.ports import Clock, Database, Tx
from paybao.services.users import UserService

# A payment password (str) or a device's signature.
PaymentProof = str | DeviceConfirmation


class DeviceStore(Protocol):
    def insert(self, tx: Tx, device: Device) -> None: ...

    def get(self, tx: Tx, device_id: str) -> Device | None: ...

    def find_key(self, tx: Tx, user_id: int, public_key: bytes) -> Device | None: ...

    def count_active(self, tx: Tx, user_id: int) -> int: ...

    def active(self, tx: Tx, user_id: int, limit: int) -> list[Device]: ...

    def revoke(self, tx: Tx, user_id: int, device_id: str, now_us: int) -> bool: ...


@dataclass
class DeviceService:
    db: Database
    store: DeviceStore
    users: UserService
    clock: Clock
    # (public key, message, signature) -> valid; an adapter (Ed25519) in production.
    verify_signature: Callable[[bytes, bytes, bytes], bool]
    policy: DevicePolicy = field(default_factory=DevicePolicy)

    def register(
        self, user_id: int, name: str, public_key_b64: str, payment_password: str
    ) -> Device:
        name = check_device_name(name)
        public_key = decode_public_key(public_key_b64)
        self.users.verify_payment_password(user_id, payment_password)

        def work(tx: Tx) -> Device:
            # The user's row serializes registrations, so the count below holds.
            self.users.record_in(tx, user_id, for_update=True)
            known = self.store.find_key(tx, user_id, public_key)
            if known is not None and known.status == "active":
                return known
            if known is not None:
                raise Conflict("this key was revoked; create a new one", code="device_key_revoked")
            if self.store.count_active(tx, user_id) >= self.policy.devices_per_user_max:
                raise LimitExceeded(
                    f"at most {self.policy.devices_per_user_max} devices; revoke one first",
                    code="device_limit_reached",
                )
            device = Device(
                device_id="dev_" + secrets.token_hex(12),
                user_id=user_id,
                name=name,
                public_key=public_key,
                status="active",
                created_at_us=self.clock.now_us(),
            )
            self.store.insert(tx, device)
            return device

        return self.db.run(work)

    def devices(self, user_id: int) -> list[Device]:
        with self.db.read() as tx:
            return self.store.active(tx, user_id, self.policy.devices_per_user_max)

    def revoke(self, user_id: int, device_id: str) -> None:
        now_us = self.clock.now_us()
        if not self.db.run(lambda tx: self.store.revoke(tx, user_id, device_id, now_us)):
            raise NotFound("no such active device", code="device_not_found")

    def confirm(self, user_id: int, confirmation: DeviceConfirmation, amount_fen: int) -> None:
        self.check_request(confirmation, amount_fen)
        with self.db.read() as tx:
            self.confirm_in(tx, user_id, confirmation)

    def check_request(self, confirmation: DeviceConfirmation, amount_fen: int) -> None:
        """What `confirm` checks before reading anything: the amount and the signature's age."""
        check_amount(amount_fen, self.policy)
        check_fresh(confirmation.timestamp_s, self.clock.now_us() // US_PER_S, self.policy)

    def confirm_in(
        self,
        tx: Tx,
        user_id: int,
        confirmation: DeviceConfirmation,
        *,
        lock_user: bool = False,
    ) -> None:
        """The rest of `confirm` (after `check_request`), in a caller's transaction: a wallet
        operation's own, where the user's row read here is the one its checks read again,
        which the users store answers from memory (with `lock_user` read locked, for an
        operation that locks it next). Nothing is written: a refusal rolls back nothing."""
        device = self.store.get(tx, confirmation.device_id)
        if device is None or device.user_id != user_id or device.status != "active":
            raise Forbidden(
                "this device is not registered to confirm payments", code="device_not_registered"
            )
        self.users.check_payments_unlocked(self.users.record_in(tx, user_id, for_update=lock_user))
        message = signed_message(
            confirmation.device_id, confirmation.timestamp_s, confirmation.request_digest
        )
        if not self.verify_signature(device.public_key, message, confirmation.signature):
            raise Forbidden("the device signature does not match", code="device_signature_wrong")

    def confirm_payment(self, user_id: int, confirmation: PaymentProof, amount_fen: int) -> None:
        """The payment password or the device: the one check every wallet operation makes."""
        if isinstance(confirmation, DeviceConfirmation):
            self.confirm(user_id, confirmation, amount_fen)
        else:
            self.users.verify_payment_password(user_id, confirmation)
