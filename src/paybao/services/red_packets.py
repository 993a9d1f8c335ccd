"""Red packets (红包): send from the wallet, claim a share, return the unclaimed rest at expiry.

Send is a wallet operation like a transfer (services/transfers.py): the sender's payment
password or device confirms it first (`WalletOperations.confirm_start`, then `confirm_in`
first in the money transaction), risk control assesses it
and the account-class limit counts it in the money transaction, which writes the packet, its
shares (split here, with `secrets`) and the journal `rpsend:<id>` (sender's wallet -> the
platform's `red_packets` account) together, and marks the caller's Idempotency-Key.

A claim locks the packet row and takes share number `claimed_count`: the claim row (unique
per share and per user), the packet's counters (compare-and-set) and `rpclaim:<claim id>`
(`red_packets` -> claimant's wallet) commit together, so 50 claimants of 10 shares get 10.

`expire_due` is a sweep: active packets past their time, a batch per transaction, each moved
active -> expired (compare-and-set) with `rpreturn:<id>` giving the unclaimed rest back.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from paybao.domain.accounts import Purpose
from paybao.domain.errors import InvalidInput, NotFound
from paybao.domain.identity import mask_phone, mask_real_name, normalize_phone
from paybao.domain.ledger import Transfer
from paybao.domain.red_packets import (
    LEDGER_CODE_RED_PACKET_CLAIM,
    LEDGER_CODE_RED_PACKET_RETURN,
    LEDGER_CODE_RED_PACKET_SEND,
    Kind,
    RedPacketClaimed,
    RedPacketEmpty,
    RedPacketExpired,
    RedPacketNotForYou,
    RedPacketNotFound,
    RedPacketPolicy,
    State,
    best_luck_seq,
    greeting_of,
    split_shares,
)
from paybao.domain.risk import Action, Assessment, Decision
from paybao.services.clock import US_PER_S
from paybao.services.devices import PaymentProof
from paybao.services.ledger import LedgerService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.risk import Attempt, RiskRefused
from paybao.services.users import UserService
from paybao.services.wallet_operations import WalletOperations, by_device

T = TypeVar("T")
PAGE_SIZE_MAX = 50
EXPIRE_BATCH_SIZE_MAX = 100
PACKET_NO_BYTES = 12  # 16 URL-safe characters: the link is the key to a group packet
PACKET_NO_CHARS_MAX = 24  # what the column holds; a longer id names no packet


@dataclass(frozen=True, slots=True)
class PacketRecord:
    id: int
    packet_no: str
    sender_user_id: int
    kind: Kind
    to_user_id: int | None
    total_fen: int
    share_count: int
    greeting: str
    state: State
    claimed_count: int
    claimed_fen: int
    returned_fen: int
    created_at_us: int
    expires_at_us: int
    ended_at_us: int | None


@dataclass(frozen=True, slots=True)
class ClaimRecord:
    id: int
    packet_id: int
    seq: int
    user_id: int
    amount_fen: int
    claimed_at_us: int


@dataclass(frozen=True, slots=True)
class Person:
    """What is shown of a user beside a packet: the real name or phone, masked."""

    real_name: str | None
    phone: str

    @property
    def masked(self) -> str:
        return mask_real_name(self.real_name) if self.real_name else mask_phone(self.phone)


class RedPacketStore(Protocol):
    def insert_packet(self, tx: Tx, values: dict[str, Any]) -> int: ...

    def insert_shares(self, tx: Tx, packet_id: int, amounts_fen: Sequence[int]) -> None: ...

    def packet(
        self,
        tx: Tx,
        *,
        packet_no: str | None = None,
        packet_id: int | None = None,
        for_update: bool = False,
    ) -> PacketRecord | None: ...

    def share_amounts(self, tx: Tx, packet_id: int) -> list[int]:
        """Every share's amount, by seq."""
        ...

    def share_amount(self, tx: Tx, packet_id: int, seq: int) -> int: ...

    def claim_of(self, tx: Tx, packet_id: int, user_id: int) -> ClaimRecord | None: ...

    def insert_claim(self, tx: Tx, values: dict[str, Any]) -> int: ...

    def claim_by_id(self, tx: Tx, claim_id: int) -> tuple[ClaimRecord, str] | None:
        """A claim and its packet's public number."""
        ...

    def advance(
        self,
        tx: Tx,
        packet_id: int,
        claimed_count: int,
        amount_fen: int,
        now_us: int,
        *,
        last: bool,
    ) -> bool:
        """Count one more claim on a packet still at `claimed_count` (compare-and-set); the
        last share finishes it."""
        ...

    def expire(self, tx: Tx, packet_id: int, returned_fen: int, now_us: int) -> bool:
        """active -> expired (compare-and-set), with what goes back to the sender."""
        ...

    def due_packet_ids(self, tx: Tx, now_us: int, limit: int) -> list[int]: ...

    def claims(self, tx: Tx, packet_id: int) -> list[tuple[ClaimRecord, Person]]: ...

    def person(self, tx: Tx, user_id: int) -> Person: ...

    def sent(
        self, tx: Tx, user_id: int, before_id: int | None, limit: int
    ) -> list[PacketRecord]: ...

    def waiting(
        self, tx: Tx, user_id: int, now_us: int, limit: int
    ) -> list[tuple[PacketRecord, Person]]:
        """Active single packets for the user (unclaimed, in time), newest first."""
        ...

    def received(
        self, tx: Tx, user_id: int, before_id: int | None, limit: int
    ) -> list[tuple[ClaimRecord, PacketRecord, Person]]:
        """The user's claims, newest first, with their packets and senders."""
        ...


