"""Argon2id password hashing behind the `PasswordHasher` port (services/users.py), peppered.

A payment password has six digits: a million candidates. With the hashes alone (a stolen
backup, a replica, a dump), argon2 at any cost a server can afford per sign-in falls to a
brute force in hours per user. So the password is first keyed with HMAC-SHA256 under a
pepper, 32 random bytes in `<data_dir>/password-pepper.key` (mode 0600) that live beside the
platform's other keys and never in the database; the argon2 hash is taken of that. Without the
file, the stored hashes are worth nothing to an attacker.

Stored form: `$paybao-pepper-v1$<fingerprint>$<argon2id encoded hash>`. The fingerprint
(8 hex digits of a labelled SHA-256 of the pepper, which reveals nothing of it) says which
pepper made the hash: a server started with another pepper file (a lost or mixed-up data folder)
raises `PepperMismatch` instead of counting every user's right password as wrong and locking
them all out. Hashes from before the pepper (a plain `$argon2id$...`) still verify;
`needs_rehash` tells the services to store a peppered one at the next right password.

Hashes run on a small pool of their own (`threads_max`, default 2), never on the caller's
thread. Each argon2 call takes `memory_kib` (19 MiB) from malloc, and glibc keeps such a block in
the arena of the thread that freed it: run on the 40 threads of the web server's pool, a burst of
password checks grew one server process to ~900 MiB and it never came back down (the sustained-
load benchmark saw it as RSS rising in steps). On two threads of its own the memory is bounded by
`threads_max x memory_kib`, a flood of wrong passwords cannot exhaust the machine, and on a
machine with as many cores nothing is slower: more hashes at once would only share the same cores.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from paybao.adapters.key_files import load_or_create_secret

PEPPER_FILE_NAME: Final = "password-pepper.key"
PEPPER_BYTES: Final = 32
PEPPERED_PREFIX: Final = "$paybao-pepper-v1$"
FINGERPRINT_CHARS: Final = 8
_FINGERPRINT_LABEL: Final = b"paybao/password-pepper/fingerprint/v1"
HASH_THREADS_MAX: Final = 64

T = TypeVar("T")


class PepperMismatch(RuntimeError):
    """A stored hash was made under another pepper than the one this server loaded."""


def load_or_create_pepper(data_dir: Path) -> bytes:
    return load_or_create_secret(data_dir / PEPPER_FILE_NAME, PEPPER_BYTES)


def pepper_fingerprint(pepper: bytes) -> str:
    return hashlib.sha256(_FINGERPRINT_LABEL + pepper).hexdigest()[:FINGERPRINT_CHARS]


def fingerprint_of(password_hash: str) -> str | None:
    """The pepper fingerprint a stored hash names; None for a hash made without a pepper."""
    if not password_hash.startswith(PEPPERED_PREFIX):
        return None
    return password_hash[len(PEPPERED_PREFIX) :].split("$", 1)[0]


class Argon2Hasher:
    """argon2-cffi with explicit parameters (never the library's changing defaults)."""

    def __init__(
        self,
        *,
        pepper: bytes | None,
        time_cost: int = 3,
        memory_kib: int = 65_536,
        threads_max: int = 2,
    ) -> None:
        assert 1 <= time_cost <= 10
        assert 8 <= memory_kib <= 1_048_576
        assert 1 <= threads_max <= HASH_THREADS_MAX
        assert pepper is None or len(pepper) == PEPPER_BYTES
        self.threads_max = threads_max
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1, hash_len=32, salt_len=16
        )
        self._pepper = pepper
        self.fingerprint = pepper_fingerprint(pepper) if pepper else None
        # Verified against when no user exists, so a miss costs as much time as a hit.
        self._decoy = self.hash("decoy-password-0")

    def hash(self, password: str) -> str:
        if self._pepper is None:
            return self._on_pool(self._hasher.hash, password)
        encoded = self._on_pool(self._hasher.hash, self._keyed(password))
        return f"{PEPPERED_PREFIX}{self.fingerprint}${encoded}"

    def verify(self, password_hash: str | None, password: str) -> bool:
        stored = password_hash or self._decoy
        made_by = fingerprint_of(stored)
        if made_by is None:
            secret: str | bytes = password
            encoded = stored
        else:
            if made_by != self.fingerprint:
                raise PepperMismatch(
                    f"a password hash was made under pepper {made_by}, this server has "
                    f"{self.fingerprint or 'none'}: check {PEPPER_FILE_NAME} in the data folder"
                )
            secret = self._keyed(password)
            encoded = stored[len(PEPPERED_PREFIX) + FINGERPRINT_CHARS + 1 :]
        try:
            return self._on_pool(self._hasher.verify, encoded, secret) and bool(password_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _on_pool(self, work: Callable[..., T], *args: str | bytes) -> T:
        """Runs `work` on the hashing threads and waits for it (see the module docstring)."""
        return self._executor().submit(work, *args).result()

    def _executor(self) -> ThreadPoolExecutor:
        # A pool is per process: a forked child inherits the object but not its threads.
        pid = os.getpid()
        if self._pool is None or self._pool_pid != pid:
            with self._pool_lock:
                if self._pool is None or self._pool_pid != pid:
                    self._pool = ThreadPoolExecutor(self.threads_max, "argon2")
                    self._pool_pid = pid
        return self._pool

    def needs_rehash(self, password_hash: str) -> bool:
        """True when a right password's hash should be stored again: made before the pepper,
        or with other argon2 parameters than the configured ones."""
        made_by = fingerprint_of(password_hash)
        if made_by != self.fingerprint:
            return True
        encoded = password_hash
        if made_by is not None:
            encoded = password_hash[len(PEPPERED_PREFIX) + FINGERPRINT_CHARS + 1 :]
        try:
            return self._hasher.check_needs_rehash(encoded)
        except InvalidHashError:
            return True

    def _keyed(self, password: str) -> bytes:
        assert self._pepper is not None
        return hmac.new(self._pepper, password.encode("utf-8"), hashlib.sha256).digest()
