"""REST: red packets (红包, `/api/v1/red-packets`), for apps and the pages' scripts.

Auth as the wallet's API (bearer token or session). Sending moves money: it needs an
`Idempotency-Key` (a replay gets the first answer) and a proof, the payment password in the
body or a registered device's signature in the X-Paybao-Device-* headers, as a transfer does.
A claim needs an `Idempotency-Key` too. A packet's `id` is its public number, the key in its
share link.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from paybao.domain.money import format_yuan
from paybao.domain.red_packets import Kind
from paybao.services.red_packets import (
    PACKET_NO_CHARS_MAX,
    PAGE_SIZE_MAX,
    PacketRecord,
    PacketView,
    Received,
    RedPackets,
    SendRequest,
)
from paybao.web.api_wallet import Device, User, confirmed, idempotent
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1/red-packets", tags=["red packets"], responses=ERROR_RESPONSES)
PacketNo = Annotated[
    str, Path(min_length=1, max_length=PACKET_NO_CHARS_MAX, description="The packet's id")
]


def _service(request: Request) -> RedPackets:
    service: RedPackets = platform_of(request).services["red_packets"]
    return service


class RedPacketIn(BaseModel):
    kind: Kind = Field(
        description="single (to one user, by phone), equal (普通红包: `count` shares of "
        "`share_fen`), lucky (拼手气红包: `total_fen` split at random into `count` shares)"
    )
    count: int = Field(default=1, ge=0, le=10_000, description="Shares; 1 for single")
    total_fen: int | None = Field(default=None, ge=0, description="single and lucky")
    share_fen: int | None = Field(default=None, ge=0, description="equal")
    greeting: str = Field(default="", max_length=64, description="Empty: 恭喜发财，大吉大利")
    to_phone: str = Field(default="", max_length=32, description="single: the recipient")
    # Or, instead, a registered device's signature in the X-Paybao-Device-* headers.
    payment_password: str | None = Field(default=None, max_length=16)


class ClaimOut(BaseModel):
    name_masked: str
    amount_fen: int
    amount: str
    claimed_at_us: int
    best_luck: bool = Field(
        description="手气最佳: a lucky packet's largest share, once all are taken"
    )
    mine: bool


class PacketOut(BaseModel):
    id: str
    kind: str
    sender_name_masked: str
    greeting: str
    total_fen: int
    count: int
    claimed_count: int
    claimed_fen: int
    returned_fen: int = Field(description="What went back to the sender at expiry")
    state: str = Field(description="active, finished (all claimed) or expired")
    created_at_us: int
    expires_at_us: int
    share_url: str
    mine: bool = Field(description="You sent it")
    my_amount_fen: int | None = Field(description="What you got of it, if you opened it")
    claimable: bool = Field(description="Whether you may claim a share now")
    claims: list[ClaimOut]


class SentOut(BaseModel):
    id: str
    kind: str
    total_fen: int
    count: int
    claimed_count: int
    claimed_fen: int
    returned_fen: int
    state: str
    greeting: str
    created_at_us: int
    expires_at_us: int


class ReceivedOut(BaseModel):
    id: str
    kind: str
    sender_name_masked: str
    greeting: str
    amount_fen: int
    claimed_at_us: int


class WaitingOut(BaseModel):
    id: str
    sender_name_masked: str
    greeting: str
    total_fen: int
    expires_at_us: int


class PacketsOut(BaseModel):
    role: str
    sent: list[SentOut] = Field(default_factory=list, description="role=sent")
    received: list[ReceivedOut] = Field(default_factory=list, description="role=received")
    waiting: list[WaitingOut] = Field(
        default_factory=list, description="role=waiting: single packets for you, not opened"
    )
    next_before: int | None = Field(description="Pass as `before` for the next page")


def packet_out(view: PacketView) -> PacketOut:
    return PacketOut(
        id=view.id,
        kind=view.kind,
        sender_name_masked=view.sender_name_masked,
        greeting=view.greeting,
        total_fen=view.total_fen,
        count=view.count,
        claimed_count=view.claimed_count,
        claimed_fen=view.claimed_fen,
        returned_fen=view.returned_fen,
        state=view.state,
        created_at_us=view.created_at_us,
        expires_at_us=view.expires_at_us,
        share_url=view.share_url,
        mine=view.mine,
        my_amount_fen=view.my_amount_fen,
        claimable=view.claimable,
        claims=[
            ClaimOut(
                name_masked=c.name_masked,
                amount_fen=c.amount_fen,
                amount=format_yuan(c.amount_fen),
                claimed_at_us=c.claimed_at_us,
                best_luck=c.best_luck,
                mine=c.mine,
            )
            for c in view.claims
        ],
    )


def _sent_out(packet: PacketRecord) -> SentOut:
    return SentOut(
        id=packet.packet_no,
        kind=str(packet.kind),
        total_fen=packet.total_fen,
        count=packet.share_count,
        claimed_count=packet.claimed_count,
        claimed_fen=packet.claimed_fen,
        returned_fen=packet.returned_fen,
        state=str(packet.state),
        greeting=packet.greeting,
        created_at_us=packet.created_at_us,
        expires_at_us=packet.expires_at_us,
    )


def _received_out(received: Received) -> ReceivedOut:
    return ReceivedOut(
        id=received.packet_id,
        kind=received.kind,
        sender_name_masked=received.sender_name_masked,
        greeting=received.greeting,
        amount_fen=received.amount_fen,
        claimed_at_us=received.claimed_at_us,
    )


@router.post("")
async def send(body: RedPacketIn, request: Request, user_id: User, device: Device) -> JSONResponse:
    """Send a red packet from the wallet: answers its id, state and share link."""
    service = _service(request)
    send_request = SendRequest(
        kind=body.kind,
        count=body.count,
        total_fen=body.total_fen,
        share_fen=body.share_fen,
        greeting=body.greeting,
        to_phone=body.to_phone,
    )
    return await confirmed(
        request,
        user_id,
        device,
        body.payment_password,
        lambda proof: service.send(user_id, send_request, proof),
    )


@router.post("/{packet_id}/claim")
async def claim(packet_id: PacketNo, request: Request, user_id: User) -> JSONResponse:
    """Open a red packet: answers the amount got (`amount_fen`)."""
    service = _service(request)
    return await idempotent(request, f"user:{user_id}", lambda: service.claim(user_id, packet_id))


@router.get("/{packet_id}", response_model=PacketOut)
def packet(packet_id: PacketNo, request: Request, user_id: User) -> PacketOut:
    """The packet with its claims (masked names, amounts, times)."""
    return packet_out(_service(request).packet(user_id, packet_id))


@router.get("", response_model=PacketsOut)
def packets(
    request: Request,
    user_id: User,
    role: Annotated[Literal["sent", "received", "waiting"], Query()] = "received",
    before: Annotated[
        int | None, Query(ge=1, le=ROW_ID_MAX, description="`next_before` of the last page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX, description="Page size")] = 20,
) -> PacketsOut:
    """The packets you sent, the shares you got, or the single packets waiting for you (one
    page, no cursor), newest first."""
    service = _service(request)
    if role == "waiting":
        waiting = [
            WaitingOut(
                id=w.packet_id,
                sender_name_masked=w.sender_name_masked,
                greeting=w.greeting,
                total_fen=w.total_fen,
                expires_at_us=w.expires_at_us,
            )
            for w in service.waiting(user_id, limit)
        ]
        return PacketsOut(role=role, waiting=waiting, next_before=None)
    if role == "sent":
        sent = service.sent(user_id, before, limit)
        return PacketsOut(
            role=role, sent=[_sent_out(p) for p in sent.items], next_before=sent.next_before
        )
    received = service.received(user_id, before, limit)
    return PacketsOut(
        role=role,
        received=[_received_out(r) for r in received.items],
        next_before=received.next_before,
    )
