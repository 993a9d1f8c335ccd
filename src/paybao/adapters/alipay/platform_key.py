"""The platform's own RSA-2048 key pair: generated once, kept in the data folder (mode 0600).

Every response and notification is signed with it; merchants configure its public key as
"alipay_public_key". Several server processes may start at once: the file is created with
O_EXCL, so exactly one of them writes it and the others read the winner's key.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa

from paybao.adapters.alipay.keys import (
    generate_key_pair,
    load_private_key,
    pem_to_base64,
    public_key_to_pem,
)

PRIVATE_KEY_FILE: Final = "platform_rsa_private.pem"
PUBLIC_KEY_FILE: Final = "platform_rsa_public.pem"
_WRITE_WAIT_S: Final = 5.0
_lock = threading.Lock()
_loaded: dict[str, PlatformKey] = {}


@dataclass(frozen=True)
class PlatformKey:
    private_key: rsa.RSAPrivateKey
    public_pem: str

    @property
    def public_base64(self) -> str:
        return pem_to_base64(self.public_pem)


def platform_key(data_dir: Path) -> PlatformKey:
    """The key pair of this installation (parsed once per process and folder)."""
    folder = str(data_dir.resolve())
    with _lock:
        cached = _loaded.get(folder)
        if cached is None:
            cached = _loaded[folder] = _load_or_create(Path(folder))
        return cached


def _load_or_create(data_dir: Path) -> PlatformKey:
    path = data_dir / PRIVATE_KEY_FILE
    if not path.exists():
        _create(data_dir, path)
    text = _read_complete(path)
    private_key = load_private_key(text)
    public_pem = public_key_to_pem(private_key.public_key())
    public_path = data_dir / PUBLIC_KEY_FILE
    if not public_path.exists():
        public_path.write_text(public_pem)
    return PlatformKey(private_key, public_pem)


def _create(data_dir: Path, path: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    pair = generate_key_pair()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process won the race; read its key
    with os.fdopen(descriptor, "w") as handle:
        handle.write(pair.private_pem_pkcs1)


def _read_complete(path: Path) -> str:
    """Read the key, waiting briefly if another process is still writing it."""
    deadline = time.monotonic() + _WRITE_WAIT_S
    while True:
        text = path.read_text()
        if "-----END" in text or time.monotonic() > deadline:
            return text
        time.sleep(0.05)
