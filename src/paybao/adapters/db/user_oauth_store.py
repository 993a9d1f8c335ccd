"""SQL for user OAuth (services/user_oauth.py): authorisations, one-time codes, token pairs.

Core, one statement per call. Single use is a conditional UPDATE (`used_at_us IS NULL`, or the
refresh hash still the old one) whose row count says which caller won: on PostgreSQL a second
concurrent UPDATE waits for the first and then matches nothing. The grant row is read FOR UPDATE
on PostgreSQL when a change depends on it (SQLite serialises writers).
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import RowMapping

from paybao.adapters.db.tables.user_oauth import oauth_codes, oauth_grants, oauth_tokens
from paybao.domain.user_oauth import Scope, parse_scopes
from paybao.services.user_oauth import ACTIVE, REVOKED, CodeRecord, Grant, TokenRecord


def _scopes(text: str) -> frozenset[Scope]:
    return parse_scopes(text) if text else frozenset()


def _grant(row: RowMapping) -> Grant:
    return Grant(
        id=row["id"],
        user_id=row["user_id"],
        app_id=row["app_id"],
        merchant_id=row["merchant_id"],
        scopes=_scopes(row["scopes"]),
        status=row["status"],
        granted_at_us=row["granted_at_us"],
        changed_at_us=row["changed_at_us"],
    )


def _token(row: RowMapping) -> TokenRecord:
    return TokenRecord(
        id=row["id"],
        grant_id=row["grant_id"],
        app_id=row["app_id"],
        scopes=_scopes(row["scopes"]),
        issued_at_us=row["issued_at_us"],
        access_expires_at_us=row["access_expires_at_us"],
        refresh_expires_at_us=row["refresh_expires_at_us"],
    )


class SqlUserOAuthStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert

    # Grants -----------------------------------------------------------------------------------

    def grant(
        self, tx: Connection, user_id: int, app_id: str, *, for_update: bool = False
    ) -> Grant | None:
        query = select(oauth_grants).where(
            oauth_grants.c.user_id == user_id, oauth_grants.c.app_id == app_id
        )
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        return _grant(row) if row is not None else None

    def grant_by_id(
        self, tx: Connection, grant_id: int, *, for_update: bool = False
    ) -> Grant | None:
        query = select(oauth_grants).where(oauth_grants.c.id == grant_id)
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        return _grant(row) if row is not None else None

    def save_grant(
        self, tx: Connection, user_id: int, app_id: str, merchant_id: int, scopes: str, now_us: int
    ) -> Grant:
        statement = self._insert(oauth_grants).values(
            user_id=user_id,
            app_id=app_id,
            merchant_id=merchant_id,
            scopes=scopes,
            status=ACTIVE,
            granted_at_us=now_us,
            changed_at_us=now_us,
        )
        tx.execute(
            statement.on_conflict_do_update(
                index_elements=["user_id", "app_id"],
                set_={
                    "scopes": scopes,
                    "status": ACTIVE,
                    "granted_at_us": now_us,
                    "changed_at_us": now_us,
                },
            )
        )
        saved = self.grant(tx, user_id, app_id)
        assert saved is not None
        return saved

    def active_grants(self, tx: Connection, user_id: int, limit: int) -> list[Grant]:
        assert 0 < limit <= 1000
        query = (
            select(oauth_grants)
            .where(oauth_grants.c.user_id == user_id, oauth_grants.c.status == ACTIVE)
            .order_by(oauth_grants.c.granted_at_us.desc(), oauth_grants.c.id.desc())
            .limit(limit)
        )
        return [_grant(row) for row in tx.execute(query).mappings()]

    def revoke_grant(self, tx: Connection, grant_id: int, now_us: int) -> None:
        tx.execute(
            update(oauth_grants)
            .where(oauth_grants.c.id == grant_id)
            .values(status=REVOKED, changed_at_us=now_us)
        )
        tx.execute(delete(oauth_codes).where(oauth_codes.c.grant_id == grant_id))
        tx.execute(delete(oauth_tokens).where(oauth_tokens.c.grant_id == grant_id))

    # Codes ------------------------------------------------------------------------------------

    def insert_code(
        self,
        tx: Connection,
        code_hash: str,
        grant_id: int,
        app_id: str,
        scopes: str,
        now_us: int,
        expires_at_us: int,
    ) -> None:
        tx.execute(
            oauth_codes.insert().values(
                code_hash=code_hash,
                grant_id=grant_id,
                app_id=app_id,
                scopes=scopes,
                issued_at_us=now_us,
                expires_at_us=expires_at_us,
            )
        )

    def purge_codes(self, tx: Connection, grant_id: int, now_us: int) -> None:
        tx.execute(
            delete(oauth_codes).where(
                oauth_codes.c.grant_id == grant_id,
                (oauth_codes.c.used_at_us.is_not(None)) | (oauth_codes.c.expires_at_us <= now_us),
            )
        )

    def code(self, tx: Connection, code_hash: str) -> CodeRecord | None:
        row = (
            tx.execute(select(oauth_codes).where(oauth_codes.c.code_hash == code_hash))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return CodeRecord(
            grant_id=row["grant_id"],
            app_id=row["app_id"],
            scopes=_scopes(row["scopes"]),
            expires_at_us=row["expires_at_us"],
            used_at_us=row["used_at_us"],
        )

    def use_code(self, tx: Connection, code_hash: str, now_us: int) -> bool:
        result = tx.execute(
            update(oauth_codes)
            .where(oauth_codes.c.code_hash == code_hash, oauth_codes.c.used_at_us.is_(None))
            .values(used_at_us=now_us)
        )
        return result.rowcount == 1

    # Tokens -----------------------------------------------------------------------------------

    def insert_tokens(
        self,
        tx: Connection,
        grant_id: int,
        app_id: str,
        scopes: str,
        access_hash: str,
        refresh_hash: str,
        now_us: int,
        access_expires_at_us: int,
        refresh_expires_at_us: int,
    ) -> None:
        tx.execute(
            oauth_tokens.insert().values(
                grant_id=grant_id,
                app_id=app_id,
                scopes=scopes,
                access_hash=access_hash,
                refresh_hash=refresh_hash,
                issued_at_us=now_us,
                access_expires_at_us=access_expires_at_us,
                refresh_expires_at_us=refresh_expires_at_us,
            )
        )

    def purge_tokens(self, tx: Connection, grant_id: int, now_us: int, keep: int) -> None:
        assert keep >= 0
        tx.execute(
            delete(oauth_tokens).where(
                oauth_tokens.c.grant_id == grant_id,
                oauth_tokens.c.refresh_expires_at_us <= now_us,
            )
        )
        beyond = (
            select(oauth_tokens.c.id)
            .where(oauth_tokens.c.grant_id == grant_id)
            .order_by(oauth_tokens.c.id.desc())
            .offset(keep)
            .limit(1000)
        )
        ids = list(tx.execute(beyond).scalars())
        if ids:
            tx.execute(delete(oauth_tokens).where(oauth_tokens.c.id.in_(ids)))

    def token_by_access(self, tx: Connection, access_hash: str) -> TokenRecord | None:
        query = select(oauth_tokens).where(oauth_tokens.c.access_hash == access_hash)
        row = tx.execute(query).mappings().first()
        return _token(row) if row is not None else None

    def token_by_refresh(self, tx: Connection, refresh_hash: str) -> TokenRecord | None:
        query = select(oauth_tokens).where(oauth_tokens.c.refresh_hash == refresh_hash)
        row = tx.execute(query).mappings().first()
        return _token(row) if row is not None else None

    def rotate(
        self,
        tx: Connection,
        token_id: int,
        old_refresh_hash: str,
        access_hash: str,
        refresh_hash: str,
        now_us: int,
        access_expires_at_us: int,
        refresh_expires_at_us: int,
    ) -> bool:
        result = tx.execute(
            update(oauth_tokens)
            .where(oauth_tokens.c.id == token_id, oauth_tokens.c.refresh_hash == old_refresh_hash)
            .values(
                access_hash=access_hash,
                refresh_hash=refresh_hash,
                issued_at_us=now_us,
                access_expires_at_us=access_expires_at_us,
                refresh_expires_at_us=refresh_expires_at_us,
            )
        )
        return result.rowcount == 1
