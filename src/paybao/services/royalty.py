"""Profit sharing (分账): receivers an app binds, settles of its paid trades, and what is left
to share. Rules in domain/royalty.py; the Alipay wire in adapters/alipay/royalty_methods.py.

One write path per change, each in one transaction:
- `bind` / `unbind` add or remove an app's relations (unique per app and user: binding again
  changes nothing, unbinding what is not bound neither);
- `settle` locks the trade's sharing state row first (FOR UPDATE on PostgreSQL; SQLite
  serialises writers), so two settles of one trade see each other's amounts and together never
  pass the cap, and then the trade row itself (the conditional update refunds make), so that a
  concurrent refund cannot shrink the cap under it; then it records the settle and its parts,
  adds to the state, and moves the money in one linked journal (merchant settlement -> each
  receiver's wallet, transfer ids `royalty:<settle_no>:<seq>`, reference the trade number).
  Any refusal writes nothing.

An asynchronous settle (`royalty_mode=async`) is accepted at once (`settle` with
`request.asynchronous`): under the same locks it checks what can be checked now (the trade
settleable, its sharing open, the parts bound and within what the cap leaves now, the trade's
count of settles), records the settle `processing` with every part PROCESSING, counts it in the
state and schedules a `royalty_settle` job in the same transaction; nothing moves. The job
(`execute`, outside any transaction) runs each PROCESSING part in a transaction of its own
(`_execute_part`): the sharing state row and the trade row locked as a sync settle locks them,
the part checked again on the trade as it is then (`part_refusal`: bound, settleable, open,
within the cap), then either its one transfer (`royalty:<settle_no>:<seq>`, code 9401) with the
state's settled amount and the part's SUCCESS, or the part's FAIL and nothing else. A part's
state changes only from PROCESSING (compare-and-set) and its transfer id is unique, so a worker
killed between parts and the job run again moves each part exactly once. When no part is left
PROCESSING, `_complete` marks the settle done, applies its `royalty_finish`, and queues the
settle's notification (`RoyaltyEvents`), once.

Idempotent by `(app, out_request_no)`: the same settle again answers the first one; the same
number with other parameters is refused. `db.run` may re-run the work after a unique race: the
re-run finds the winner's settle and answers from it.

Refunds that take shares back (退分账) call in as the refund service's `royalty_refunds`, inside
the refund's transaction: `take_back_in` locks the trade's sharing state row (as a settle does,
and before the refund changes the trade row: one lock order), checks each receiver's part
against what was settled to it on the trade less what it gave back already, records the parts
against the refund and returns the transfers (receiver wallet -> merchant settlement, ids
`royalty-back:<refund id>:<seq>`, code 9402, reference the trade number) that lead the refund's
linked chain. A refund repeated by its out_request_no must name the same parts (`same_in`).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from paybao.domain.errors import DomainError, InvalidInput, Retryable
from paybao.domain.identity import normalize_phone, normalize_real_name
from paybao.domain.ledger import Transfer
from paybao.domain.royalty import (
    ASYNC_PARTS_MAX,
    LEDGER_CODE_ROYALTY,
    LEDGER_CODE_ROYALTY_BACK,
    MAX_SHARE_PERCENT_DEFAULT,
    MAX_SHARE_PERCENT_MAX,
    PAGE_SIZE_MAX,
    PARTS_MAX,
    RECEIVERS_PER_APP_MAX,
    RECEIVERS_PER_CALL_MAX,
    BackExceeded,
    BackPart,
    MerchantBalanceNotEnough,
    Part,
    PartState,
    Received,
    ReceiverBalanceNotEnough,
    ReceiverNameMismatch,
    ReceiverNotBound,
    ReceiverNotFound,
    ReceiversEmpty,
    ReceiverType,
    RelationsFull,
    RoyaltyRequestInvalid,
    SettleNotFound,
    SettleRequestMismatch,
    check_async_settle,
    check_back,
    check_back_parts,
    check_parts,
    check_settle,
    part_refusal,
    share_cap_fen,
    unsettled_fen,
)
from paybao.domain.trades import TradeStatus
from paybao.services.clock import US_PER_S, datetime_from_us
from paybao.services.jobs import Job, JobRunner
from paybao.services.ledger import LedgerRejected, LedgerService
from paybao.services.merchants import MerchantService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.refunds import Refund
from paybao.services.trades import Trade, TradeRef, TradeService, linked
from paybao.services.users import UserRecord, UserStore

FINGERPRINT_LENGTH_MAX = 32  # royalty_settles.fingerprint
JOB_SETTLE = "royalty_settle"  # runs an asynchronous settle's parts; key: the settle_no
MODE_SYNC = "sync"
MODE_ASYNC = "async"
STATUS_PROCESSING = "processing"  # an asynchronous settle with parts still to run
STATUS_DONE = "done"


@dataclass(frozen=True, slots=True)
class Relation:
    id: int
    app_id: str
    user_id: int
    receiver_type: ReceiverType
    account: str
    memo: str
    created_at_us: int


@dataclass(frozen=True, slots=True)
class Receiver:
    """A receiver as the merchant names it in a bind or unbind."""

    receiver_type: ReceiverType
    account: str
    name: str | None = None  # checked against the verified real name when given
    memo: str = ""


@dataclass(frozen=True, slots=True)
class RoyaltyState:
    trade_no: str
    app_id: str
    settled_fen: int
    settles: int
    finished: bool
    updated_at_us: int


@dataclass(frozen=True, slots=True)
class SettlePart:
    seq: int
    user_id: int
    trans_in_type: ReceiverType
    trans_in: str
    amount_fen: int
    description: str
    state: PartState = PartState.SUCCESS
    error_code: str = ""  # the domain code of a FAIL
    executed_at_us: int | None = None  # when it ran (a sync part: its settle's creation)


@dataclass(frozen=True, slots=True)
class Settle:
    id: int
    settle_no: str
    app_id: str
    merchant_id: int
    trade_no: str
    out_request_no: str
    fingerprint: str
    amount_fen: int
    finish: bool
    created_at_us: int
    parts: tuple[SettlePart, ...] = ()
    mode: str = MODE_SYNC
    status: str = STATUS_DONE

    def part(self, seq: int) -> SettlePart:
        return next(part for part in self.parts if part.seq == seq)


@dataclass(frozen=True, slots=True)
class RequestedPart:
    trans_in_type: ReceiverType
    trans_in: str
    amount_fen: int
    description: str = ""


@dataclass(frozen=True, slots=True)
class SettleRequest:
    app_id: str
    out_request_no: str
    trade_no: str
    parts: tuple[RequestedPart, ...]
    finish: bool
    fingerprint: str  # digests every parameter: the same out_request_no must bring the same
    asynchronous: bool = False  # royalty_mode=async: accepted now, run by the worker
    # The wire adapter's note of the request (which app called: an ISV's, for a merchant),
    # opaque here: an async settle's job carries it to the settle's notification.
    channel_context: str = "{}"


@dataclass(frozen=True, slots=True)
class Back:
    """What one receiver gave back in one refund (a part of its refund_royalty_parameters)."""

    refund_id: int
    seq: int
    trade_no: str
    app_id: str
    user_id: int
    trans_out_type: ReceiverType
    trans_out: str
    amount_fen: int
    description: str
    created_at_us: int

    def requested(self) -> BackPart:
        return BackPart(self.trans_out_type, self.trans_out, self.amount_fen, self.description)


@dataclass(frozen=True, slots=True)
class RelationPage:
    relations: list[Relation]
    total: int
    page_num: int
    page_size: int
    phones: dict[int, str]  # each receiver's current login name, by user id


class RoyaltyStore(Protocol):
    def relation(self, tx: Tx, app_id: str, user_id: int) -> Relation | None: ...

    def lock_relations(self, tx: Tx, app_id: str) -> None:
        """Until the transaction ends, no other bind of this app counts or adds relations."""
        ...

    def count_relations(self, tx: Tx, app_id: str) -> int: ...

    def insert_relation(self, tx: Tx, relation: Relation) -> None: ...

    def delete_relation(self, tx: Tx, app_id: str, user_id: int) -> None: ...

    def relations(self, tx: Tx, app_id: str, offset: int, limit: int) -> list[Relation]: ...

    def state(self, tx: Tx, trade_no: str, *, for_update: bool = False) -> RoyaltyState | None: ...

    def insert_state(self, tx: Tx, state: RoyaltyState) -> None: ...

    def update_state(self, tx: Tx, before: RoyaltyState, after: RoyaltyState) -> bool:
        """Compare-and-set on (settled_fen, settles, finished)."""
        ...

    def insert_settle(self, tx: Tx, settle: Settle) -> int:
        """Insert the settle and its parts; the settle's id."""
        ...

    def settle_by_request(self, tx: Tx, app_id: str, out_request_no: str) -> Settle | None: ...

    def settle_by_no(self, tx: Tx, settle_no: str) -> Settle | None: ...

    def set_part_result(
        self, tx: Tx, settle_id: int, seq: int, state: PartState, error_code: str, at_us: int
    ) -> bool:
        """A PROCESSING part's outcome (compare-and-set: False if it is not PROCESSING)."""
        ...

    def set_settle_status(self, tx: Tx, settle_id: int, before: str, after: str) -> bool:
        """Compare-and-set on the settle's status."""
        ...

    def received(self, tx: Tx, trade_no: str) -> dict[int, Received]:
        """Per receiver (user id): what was settled to it on the trade, what it gave back."""
        ...

    def insert_backs(self, tx: Tx, backs: Sequence[Back]) -> None: ...

    def backs_of(self, tx: Tx, refund_id: int) -> list[Back]:
        """A refund's give-backs, in their order."""
        ...


