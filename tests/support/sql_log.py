"""What SQL a test sends: the `sql_log` fixture records every statement sent to the database
while the test runs, on SQLite (the driver's trace callback) or PostgreSQL (psycopg's cursors);
`statements_in` keeps the reads and writes (not BEGIN/COMMIT), each on one line. For tests that
count statements so that redundant reads do not come back. Import the fixture by name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import event

from paybao.bootstrap import Platform

_STATEMENT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)


@pytest.fixture
def sql_log(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every SQL statement sent to the database while the test runs (clear it to start)."""
    log: list[str] = []
    if platform.engine.dialect.name == "sqlite":

        def trace(dbapi_connection: Any, *_: Any) -> None:
            dbapi_connection.set_trace_callback(log.append)

        event.listen(platform.engine, "checkout", trace)
        yield log
        event.remove(platform.engine, "checkout", trace)
        return
    execute = psycopg.Cursor.execute

    def counting(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        log.append(str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    yield log


def statements_in(log: list[str]) -> list[str]:
    """The reads and writes of the log, whitespace folded to one line each."""
    return [" ".join(s.split()) for s in log if _STATEMENT.match(s)]
