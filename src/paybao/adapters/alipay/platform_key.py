"""The platform's own RSA-2048 key pairs: one per generation, kept in the data folder (0600).

Every response and notification is signed with the key of the app it answers; merchants
configure its public key as "alipay_public_key". Generation 1 is the pair every installation
started with (`platform_rsa_private.pem`); generation N > 1 lives beside it as
`platform_rsa_private.N.pem` / `platform_rsa_public.N.pem` (services/platform_keys.py decides
which generations exist and which app uses which). Several server processes may start at
once: a file is created with O_EXCL, so exactly one of them writes it and the others read the
winner's key. Files are never deleted: a retired generation's stay so backups stay whole.
"""

from __future__ import annotations

import os
import re
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
from paybao.domain.platform_keys import FIRST_GENERATION, GENERATION_MAX

PRIVATE_KEY_FILE: Final = "platform_rsa_private.pem"
PUBLIC_KEY_FILE: Final = "platform_rsa_public.pem"
_GENERATION_FILE: Final = re.compile(r"^platform_rsa_(private|public)\.([1-9][0-9]?)\.pem$")
_WRITE_WAIT_S: Final = 5.0
_lock = threading.Lock()
_loaded: dict[tuple[str, int], PlatformKey] = {}


@dataclass(frozen=True)
class PlatformKey:
    private_key: rsa.RSAPrivateKey
    public_pem: str

    @property
    def public_base64(self) -> str:
        return pem_to_base64(self.public_pem)


def key_file_names(generation: int) -> tuple[str, str]:
    """(private, public) file names of a generation."""
    assert FIRST_GENERATION <= generation <= GENERATION_MAX
    if generation == FIRST_GENERATION:
        return PRIVATE_KEY_FILE, PUBLIC_KEY_FILE
    return f"platform_rsa_private.{generation}.pem", f"platform_rsa_public.{generation}.pem"


def is_generation_file(name: str) -> bool:
    """A later generation's private or public key file name (generation 1's are fixed names)."""
    match = _GENERATION_FILE.match(name)
    return match is not None and int(match.group(2)) > FIRST_GENERATION


def generation_files(data_dir: Path, *, private_only: bool = False) -> list[Path]:
    """Every later generation's key files present in the folder, by name."""
    if not data_dir.is_dir():
        return []
    found = [
        path
        for path in data_dir.iterdir()
        if is_generation_file(path.name) and path.is_file()
        if not private_only or path.name.startswith("platform_rsa_private.")
    ]
    return sorted(found)


def platform_key(data_dir: Path, generation: int = FIRST_GENERATION) -> PlatformKey:
    """A generation's key pair (parsed once per process, folder and generation; created on
    first use, as generation 1 always was)."""
    folder = str(data_dir.resolve())
    with _lock:
        cached = _loaded.get((folder, generation))
        if cached is None:
            cached = _loaded[(folder, generation)] = _load_or_create(Path(folder), generation)
        return cached


def _load_or_create(data_dir: Path, generation: int) -> PlatformKey:
    private_name, public_name = key_file_names(generation)
    path = data_dir / private_name
    if not path.exists():
        _create(data_dir, path)
    text = _read_complete(path)
    private_key = load_private_key(text)
    public_pem = public_key_to_pem(private_key.public_key())
    public_path = data_dir / public_name
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
