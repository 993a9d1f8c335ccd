"""The sandbox clock: wall clock plus an offset stored in the database.

Every process (server workers, `paybao worker`, the CLI) reads the same offset, so
`paybao clock advance 10d` moves time for the whole platform. The offset is cached briefly
because `now()` is called on every request. Outside sandbox mode the offset is always zero and
the database is never asked (`build_platform` then uses `SystemClock` semantics).

The offset is read on a dedicated engine with a single connection, never from the main pool:
`now()` is called inside open transactions, and borrowing a second pooled connection there
could empty the pool under load and stall every request until the pool timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from sqlalchemy import create_engine, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from paybao.adapters.db.tables.platform import platform_clock
from paybao.services.clock import SystemClock, datetime_from_us

OFFSET_CACHE_S = 0.2
log = logging.getLogger(__name__)


def _dedicated_engine(engine: Engine) -> Engine:
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        if engine.url.database in (None, "", ":memory:"):
            return engine  # an in-memory database exists only behind its own engine
        # Its own connection too: the main pool (8 + 8) is emptied by more transactions in
        # flight than that, and a refresh inside one of them would wait for a connection
        # that a writer queued behind this very transaction holds, until the pool timeout.
        # One connection, used under the refresh lock only, so never by two threads at once.
        return create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False, "timeout": 5}
        )
    return create_engine(url, poolclass=StaticPool, connect_args={"connect_timeout": 5})


class OffsetClock:
    def __init__(self, engine: Engine, *, sandbox: bool = True) -> None:
        self._engine = engine
        self._reader = _dedicated_engine(engine) if sandbox else None
        self._wall = SystemClock()
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._offset_us = 0
        self._read_at_s = -1.0
        self._high_water_us = 0

    def offset_us(self, *, fresh: bool = False) -> int:
        if self._reader is None:
            return 0
        stale = time.monotonic() - self._read_at_s > OFFSET_CACHE_S
        if fresh:
            with self._refreshing:
                self._refresh()
        elif stale and self._refreshing.acquire(blocking=False):
            # One thread refreshes; the others go on with the cached value meanwhile.
            try:
                self._refresh()
            finally:
                self._refreshing.release()
        return self._offset_us

    def _refresh(self) -> None:
        try:
            self._offset_us = self._load_offset_us()
        except Exception as error:  # keep the last known offset; time must not fail requests
            log.warning("sandbox clock offset not readable: %s", error)
        self._read_at_s = time.monotonic()

    def forget(self) -> None:
        self._read_at_s = -1.0

    def now_us(self) -> int:
        now_us = self._wall.now_us() + self.offset_us()
        with self._lock:
            # Platform time never runs backwards, even if the wall clock is stepped back.
            self._high_water_us = max(self._high_water_us, now_us)
            return self._high_water_us

    def now(self) -> datetime:
        return datetime_from_us(self.now_us())

    def close(self) -> None:
        if self._reader is not None and self._reader is not self._engine:
            self._reader.dispose()

    def _load_offset_us(self) -> int:
        assert self._reader is not None
        # A plain (deferred) read: under WAL it never waits for a writer, and the caller may
        # itself be inside a write transaction on another connection.
        with self._reader.connect() as opened:
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
        assert self._reader is not None, "the clock moves only in sandbox mode"
        # Under the refresh lock, and the new offset cached here rather than forgotten: a
        # thread refreshing meanwhile would otherwise answer the old offset for another
        # OFFSET_CACHE_S, and a refresh that read before the store could write it back.
        with self._refreshing:
            self._refresh()
            assert offset_us >= self._offset_us, "the sandbox clock only moves forward"
            store_offset_us(self._engine, offset_us, self._wall.now_us())
            self._offset_us = offset_us
            self._read_at_s = time.monotonic()