class RoyaltyEvents(Protocol):
    def settle_done_in(self, tx: Tx, settle: Settle, channel_context: str = "{}") -> None:
        """An asynchronous settle's last part ran: queue its notification (in `tx`);
        `channel_context` is its request's (SettleRequest)."""
        ...


class NoEvents:
    def settle_done_in(self, tx: Tx, settle: Settle, channel_context: str = "{}") -> None:
        return None


@dataclass(frozen=True, slots=True)
class RoyaltyPolicy:
    max_share_percent: int = MAX_SHARE_PERCENT_DEFAULT

    def __post_init__(self) -> None:
        assert 0 < self.max_share_percent <= MAX_SHARE_PERCENT_MAX


class RoyaltyService:
    def __init__(
        self,
        *,
        db: Database,
        store: RoyaltyStore,
        clock: Clock,
        ledger: LedgerService,
        trades: TradeService,
        merchants: MerchantService,
        users: UserStore,
        policy: RoyaltyPolicy,
        jobs: JobRunner | None = None,
        events: RoyaltyEvents | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.clock = clock
        self.ledger = ledger
        self.trades = trades
        self.merchants = merchants
        self.users = users
        self.policy = policy
        self.jobs = jobs  # asynchronous settles need it (install_jobs)
        self.events: RoyaltyEvents = events or NoEvents()

    def install_jobs(self) -> None:
        assert self.jobs is not None
        # Outside a transaction: each part commits on its own, so that a crash keeps what ran.
        self.jobs.register_outside_tx(JOB_SETTLE, self.execute)

    # Relations ----------------------------------------------------------------------------

    def bind(self, app_id: str, receivers: Sequence[Receiver]) -> None:
        """Bind every receiver, or none (a refusal names the first bad one)."""
        _check_receivers(receivers)
        self.merchants.app(app_id)  # an unknown app is refused before any work

        def work(tx: Tx) -> None:
            self.store.lock_relations(tx, app_id)
            count = self.store.count_relations(tx, app_id)
            now_us = self.clock.now_us()
            for receiver in receivers:
                user = self._receiver_in(tx, receiver.receiver_type, receiver.account)
                if receiver.name is not None and not _same_name(receiver.name, user):
                    raise ReceiverNameMismatch(f"{receiver.account}: the name does not match")
                if self.store.relation(tx, app_id, user.id) is not None:
                    continue  # bound already (perhaps by its other name): nothing changes
                if count >= RECEIVERS_PER_APP_MAX:
                    raise RelationsFull(f"an app binds at most {RECEIVERS_PER_APP_MAX} receivers")
                relation = Relation(
                    0,
                    app_id,
                    user.id,
                    receiver.receiver_type,
                    receiver.account,
                    receiver.memo,
                    now_us,
                )
                self.store.insert_relation(tx, relation)
                count += 1

        self.db.run(work)

    def unbind(self, app_id: str, receivers: Sequence[Receiver]) -> None:
        _check_receivers(receivers)
        self.merchants.app(app_id)

        def work(tx: Tx) -> None:
            for receiver in receivers:
                user = self._receiver_in(tx, receiver.receiver_type, receiver.account)
                self.store.delete_relation(tx, app_id, user.id)

        self.db.run(work)

    def relations(self, app_id: str, page_num: int, page_size: int) -> RelationPage:
        assert page_num >= 1 and 0 < page_size <= PAGE_SIZE_MAX
        with self.db.read() as tx:
            total = self.store.count_relations(tx, app_id)
            found = self.store.relations(tx, app_id, (page_num - 1) * page_size, page_size)
            users = [self.users.get(tx, relation.user_id) for relation in found]
        phones = {user.id: user.phone for user in users if user is not None}
        return RelationPage(found, total, page_num, page_size, phones)

    def _receiver_in(self, tx: Tx, receiver_type: ReceiverType, account: str) -> UserRecord:
        user: UserRecord | None = None
        if receiver_type is ReceiverType.USER_ID:
            user_id = _user_id_from_wire(account)
            user = self.users.get(tx, user_id) if user_id is not None else None
        else:
            phone = _phone(account)
            user = self.users.get_by_phone(tx, phone) if phone is not None else None
        if user is None or user.wallet_account_id is None:
            raise ReceiverNotFound(f"{account}: no such receiver")
        return user

    # Settles ------------------------------------------------------------------------------

    def settle(self, request: SettleRequest) -> Settle:
        """Share a paid trade's money with bound receivers (or only finish its sharing)."""
        assert 0 < len(request.fingerprint) <= FINGERPRINT_LENGTH_MAX, "a digest, at the edge"
        app = self.merchants.app(request.app_id)
        if request.asynchronous:
            return self._accept(request, app.merchant_id)

        def work(tx: Tx) -> Settle:
            earlier = self.store.settle_by_request(tx, request.app_id, request.out_request_no)
            if earlier is not None:
                return _same_request(earlier, request)
            trade = self.trades.find_in(tx, request.app_id, TradeRef(trade_no=request.trade_no))
            state = self._lock_state_in(tx, trade)
            self._pin_trade_in(tx, trade)
            parts, amount_fen = self._checked_parts_in(tx, request, trade, state, PARTS_MAX)
            settle = self._record_in(tx, request, app.merchant_id, parts, amount_fen)
            after = RoyaltyState(
                state.trade_no,
                state.app_id,
                state.settled_fen + amount_fen,
                state.settles + 1,
                state.finished or request.finish,
                settle.created_at_us,
            )
            if not self.store.update_state(tx, state, after):
                raise Retryable("the trade's sharing changed meanwhile; retry")
            self._move_in(tx, trade, settle)
            return settle

        return self.db.run(work)

    def _checked_parts_in(
        self,
        tx: Tx,
        request: SettleRequest,
        trade: Trade,
        state: RoyaltyState,
        parts_max: int,
    ) -> tuple[list[tuple[int, RequestedPart]], int]:
        """The request's parts with their bound receivers, and their total, checked against
        the trade and its sharing as they are now (the same rules for sync and async)."""
        parts = [self._bound_part_in(tx, request.app_id, part) for part in request.parts]
        amount_fen = check_parts(
            [Part(user_id, part.amount_fen) for user_id, part in parts],
            finish=request.finish,
            parts_max=parts_max,
        )
        check_settle(
            settleable=self._settleable(trade),
            finished=state.finished,
            settled_fen=state.settled_fen,
            amount_fen=amount_fen,
            cap_fen=self.cap_fen(trade),
        )
        return parts, amount_fen

    def _lock_state_in(self, tx: Tx, trade: Trade) -> RoyaltyState:
        """The trade's sharing state, locked; made on its first settle (a concurrent first
        insert loses the unique race and the transaction re-runs)."""
        state = self.store.state(tx, trade.trade_no, for_update=True)
        if state is None:
            now_us = self.clock.now_us()
            self.store.insert_state(
                tx, RoyaltyState(trade.trade_no, trade.app_id, 0, 0, False, now_us)
            )
            state = self.store.state(tx, trade.trade_no, for_update=True)
            assert state is not None
        assert state.app_id == trade.app_id
        return state

    def _pin_trade_in(self, tx: Tx, trade: Trade) -> None:
        """Lock the trade row the way refunds do: a conditional update on the status and
        refunded amount this settle's cap was computed from. A refund committed since that
        read fails it (the work re-runs on the new amounts); one still running waits for this
        settle, then refunds from what the merchant holds after it."""
        expect = {"status": trade.status, "refunded_fen": trade.refunded_fen}
        if not self.trades.store.update_trade(tx, trade.trade_no, expect, dict(expect)):
            raise Retryable("the trade was refunded meanwhile; retry")

    def _bound_part_in(self, tx: Tx, app_id: str, part: RequestedPart) -> tuple[int, RequestedPart]:
        try:
            user = self._receiver_in(tx, part.trans_in_type, part.trans_in)
        except ReceiverNotFound:
            raise ReceiverNotBound(f"{part.trans_in} is not a bound receiver") from None
        if self.store.relation(tx, app_id, user.id) is None:
            raise ReceiverNotBound(f"{part.trans_in} is not a bound receiver")
        return user.id, part

    def _record_in(
        self,
        tx: Tx,
        request: SettleRequest,
        merchant_id: int,
        parts: Sequence[tuple[int, RequestedPart]],
        amount_fen: int,
    ) -> Settle:
        now_us = self.clock.now_us()
        part_state = PartState.PROCESSING if request.asynchronous else PartState.SUCCESS
        draft = Settle(
            0,
            new_settle_no(now_us),
            request.app_id,
            merchant_id,
            request.trade_no,
            request.out_request_no,
            request.fingerprint,
            amount_fen,
            request.finish,
            now_us,
            tuple(
                SettlePart(
                    seq,
                    user_id,
                    part.trans_in_type,
                    part.trans_in,
                    part.amount_fen,
                    part.description,
                    part_state,
                )
                for seq, (user_id, part) in enumerate(parts, start=1)
            ),
            MODE_ASYNC if request.asynchronous else MODE_SYNC,
            STATUS_PROCESSING if request.asynchronous else STATUS_DONE,
        )
        settle_id = self.store.insert_settle(tx, draft)
        return dataclasses.replace(draft, id=settle_id)

    def _move_in(self, tx: Tx, trade: Trade, settle: Settle) -> None:
        if not settle.parts:
            return  # only finished the trade's sharing: no money moves
        merchant = self.merchants.merchant_in(tx, settle.merchant_id)
        transfers = [
            Transfer(
                f"royalty:{settle.settle_no}:{part.seq}",
                merchant.settlement_account_id,
                self._wallet_in(tx, part.user_id),
                part.amount_fen,
                code=LEDGER_CODE_ROYALTY,
                reference=trade.trade_no,
            )
            for part in settle.parts
        ]
        try:
            self.ledger.transfer_in(tx, linked(transfers))
        except LedgerRejected as error:
            if error.code == "exceeds_credits":
                raise MerchantBalanceNotEnough("the merchant's balance is not enough") from None
            raise

    def _wallet_in(self, tx: Tx, user_id: int) -> int:
        user = self.users.get(tx, user_id)
        assert user is not None and user.wallet_account_id is not None, "checked when bound"
        return user.wallet_account_id

    # Asynchronous settles (royalty_mode=async) ----------------------------------------------

    def _accept(self, request: SettleRequest, merchant_id: int) -> Settle:
        """Record an asynchronous settle and schedule its run; nothing moves yet. Refused now,
        writing nothing, for what is wrong already: the trade, its sharing finished, a receiver
        not bound, more than the cap leaves now, too many settles of the trade."""
        assert self.jobs is not None, "asynchronous settles need the job runner"
        jobs = self.jobs

        def work(tx: Tx) -> Settle:
            earlier = self.store.settle_by_request(tx, request.app_id, request.out_request_no)
            if earlier is not None:
                return _same_request(earlier, request)
            trade = self.trades.find_in(tx, request.app_id, TradeRef(trade_no=request.trade_no))
            state = self._lock_state_in(tx, trade)
            parts, amount_fen = self._checked_parts_in(tx, request, trade, state, ASYNC_PARTS_MAX)
            check_async_settle(settles=state.settles)
            settle = self._record_in(tx, request, merchant_id, parts, amount_fen)
            after = dataclasses.replace(
                state, settles=state.settles + 1, updated_at_us=settle.created_at_us
            )
            if not self.store.update_state(tx, state, after):
                raise Retryable("the trade's sharing changed meanwhile; retry")
            payload = {"settle_no": settle.settle_no, "channel_context": request.channel_context}
            jobs.schedule_in(tx, JOB_SETTLE, settle.settle_no, settle.created_at_us, payload)
            return settle

        return self.db.run(work)

    def execute(self, job: Job) -> int | None:
        """The `royalty_settle` job: run each part still PROCESSING, each in its own
        transaction, then complete the settle. An error leaves the job to the runner's
        retries; the parts that ran stay done and are not run again."""
        settle_no = str(job.payload.get("settle_no") or job.key)
        channel_context = str(job.payload.get("channel_context") or "{}")
        with self.db.read() as tx:
            settle = self.store.settle_by_no(tx, settle_no)
        if settle is None or settle.status == STATUS_DONE:
            return None
        for part in settle.parts:
            if part.state is PartState.PROCESSING:
                self._execute_part(settle, part.seq)
        self._complete(settle_no, channel_context)
        return None

    def _execute_part(self, settle: Settle, seq: int) -> PartState:
        """One part, on the trade as it is now: moved (SUCCESS) or refused (FAIL)."""

        def work(tx: Tx) -> PartState:
            current = self.store.settle_by_no(tx, settle.settle_no)
            assert current is not None
            part = current.part(seq)
            if part.state is not PartState.PROCESSING:
                return part.state  # ran already (an earlier run, or another worker)
            trade = self.trades.find_in(tx, settle.app_id, TradeRef(trade_no=settle.trade_no))
            state = self._lock_state_in(tx, trade)
            self._pin_trade_in(tx, trade)
            refusal = part_refusal(
                bound=self._still_bound_in(tx, settle.app_id, part.user_id),
                settleable=self._settleable(trade),
                finished=state.finished,
                settled_fen=state.settled_fen,
                amount_fen=part.amount_fen,
                cap_fen=self.cap_fen(trade),
            )
            if refusal is None:
                refusal = self._move_part_in(tx, trade, current, part)
            now_us = self.clock.now_us()
            if refusal is not None:
                self._set_part_in(tx, current, part, PartState.FAIL, refusal.code, now_us)
                return PartState.FAIL
            after = dataclasses.replace(
                state, settled_fen=state.settled_fen + part.amount_fen, updated_at_us=now_us
            )
            if not self.store.update_state(tx, state, after):
                raise Retryable("the trade's sharing changed meanwhile; retry")
            self._set_part_in(tx, current, part, PartState.SUCCESS, "", now_us)
            return PartState.SUCCESS

        return self.db.run(work)

    def _still_bound_in(self, tx: Tx, app_id: str, user_id: int) -> bool:
        user = self.users.get(tx, user_id)
        if user is None or user.wallet_account_id is None:
            return False
        return self.store.relation(tx, app_id, user_id) is not None

    def _move_part_in(
        self, tx: Tx, trade: Trade, settle: Settle, part: SettlePart
    ) -> DomainError | None:
        """The part's own journal; the refusal when the merchant's balance is short (the
        ledger refuses before it writes anything, so the part's FAIL may follow in `tx`)."""
        merchant = self.merchants.merchant_in(tx, settle.merchant_id)
        transfer = Transfer(
            f"royalty:{settle.settle_no}:{part.seq}",
            merchant.settlement_account_id,
            self._wallet_in(tx, part.user_id),
            part.amount_fen,
            code=LEDGER_CODE_ROYALTY,
            reference=trade.trade_no,
        )
        try:
            self.ledger.transfer_in(tx, [transfer])
        except LedgerRejected as error:
            if error.code == "exceeds_credits":
                return MerchantBalanceNotEnough("the merchant's balance is not enough")
            raise
        return None

    def _set_part_in(
        self, tx: Tx, settle: Settle, part: SettlePart, state: PartState, code: str, now_us: int
    ) -> None:
        if not self.store.set_part_result(tx, settle.id, part.seq, state, code, now_us):
            raise Retryable("the part ran meanwhile; retry")

    def _complete(self, settle_no: str, channel_context: str) -> None:
        """After the last part: the settle is done, its royalty_finish applies, and its
        notification is queued, all once (the status changes from processing once)."""

        def work(tx: Tx) -> None:
            settle = self.store.settle_by_no(tx, settle_no)
            assert settle is not None
            if settle.status == STATUS_DONE:
                return
            assert all(part.state is not PartState.PROCESSING for part in settle.parts)
            trade = self.trades.find_in(tx, settle.app_id, TradeRef(trade_no=settle.trade_no))
            state = self._lock_state_in(tx, trade)
            if settle.finish and not state.finished:
                after = dataclasses.replace(state, finished=True, updated_at_us=self.clock.now_us())
                if not self.store.update_state(tx, state, after):
                    raise Retryable("the trade's sharing changed meanwhile; retry")
            if not self.store.set_settle_status(tx, settle.id, STATUS_PROCESSING, STATUS_DONE):
                raise Retryable("the settle completed meanwhile; retry")
            done = dataclasses.replace(settle, status=STATUS_DONE)
            self.events.settle_done_in(tx, done, channel_context)

        self.db.run(work)

    # Give-backs in refunds (退分账; services/refunds.py `RoyaltyRefunds`) --------------------

    def same_in(self, tx: Tx, refund: Refund, back: Sequence[BackPart]) -> bool:
        return [b.requested() for b in self.store.backs_of(tx, refund.id)] == list(back)

    def take_back_in(
        self, tx: Tx, trade: Trade, refund: Refund, back: Sequence[BackPart]
    ) -> list[Transfer]:
        users = [self._giver_in(tx, part) for part in back]
        parts = [Part(user_id, part.amount_fen) for user_id, part in zip(users, back, strict=True)]
        check_back_parts(parts, refund_fen=refund.amount_fen)
        # The sharing state row is the trade's sharing lock: settles and other give-backs of
        # the trade wait here, so each sees what the others settled and took back.
        if self.store.state(tx, trade.trade_no, for_update=True) is None:
            raise BackExceeded("nothing was settled on this trade")
        check_back(parts, self.store.received(tx, trade.trade_no))
        backs = [
            Back(
                refund.id,
                seq,
                trade.trade_no,
                trade.app_id,
                user_id,
                part.trans_out_type,
                part.trans_out,
                part.amount_fen,
                part.description,
                refund.created_at_us,
            )
            for seq, (user_id, part) in enumerate(zip(users, back, strict=True), start=1)
        ]
        self.store.insert_backs(tx, backs)
        merchant = self.merchants.merchant_in(tx, trade.merchant_id)
        return [
            Transfer(
                f"royalty-back:{b.refund_id}:{b.seq}",
                self._wallet_in(tx, b.user_id),
                merchant.settlement_account_id,
                b.amount_fen,
                code=LEDGER_CODE_ROYALTY_BACK,
                reference=trade.trade_no,
            )
            for b in backs
        ]

    def refuse_short_in(self, tx: Tx, transfers: Sequence[Transfer]) -> None:
        # The ledger locked these wallets when it refused the chain: what it saw is here.
        for transfer in transfers:
            assert transfer.amount_fen is not None, "give-backs name their amounts"
            wallet = self.ledger.account_in(tx, transfer.debit_account_id)
            if wallet.available_fen < transfer.amount_fen:
                raise ReceiverBalanceNotEnough(
                    "a receiver's balance is not enough to give its share back"
                )

    def _giver_in(self, tx: Tx, part: BackPart) -> int:
        """The receiver a part names; one that names nobody received nothing on the trade."""
        try:
            return self._receiver_in(tx, part.trans_out_type, part.trans_out).id
        except ReceiverNotFound:
            raise BackExceeded(f"{part.trans_out} received nothing on this trade") from None

    def backs(self, refund_id: int) -> list[Back]:
        """What receivers gave back in a refund (fastpay.refund.query's refund_royaltys)."""
        with self.db.read() as tx:
            return self.store.backs_of(tx, refund_id)

    # Reading ------------------------------------------------------------------------------

    def cap_fen(self, trade: Trade) -> int:
        return share_cap_fen(trade.total_fen, trade.refunded_fen, self.policy.max_share_percent)

    def _settleable(self, trade: Trade) -> bool:
        return trade.status is TradeStatus.TRADE_SUCCESS and self.trades.refund_window_open(trade)

    def find(
        self,
        app_id: str,
        *,
        settle_no: str | None = None,
        out_request_no: str | None = None,
        trade_no: str | None = None,
    ) -> Settle:
        """A settle of this app, by our number or by (out_request_no, trade_no)."""
        with self.db.read() as tx:
            if settle_no:
                found = self.store.settle_by_no(tx, settle_no)
            else:
                assert out_request_no and trade_no, "checked at the edge"
                found = self.store.settle_by_request(tx, app_id, out_request_no)
                if found is not None and found.trade_no != trade_no:
                    found = None
        if found is None or found.app_id != app_id:
            raise SettleNotFound("no such settle")
        return found

    def unsettled(self, app_id: str, trade_no: str) -> tuple[Trade, int]:
        """A trade of this app and what may still be settled on it."""
        with self.db.read() as tx:
            trade = self.trades.find_in(tx, app_id, TradeRef(trade_no=trade_no))
            state = self.store.state(tx, trade_no)
        return trade, unsettled_fen(
            settleable=self._settleable(trade),
            finished=state is not None and state.finished,
            settled_fen=state.settled_fen if state is not None else 0,
            cap_fen=self.cap_fen(trade),
        )


def _check_receivers(receivers: Sequence[Receiver]) -> None:
    if not receivers:
        raise ReceiversEmpty("receiver_list is empty")
    if len(receivers) > RECEIVERS_PER_CALL_MAX:
        raise RoyaltyRequestInvalid(f"at most {RECEIVERS_PER_CALL_MAX} receivers per call")


def _same_request(earlier: Settle, request: SettleRequest) -> Settle:
    if earlier.fingerprint != request.fingerprint:
        raise SettleRequestMismatch("this out_request_no was used with other parameters")
    return earlier


def _same_name(name: str, user: UserRecord) -> bool:
    try:
        return user.real_name is not None and normalize_real_name(name) == user.real_name
    except DomainError:  # not a valid name at all: it matches nobody's
        return False


def _user_id_from_wire(text: str) -> int | None:
    """2088 + 12 digits (adapters/alipay/methods.py `user_wire_id`)."""
    if len(text) == 16 and text.isdigit() and text.startswith("20880"):
        return int(text[4:]) or None
    return None


def _phone(text: str) -> str | None:
    try:
        return normalize_phone(text)
    except InvalidInput:  # a malformed phone names nobody
        return None


def new_settle_no(now_us: int) -> str:
    """32 digits like Alipay's settle_no: the Beijing date, a fixed mark, 19 random digits."""
    day = datetime_from_us(now_us + 8 * 3600 * US_PER_S).strftime("%Y%m%d")
    number = f"{day}00253{secrets.randbelow(10**19):019d}"
    assert len(number) == 32
    return number
