"""SQL for app certificates (services/app_certificates.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from paybao.adapters.db.tables.app_certificates import app_certificates
from paybao.adapters.db.tables.merchant import merchant_apps
from paybao.domain.app_certificates import AppCertificate


class SqlAppCertificateStore:
    def lock_app_key_in(self, tx: Connection, app_id: str) -> str | None:
        query = (
            select(merchant_apps.c.public_key)
            .where(merchant_apps.c.app_id == app_id)
            .with_for_update()
        )
        found = tx.execute(query).scalar()
        return str(found) if found is not None else None

    def insert_in(self, tx: Connection, cert: AppCertificate) -> None:
        tx.execute(
            insert(app_certificates).values(
                app_id=cert.app_id,
                sn=cert.sn,
                serial=cert.serial,
                public_key=cert.public_key,
                pem=cert.pem,
                issued_at_us=cert.issued_at_us,
                expires_at_us=cert.expires_at_us,
                revoked_at_us=cert.revoked_at_us,
            )
        )

    def find_in(self, tx: Connection, app_id: str, sn: str) -> AppCertificate | None:
        row = tx.execute(
            select(app_certificates).where(
                app_certificates.c.sn == sn, app_certificates.c.app_id == app_id
            )
        ).first()
        return _certificate(row) if row is not None else None

    def list_in(self, tx: Connection, app_id: str, limit: int) -> list[AppCertificate]:
        rows = tx.execute(
            select(app_certificates)
            .where(app_certificates.c.app_id == app_id)
            .order_by(app_certificates.c.issued_at_us.desc(), app_certificates.c.id.desc())
            .limit(limit)
        ).all()
        return [_certificate(row) for row in rows]

    def revoke_in(self, tx: Connection, app_id: str, sn: str, now_us: int) -> None:
        tx.execute(
            update(app_certificates)
            .where(
                app_certificates.c.sn == sn,
                app_certificates.c.app_id == app_id,
                app_certificates.c.revoked_at_us.is_(None),
            )
            .values(revoked_at_us=now_us)
        )


def _certificate(row: Any) -> AppCertificate:
    return AppCertificate(
        app_id=row.app_id,
        sn=row.sn,
        serial=row.serial,
        public_key=row.public_key,
        pem=row.pem,
        issued_at_us=row.issued_at_us,
        expires_at_us=row.expires_at_us,
        revoked_at_us=row.revoked_at_us,
    )
