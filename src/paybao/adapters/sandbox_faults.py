"""Faults of the sandbox counterparties (the bank, the billers): how each of their answers goes.

A request's outcome is the next step a test scripted (`script.append("timeout")`), else a draw
against the fault rates (`PAYBAO_BANK_*` / `PAYBAO_BILLER_*` settings, or `faults` changed at
run time); answers may be slowed by `latency_ms`. The counterparties read their own tables in a
deferred transaction (`deferred_read`), so a query never waits behind the caller's write lock.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.engine import Connection, Engine


@dataclass
class Faults:
    latency_ms: int = 0
    timeout_rate: float = 0.0
    failure_rate: float = 0.0


class FaultDice:
    def __init__(
        self, faults: Faults, steps: frozenset[str], failure_step: str, *, seed: int | None
    ) -> None:
        assert {"ok", "timeout", failure_step} <= steps, steps
        self.faults = faults
        self.steps = steps
        self.failure_step = failure_step
        self.script: deque[str] = deque()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def next_step(self) -> str:
        with self._lock:
            if self.script:
                step = self.script.popleft()
                assert step in self.steps, f"unknown scripted step {step}"
                return step
            draw = self._rng.random()
        if draw < self.faults.timeout_rate:
            return "timeout"
        if draw < self.faults.timeout_rate + self.faults.failure_rate:
            return self.failure_step
        return "ok"

    def sleep(self) -> None:
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)


@contextmanager
def deferred_read(engine: Engine) -> Iterator[Connection]:
    """A read on its own connection; on SQLite a deferred transaction (readers never wait for
    writers in WAL mode, and a query may run while the caller holds the write lock)."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection = connection.execution_options(sqlite_begin="DEFERRED")
        yield connection
