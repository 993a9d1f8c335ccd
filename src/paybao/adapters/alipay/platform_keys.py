"""Which platform key signs for which app: the key ring of a data folder, and the app's key.

The gateway, the notification forms and the return_url signers ask `AppSigningKeys.for_app`
on every answer. It reads the app's generation from MerchantService's app cache (no SQL
statement of its own) and the parsed key from the ring (parsed once per process).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import rsa

from paybao.adapters.alipay.platform_key import PlatformKey, generation_files, platform_key
from paybao.domain.platform_keys import FIRST_GENERATION


class KeyForApp(Protocol):
    def for_app(self, app_id: str) -> rsa.RSAPrivateKey: ...


class PlatformKeyring:
    """Every generation's key pair in one data folder (implements services' KeyFiles)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        # Asked on every signature: a dict read, not platform_key's path resolution and lock.
        self._keys: dict[int, PlatformKey] = {}

    def key(self, generation: int) -> PlatformKey:
        found = self._keys.get(generation)
        if found is None:
            found = self._keys[generation] = platform_key(self.data_dir, generation)
        return found

    def public_pem(self, generation: int) -> str:
        return self.key(generation).public_pem

    def newest_on_disk(self) -> int:
        """The highest generation with a private key file (generation 1 when none)."""
        numbers = [int(path.name.split(".")[1]) for path in generation_files(self.data_dir)]
        return max(numbers, default=FIRST_GENERATION)


class AppSigningKeys:
    """The private key that signs what paybao sends an app: its generation's."""

    def __init__(self, keyring: PlatformKeyring, merchants: Any) -> None:
        self.keyring = keyring
        self.merchants = merchants
        # For an answer to a request whose app is unknown (it could not be parsed): the
        # newest key there is, since new apps get it (the newest is never retired).
        self.fallback_generation = keyring.newest_on_disk()

    def for_generation(self, generation: int | None) -> rsa.RSAPrivateKey:
        return self.keyring.key(generation or self.fallback_generation).private_key

    def for_app(self, app_id: str) -> rsa.RSAPrivateKey:
        app = self.merchants.find_app(app_id)
        return self.for_generation(app.platform_key_generation if app is not None else None)
