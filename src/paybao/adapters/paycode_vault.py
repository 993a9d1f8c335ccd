"""The payment-code platform key and the sealing of device seeds at rest.

The verifier needs each device's seed in the clear (HMAC is symmetric), so seeds cannot be
hashed like passwords; they are sealed with AES-256-GCM instead. The key is 32 random bytes in
`<data_dir>/paycode.key` (created on first use, mode 0600), so a copy of the database alone
(a backup, a replica) reveals no seed. Two keys are derived from the file's bytes with labels:
one seals seeds, one (inside domain/paycode.py) enciphers device ids into locator digits.
The sealed form binds the owner's user id as associated data, so a sealed seed copied onto
another user's device row does not open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from paybao.adapters.key_files import load_or_create_secret

KEY_FILE_NAME = "paycode.key"
KEY_BYTES = 32
NONCE_BYTES = 12
_SEAL_LABEL = b"paybao/paycode/seed-seal/v1"


def load_or_create_key(data_dir: Path) -> bytes:
    """The platform's payment-code key; made once, atomically, so racing processes agree."""
    return load_or_create_secret(data_dir / KEY_FILE_NAME, KEY_BYTES)


class SeedVault:
    """Seals and opens device seeds; `locator_key` feeds the domain's locator cipher."""

    def __init__(self, platform_key: bytes) -> None:
        assert len(platform_key) == KEY_BYTES
        self.locator_key = platform_key
        self._aead = AESGCM(hmac.new(platform_key, _SEAL_LABEL, hashlib.sha256).digest())

    def seal(self, seed: bytes, user_id: int) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, seed, _associated(user_id))
        return base64.b64encode(sealed).decode("ascii")

    def open(self, sealed_text: str, user_id: int) -> bytes:
        sealed = base64.b64decode(sealed_text)
        try:
            return self._aead.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _associated(user_id)
            )
        except InvalidTag:
            raise RuntimeError("a sealed seed does not open: wrong key or moved row") from None


def _associated(user_id: int) -> bytes:
    return f"paycode-seed:{user_id}".encode("ascii")
