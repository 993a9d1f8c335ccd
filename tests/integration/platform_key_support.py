"""Helpers for the platform key rotation tests: later generations without the wait.

Generating an RSA-2048 pair costs 50-500 ms; as conftest does for generation 1, the files of
generations 2 and 3 are written into the test's data folder from pairs made once per session,
and `create` then adopts them (it makes a generation's files only when they are missing).
"""

from __future__ import annotations

import functools
from pathlib import Path

from paybao.adapters.alipay.keys import KeyPair, generate_key_pair
from paybao.adapters.alipay.platform_key import key_file_names
from paybao.bootstrap import Platform
from paybao.domain.platform_keys import KeyGeneration


@functools.cache
def generation_pair(generation: int) -> KeyPair:
    return generate_key_pair()


def place_generation(data_dir: Path, generation: int) -> KeyPair:
    pair = generation_pair(generation)
    private_name, _public_name = key_file_names(generation)
    path = data_dir / private_name
    if not path.exists():
        path.write_text(pair.private_pem_pkcs1)
        path.chmod(0o600)
    return pair


def new_generation(platform: Platform) -> KeyGeneration:
    """`paybao keys new`, with the next generation's pair placed first."""
    keys = platform.services["platform_keys"]
    place_generation(platform.settings.data_dir, keys.generations()[-1].generation + 1)
    created: KeyGeneration = keys.create(actor="cli")
    return created
