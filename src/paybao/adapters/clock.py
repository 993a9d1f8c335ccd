"""The sandbox clock: wall clock plus an offset stored in the database.

Every process (server workers, `paybao worker`, the CLI) reads the same offset, so
`paybao clock advance 10d` moves time for the whole platform. The offset is cached briefly
because `now()` is called on every request.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from paybao.adapters.db.tables.platform import platform_clock
from paybao.services.clock import SystemClock, datetime_from_us

OFFSET_CACHE_S = 0.2


class OffsetClock:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._wall = SystemClock()
        self._lock = threading.Lock()
        self._offset_us = 0
        self._read_at_s = -1.0
        self._high_water_us = 0

    def offset_us(self, *, fresh: bool = False) -> int:
        with self._lock:
            stale = time.monotonic() - self._read_at_s > OFFSET_CACHE_S
            if fresh or stale:
                self._offset_us = self._load_offset_us()
                self._read_at_s = time.monotonic()
            return self._offset_us

    def forget(self) -> None:
        with self._lock:
            self._read_at_s = -1.0

    def now_us(self) -> int:
        now_us = self._wall.now_us() + self.offset_us()
        with self._lock:
            # Platform time never runs backwards, even if the wall clock is stepped back.
            self._high_water_us = max(self._high_water_us, now_us)
            return self._high_water_us

    def now(self) -> datetime:
        return datetime_from_us(self.now_us())

    def _load_offset_us(self) -> int:
        # A plain (deferred) read: under WAL it never waits for a writer, and the caller may
        # itself be inside a write transaction on another connection.
        with self._engine.connect() as opened:
            connection = opened.execution_options(sqlite_begin="DEFERRED")
            value = connection.execute(
                select(platform_clock.c.offset_us).where(platform_clock.c.id == 1)
            ).scalar()
        return int(value or 0)


def store_offset_us(engine: Engine, offset_us: int, now_us: int) -> None:
    """Upsert the single clock row (only ever forward: the service checks that)."""
    with engine.begin() as connection:
        updated = connection.execute(
            update(platform_clock)
            .where(platform_clock.c.id == 1)
            .values(offset_us=offset_us, updated_at_us=now_us)
        ).rowcount
        if updated == 0:
            connection.execute(
                insert(platform_clock).values(id=1, offset_us=offset_us, updated_at_us=now_us)
            )


class AdjustableOffsetClock(OffsetClock):
    def set_offset_us(self, offset_us: int) -> None:
        assert offset_us >= self.offset_us(fresh=True), "the sandbox clock only moves forward"
        store_offset_us(self._engine, offset_us, self._wall.now_us())
        self.forget()
