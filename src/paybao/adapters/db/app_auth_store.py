"""SQL for third-party app authorisation (services/app_auth.py): authorisations, one-time
codes, the one token pair per authorisation.

Core, one statement per call. Single use is a conditional UPDATE (`used_at_us IS NULL`, or the
refresh hash still the old one) whose row count says which caller won: on PostgreSQL a second
concurrent UPDATE waits for the first and then matches nothing. The authorisation row is read
FOR UPDATE on PostgreSQL when a change depends on it (SQLite serialises writers).
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import RowMapping

from paybao.adapters.db.tables.app_auth import app_auth_codes, app_auth_tokens, app_auths
from paybao.services.app_auth import ACTIVE, REVOKED, AppAuth, CodeRecord, TokenRecord


def _auth(row: RowMapping) -> AppAuth:
    return AppAuth(
        id=row["id"],
        isv_app_id=row["isv_app_id"],
        auth_app_id=row["auth_app_id"],
        merchant_id=row["merchant_id"],
        status=row["status"],
        granted_at_us=row["granted_at_us"],
        changed_at_us=row["changed_at_us"],
    )


def _token(row: RowMapping) -> TokenRecord:
    return TokenRecord(
        auth_id=row["auth_id"],
        isv_app_id=row["isv_app_id"],
        issued_at_us=row["issued_at_us"],
        expires_at_us=row["expires_at_us"],
        refresh_expires_at_us=row["refresh_expires_at_us"],
    )


class SqlAppAuthStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert

    # Authorisations ---------------------------------------------------------------------------

    def auth(
        self, tx: Connection, isv_app_id: str, auth_app_id: str, *, for_update: bool = False
    ) -> AppAuth | None:
        query = select(app_auths).where(
            app_auths.c.isv_app_id == isv_app_id, app_auths.c.auth_app_id == auth_app_id
        )
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        return _auth(row) if row is not None else None

    def auth_by_id(
        self, tx: Connection, auth_id: int, *, for_update: bool = False
    ) -> AppAuth | None:
        query = select(app_auths).where(app_auths.c.id == auth_id)
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        return _auth(row) if row is not None else None

    def save_auth(
        self, tx: Connection, isv_app_id: str, auth_app_id: str, merchant_id: int, now_us: int
    ) -> AppAuth:
        statement = self._insert(app_auths).values(
            isv_app_id=isv_app_id,
            auth_app_id=auth_app_id,
            merchant_id=merchant_id,
            status=ACTIVE,
            granted_at_us=now_us,
            changed_at_us=now_us,
        )
        tx.execute(
            statement.on_conflict_do_update(
                index_elements=["isv_app_id", "auth_app_id"],
                set_={"status": ACTIVE, "granted_at_us": now_us, "changed_at_us": now_us},
            )
        )
        saved = self.auth(tx, isv_app_id, auth_app_id)
        assert saved is not None
        return saved

    def active_auths(self, tx: Connection, merchant_id: int, limit: int) -> list[AppAuth]:
        assert 0 < limit <= 1000
        query = (
            select(app_auths)
            .where(app_auths.c.merchant_id == merchant_id, app_auths.c.status == ACTIVE)
            .order_by(app_auths.c.granted_at_us.desc(), app_auths.c.id.desc())
            .limit(limit)
        )
        return [_auth(row) for row in tx.execute(query).mappings()]

    def revoke_auth(self, tx: Connection, auth_id: int, now_us: int) -> None:
        tx.execute(
            update(app_auths)
            .where(app_auths.c.id == auth_id)
            .values(status=REVOKED, changed_at_us=now_us)
        )
        tx.execute(delete(app_auth_codes).where(app_auth_codes.c.auth_id == auth_id))
        tx.execute(delete(app_auth_tokens).where(app_auth_tokens.c.auth_id == auth_id))

    # Codes ------------------------------------------------------------------------------------

    def insert_code(
        self,
        tx: Connection,
        code_hash: str,
        auth_id: int,
        isv_app_id: str,
        now_us: int,
        expires_at_us: int,
    ) -> None:
        tx.execute(
            app_auth_codes.insert().values(
                code_hash=code_hash,
                auth_id=auth_id,
                isv_app_id=isv_app_id,
                issued_at_us=now_us,
                expires_at_us=expires_at_us,
            )
        )

    def purge_codes(self, tx: Connection, auth_id: int, now_us: int) -> None:
        tx.execute(
            delete(app_auth_codes).where(
                app_auth_codes.c.auth_id == auth_id,
                (app_auth_codes.c.used_at_us.is_not(None))
                | (app_auth_codes.c.expires_at_us <= now_us),
            )
        )

    def code(self, tx: Connection, code_hash: str) -> CodeRecord | None:
        query = select(app_auth_codes).where(app_auth_codes.c.code_hash == code_hash)
        row = tx.execute(query).mappings().first()
        if row is None:
            return None
        return CodeRecord(
            auth_id=row["auth_id"],
            isv_app_id=row["isv_app_id"],
            expires_at_us=row["expires_at_us"],
            used_at_us=row["used_at_us"],
        )

    def use_code(self, tx: Connection, code_hash: str, now_us: int) -> bool:
        result = tx.execute(
            update(app_auth_codes)
            .where(app_auth_codes.c.code_hash == code_hash, app_auth_codes.c.used_at_us.is_(None))
            .values(used_at_us=now_us)
        )
        return result.rowcount == 1

    # Tokens -----------------------------------------------------------------------------------

    def save_tokens(
        self,
        tx: Connection,
        auth_id: int,
        isv_app_id: str,
        token_hash: str,
        refresh_hash: str,
        now_us: int,
        expires_at_us: int,
        refresh_expires_at_us: int,
    ) -> None:
        pair = {
            "token_hash": token_hash,
            "refresh_hash": refresh_hash,
            "issued_at_us": now_us,
            "expires_at_us": expires_at_us,
            "refresh_expires_at_us": refresh_expires_at_us,
        }
        statement = self._insert(app_auth_tokens).values(
            auth_id=auth_id, isv_app_id=isv_app_id, **pair
        )
        tx.execute(statement.on_conflict_do_update(index_elements=["auth_id"], set_=pair))

    def token(self, tx: Connection, token_hash: str) -> TokenRecord | None:
        query = select(app_auth_tokens).where(app_auth_tokens.c.token_hash == token_hash)
        row = tx.execute(query).mappings().first()
        return _token(row) if row is not None else None

    def token_by_refresh(self, tx: Connection, refresh_hash: str) -> TokenRecord | None:
        query = select(app_auth_tokens).where(app_auth_tokens.c.refresh_hash == refresh_hash)
        row = tx.execute(query).mappings().first()
        return _token(row) if row is not None else None

    def rotate(
        self,
        tx: Connection,
        auth_id: int,
        old_refresh_hash: str,
        token_hash: str,
        refresh_hash: str,
        now_us: int,
        expires_at_us: int,
        refresh_expires_at_us: int,
    ) -> bool:
        result = tx.execute(
            update(app_auth_tokens)
            .where(
                app_auth_tokens.c.auth_id == auth_id,
                app_auth_tokens.c.refresh_hash == old_refresh_hash,
            )
            .values(
                token_hash=token_hash,
                refresh_hash=refresh_hash,
                issued_at_us=now_us,
                expires_at_us=expires_at_us,
                refresh_expires_at_us=refresh_expires_at_us,
            )
        )
        return result.rowcount == 1