# What callers get --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SentPacket:
    """The answer of a send (flat: the REST answer and its replay are this, as JSON)."""

    id: str
    kind: str
    total_fen: int
    count: int
    greeting: str
    state: str
    expires_at_us: int
    share_url: str


@dataclass(frozen=True, slots=True)
class ClaimResult:
    packet_id: str
    claim_id: int
    amount_fen: int
    claimed_at_us: int


@dataclass(frozen=True, slots=True)
class ClaimView:
    name_masked: str
    amount_fen: int
    claimed_at_us: int
    best_luck: bool
    mine: bool


@dataclass(frozen=True, slots=True)
class PacketView:
    id: str
    kind: str
    sender_name_masked: str
    greeting: str
    total_fen: int
    count: int
    claimed_count: int
    claimed_fen: int
    returned_fen: int
    state: str
    created_at_us: int
    expires_at_us: int
    share_url: str
    mine: bool  # the viewer sent it
    my_amount_fen: int | None  # what the viewer claimed of it
    claimable: bool  # whether the viewer may claim a share now
    claims: tuple[ClaimView, ...]


@dataclass(frozen=True, slots=True)
class Received:
    cursor: int  # the claim's id: the page cursor
    packet_id: str
    kind: str
    sender_name_masked: str
    greeting: str
    amount_fen: int
    claimed_at_us: int


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_before: int | None  # pass as `before_id` for the next page; None on the last


@dataclass(frozen=True, slots=True)
class Waiting:
    """A single packet sent to the user, not opened yet."""

    packet_id: str
    sender_name_masked: str
    greeting: str
    total_fen: int
    expires_at_us: int


@dataclass(frozen=True, slots=True)
class SendRequest:
    kind: Kind
    count: int
    total_fen: int | None = None  # single, lucky
    share_fen: int | None = None  # equal
    greeting: str = ""
    to_phone: str = ""  # single


