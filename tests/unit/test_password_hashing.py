"""Password hashes are argon2id at the parameters an operator configures, over the password
keyed with the data folder's pepper; the production defaults stay at OWASP's minimum for
argon2id (19 MiB, 2 passes, 1 lane). The test suite runs cheaper parameters (tests/conftest.py);
this file is what keeps production's honest."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import VerifyMismatchError

from paybao.adapters.passwords import (
    PEPPER_BYTES,
    PEPPER_FILE_NAME,
    PEPPERED_PREFIX,
    Argon2Hasher,
    PepperMismatch,
    fingerprint_of,
    load_or_create_pepper,
    pepper_fingerprint,
)
from paybao.settings import Settings

PEPPER = bytes(range(32))
OTHER_PEPPER = bytes(range(1, 33))
CHEAP = {"time_cost": 1, "memory_kib": 1024}


def test_production_defaults_are_owasp_minimum() -> None:
    settings = Settings()
    assert settings.password_hash_time_cost >= 2
    assert settings.password_hash_memory_kib >= 19_456


def test_hash_carries_the_configured_parameters_and_verifies() -> None:
    hasher = Argon2Hasher(pepper=PEPPER, time_cost=2, memory_kib=19_456)
    stored = hasher.hash("246810")
    assert stored.startswith(f"{PEPPERED_PREFIX}{pepper_fingerprint(PEPPER)}$$argon2id$")
    parameters = extract_parameters(stored.split("$", 3)[3])
    assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (2, 19_456, 1)
    assert hasher.verify(stored, "246810")
    assert not hasher.verify(stored, "246811")
    assert not hasher.verify(None, "246810")  # no user: the decoy is checked, and never passes
    assert not hasher.needs_rehash(stored)


def test_a_stolen_hash_alone_does_not_verify_the_password() -> None:
    """The point of the pepper: argon2 over the six digits would fall to a million guesses;
    what is stored is argon2 over HMAC(pepper, digits), useless without the key file."""
    stored = Argon2Hasher(pepper=PEPPER, **CHEAP).hash("246810")
    encoded = stored.split("$", 3)[3]
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(encoded, "246810")
    keyed = hmac.new(PEPPER, b"246810", hashlib.sha256).digest()
    assert PasswordHasher().verify(encoded, keyed)  # with the key file, and only then


def test_the_same_password_hashes_differently_each_time() -> None:
    hasher = Argon2Hasher(pepper=PEPPER, **CHEAP)
    assert hasher.hash("246810") != hasher.hash("246810")  # a fresh salt every time


def test_another_pepper_is_an_error_not_a_wrong_password() -> None:
    """A server started with the wrong key file must not count every right password as wrong
    (five of those lock a user out): it refuses, naming both fingerprints."""
    stored = Argon2Hasher(pepper=PEPPER, **CHEAP).hash("246810")
    other = Argon2Hasher(pepper=OTHER_PEPPER, **CHEAP)
    with pytest.raises(PepperMismatch, match=pepper_fingerprint(PEPPER)):
        other.verify(stored, "246810")
    with pytest.raises(PepperMismatch):
        Argon2Hasher(pepper=None, **CHEAP).verify(stored, "246810")


def test_hashes_from_before_the_pepper_verify_and_ask_to_be_rehashed() -> None:
    legacy = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("246810")
    hasher = Argon2Hasher(pepper=PEPPER, **CHEAP)
    assert fingerprint_of(legacy) is None
    assert hasher.verify(legacy, "246810")
    assert not hasher.verify(legacy, "246811")
    assert hasher.needs_rehash(legacy)
    assert not hasher.needs_rehash(hasher.hash("246810"))


def test_other_parameters_ask_to_be_rehashed() -> None:
    weaker = Argon2Hasher(pepper=PEPPER, **CHEAP).hash("246810")
    stronger = Argon2Hasher(pepper=PEPPER, time_cost=2, memory_kib=2048)
    assert stronger.verify(weaker, "246810")  # stored hashes carry their own parameters
    assert stronger.needs_rehash(weaker)


def test_a_damaged_hash_is_a_wrong_password() -> None:
    hasher = Argon2Hasher(pepper=PEPPER, **CHEAP)
    stored = hasher.hash("246810")
    assert not hasher.verify(stored[:-4], "246810")
    assert not hasher.verify("not a hash", "246810")
    assert hasher.needs_rehash("not a hash")


def test_the_pepper_file_is_made_once_private_and_kept(tmp_path: Path) -> None:
    pepper = load_or_create_pepper(tmp_path)
    path = tmp_path / PEPPER_FILE_NAME
    assert len(pepper) == PEPPER_BYTES
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_pepper(tmp_path) == pepper
    assert [p.name for p in tmp_path.iterdir()] == [PEPPER_FILE_NAME]  # no candidate left


def test_processes_starting_together_agree_on_one_pepper(tmp_path: Path) -> None:
    found: list[bytes] = []
    start = threading.Barrier(8)

    def load() -> None:
        start.wait()
        found.append(load_or_create_pepper(tmp_path))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8
    assert len(set(found)) == 1


def test_a_truncated_pepper_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / PEPPER_FILE_NAME
    path.write_bytes(os.urandom(16))
    with pytest.raises(RuntimeError, match="32 bytes"):
        load_or_create_pepper(tmp_path)


class _Spy:
    """Wraps argon2's hasher: which threads ran it, and how many at once."""

    def __init__(self, inner: PasswordHasher) -> None:
        self.inner = inner
        self.threads: set[str] = set()
        self.running = 0
        self.running_max = 0
        self.lock = threading.Lock()

    def verify(self, encoded: str, secret: str | bytes) -> bool:
        with self.lock:
            self.threads.add(threading.current_thread().name)
            self.running += 1
            self.running_max = max(self.running_max, self.running)
        try:
            time.sleep(0.01)  # long enough for callers to pile up
            return self.inner.verify(encoded, secret)
        finally:
            with self.lock:
                self.running -= 1


def test_hashes_run_on_the_hashers_own_threads_never_more_at_once() -> None:
    """Forty callers (a web server's thread pool) checking at once: argon2 runs on two
    threads of the hasher's own, so its memory is bounded by 2 x memory_kib."""
    hasher = Argon2Hasher(pepper=PEPPER, threads_max=2, **CHEAP)
    stored = hasher.hash("246810")
    spy = _Spy(hasher._hasher)
    hasher._hasher = spy  # type: ignore[assignment]
    with ThreadPoolExecutor(40) as callers:
        results = list(callers.map(lambda n: hasher.verify(stored, f"24681{n % 2}"), range(80)))
    assert results == [n % 2 == 0 for n in range(80)]
    assert spy.running_max == 2
    assert len(spy.threads) == 2
    assert all(name.startswith("argon2") for name in spy.threads)


_RSS_PROBE = """
import sys
from concurrent.futures import ThreadPoolExecutor
from paybao.adapters.passwords import Argon2Hasher
hasher = Argon2Hasher(pepper=bytes(32), time_cost=1, memory_kib=19_456, threads_max=2)
stored = hasher.hash("246810")
with ThreadPoolExecutor(40) as callers:
    assert all(callers.map(lambda _: hasher.verify(stored, "246810"), range(120)))
rss_kib = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS"))
print(rss_kib // 1024)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_burst_of_checks_leaves_the_process_small() -> None:
    """Run on forty threads each, 120 checks of 19 MiB left a process at ~900 MiB (glibc keeps
    a freed block in the arena of the thread that freed it); on the hasher's two threads the
    process stays near its start-up size."""
    done = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    assert int(done.stdout.strip()) < 250
