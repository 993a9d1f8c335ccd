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
            with self.engine.begin() as connection:
                yield connection
        except DBAPIError as error:
            if is_transient(error):
                raise Retryable("database busy or connection lost; retry") from error
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
            except (Retryable, IntegrityError) as error:
                if attempt == retries_max:
                    if isinstance(error, IntegrityError):
                        raise Retryable("conflicting concurrent write; retry") from error
                    raise
                log.info(
                    "retrying transaction after %s (attempt %d)", type(error).__name__, attempt
                )
                time.sleep(0.002 * (2**attempt))
        raise AssertionError("unreachable")


def is_transient(error: DBAPIError) -> bool:
    if isinstance(error, OperationalError) and error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    message = str(error.orig).lower()
    return "database is locked" in message or "server closed the connection" in message
