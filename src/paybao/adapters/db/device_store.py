"""SQL for devices that confirm wallet operations (`services/devices.py`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from paybao.adapters.db.tables.devices import user_devices
from paybao.domain.devices import Device, decode_public_key, encode_b64

# Built once: every confirmed wallet operation reads its device (building the statement afresh
# cost about 0.08 ms of CPU).
_BY_DEVICE_ID = select(user_devices).where(user_devices.c.device_id == bindparam("device_id"))


class SqlDeviceStore:
    def insert(self, tx: Connection, device: Device) -> None:
        tx.execute(
            insert(user_devices).values(
                device_id=device.device_id,
                user_id=device.user_id,
                name=device.name,
                public_key=encode_b64(device.public_key),
                status=device.status,
                created_at_us=device.created_at_us,
            )
        )

    def get(self, tx: Connection, device_id: str) -> Device | None:
        row = tx.execute(_BY_DEVICE_ID, {"device_id": device_id}).first()
        return None if row is None else _device(row)

    def find_key(self, tx: Connection, user_id: int, public_key: bytes) -> Device | None:
        row = tx.execute(
            select(user_devices).where(
                user_devices.c.user_id == user_id,
                user_devices.c.public_key == encode_b64(public_key),
            )
        ).first()
        return None if row is None else _device(row)

    def count_active(self, tx: Connection, user_id: int) -> int:
        return int(
            tx.execute(
                select(func.count())
                .select_from(user_devices)
                .where(user_devices.c.user_id == user_id, user_devices.c.status == "active")
            ).scalar_one()
        )

    def active(self, tx: Connection, user_id: int, limit: int) -> list[Device]:
        rows = tx.execute(
            select(user_devices)
            .where(user_devices.c.user_id == user_id, user_devices.c.status == "active")
            .order_by(user_devices.c.id)
            .limit(limit)
        )
        return [_device(row) for row in rows]

    def revoke(self, tx: Connection, user_id: int, device_id: str, now_us: int) -> bool:
        result = tx.execute(
            update(user_devices)
            .where(
                user_devices.c.device_id == device_id,
                user_devices.c.user_id == user_id,
                user_devices.c.status == "active",
            )
            .values(status="revoked", revoked_at_us=now_us)
        )
        return bool(result.rowcount)


def _device(row: Any) -> Device:
    return Device(
        device_id=str(row.device_id),
        user_id=int(row.user_id),
        name=str(row.name),
        public_key=decode_public_key(str(row.public_key)),
        status=str(row.status),
        created_at_us=int(row.created_at_us),
        revoked_at_us=None if row.revoked_at_us is None else int(row.revoked_at_us),
    )
