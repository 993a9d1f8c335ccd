"""Read-only SQL behind the console's platform key section: apps with the key generation that
signs their answers, oldest generation first (the apps still to move come first). Nothing here
writes; the list has a hard LIMIT."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from paybao.adapters.db.tables.merchant import merchant_apps, merchants

APPS_SHOWN_MAX = 200


def apps_by_generation(tx: Connection, limit: int) -> list[Any]:
    """(app_id, merchant_id, merchant_name, status, generation) rows, at most `limit`."""
    assert 0 < limit <= APPS_SHOWN_MAX
    a = merchant_apps
    query = (
        select(
            a.c.app_id,
            a.c.merchant_id,
            merchants.c.name.label("merchant_name"),
            a.c.status,
            a.c.platform_key_generation.label("generation"),
        )
        .outerjoin(merchants, merchants.c.id == a.c.merchant_id)
        .order_by(a.c.platform_key_generation, a.c.app_id)
        .limit(limit)
    )
    return list(tx.execute(query))
