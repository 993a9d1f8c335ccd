"""SQL for the platform key generations and which app uses which (services/platform_keys.py)."""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select, update

from paybao.adapters.db.tables.merchant import merchant_apps, platform_keys
from paybao.domain.platform_keys import FIRST_GENERATION, KeyGeneration, KeyState


class SqlPlatformKeyStore:
    def ensure_first_in(self, tx: Connection, now_us: int) -> None:
        """Generation 1's row (migration 0041 inserts it; a database emptied by hand lacks it)."""
        query = select(platform_keys.c.generation).where(
            platform_keys.c.generation == FIRST_GENERATION
        )
        if tx.execute(query).first() is None:
            tx.execute(
                insert(platform_keys).values(
                    generation=FIRST_GENERATION, state=KeyState.ACTIVE, created_at_us=now_us
                )
            )

    def generations_in(self, tx: Connection, limit: int) -> list[KeyGeneration]:
        counts: dict[int, int] = dict(
            tx.execute(
                select(merchant_apps.c.platform_key_generation, func.count()).group_by(
                    merchant_apps.c.platform_key_generation
                )
            ).all()
        )
        rows = tx.execute(
            select(platform_keys).order_by(platform_keys.c.generation).limit(limit)
        ).all()
        found = [
            KeyGeneration(
                row.generation,
                KeyState(row.state),
                row.created_at_us,
                int(counts.get(row.generation, 0)),
            )
            for row in rows
        ]
        if found and found[0].generation == FIRST_GENERATION:
            return found
        # Every installation has generation 1, row or not (a database emptied by hand).
        first = KeyGeneration(
            FIRST_GENERATION, KeyState.ACTIVE, 0, int(counts.get(FIRST_GENERATION, 0))
        )
        return [first, *found][:limit]

    def generation_in(self, tx: Connection, generation: int) -> KeyGeneration | None:
        """One generation with its app count, its row locked until the transaction ends (so
        that retiring it and moving an app onto it happen one after the other)."""
        row = tx.execute(
            select(platform_keys).where(platform_keys.c.generation == generation).with_for_update()
        ).first()
        if row is None:
            return None
        apps = tx.execute(
            select(func.count())
            .select_from(merchant_apps)
            .where(merchant_apps.c.platform_key_generation == generation)
        ).scalar_one()
        return KeyGeneration(row.generation, KeyState(row.state), row.created_at_us, int(apps))

    def newest_in(self, tx: Connection, *, lock: bool = True) -> int:
        """The newest active generation; generation 1 on a table emptied by hand. `lock`
        share-locks its row (a new app gets it: retiring it waits for the app's transaction)."""
        query = (
            select(platform_keys.c.generation)
            .where(platform_keys.c.state == KeyState.ACTIVE)
            .order_by(platform_keys.c.generation.desc())
            .limit(1)
        )
        newest = tx.execute(query.with_for_update(read=True) if lock else query).scalar()
        return int(newest) if newest is not None else FIRST_GENERATION

    def insert_in(self, tx: Connection, generation: int, now_us: int) -> bool:
        """False when the generation exists (another `keys new` won the race)."""
        exists = tx.execute(
            select(platform_keys.c.generation).where(platform_keys.c.generation == generation)
        ).first()
        if exists is not None:
            return False
        tx.execute(
            insert(platform_keys).values(
                generation=generation, state=KeyState.ACTIVE, created_at_us=now_us
            )
        )
        return True

    def retire_in(self, tx: Connection, generation: int) -> None:
        tx.execute(
            update(platform_keys)
            .where(platform_keys.c.generation == generation)
            .values(state=KeyState.RETIRED)
        )

    def app_generation_in(self, tx: Connection, app_id: str) -> int | None:
        found = tx.execute(
            select(merchant_apps.c.platform_key_generation).where(merchant_apps.c.app_id == app_id)
        ).scalar()
        return int(found) if found is not None else None

    def set_app_generation_in(self, tx: Connection, app_id: str, generation: int) -> None:
        tx.execute(
            update(merchant_apps)
            .where(merchant_apps.c.app_id == app_id)
            .values(platform_key_generation=generation)
        )
