"""Apps' AES content keys sealed at rest.

The gateway needs each app's AES key in the clear (it is a shared secret, like the payment-code
seeds), so keys are sealed with AES-256-GCM under 32 random bytes in `<data_dir>/app_aes.key`
(made once, mode 0600): a copy of the database alone (a backup, a replica) reveals no key. The
app id is bound as associated data, so a sealed key copied onto another app's row does not open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from paybao.adapters.key_files import load_or_create_secret

KEY_FILE_NAME: Final = "app_aes.key"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
_SEAL_LABEL: Final = b"paybao/app-aes-key-seal/v1"


class AppAesKeyVault:
    """Seals and opens app AES keys (`services/app_aes_keys.py` KeySealer)."""

    def __init__(self, platform_key: bytes) -> None:
        assert len(platform_key) == KEY_BYTES
        self._aead = AESGCM(hmac.new(platform_key, _SEAL_LABEL, hashlib.sha256).digest())

    @classmethod
    def in_folder(cls, data_dir: Path) -> AppAesKeyVault:
        """The vault of this installation; its key file is made once, atomically."""
        return cls(load_or_create_secret(data_dir / KEY_FILE_NAME, KEY_BYTES))

    def seal(self, key: bytes, app_id: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, key, _associated(app_id))
        return base64.b64encode(sealed).decode("ascii")

    def open(self, sealed_text: str, app_id: str) -> bytes:
        try:
            sealed = base64.b64decode(sealed_text, validate=True)
            return self._aead.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _associated(app_id)
            )
        except (InvalidTag, binascii.Error, ValueError):
            raise RuntimeError(
                f"the AES key of app {app_id} does not open: wrong {KEY_FILE_NAME} or moved row"
            ) from None


def _associated(app_id: str) -> bytes:
    return f"app-aes-key:{app_id}".encode()
