"""Devices whose key confirms wallet operations in place of the payment password
(`domain/devices.py`). A revoked device keeps its row: statements and audits may name it."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, UniqueConstraint

from paybao.adapters.db.tables.base import IdType, metadata

user_devices = Table(
    "user_devices",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("device_id", String(32), nullable=False, unique=True),
    Column("user_id", BigInteger, nullable=False),
    Column("name", String(64), nullable=False),
    Column("public_key", String(64), nullable=False),  # raw Ed25519, URL-safe base64
    Column("status", String(12), nullable=False, server_default="active"),
    Column("created_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
    # One registration per key and user: registering the same key again is a repeat.
    UniqueConstraint("user_id", "public_key", name="uq_user_devices_user_key"),
)
Index("ix_user_devices_user", user_devices.c.user_id)
