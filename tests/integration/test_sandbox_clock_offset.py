"""The sandbox clock's offset, seen by the threads of the process that moved it: once
`set_offset_us` returns, no thread of this process reads the old offset, even one that was
refreshing its cached copy at that moment (the other threads used to answer the old offset for
another cache period, and a sweep running then worked in the past)."""

from __future__ import annotations

import threading

import pytest

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
