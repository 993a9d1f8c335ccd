"""App public key certificates issued by the platform CA (services/app_certificates.py).

One row per certificate ever issued; a revoked one keeps its row with `revoked_at_us`. `sn` is
what requests name (`app_cert_sn`): unique, and the gateway's look-up. `public_key` is the SPKI
PEM the certificate holds, compared with the app's key to tell a current certificate.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from paybao.adapters.db.tables.base import IdType, metadata

app_certificates = Table(
    "app_certificates",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("app_id", String(16), nullable=False),
    Column("sn", String(32), nullable=False, unique=True),
    # Decimal: a random serial has up to 159 bits (48 digits).
    Column("serial", String(64), nullable=False),
    Column("public_key", Text, nullable=False),
    Column("pem", Text, nullable=False),
    Column("issued_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
)
Index("ix_app_certificates_app", app_certificates.c.app_id, app_certificates.c.issued_at_us)
