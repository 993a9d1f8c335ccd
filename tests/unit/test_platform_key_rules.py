"""domain/platform_keys.py and the key files' names (adapters/alipay/platform_key.py)."""

from __future__ import annotations

import pytest

from paybao.adapters.alipay.platform_key import (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    is_generation_file,
    key_file_names,
)
from paybao.domain.platform_keys import (
    GENERATION_MAX,
    KeyGeneration,
    KeyState,
    PlatformKeyGenerationsFull,
    PlatformKeyInUse,
    PlatformKeyNewest,
    PlatformKeyNotFound,
    PlatformKeyRetired,
    check_retire,
    check_sign_with,
    next_generation,
)

ACTIVE = KeyGeneration(2, KeyState.ACTIVE, 1)
RETIRED = KeyGeneration(2, KeyState.RETIRED, 1)


def test_next_generation_counts_up_to_the_limit() -> None:
    assert next_generation(1) == 2
    assert next_generation(GENERATION_MAX - 1) == GENERATION_MAX
    with pytest.raises(PlatformKeyGenerationsFull) as raised:
        next_generation(GENERATION_MAX)
    assert raised.value.code == "platform_key_generations_full"


def test_apps_move_only_to_an_existing_active_generation() -> None:
    assert check_sign_with(ACTIVE, 2) is ACTIVE
    with pytest.raises(PlatformKeyNotFound):
        check_sign_with(None, 7)
    with pytest.raises(PlatformKeyRetired) as raised:
        check_sign_with(RETIRED, 2)
    assert raised.value.code == "platform_key_retired"


def test_retiring_needs_an_unused_generation_that_is_not_the_newest() -> None:
    unused = KeyGeneration(2, KeyState.ACTIVE, 1, apps=0)
    assert check_retire(unused, 2, newest=3) is unused
    with pytest.raises(PlatformKeyInUse) as in_use:
        check_retire(KeyGeneration(2, KeyState.ACTIVE, 1, apps=4), 2, newest=3)
    assert in_use.value.code == "platform_key_in_use" and in_use.value.data == {"apps": 4}
    with pytest.raises(PlatformKeyNewest) as newest:
        check_retire(unused, 2, newest=2)
    assert newest.value.code == "platform_key_newest"
    with pytest.raises(PlatformKeyNotFound):
        check_retire(None, 5, newest=3)


def test_generation_one_keeps_its_file_names_and_later_ones_carry_their_number() -> None:
    assert key_file_names(1) == (PRIVATE_KEY_FILE, PUBLIC_KEY_FILE)
    assert key_file_names(2) == ("platform_rsa_private.2.pem", "platform_rsa_public.2.pem")
    assert is_generation_file("platform_rsa_private.2.pem")
    assert is_generation_file("platform_rsa_public.99.pem")
    for name in (
        PRIVATE_KEY_FILE,
        "platform_rsa_private.1.pem",  # generation 1 has the plain names only
        "platform_rsa_private.100.pem",
        "platform_rsa_private.02.pem",
        "platform_rsa_private.2.pem.bak",
        "../platform_rsa_private.2.pem",
    ):
        assert not is_generation_file(name), name
