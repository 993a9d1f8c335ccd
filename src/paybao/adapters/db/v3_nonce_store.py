"""The v3 protocol's replay guard: each app's request nonces, in the shared idempotency table.

A nonce is a row of `idempotency_keys` under the scope `alipay-v3-nonce` with the key
`<app_id>:<nonce>`: the table's unique (scope, key) constraint makes "first use" one INSERT that
every server process agrees on, with no check-then-insert race and no table of its own. A row
is only worth keeping while a request carrying its nonce could still pass the timestamp check,
so now and then (one call in `PURGE_EVERY_CALLS`) the rows older than that are deleted.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from typing import Final

from sqlalchemy import delete, insert

from paybao.adapters.db.database import SqlDatabase, UniqueConflict
from paybao.adapters.db.tables.wallet import idempotency_keys

SCOPE: Final = "alipay-v3-nonce"
PURGE_EVERY_CALLS: Final = 256
# A request's timestamp may be up to the window ahead of now or behind it: a nonce stays
# replayable for twice the window after it was first seen, plus a margin for clock steps.
KEEP_MARGIN_S: Final = 60


class SqlV3Nonces:
    def __init__(self, db: SqlDatabase, *, timestamp_window_s: int) -> None:
        assert timestamp_window_s > 0
        self.db = db
        self.keep_us = (2 * timestamp_window_s + KEEP_MARGIN_S) * 1_000_000
        self._calls = itertools.count(1)
        self._lock = threading.Lock()

    def first_use(self, app_id: str, nonce: str, now_us: int) -> bool:
        key = f"{app_id}:{nonce}"
        assert len(key) <= 128, "app ids and nonces are bounded by the v3 parser"
        with self._lock:
            purge = next(self._calls) % PURGE_EVERY_CALLS == 0
        if purge:
            self.purge(now_us)
        row = {
            "scope": SCOPE,
            "key": key,
            "request_sha256": hashlib.sha256(key.encode()).hexdigest(),
            "status_code": 0,
            "response_body": "",
            "created_at_us": now_us,
        }
        try:
            with self.db.write() as tx:
                tx.execute(insert(idempotency_keys).values(**row))
        except UniqueConflict:
            return False
        return True

    def purge(self, now_us: int) -> int:
        """Delete the nonces no request can replay any more; how many went."""
        with self.db.write() as tx:
            result = tx.execute(
                delete(idempotency_keys).where(
                    idempotency_keys.c.scope == SCOPE,
                    idempotency_keys.c.created_at_us < now_us - self.keep_us,
                )
            )
        return int(result.rowcount or 0)
