"""The sandbox clock's offset, seen by the threads of the process that moved it: once
`set_offset_us` returns, no thread of this process reads the old offset, even one that was
refreshing its cached copy at that moment (the other threads used to answer the old offset for
another cache period, and a sweep running then worked in the past)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from paybao.adapters.clock import store_offset_us
from paybao.bootstrap import Platform

HOUR_US = 3600 * 1_000_000


def test_a_move_is_seen_at_once_even_while_another_thread_refreshes(platform: Platform) -> None:
    clock = platform.clock
    assert clock.offset_us(fresh=True) == 0
    clock.set_offset_us(HOUR_US)
    holding, done = threading.Event(), threading.Event()

    def refreshing() -> None:
        with clock._refreshing:  # another thread's refresh of the cached offset, in progress
            holding.set()
            done.wait(5)

    other = threading.Thread(target=refreshing)
    other.start()
    try:
        assert holding.wait(5)
        seen_us = clock.offset_us()  # does not wait for that refresh: answers the cached copy
    finally:
        done.set()
        other.join()
    assert seen_us == HOUR_US


def test_the_clock_only_moves_forward(platform: Platform) -> None:
    clock = platform.clock
    clock.set_offset_us(2 * HOUR_US)
    with pytest.raises(AssertionError, match="only moves forward"):
        clock.set_offset_us(HOUR_US)
    assert clock.offset_us(fresh=True) == 2 * HOUR_US


def test_the_offset_is_read_even_when_every_pooled_connection_is_in_use(
    platform: Platform,
) -> None:
    """More transactions in flight than the pool holds: a clock refresh inside one of them
    must not wait for a pooled connection (SQLite used to read through the main pool and
    stalled until the pool timeout, keeping the stale offset)."""
    clock, engine = platform.clock, platform.db.engine
    clock.set_offset_us(HOUR_US)
    store_offset_us(engine, 2 * HOUR_US, 0)  # another process moved it meanwhile
    pool: Any = engine.pool
    held = [engine.connect() for _ in range(pool.size() + pool._max_overflow)]
    try:
        assert clock.offset_us(fresh=True) == 2 * HOUR_US
    finally:
        for connection in held:
            connection.close()
