"""SQL for the worker's side of merchant notifications: load a batch, record a group's attempts.

`SqlTradeStore` (trade_store.py) implements `NotificationStore` and hands these two to this
module. The statements are SQL text built once and run on the driver's cursor: in a SQLAlchemy
transaction or a `DriverTx` alike (both have `.connection`). On PostgreSQL each is ONE
statement for the whole batch (arrays and `unnest`); on SQLite, where a statement is a C call
and not a round trip, one `executemany` per table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from paybao.adapters.db.database import driver_rows
from paybao.services.notify import Attempt, Notification

_COLUMNS = (
    "id, notify_id, trade_id, merchant_id, url, event, snapshot, status, attempts,"
    " created_at_us, last_attempt_at_us, delivered_at_us"
)
_ATTEMPT_COLUMNS = "notification_id, attempt_no, at_us, duration_ms, http_status, outcome, detail"

_PG_BY_NOTIFY_ID = f"SELECT {_COLUMNS} FROM trade_notifications WHERE notify_id = ANY(%s::text[])"
# The attempts are inserted by the statement's WITH part; the UPDATE then sets each
# notification's counters from its attempts in this group (folded beforehand: an UPDATE ...
# FROM applies at most one source row per target row).
_PG_RECORD = (
    f"WITH inserted AS (INSERT INTO notify_attempts ({_ATTEMPT_COLUMNS})"
    " SELECT * FROM unnest(%(nid)s::bigint[], %(no)s::int[], %(at)s::bigint[], %(ms)s::int[],"
    " %(http)s::int[], %(outcome)s::text[], %(detail)s::text[]))"
    " UPDATE trade_notifications AS n SET status = v.status, attempts = n.attempts + v.tries,"
    " last_attempt_at_us = v.last_at, delivered_at_us = COALESCE(v.delivered_at, n.delivered_at_us)"
    " FROM unnest(%(id)s::bigint[], %(status)s::text[], %(tries)s::int[], %(last_at)s::bigint[],"
    " %(delivered_at)s::bigint[]) AS v(id, status, tries, last_at, delivered_at)"
    " WHERE n.id = v.id"
)
_SQLITE_INSERT = f"INSERT INTO notify_attempts ({_ATTEMPT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
# Row by row, as the attempts happened: the last one's status stands, each counts once.
_SQLITE_UPDATE = (
    "UPDATE trade_notifications SET status = ?, attempts = attempts + 1,"
    " last_attempt_at_us = ?, delivered_at_us = CASE WHEN ? = 'delivered' THEN ?"
    " ELSE delivered_at_us END WHERE id = ?"
)


def notifications_by_notify_id(
    tx: Any, dialect: str, notify_ids: Sequence[str]
) -> dict[str, Notification]:
    if not notify_ids:
        return {}
    if dialect == "postgresql":
        rows = driver_rows(tx, _PG_BY_NOTIFY_ID, (list(notify_ids),))
    else:
        rows = driver_rows(tx, _sqlite_by_notify_id(len(notify_ids)), tuple(notify_ids))
    return {row[1]: _notification(row) for row in rows}


def record_attempts(tx: Any, dialect: str, attempts: Sequence[tuple[Attempt, str]]) -> None:
    """Insert the attempts; set each notification's status to its last attempt's and count
    them (in the order given)."""
    if not attempts:
        return
    cursor = tx.connection.cursor()
    try:
        if dialect == "postgresql":
            cursor.execute(_PG_RECORD, _pg_record_params(attempts))
        else:
            cursor.executemany(_SQLITE_INSERT, [_attempt_row(a) for a, _ in attempts])
            cursor.executemany(
                _SQLITE_UPDATE,
                [(s, a.at_us, s, a.at_us, a.notification_id) for a, s in attempts],
            )
    finally:
        cursor.close()


def _pg_record_params(attempts: Sequence[tuple[Attempt, str]]) -> dict[str, list[Any]]:
    rows = [_attempt_row(attempt) for attempt, _ in attempts]
    names = ("nid", "no", "at", "ms", "http", "outcome", "detail")
    params: dict[str, list[Any]] = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    # Per notification: (status, tries, last attempt, delivered at), as sequential updates.
    folded: dict[int, tuple[str, int, int, int | None]] = {}
    for attempt, status in attempts:
        _, tries, _, delivered_at = folded.get(attempt.notification_id, ("", 0, 0, None))
        if status == "delivered":
            delivered_at = attempt.at_us
        folded[attempt.notification_id] = (status, tries + 1, attempt.at_us, delivered_at)
    params["id"] = list(folded)
    for i, name in enumerate(("status", "tries", "last_at", "delivered_at")):
        params[name] = [value[i] for value in folded.values()]
    return params


def _attempt_row(attempt: Attempt) -> tuple[Any, ...]:
    return (
        attempt.notification_id,
        attempt.attempt_no,
        attempt.at_us,
        attempt.duration_ms,
        attempt.http_status,
        attempt.outcome,
        attempt.detail,
    )


@lru_cache(maxsize=128)  # one per batch size: at most the claim's limit
def _sqlite_by_notify_id(count: int) -> str:
    marks = ", ".join("?" * count)
    return f"SELECT {_COLUMNS} FROM trade_notifications WHERE notify_id IN ({marks})"


def _notification(row: Any) -> Notification:
    return Notification(
        id=row[0],
        notify_id=row[1],
        trade_id=row[2],
        merchant_id=row[3],
        url=row[4],
        event=row[5],
        snapshot=json.loads(row[6]),
        status=row[7],
        attempts=row[8],
        created_at_us=row[9],
        last_attempt_at_us=row[10],
        delivered_at_us=row[11],
    )
