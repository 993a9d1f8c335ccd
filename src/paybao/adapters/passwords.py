"""Argon2id password hashing behind the `PasswordHasher` port (services/users.py)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2Hasher:
    """argon2-cffi with explicit parameters (never the library's changing defaults)."""

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65_536) -> None:
        assert 1 <= time_cost <= 10
        assert 8 <= memory_kib <= 1_048_576
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1, hash_len=32, salt_len=16
        )
        # Verified against when no user exists, so a miss costs as much time as a hit.
        self._decoy = self._hasher.hash("decoy-password-0")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._decoy, password) and bool(
                password_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
