"""SQL for apps' sealed AES content keys (services/app_aes_keys.py)."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from paybao.adapters.db.tables.app_aes_keys import app_aes_keys
from paybao.adapters.db.tables.merchant import merchant_apps


class SqlAppAesKeyStore:
    def lock_app_in(self, tx: Connection, app_id: str) -> bool:
        """Whether the app exists; its row stays locked until the transaction ends, so two
        resets of one app's key happen one after the other."""
        query = select(merchant_apps.c.app_id).where(merchant_apps.c.app_id == app_id)
        return tx.execute(query.with_for_update()).first() is not None

    def sealed_key_in(self, tx: Connection, app_id: str) -> str | None:
        query = select(app_aes_keys.c.sealed_key).where(app_aes_keys.c.app_id == app_id)
        found = tx.execute(query).scalar()
        return str(found) if found is not None else None

    def put_in(self, tx: Connection, app_id: str, sealed_key: str, now_us: int) -> None:
        """Insert or replace the app's key (call with the app's row locked)."""
        replaced = tx.execute(
            update(app_aes_keys)
            .where(app_aes_keys.c.app_id == app_id)
            .values(sealed_key=sealed_key, set_at_us=now_us)
        )
        if replaced.rowcount == 0:
            tx.execute(
                insert(app_aes_keys).values(app_id=app_id, sealed_key=sealed_key, set_at_us=now_us)
            )
