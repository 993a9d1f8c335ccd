"""Running callables at the same instant: the race tests' start line."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

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
