"""Password hashes are argon2id at the parameters an operator configures, and the production
defaults stay at OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane). The test suite runs
cheaper parameters (tests/conftest.py); this file is what keeps production's honest."""

from __future__ import annotations

from argon2 import extract_parameters

from paybao.adapters.passwords import Argon2Hasher
from paybao.settings import Settings


def test_production_defaults_are_owasp_minimum() -> None:
    settings = Settings()
    assert settings.password_hash_time_cost >= 2
    assert settings.password_hash_memory_kib >= 19_456


def test_hash_carries_the_configured_parameters_and_verifies() -> None:
    hasher = Argon2Hasher(time_cost=2, memory_kib=19_456)
    encoded = hasher.hash("246810")
    parameters = extract_parameters(encoded)
    assert encoded.startswith("$argon2id$")
    assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (2, 19_456, 1)
    assert hasher.verify(encoded, "246810")
    assert not hasher.verify(encoded, "246811")
    assert not hasher.verify(None, "246810")  # no user: the decoy is checked, and never passes
