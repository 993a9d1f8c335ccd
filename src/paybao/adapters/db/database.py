"""The `Database` port over SQLAlchemy: write/read transactions and retry of transient faults."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from paybao.domain.errors import Retryable

T = TypeVar("T")
log = logging.getLogger(__name__)

# PostgreSQL SQLSTATEs that mean "try the whole transaction again".
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014", "08006", "08003", "57P01"})


class SqlDatabase:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as connection:
                try:
                    with connection.begin():
                        yield connection
                except Exception as error:
                    if classify(error) == "transient" and not connection.invalidated:
                        # A raw driver error bypasses SQLAlchemy's disconnect detection: make
                        # sure a possibly broken connection never goes back to the pool.
                        connection.invalidate()
                    raise
        except Exception as error:
            kind = classify(error)
            if kind == "transient":
                raise Retryable("database busy or connection lost; retry") from error
            if kind == "conflict":
                raise UniqueConflict("a concurrent write took the same key") from error
            raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        options = {"sqlite_begin": "DEFERRED"} if self.dialect == "sqlite" else {}
        with self.engine.connect() as connection:
            connection = connection.execution_options(**options)
            with connection.begin():
                yield connection

    def run(self, work: Callable[[Connection], T], *, retries_max: int = 3) -> T:
        """Run `work` in a write transaction; retry unique races and transient faults.

        `work` must be safe to repeat: it re-reads what it needs, and its writes are keyed by
        idempotency keys, so a retry sees the winner's row and answers from it.
        """
        assert 0 <= retries_max <= 10
        for attempt in range(retries_max + 1):
            try:
                with self.write() as tx:
                    return work(tx)
            except (Retryable, UniqueConflict) as error:
                if attempt == retries_max:
                    if isinstance(error, UniqueConflict):
                        raise Retryable("conflicting concurrent write; retry") from error
                    raise
                log.info(
                    "retrying transaction after %s (attempt %d)", type(error).__name__, attempt
                )
                time.sleep(0.002 * (2**attempt))
        raise AssertionError("unreachable")


class UniqueConflict(Exception):
    """A unique constraint refused a row that a concurrent transaction inserted first."""


def classify(error: BaseException) -> str | None:
    """'transient' (retry the transaction), 'conflict' (unique race: retry, the re-read sees
    the winner) or None. Handles SQLAlchemy-wrapped and raw driver errors alike, since the
    ledger's batch path talks to the driver directly."""
    if isinstance(error, OperationalError) and error.connection_invalidated:
        return "transient"
    raw = error.orig if isinstance(error, DBAPIError) else error
    sqlstate = getattr(raw, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return "transient"
    if sqlstate == "23505" or isinstance(error, IntegrityError):
        return "conflict" if _is_unique_violation(raw) else None
    name = type(raw).__name__
    message = str(raw).lower()
    if name == "IntegrityError" and "unique" in message:
        return "conflict"
    transient_words = ("database is locked", "server closed the connection", "connection")
    if name in ("OperationalError", "InterfaceError") and any(
        w in message for w in transient_words
    ):
        return "transient"
    return None


def _is_unique_violation(raw: object) -> bool:
    return getattr(raw, "sqlstate", None) == "23505" or "unique" in str(raw).lower()
