"""Read-only SQL behind the admin console's merchant notifications page: the newest
notifications of every merchant, filtered by delivery status and merchant, paged by id."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, select

from paybao.adapters.db.tables.trade import trade_notifications

PAGE_SIZE_MAX = 200
STATUSES = ("pending", "delivered", "failed")


@dataclass(frozen=True, slots=True)
class NotificationLine:
    id: int
    notify_id: str
    merchant_id: int
    event: str
    status: str
    attempts: int
    created_at_us: int
    last_attempt_at_us: int | None
    out_trade_no: str
    trade_no: str


def notifications_page(
    tx: Connection,
    *,
    status: str = "",
    merchant_id: int | None = None,
    before_id: int | None = None,
    limit: int,
) -> list[NotificationLine]:
    """Newest first; `before_id` is the cursor (the last id of the previous page)."""
    assert 0 < limit <= PAGE_SIZE_MAX
    assert status in ("", *STATUSES)
    table = trade_notifications
    query = select(table).order_by(table.c.id.desc()).limit(limit)
    if status:
        query = query.where(table.c.status == status)
    if merchant_id is not None:
        query = query.where(table.c.merchant_id == merchant_id)
    if before_id is not None:
        query = query.where(table.c.id < before_id)
    return [_line(row) for row in tx.execute(query).mappings()]


def _line(row: object) -> NotificationLine:
    values = dict(row)  # type: ignore[call-overload]
    snapshot = json.loads(values["snapshot"])
    return NotificationLine(
        id=int(values["id"]),
        notify_id=str(values["notify_id"]),
        merchant_id=int(values["merchant_id"]),
        event=str(values["event"]),
        status=str(values["status"]),
        attempts=int(values["attempts"]),
        created_at_us=int(values["created_at_us"]),
        last_attempt_at_us=values["last_attempt_at_us"],
        out_trade_no=str(snapshot.get("out_trade_no") or ""),
        trade_no=str(snapshot.get("trade_no") or ""),
    )
