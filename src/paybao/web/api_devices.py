"""REST: devices that confirm wallet operations in place of the payment password
(`/api/v1/devices`). See `domain/devices.py` for what the device signs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from paybao.domain.devices import Device, encode_b64
from paybao.web.api_wallet import User
from paybao.web.deps import platform_of
from paybao.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1/devices", tags=["devices"], responses=ERROR_RESPONSES)


class DeviceIn(BaseModel):
    name: str = Field(max_length=64)
    public_key: str = Field(max_length=64, description="raw Ed25519 public key, base64")
    payment_password: str = Field(max_length=16)


class DeviceOut(BaseModel):
    device_id: str
    name: str
    public_key: str
    created_at_us: int


class DevicesOut(BaseModel):
    devices: list[DeviceOut]


def device_out(device: Device) -> DeviceOut:
    return DeviceOut(
        device_id=device.device_id,
        name=device.name,
        public_key=encode_b64(device.public_key),
        created_at_us=device.created_at_us,
    )


@router.post("", status_code=201)
async def register(body: DeviceIn, request: Request, user_id: User) -> DeviceOut:
    """Register this phone's key, proven by the payment password. The same key again
    answers the same device."""
    devices = platform_of(request).services["devices"]
    device = await run_in_threadpool(
        devices.register, user_id, body.name, body.public_key, body.payment_password
    )
    return device_out(device)


@router.get("")
def listing(request: Request, user_id: User) -> DevicesOut:
    devices = platform_of(request).services["devices"].devices(user_id)
    return DevicesOut(devices=[device_out(d) for d in devices])


@router.delete("/{device_id}", status_code=204)
def revoke(device_id: str, request: Request, user_id: User) -> None:
    if len(device_id) > 32:
        device_id = ""  # cannot exist; answered as not found
    platform_of(request).services["devices"].revoke(user_id, device_id)
