"""Pre-authorisation: freeze, pay from the freeze, unfreeze, cancel, and the order's timer.

Every change runs in `db.run`: lock the order row (`FOR UPDATE`; SQLite serialises writers),
answer a replay of the same merchant number from what it did the first time, check the state
and the amount against what is still frozen (domain/preauth.py), then write the order as
compare-and-set on (status, hold, timer generation), the operation row, the ledger journal and
the notification outbox row, all in one transaction. So a payment and an unfreeze racing on one
order run one after the other, and neither can take more than is left.

Money: the freeze is a pending transfer user wallet -> platform pre-authorisation account
(`preauth:<auth_no>:hold:<n>`, no ledger timeout: the order's timer ends it). A payment posts
its part of the hold into that account (`preauth:<auth_no>:post:<n>`; the rest returns by
itself) and the trade pays it on to the merchant at once (`trade:<no>:pay` and the fee, by
`TradeService.pay_in(reserved_in=...)`); an unfreeze voids the hold (`...:void:<n>`). Whatever
stays frozen is held again in the same linked chain (`...:hold:<n+1>`).

Coupons (资金授权转支付 with marketing): a payment takes the user's best coupon pair as a till's
payment code does. The freeze pays what the user owes after them (the trade's buyer_pay): that
amount is posted from the hold, checked against what is still frozen, and is the PAY operation's
amount and the order's paid_fen; the platform-funded discount moves from the marketing account
to the merchant in the trade's journal, and a merchant-funded one moves nothing. The capture's
mode then decides the rest as it always did (COMPLETE unfreezes it, NOT_COMPLETE keeps it).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.coupons import BEST_COUPONS
from paybao.domain.ledger import Transfer
from paybao.domain.preauth import (
    OPEN,
    REMARK_LENGTH_MAX,
    TITLE_LENGTH_MAX,
    CancelAction,
    EndedBy,
    OperationStatus,
    OperationType,
    OrderStatus,
    PreauthNotPayer,
    PreauthOperationNotFound,
    PreauthOrderClosed,
    PreauthOrderNotFound,
    PreauthRequestMismatch,
    Step,
    cancel_action,
    check_authorized,
    check_out_no,
    check_text,
    check_timeout_s,
    confirm_deadline_us,
    ended_refusal,
    pay_step,
    status_after,
    unfreeze_step,
)
from paybao.domain.trades import BuyerBalanceNotEnough, BuyerIsSeller, TradeContextInconsistent
from paybao.domain.trades import TradeNotFound as _TradeNotFound
from paybao.services import preauth_journal as journal
from paybao.services.clock import US_PER_S
from paybao.services.jobs import Job, JobRunner
from paybao.services.ledger import LedgerRejected, LedgerService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.preauth_records import (
    NOTIFY_FREEZE,
    NOTIFY_UNFREEZE,
    Merchants,
    NewFreeze,
    NoEvents,
    Operation,
    OperationRef,
    OrderRef,
    PayRequest,
    PreauthEvents,
    PreauthOrder,
    PreauthPolicy,
    PreauthStore,
    TradePayer,
    Wallets,
    draft_order,
    new_confirm_token,
    new_operation_id,
)
from paybao.services.trades import Trade, TradeRef

JOB_TIMER = "preauth_timer"
LIST_LIMIT_MAX = 100
OPERATIONS_SHOWN_MAX = 200


class PreauthService:
    def __init__(
        self,
        *,
        db: Database,
        store: PreauthStore,
        ledger: LedgerService,
        clock: Clock,
        jobs: JobRunner,
        wallets: Wallets,
        trades: TradePayer,
        merchants: Merchants,
        policy: PreauthPolicy,
        events: PreauthEvents | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.ledger = ledger
        self.clock = clock
        self.jobs = jobs
        self.wallets = wallets
        self.trades = trades
        self.merchants = merchants
        self.policy = policy
        self.events: PreauthEvents = events or NoEvents()
        self._account_id: int | None = None

    def install_jobs(self) -> None:
        self.jobs.register(JOB_TIMER, self._timer_job)

    # Freeze -------------------------------------------------------------------------------

    def freeze_with_code(self, new: NewFreeze, auth_code: str) -> tuple[PreauthOrder, Operation]:
        """A till scans the user's payment code: the deposit is frozen at once. The same
        order again answers the first result and spends no code."""
        merchant_id = self._check_new(new)

        def work(tx: Tx) -> tuple[PreauthOrder, Operation]:
            existing = self.store.order_by_out_no(tx, new.app_id, new.out_order_no)
            if existing is not None:
                return self._replay_freeze_in(tx, existing, new)
            user_id = self.trades.resolve_code_in(tx, auth_code)
            order, freeze = self._insert_in(tx, new, merchant_id, app=False)
            return self._authorize_in(tx, order, freeze, user_id)

        result: tuple[PreauthOrder, Operation] = self.db.run(work)
        return result

    def request_app_freeze(self, new: NewFreeze) -> PreauthOrder:
        """An app order (INIT): the user confirms it on the confirmation page. The same order
        again returns it as it is now."""
        merchant_id = self._check_new(new)

        def work(tx: Tx) -> PreauthOrder:
            existing = self.store.order_by_out_no(tx, new.app_id, new.out_order_no)
            if existing is not None:
                return self._replay_freeze_in(tx, existing, new)[0]
            order, _ = self._insert_in(tx, new, merchant_id, app=True)
            assert order.confirm_expires_at_us is not None
            changes = self._retime(tx, order, order.confirm_expires_at_us)
            return self._write(tx, order, changes)

        result: PreauthOrder = self.db.run(work)
        return result

    def confirm(self, token: str, user_id: int, payment_password: str) -> PreauthOrder:
        """The user confirms an app order with the payment password: the deposit is frozen."""

        def work(tx: Tx) -> PreauthOrder:
            order = self.store.order_by_token(tx, token, for_update=True)
            if order is None:
                raise PreauthOrderNotFound("no such pre-authorisation")
            if order.status is OrderStatus.AUTHORIZED and order.user_id == user_id:
                return order  # a double submit: it is done
            if order.status is not OrderStatus.INIT:
                raise _confirm_refusal(order)
            assert order.confirm_expires_at_us is not None
            if order.confirm_expires_at_us <= self.clock.now_us():
                raise PreauthOrderClosed("the time to confirm is over")
            self.wallets.check_payment_password_in(tx, user_id, payment_password)
            freeze = self.store.freeze_operation(tx, order.id)
            assert freeze is not None
            return self._authorize_in(tx, order, freeze, user_id)[0]

        result: PreauthOrder = self.wallets.run_paying(work)
        return result

    def _check_new(self, new: NewFreeze) -> int:
        check_out_no(new.out_order_no, field="out_order_no")
        check_out_no(new.out_request_no, field="out_request_no")
        check_text(new.title, field="order_title", length_max=TITLE_LENGTH_MAX, required=True)
        for timeout_s in (new.timeout_s, new.confirm_s):
            if timeout_s is not None:
                check_timeout_s(timeout_s)
        return int(self.merchants.app(new.app_id).merchant_id)

    def _replay_freeze_in(
        self, tx: Tx, existing: PreauthOrder, new: NewFreeze
    ) -> tuple[PreauthOrder, Operation]:
        freeze = self.store.freeze_operation(tx, existing.id)
        if freeze is None:  # a cancel came first and closed the number
            raise PreauthOrderClosed("this out_order_no was cancelled")
        same = (existing.fingerprint, freeze.out_request_no) == (
            new.fingerprint,
            new.out_request_no,
        )
        if not same:
            raise PreauthRequestMismatch("this out_order_no was used with other parameters")
        return existing, freeze

    def _insert_in(
        self, tx: Tx, new: NewFreeze, merchant_id: int, *, app: bool
    ) -> tuple[PreauthOrder, Operation]:
        now_us = self.clock.now_us()
        expires_at_us = now_us + (new.timeout_s or self.policy.freeze_timeout_s) * US_PER_S
        confirm_s = new.confirm_s or self.policy.confirm_timeout_s
        order = draft_order(
            new.app_id,
            merchant_id,
            new.out_order_no,
            now_us,
            expires_at_us,
            product_code=new.product_code,
            title=new.title.strip(),
            amount_fen=new.amount_fen,
            fingerprint=new.fingerprint,
            confirm_token=new_confirm_token() if app else None,
            confirm_expires_at_us=(
                confirm_deadline_us(now_us, confirm_s, expires_at_us) if app else None
            ),
            notify_url=new.notify_url,
            return_url=new.return_url,
            channel_context=new.channel_context,
        )
        order = dataclasses.replace(order, id=self.store.insert_order(tx, order))
        freeze = self._operation(order, OperationType.FREEZE, new.out_request_no, new.amount_fen)
        freeze = dataclasses.replace(freeze, status=OperationStatus.INIT, done_at_us=None)
        freeze = dataclasses.replace(freeze, id=self.store.insert_operation(tx, freeze))
        return order, freeze

    def _authorize_in(
        self, tx: Tx, order: PreauthOrder, freeze: Operation, user_id: int
    ) -> tuple[PreauthOrder, Operation]:
        merchant = self.merchants.merchant_in(tx, order.merchant_id)
        if merchant.owner_user_id is not None and merchant.owner_user_id == user_id:
            raise BuyerIsSeller("a merchant cannot take a deposit from itself")
        # A freeze sets the user's balance aside for a merchant as a payment does: the same
        # checks, and it counts against the account class's balance-payment limit.
        self.wallets.check_can_pay_in(tx, user_id, order.amount_fen, funding="balance")
        now_us = self.clock.now_us()
        changes: dict[str, Any] = {
            "status": OrderStatus.AUTHORIZED,
            "user_id": user_id,
            "authorized_at_us": now_us,
        }
        changes.update(self._retime(tx, order, order.expires_at_us))
        authorized = self._write(tx, order, changes)
        done = {"status": OperationStatus.SUCCESS, "done_at_us": now_us}
        updated = self.store.update_operation(tx, freeze.id, OperationStatus.INIT, done)
        assert updated, "the freeze operation of an INIT order is INIT"
        freeze = dataclasses.replace(freeze, status=OperationStatus.SUCCESS, done_at_us=now_us)
        wallet_id = self.wallets.wallet_account_id_in(tx, user_id)
        hold = journal.hold(
            order.auth_no, authorized.hold_seq, order.amount_fen, wallet_id, self._account_in(tx)
        )
        self._move_in(tx, [hold])
        self.events.preauth_changed_in(tx, authorized, freeze, NOTIFY_FREEZE, order.notify_url)
        return authorized, freeze

    # Unfreeze -----------------------------------------------------------------------------

    def unfreeze(
        self,
        app_id: str,
        auth_no: str,
        out_request_no: str,
        amount_fen: int,
        remark: str = "",
        notify_url: str | None = None,
    ) -> tuple[PreauthOrder, Operation]:
        """The merchant gives part or all of what is left back. The same out_request_no again
        answers the first result (another amount: refused)."""
        check_out_no(out_request_no, field="out_request_no")
        remark = check_text(remark, field="remark", length_max=REMARK_LENGTH_MAX, required=False)

        def work(tx: Tx) -> tuple[PreauthOrder, Operation]:
            order = self._merchant_order_in(tx, app_id, OrderRef(auth_no=auth_no))
            ref = OperationRef(out_request_no=out_request_no)
            done = self.store.operation(tx, order.id, ref)
            if done is not None:
                if (done.kind, done.amount_fen) != (OperationType.UNFREEZE, amount_fen):
                    raise PreauthRequestMismatch("this out_request_no was used for another request")
                return order, done
            check_authorized(order.status)
            step = unfreeze_step(order.totals, amount_fen)
            operation = self._operation(
                order, OperationType.UNFREEZE, out_request_no, amount_fen, remark or None
            )
            return self._unfreeze_in(tx, order, step, operation, notify_url)

        result: tuple[PreauthOrder, Operation] = self.db.run(work)
        return result

    def _unfreeze_in(
        self,
        tx: Tx,
        order: PreauthOrder,
        step: Step,
        operation: Operation,
        notify_url: str | None,
        ended_by: EndedBy = EndedBy.MERCHANT,
    ) -> tuple[PreauthOrder, Operation]:
        changed = self._apply_in(tx, order, step, ended_by=ended_by)
        operation = dataclasses.replace(operation, id=self.store.insert_operation(tx, operation))
        self.events.preauth_changed_in(
            tx, changed, operation, NOTIFY_UNFREEZE, notify_url or order.notify_url
        )
        return changed, operation

    # Pay ----------------------------------------------------------------------------------

    def pay(self, request: PayRequest) -> Trade:
        """alipay.trade.pay with auth_no: a trade paid to the merchant from the freeze. The
        same out_trade_no again answers the first result."""
        new = request.new

        def work(tx: Tx) -> Trade:
            order = self._merchant_order_in(tx, new.app_id, OrderRef(auth_no=request.auth_no))
            replay = self._replay_trade_in(tx, new.app_id, new.out_trade_no, new.fingerprint)
            if replay is not None:
                return replay
            check_authorized(order.status)
            assert order.user_id is not None
            if request.buyer_user_id not in (None, order.user_id):
                raise PreauthNotPayer("the buyer is not the one whose money is frozen")
            taken = self.store.operation(
                tx, order.id, OperationRef(out_request_no=new.out_trade_no)
            )
            if taken is not None:
                raise PreauthRequestMismatch("this out_trade_no names another operation")
            trade = self.trades.create_in(
                tx, new, self.merchants.merchant_in(tx, order.merchant_id)
            )
            # The user's best coupons, as at a till: the freeze pays only what the user owes
            # after them (the platform's part comes from its marketing account in the trade's
            # journal, the merchant's is a lower receipt), so that is what must still be frozen.
            quote = self.trades.quote_in(tx, trade, order.user_id, BEST_COUPONS)
            step = pay_step(order.totals, quote.buyer_pay_fen, request.mode)
            changed = self._apply_in(tx, order, step, ended_by=EndedBy.MERCHANT)
            paid = self.trades.pay_in(
                tx, trade, order.user_id, reserved_in=self._account_in(tx), quoted=quote
            )
            assert paid.buyer_pay_fen == step.pay_fen, "the hold posted what the trade pays on"
            pay = self._operation(order, OperationType.PAY, paid.out_trade_no, step.pay_fen)
            pay = dataclasses.replace(pay, trade_no=paid.trade_no)
            self.store.insert_operation(tx, pay)
            if step.unfreeze_fen:  # COMPLETE: the rest went back with the payment
                rest = self._operation(order, OperationType.UNFREEZE, None, step.unfreeze_fen)
                rest = dataclasses.replace(rest, remark="auth_confirm_mode=COMPLETE")
                rest = dataclasses.replace(rest, id=self.store.insert_operation(tx, rest))
                self.events.preauth_changed_in(
                    tx, changed, rest, NOTIFY_UNFREEZE, new.notify_url or order.notify_url
                )
            return paid

        result: Trade = self.db.run(work)
        return result

    def _replay_trade_in(
        self, tx: Tx, app_id: str, out_trade_no: str, fingerprint: str
    ) -> Trade | None:
        try:
            existing = self.trades.find_in(tx, app_id, TradeRef(out_trade_no=out_trade_no))
        except _TradeNotFound:
            return None
        if existing.fingerprint != fingerprint:
            raise TradeContextInconsistent("this out_trade_no was used with other parameters")
        return existing if existing.paid else None

    # Cancel -------------------------------------------------------------------------------

    def cancel(
        self, app_id: str, order_ref: OrderRef, operation_ref: OperationRef
    ) -> tuple[PreauthOrder, Operation | None, CancelAction]:
        """Undo a freeze whose outcome the merchant does not know (timed out, failed): an
        unconfirmed order closes, a frozen one nothing was paid from is unfrozen in full. A
        number never seen is closed for good, so a late freeze with it is refused."""

        def work(tx: Tx) -> tuple[PreauthOrder, Operation | None, CancelAction]:
            order = self._find_in(tx, app_id, order_ref, for_update=True)
            if order is None:
                return self._close_unseen_in(tx, app_id, order_ref, operation_ref)
            freeze = self.store.freeze_operation(tx, order.id)
            if freeze is None:  # closed unseen by an earlier cancel
                return order, None, CancelAction.CLOSE
            _check_names_freeze(freeze, operation_ref)
            if order.ended_by is EndedBy.CANCEL and order.cancel_action is not None:
                return order, freeze, CancelAction(order.cancel_action)
            action = cancel_action(order.status, order.totals)
            if action is CancelAction.CLOSE:
                return self._close_in(tx, order, freeze, EndedBy.CANCEL), freeze, action
            step = unfreeze_step(order.totals, order.rest_fen)
            undo = self._operation(order, OperationType.UNFREEZE, None, step.unfreeze_fen)
            undo = dataclasses.replace(undo, remark="cancel", actor="cancel")
            changed, _ = self._unfreeze_in(tx, order, step, undo, None, EndedBy.CANCEL)
            return changed, freeze, action

        result: tuple[PreauthOrder, Operation | None, CancelAction] = self.db.run(work)
        return result

    def _close_unseen_in(
        self, tx: Tx, app_id: str, order_ref: OrderRef, operation_ref: OperationRef
    ) -> tuple[PreauthOrder, Operation | None, CancelAction]:
        if not order_ref.out_order_no or not operation_ref.out_request_no:
            raise PreauthOrderNotFound("no such pre-authorisation")
        merchant_id = int(self.merchants.app(app_id).merchant_id)
        now_us = self.clock.now_us()
        out_order_no = check_out_no(order_ref.out_order_no, field="out_order_no")
        tombstone = draft_order(
            app_id,
            merchant_id,
            out_order_no,
            now_us,
            now_us,
            status=OrderStatus.CLOSED,
            fingerprint="cancelled",
            ended_at_us=now_us,
            ended_by=EndedBy.CANCEL,
            cancel_action=CancelAction.CLOSE,
        )
        tombstone = dataclasses.replace(tombstone, id=self.store.insert_order(tx, tombstone))
        return tombstone, None, CancelAction.CLOSE

    def _close_in(
        self, tx: Tx, order: PreauthOrder, freeze: Operation, ended_by: EndedBy
    ) -> PreauthOrder:
        """An INIT order closes unconfirmed: nothing was frozen."""
        now_us = self.clock.now_us()
        changes: dict[str, Any] = {
            "status": OrderStatus.CLOSED,
            "ended_at_us": now_us,
            "ended_by": ended_by,
            "cancel_action": CancelAction.CLOSE if ended_by is EndedBy.CANCEL else None,
        }
        changes.update(self._retime(tx, order, None))
        closed = self._write(tx, order, changes)
        done = {"status": OperationStatus.CLOSED, "done_at_us": now_us}
        self.store.update_operation(tx, freeze.id, OperationStatus.INIT, done)
        return closed

    # The order's timer --------------------------------------------------------------------

    def _timer_job(self, tx: Tx, job: Job) -> None:
        auth_no, _ = job.key.rsplit(":", 1)
        order = self.store.order_by_auth_no(tx, auth_no, for_update=True)
        if order is None or order.timer_seq != job.payload.get("seq"):
            return  # a retired generation: the order moved on meanwhile
        if order.status not in OPEN or order.timer_due_at_us is None:
            return
        # This job is the live timer and the runner marks it done: it must not be cancelled.
        order = dataclasses.replace(order, timer_due_at_us=None)
        now_us = self.clock.now_us()
        if order.status is OrderStatus.INIT:
            assert order.confirm_expires_at_us is not None
            if order.confirm_expires_at_us > now_us:
                self._write(tx, order, self._retime(tx, order, order.confirm_expires_at_us))
                return
            freeze = self.store.freeze_operation(tx, order.id)
            assert freeze is not None
            self._close_in(tx, order, freeze, EndedBy.TIMER)
            return
        if order.expires_at_us > now_us:
            self._write(tx, order, self._retime(tx, order, order.expires_at_us))
            return
        step = unfreeze_step(order.totals, order.rest_fen)
        operation = self._operation(order, OperationType.UNFREEZE, None, step.unfreeze_fen)
        operation = dataclasses.replace(operation, remark="timeout", actor="timer")
        self._unfreeze_in(tx, order, step, operation, None, EndedBy.TIMER)

    def _retime(self, tx: Tx, order: PreauthOrder, due_at_us: int | None) -> dict[str, Any]:
        """Retire the live timer (if any) and start the next generation (if `due_at_us`)."""
        if order.timer_due_at_us is not None:
            self.jobs.store.cancel(tx, JOB_TIMER, f"{order.auth_no}:{order.timer_seq}")
        if due_at_us is None:
            return {"timer_due_at_us": None}
        seq = order.timer_seq + 1
        key = f"{order.auth_no}:{seq}"
        scheduled = self.jobs.schedule_in(tx, JOB_TIMER, key, due_at_us, {"seq": seq})
        assert scheduled, f"timer {key} scheduled twice"
        return {"timer_seq": seq, "timer_due_at_us": due_at_us}

    # Reads --------------------------------------------------------------------------------

    def query(
        self, app_id: str, order_ref: OrderRef, operation_ref: OperationRef
    ) -> tuple[PreauthOrder, Operation | None]:
        """An order and one of its operations (the freeze when none is named)."""
        with self.db.read() as tx:
            order = self._find_in(tx, app_id, order_ref, for_update=False)
            if order is None:
                raise PreauthOrderNotFound("no such pre-authorisation")
            named = operation_ref.operation_id or operation_ref.out_request_no
            if named:
                operation = self.store.operation(tx, order.id, operation_ref)
                if operation is None:
                    raise PreauthOperationNotFound("no such operation of this pre-authorisation")
                return order, operation
            return order, self.store.freeze_operation(tx, order.id)

    def orders_of(self, user_id: int, limit: int = 50) -> list[PreauthOrder]:
        assert 0 < limit <= LIST_LIMIT_MAX
        with self.db.read() as tx:
            return self.store.orders_of(tx, user_id, limit)

    def view(self, user_id: int, auth_no: str) -> tuple[PreauthOrder, list[Operation]]:
        """One of the user's orders and what happened to it (another's is not found)."""
        with self.db.read() as tx:
            order = self.store.order_by_auth_no(tx, auth_no)
            if order is None or order.user_id != user_id:
                raise PreauthOrderNotFound("no such pre-authorisation")
            return order, self.store.operations_of(tx, order.id, OPERATIONS_SHOWN_MAX)

    def by_token(self, token: str) -> PreauthOrder:
        with self.db.read() as tx:
            order = self.store.order_by_token(tx, token)
        if order is None:
            raise PreauthOrderNotFound("no such pre-authorisation")
        return order

    # Shared -------------------------------------------------------------------------------

    def _find_in(
        self, tx: Tx, app_id: str, ref: OrderRef, *, for_update: bool
    ) -> PreauthOrder | None:
        """The merchant's order by auth_no (first) or out_order_no; another's is None."""
        merchant_id = int(self.merchants.app(app_id).merchant_id)
        if ref.auth_no:
            order = self.store.order_by_auth_no(tx, ref.auth_no, for_update=for_update)
        elif ref.out_order_no:
            order = self.store.order_by_out_no(tx, app_id, ref.out_order_no, for_update=for_update)
        else:
            raise PreauthOrderNotFound("name the order by auth_no or out_order_no")
        if order is None or order.merchant_id != merchant_id:
            return None
        return order

    def _merchant_order_in(self, tx: Tx, app_id: str, ref: OrderRef) -> PreauthOrder:
        order = self._find_in(tx, app_id, ref, for_update=True)
        if order is None:
            raise PreauthOrderNotFound("no such pre-authorisation")
        return order

    def _apply_in(
        self, tx: Tx, order: PreauthOrder, step: Step, *, ended_by: EndedBy
    ) -> PreauthOrder:
        """Write an operation's effect on an AUTHORIZED order: the totals, the state, and the
        journal that resolves the current hold (posting the payment's part, or voiding) and
        holds whatever stays frozen again."""
        assert order.status is OrderStatus.AUTHORIZED and order.user_id is not None
        after = step.after
        status = status_after(after)
        changes: dict[str, Any] = {
            "paid_fen": after.paid_fen,
            "unfrozen_fen": after.unfrozen_fen,
            "status": status,
        }
        if step.rest_fen:
            changes["hold_seq"] = order.hold_seq + 1
        else:
            changes.update(ended_at_us=self.clock.now_us(), ended_by=ended_by)
            changes.update(self._retime(tx, order, None))
            if ended_by is EndedBy.CANCEL:
                changes["cancel_action"] = CancelAction.UNFREEZE
        changed = self._write(tx, order, changes)
        wallet_id = self.wallets.wallet_account_id_in(tx, order.user_id)
        self._move_in(tx, journal.step_transfers(order, step, wallet_id, self._account_in(tx)))
        return changed

    def _move_in(self, tx: Tx, transfers: list[Transfer]) -> None:
        try:
            self.ledger.transfer_in(tx, transfers)
        except LedgerRejected as error:
            if error.code == "exceeds_credits":
                raise BuyerBalanceNotEnough("the balance is not enough to freeze") from None
            raise

    def _account_in(self, tx: Tx) -> int:
        if self._account_id is None:
            spec = platform_account(Purpose.PREAUTH)
            self._account_id = self.ledger.open_accounts_in(tx, [spec])[spec.key]
        return self._account_id

    def _operation(
        self,
        order: PreauthOrder,
        kind: OperationType,
        out_request_no: str | None,
        amount_fen: int,
        remark: str | None = None,
    ) -> Operation:
        now_us = self.clock.now_us()
        return Operation(
            id=0,
            operation_id=new_operation_id(now_us),
            order_id=order.id,
            kind=kind,
            out_request_no=out_request_no,
            amount_fen=amount_fen,
            status=OperationStatus.SUCCESS,
            remark=remark,
            trade_no=None,
            actor="merchant",
            created_at_us=now_us,
            done_at_us=now_us,
        )

    def _write(self, tx: Tx, order: PreauthOrder, changes: dict[str, Any]) -> PreauthOrder:
        """Compare-and-set on (status, hold, timer generation): the row is locked, so a miss
        is a bug; the written row is the old one with the changes."""
        expect = {"status": order.status, "hold_seq": order.hold_seq, "timer_seq": order.timer_seq}
        if not self.store.update_order(tx, order.id, expect, changes):
            raise AssertionError(f"pre-authorisation {order.auth_no} changed under its row lock")
        written = dataclasses.replace(order, **changes)
        assert written.paid_fen + written.unfrozen_fen <= written.amount_fen
        return written


def _confirm_refusal(order: PreauthOrder) -> Exception:
    if order.status is OrderStatus.AUTHORIZED:
        return PreauthOrderClosed("this pre-authorisation was confirmed by another account")
    return ended_refusal(order.status)


def _check_names_freeze(freeze: Operation, ref: OperationRef) -> None:
    """A cancel names the order's freeze (by operation_id or out_request_no), or nothing."""
    if ref.operation_id and ref.operation_id != freeze.operation_id:
        raise PreauthOperationNotFound("no such freeze operation of this pre-authorisation")
    if ref.out_request_no and ref.out_request_no != freeze.out_request_no:
        raise PreauthOperationNotFound("no such freeze operation of this pre-authorisation")


__all__ = ["JOB_TIMER", "PreauthService"]
