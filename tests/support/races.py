"""Running callables at the same instant: the race tests' start line."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from paybao.domain.errors import DomainError

T = TypeVar("T")


def at_once(works: list[Callable[[], T]]) -> list[T | DomainError]:
    """Start every work together (a barrier) on its own thread; each one's result, or the
    domain error it raised, in the order they finished."""
    barrier = threading.Barrier(len(works))
    results: list[T | DomainError] = []
    lock = threading.Lock()

    def one(work: Callable[[], T]) -> None:
        barrier.wait()
        try:
            result: T | DomainError = work()
        except DomainError as error:
            result = error
        with lock:
            results.append(result)

    threads = [threading.Thread(target=one, args=(work,)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == len(works), "a racer did not finish"
    return results


def _each_at_once(count: int, attempt: Callable[[int], Any]) -> list[Any]:
    """`attempt(i)` for every i in range(count), each on its own thread, started together; each
    one's result, or the domain error it raised, by index."""
    barrier = threading.Barrier(count)
    unfinished = object()
    results: list[Any] = [unfinished] * count

    def one(index: int) -> None:
        barrier.wait(30)
        try:
            results[index] = attempt(index)
        except DomainError as error:
            results[index] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)  # PostgreSQL's row locks queue the racers one behind another
    assert unfinished not in results, "a racer did not finish"
    return results


def race(count: int, attempt: Callable[[int], Any]) -> list[Any]:
    """`attempt(i)` for i in range(count) at once; each result, or the DomainError's code, by
    index."""
    return [r.code if isinstance(r, DomainError) else r for r in _each_at_once(count, attempt)]


def race_outcomes(count: int, attempt: Callable[[int], Any]) -> list[str]:
    """`attempt(i)` for i in range(count) at once; "ok" or the DomainError's code of each,
    sorted."""
    results = _each_at_once(count, attempt)
    return sorted(r.code if isinstance(r, DomainError) else "ok" for r in results)
