"""Platform key generations: the rules of rotating the platform's RSA key with an overlap.

Each merchant app is signed with one generation of the platform key; a new generation is
added beside the others, apps move to it one by one (the merchant when its code is ready, or
an operator), and a generation no app uses any more may be retired: it never signs again. The
newest generation is what new apps get, so it stays active. Generation 1 is the key every
installation started with.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from paybao.domain.errors import InvalidState, LimitExceeded, NotFound

FIRST_GENERATION: Final = 1
# Generations an installation may have: a rotation a month for eight years.
GENERATION_MAX: Final = 99


class KeyState(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class KeyGeneration:
    generation: int
    state: KeyState
    created_at_us: int
    apps: int = 0  # apps whose answers it signs

    def to_json(self) -> dict[str, object]:
        return {
            "generation": self.generation,
            "state": str(self.state),
            "created_at_us": self.created_at_us,
            "apps": self.apps,
        }


class PlatformKeyNotFound(NotFound):
    code = "platform_key_not_found"


class PlatformKeyRetired(InvalidState):
    code = "platform_key_retired"


class PlatformKeyInUse(InvalidState):
    code = "platform_key_in_use"


class PlatformKeyNewest(InvalidState):
    code = "platform_key_newest"


class PlatformKeyGenerationsFull(LimitExceeded):
    code = "platform_key_generations_full"


def next_generation(newest: int) -> int:
    if newest >= GENERATION_MAX:
        raise PlatformKeyGenerationsFull(
            f"an installation has at most {GENERATION_MAX} platform key generations"
        )
    return newest + 1


def check_sign_with(key: KeyGeneration | None, generation: int) -> KeyGeneration:
    """An app may be moved to an existing, active generation only."""
    if key is None:
        raise PlatformKeyNotFound(f"platform key generation {generation} does not exist")
    if key.state is not KeyState.ACTIVE:
        raise PlatformKeyRetired(f"platform key generation {generation} is retired")
    return key


def check_retire(key: KeyGeneration | None, generation: int, newest: int) -> KeyGeneration:
    """A generation may be retired once no app uses it, unless it is the newest one."""
    if key is None:
        raise PlatformKeyNotFound(f"platform key generation {generation} does not exist")
    if generation == newest:
        raise PlatformKeyNewest(
            f"generation {generation} is the newest (new apps get it): create a newer one first"
        )
    if key.apps:
        raise PlatformKeyInUse(
            f"{key.apps} app(s) still use platform key generation {generation}: switch them first",
            apps=key.apps,
        )
    return key