@dataclass
class RedPackets:
    db: Database
    store: RedPacketStore
    users: UserService
    ledger: LedgerService
    clock: Clock
    operations: WalletOperations
    base_url: str
    policy: RedPacketPolicy = field(default_factory=RedPacketPolicy)
    # The REST answer of a send or a claim, byte for byte (set by the wiring): the money
    # transaction stores it with the change, which saves the request a write transaction.
    answer_of: Callable[[Any], tuple[int, str]] | None = None

    # Send -------------------------------------------------------------------------------

    def send(self, sender_id: int, request: SendRequest, proof: PaymentProof) -> SentPacket:
        shares = split_shares(
            request.kind,
            request.count,
            self.policy,
            total_fen=request.total_fen,
            share_fen=request.share_fen,
        )
        greeting = greeting_of(request.greeting, self.policy)
        to_user_id = self._recipient(sender_id, request)
        total_fen = sum(shares)
        self.operations.confirm_start(sender_id, proof, total_fen)
        attempt = Attempt(sender_id, Action.TRANSFER, total_fen, by_device(proof), to_user_id)

        def work(tx: Tx) -> SentPacket:
            self.operations.confirm_in(tx, sender_id, proof)
            self._assess_in(tx, attempt)
            packet_id, sent = self._send_in(
                tx, sender_id, request.kind, shares, greeting, to_user_id
            )
            self._mark_in(tx, "red_packet", packet_id, sent)
            return sent

        return self.operations.guarded(lambda: self.operations.run_ledger(work))

    def _mark_in(self, tx: Tx, kind: str, row_id: int, answer: SentPacket | ClaimResult) -> None:
        """The caller's claim marked `<kind>:<id>`; under a REST request, with its answer."""
        idempotency = self.operations.idempotency
        if idempotency is not None and self.answer_of is not None and idempotency.claiming():
            idempotency.mark_done_in(tx, f"{kind}:{row_id}", answer=self.answer_of(answer))
        else:
            self.operations.mark_in(tx, kind, row_id)

    def _recipient(self, sender_id: int, request: SendRequest) -> int | None:
        if request.kind is not Kind.SINGLE:
            return None
        recipient = self.users.find_by_phone(normalize_phone(request.to_phone))
        if recipient is None or recipient.wallet_account_id is None:
            raise NotFound("no paybao account with this phone number", code="payee_not_found")
        if recipient.id == sender_id:
            raise InvalidInput("a single red packet is for someone else", code="payee_is_payer")
        return recipient.id

    def _assess_in(self, tx: Tx, attempt: Attempt) -> None:
        assessment = self.operations.assess_in(tx, attempt)
        if assessment.decision is Decision.DELAY:
            # A packet cannot wait 2 hours for a review as a transfer does: what would hold a
            # transfer refuses a red packet.
            raise RiskRefused(attempt, Assessment(Decision.REJECT, assessment.reasons))

    def _send_in(
        self,
        tx: Tx,
        sender_id: int,
        kind: Kind,
        shares: list[int],
        greeting: str,
        to_user_id: int | None,
    ) -> tuple[int, SentPacket]:
        """The packet's id and the send's answer, made from what was written (not read back)."""
        total_fen = sum(shares)
        self.users.check_can_pay_in(tx, sender_id, total_fen, funding="balance")
        now_us = self.clock.now_us()
        packet_no = secrets.token_urlsafe(PACKET_NO_BYTES)
        expires_at_us = now_us + self.policy.expiry_s * US_PER_S
        packet_id = self.store.insert_packet(
            tx,
            {
                "packet_no": packet_no,
                "sender_user_id": sender_id,
                "kind": str(kind),
                "to_user_id": to_user_id,
                "total_fen": total_fen,
                "share_count": len(shares),
                "greeting": greeting,
                "state": str(State.ACTIVE),
                "claimed_count": 0,
                "claimed_fen": 0,
                "returned_fen": 0,
                "created_at_us": now_us,
                "expires_at_us": expires_at_us,
            },
        )
        self.store.insert_shares(tx, packet_id, shares)
        self.ledger.transfer_in(
            tx,
            [
                Transfer(
                    f"rpsend:{packet_id}",
                    self.users.wallet_account_id_in(tx, sender_id),
                    self._pool_in(tx),
                    total_fen,
                    code=LEDGER_CODE_RED_PACKET_SEND,
                    reference=f"redpacket:{packet_id}",
                )
            ],
            fresh=True,
        )
        sent = SentPacket(
            id=packet_no,
            kind=str(kind),
            total_fen=total_fen,
            count=len(shares),
            greeting=greeting,
            state=str(State.ACTIVE),
            expires_at_us=expires_at_us,
            share_url=self.share_url(packet_no),
        )
        return packet_id, sent

    def _pool_in(self, tx: Tx) -> int:
        return self.operations.platform_account_id_in(tx, Purpose.RED_PACKETS)

    def sent_packet(self, packet_id: int) -> SentPacket:
        """A send's answer again (the idempotency renderer after a crash)."""
        with self.db.read() as tx:
            return self._sent_in(tx, packet_id)

    def _sent_in(self, tx: Tx, packet_id: int) -> SentPacket:
        packet = self.store.packet(tx, packet_id=packet_id)
        if packet is None:
            raise RedPacketNotFound("no such red packet")
        return SentPacket(
            id=packet.packet_no,
            kind=str(packet.kind),
            total_fen=packet.total_fen,
            count=packet.share_count,
            greeting=packet.greeting,
            state=str(packet.state),
            expires_at_us=packet.expires_at_us,
            share_url=self.share_url(packet.packet_no),
        )

    def share_url(self, packet_no: str) -> str:
        return f"{self.base_url}/red-packets/{packet_no}"

    # Claim ------------------------------------------------------------------------------

    def claim(self, user_id: int, packet_no: str) -> ClaimResult:
        def work(tx: Tx) -> ClaimResult:
            packet = self._packet_in(tx, packet_no, for_update=True)
            result = self._claim_in(tx, user_id, packet)
            self._mark_in(tx, "red_packet_claim", result.claim_id, result)
            return result

        return self.db.run(work)

    def _packet_in(self, tx: Tx, packet_no: str, *, for_update: bool = False) -> PacketRecord:
        packet = None
        if 1 <= len(packet_no) <= PACKET_NO_CHARS_MAX and packet_no.isprintable():
            packet = self.store.packet(tx, packet_no=packet_no, for_update=for_update)
        if packet is None:
            raise RedPacketNotFound("no such red packet")
        return packet

    def _claim_in(self, tx: Tx, user_id: int, packet: PacketRecord) -> ClaimResult:
        if packet.kind is Kind.SINGLE and user_id != packet.to_user_id:
            raise RedPacketNotForYou("this red packet is for someone else")
        if self.store.claim_of(tx, packet.id, user_id) is not None:
            raise RedPacketClaimed("you have already opened this red packet")
        now_us = self.clock.now_us()
        if packet.state is State.EXPIRED or now_us >= packet.expires_at_us:
            raise RedPacketExpired("this red packet has expired")
        if packet.state is State.FINISHED or packet.claimed_count >= packet.share_count:
            raise RedPacketEmpty("every share of this red packet is taken")
        wallet_id = self.users.wallet_account_id_in(tx, user_id)
        seq = packet.claimed_count
        amount_fen = self.store.share_amount(tx, packet.id, seq)
        claim_id = self.store.insert_claim(
            tx,
            {
                "packet_id": packet.id,
                "seq": seq,
                "user_id": user_id,
                "amount_fen": amount_fen,
                "claimed_at_us": now_us,
            },
        )
        last = seq + 1 == packet.share_count
        if not self.store.advance(tx, packet.id, seq, amount_fen, now_us, last=last):
            # The row lock makes this impossible; the unique keys would refuse it anyway.
            raise RedPacketEmpty("every share of this red packet is taken")
        self.ledger.transfer_in(
            tx,
            [
                Transfer(
                    f"rpclaim:{claim_id}",
                    self._pool_in(tx),
                    wallet_id,
                    amount_fen,
                    code=LEDGER_CODE_RED_PACKET_CLAIM,
                    reference=f"redpacket:{packet.id}",
                )
            ],
            fresh=True,
        )
        return ClaimResult(packet.packet_no, claim_id, amount_fen, now_us)

    def claim_result(self, claim_id: int) -> ClaimResult:
        """A claim's answer again (the idempotency renderer after a crash)."""
        with self.db.read() as tx:
            found = self.store.claim_by_id(tx, claim_id)
        if found is None:
            raise RedPacketNotFound("no such claim")
        claim, packet_no = found
        return ClaimResult(packet_no, claim.id, claim.amount_fen, claim.claimed_at_us)

    # Expiry -----------------------------------------------------------------------------

    def expire_due(self, batch_size: int = EXPIRE_BATCH_SIZE_MAX) -> int:
        """Sweep: expire every active packet past its time, a batch per transaction, giving
        the unclaimed rest back; returns how many expired. Safe beside another sweeper and
        beside claims: each expiry locks its packet and is a compare-and-set on `active`."""
        assert 0 < batch_size <= EXPIRE_BATCH_SIZE_MAX
        expired = 0
        while True:
            done, seen = self.db.run(lambda tx: self._expire_batch_in(tx, batch_size))
            expired += done
            # A short batch was the last; a full one that changed nothing (taken by another
            # sweeper) leaves the rest to the next pass rather than spin.
            if seen < batch_size or done == 0:
                return expired

    def _expire_batch_in(self, tx: Tx, limit: int) -> tuple[int, int]:
        now_us = self.clock.now_us()
        packet_ids = self.store.due_packet_ids(tx, now_us, limit)
        transfers: list[Transfer] = []
        done = 0
        for packet_id in packet_ids:
            packet = self.store.packet(tx, packet_id=packet_id, for_update=True)
            if packet is None or packet.state is not State.ACTIVE:
                continue
            rest_fen = packet.total_fen - packet.claimed_fen
            if not self.store.expire(tx, packet.id, rest_fen, now_us):
                continue
            done += 1
            if rest_fen:
                transfers.append(
                    Transfer(
                        f"rpreturn:{packet.id}",
                        self._pool_in(tx),
                        self.users.wallet_account_id_in(tx, packet.sender_user_id),
                        rest_fen,
                        code=LEDGER_CODE_RED_PACKET_RETURN,
                        reference=f"redpacket:{packet.id}",
                    )
                )
        if transfers:
            self.ledger.transfer_in(tx, transfers)
        return done, len(packet_ids)

    # Reads ------------------------------------------------------------------------------

    def packet(self, viewer_id: int, packet_no: str) -> PacketView:
        with self.db.read() as tx:
            packet = self._packet_in(tx, packet_no)
            if packet.kind is Kind.SINGLE and viewer_id not in (
                packet.sender_user_id,
                packet.to_user_id,
            ):
                raise RedPacketNotFound("no such red packet")  # a single packet is private
            sender = self.store.person(tx, packet.sender_user_id)
            claims = self.store.claims(tx, packet.id)
            amounts = self.store.share_amounts(tx, packet.id)
        best = best_luck_seq(packet.kind, amounts, packet.claimed_count)
        mine = next((c.amount_fen for c, _ in claims if c.user_id == viewer_id), None)
        return PacketView(
            id=packet.packet_no,
            kind=str(packet.kind),
            sender_name_masked=sender.masked,
            greeting=packet.greeting,
            total_fen=packet.total_fen,
            count=packet.share_count,
            claimed_count=packet.claimed_count,
            claimed_fen=packet.claimed_fen,
            returned_fen=packet.returned_fen,
            state=str(packet.state),
            created_at_us=packet.created_at_us,
            expires_at_us=packet.expires_at_us,
            share_url=self.share_url(packet.packet_no),
            mine=packet.sender_user_id == viewer_id,
            my_amount_fen=mine,
            claimable=mine is None
            and packet.state is State.ACTIVE
            and self.clock.now_us() < packet.expires_at_us
            and (packet.kind is not Kind.SINGLE or viewer_id == packet.to_user_id),
            claims=tuple(
                ClaimView(
                    name_masked=person.masked,
                    amount_fen=claim.amount_fen,
                    claimed_at_us=claim.claimed_at_us,
                    best_luck=claim.seq == best,
                    mine=claim.user_id == viewer_id,
                )
                for claim, person in claims
            ),
        )

    def sent(
        self, user_id: int, before_id: int | None = None, limit: int = 20
    ) -> Page[PacketRecord]:
        """The user's packets, newest first; `before_id` is `next_before` of the last page."""
        _check_page(limit)
        with self.db.read() as tx:
            found = self.store.sent(tx, user_id, before_id, limit + 1)  # one more: a page follows?
        return _page(found, limit, lambda packet: packet.id)

    def waiting(self, user_id: int, limit: int = 20) -> list[Waiting]:
        """Single packets sent to the user that it may still open, newest first."""
        _check_page(limit)
        with self.db.read() as tx:
            rows = self.store.waiting(tx, user_id, self.clock.now_us(), limit)
        return [
            Waiting(
                packet_id=packet.packet_no,
                sender_name_masked=sender.masked,
                greeting=packet.greeting,
                total_fen=packet.total_fen,
                expires_at_us=packet.expires_at_us,
            )
            for packet, sender in rows
        ]

    def received(
        self, user_id: int, before_id: int | None = None, limit: int = 20
    ) -> Page[Received]:
        """The user's claims, newest first; `before_id` is `next_before` of the last page."""
        _check_page(limit)
        with self.db.read() as tx:
            rows = self.store.received(tx, user_id, before_id, limit + 1)
        received = [
            Received(
                cursor=claim.id,
                packet_id=packet.packet_no,
                kind=str(packet.kind),
                sender_name_masked=sender.masked,
                greeting=packet.greeting,
                amount_fen=claim.amount_fen,
                claimed_at_us=claim.claimed_at_us,
            )
            for claim, packet, sender in rows
        ]
        return _page(received, limit, lambda item: item.cursor)


def _page(found: list[T], limit: int, cursor_of: Callable[[T], int]) -> Page[T]:
    """A page of `limit` from `limit + 1` rows read: a cursor only when another page follows."""
    items = found[:limit]
    return Page(items, cursor_of(items[-1]) if len(found) > limit else None)


def _check_page(limit: int) -> None:
    if not 1 <= limit <= PAGE_SIZE_MAX:
        raise InvalidInput(f"page size must be 1..{PAGE_SIZE_MAX}", code="page_size_invalid")
