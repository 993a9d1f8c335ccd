"""Random secret keys kept as files in the data folder (mode 0600), made once.

Several server processes may start at the same moment and find no file: each writes its own
candidate and links it into place with `os.link`, which fails when the name exists, so exactly
one key wins and every process reads that one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create_secret(path: Path, size_bytes: int) -> bytes:
    """The key at `path`, made with `size_bytes` random bytes when there is none yet."""
    assert 16 <= size_bytes <= 64
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
        descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(size_bytes))
        try:
            os.link(candidate, path)  # fails if another process won: keep theirs
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    key = path.read_bytes()
    if len(key) != size_bytes:
        raise RuntimeError(f"{path} must hold exactly {size_bytes} bytes")
    return key
