"""Apps' AES keys for Alipay's content encryption (接口内容加密方式).

Like Alipay's console, paybao makes the key (the merchant never types one in): `set` gives an
app its key once and shows it on every later call, `set(reset=True)` replaces it (the
merchant's code must switch at once: requests under the old key no longer open), `show` reads
it. Keys are stored sealed (the KeySealer: adapters/app_aes_vault.py) and every set and reset
is audited in its own transaction.

The gateway asks `key_of` on every encrypted call, answered from a short-lived cache: a reset
reaches the other serving processes within `cache_ttl_s`.

An app with a key still accepts requests in plain, as Alipay does: encryption is chosen per
request (`encrypt_type`), and the answer follows the request.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from typing import Final, Protocol

from paybao.domain.errors import InvalidInput, NotFound
from paybao.services.audit import AuditTrail
from paybao.services.ports import Clock, Database, Tx

# 128 bits is what Alipay's console makes (a 24-character base64 key); 256 is allowed too.
KEY_BYTES_DEFAULT: Final = 16
KEY_SIZES_BYTES: Final = frozenset({16, 32})
CACHE_TTL_S_DEFAULT: Final = 30.0
CACHE_SIZE_MAX: Final = 4096


class AppAesKeyStore(Protocol):
    def lock_app_in(self, tx: Tx, app_id: str) -> bool: ...

    def sealed_key_in(self, tx: Tx, app_id: str) -> str | None: ...

    def put_in(self, tx: Tx, app_id: str, sealed_key: str, now_us: int) -> None: ...


class KeySealer(Protocol):
    def seal(self, key: bytes, app_id: str) -> str: ...

    def open(self, sealed_text: str, app_id: str) -> bytes: ...


class AppAesKeyService:
    def __init__(
        self,
        db: Database,
        store: AppAesKeyStore,
        sealer: KeySealer,
        clock: Clock,
        audit: AuditTrail,
        *,
        cache_ttl_s: float = CACHE_TTL_S_DEFAULT,
    ) -> None:
        assert cache_ttl_s >= 0
        self.db = db
        self.store = store
        self.sealer = sealer
        self.clock = clock
        self.audit = audit
        self.cache_ttl_s = cache_ttl_s
        self._keys: dict[str, tuple[float, bytes | None]] = {}
        self._lock = threading.Lock()

    def key_of(self, app_id: str) -> bytes | None:
        """The app's key or None (gateway: content_crypto.ContentKeys), from the cache."""
        now_s = time.monotonic()
        cached = self._keys.get(app_id)
        if cached is not None and now_s - cached[0] < self.cache_ttl_s:
            return cached[1]
        with self.db.read() as tx:
            sealed = self.store.sealed_key_in(tx, app_id)
        key = self.sealer.open(sealed, app_id) if sealed is not None else None
        with self._lock:
            if len(self._keys) >= CACHE_SIZE_MAX:
                self._keys.clear()
            self._keys[app_id] = (now_s, key)
        return key

    def show(self, app_id: str) -> str | None:
        """The app's key as base64 (what the SDKs take as `encrypt_key`), or None."""
        with self.db.read() as tx:
            sealed = self.store.sealed_key_in(tx, app_id)
        return _text(self.sealer.open(sealed, app_id)) if sealed is not None else None

    def set(
        self,
        app_id: str,
        *,
        reset: bool = False,
        size_bytes: int = KEY_BYTES_DEFAULT,
        actor: str | None = None,
        operator_id: int | None = None,
    ) -> str:
        """The app's key as base64: made now if it has none (or `reset`), else the one it has."""
        if size_bytes not in KEY_SIZES_BYTES:
            raise InvalidInput("an AES key has 128 or 256 bits", code="invalid_aes_key_size")
        fresh = secrets.token_bytes(size_bytes)

        def work(tx: Tx) -> bytes:
            if not self.store.lock_app_in(tx, app_id):
                raise NotFound(f"app {app_id} not found", code="app_not_found")
            sealed = self.store.sealed_key_in(tx, app_id)
            if sealed is not None and not reset:
                return self.sealer.open(sealed, app_id)
            self.store.put_in(tx, app_id, self.sealer.seal(fresh, app_id), self.clock.now_us())
            self.audit.record_in(
                tx,
                "app_aes_key.reset" if sealed is not None else "app_aes_key.set",
                f"app:{app_id}",
                operator_id=operator_id,
                actor=actor,
                detail=f"AES-{size_bytes * 8}",
            )
            return fresh

        key = self.db.run(work)
        with self._lock:
            self._keys.pop(app_id, None)
        return _text(key)


def _text(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")
