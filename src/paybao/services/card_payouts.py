"""Card payouts: a transfer from the balance to anyone's debit card, and a repayment of the
user's own credit card (rules: domain/card_payouts.py).

The money moves through the wallet's payout machinery (services/wallet.py `PayoutRows`), as a
withdrawal's does:
1. With the payment password or a registered device's signature checked first, one
   transaction has risk control assess the payout, locks the user, computes the fee from the
   free quota left, and writes the `card_payouts` row `held` with its holds
   (`cardpayout:<id>` towards bank clearing, `cardpayout_fee:<id>` towards fees).
2. At its due time (at once for an instant one; the sweep sends later ones) the row becomes
   `sent` with a query job, and the bank is asked, with no transaction open, to credit the
   card under request id `cardpayout:<id>`, naming the holder it must find on the card.
3. Its answer posts both holds (`succeeded`) or voids them (`failed`, the bank's code: the
   money and the free quota come back). No answer: the query job asks until the bank says.

Risk control sees a transfer to a card as a transfer to that card as payee (a DELAY holds it
2 hours, cancellable by the user, released or cancelled by an operator's review); a repayment
as a money-out to the user's own card (passes or is refused, never delayed).

Saved repayment cards (at most `CARDS_PER_USER_MAX`) may carry a reminder day: a text goes to
the user's phone at 09:00 China time that day each month (`card_payouts.remind` jobs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from paybao.domain.account_class import AccountClass
from paybao.domain.bins import BANKS
from paybao.domain.card_payouts import (
    LEDGER_CODE_CARD_REPAYMENT,
    LEDGER_CODE_CARD_TRANSFER,
    PAYOUT_DELAY_S,
    REPAYMENT_FEE_POLICY_DEFAULT,
    CardPayout,
    PayoutArrival,
    PayoutKind,
    PayoutStatus,
    check_memo,
    check_remind_day,
    holder_name,
    next_reminder_at,
    payout_card,
    quota_month,
    repayment_fee,
    transfer_fee,
)
from paybao.domain.cards import CardInfo, mask_card_number
from paybao.domain.errors import Forbidden, InvalidInput, InvalidState, LimitExceeded, NotFound
from paybao.domain.identity import mask_real_name
from paybao.domain.money import check_amount_fen, format_yuan
from paybao.domain.risk import Action, Assessment, Decision
from paybao.domain.withdrawal import WithdrawalFee, WithdrawalFeePolicy
from paybao.services.clock import us_from_datetime
from paybao.services.devices import PaymentProof
from paybao.services.jobs import Job, JobRunner
from paybao.services.ports import Clock, Database, Tx
from paybao.services.risk import Attempt
from paybao.services.sms import SmsSender
from paybao.services.users import UserRecord, UserService, usage_period
from paybao.services.wallet import CODE_WITHDRAWAL_FEE, WalletService

PREFIX = "cardpayout"
TABLE = "card_payouts"
JOB_REMIND = "card_payouts.remind"
PAGE_SIZE_MAX = 50
CARDS_PER_USER_MAX = 10
_CODES = {
    PayoutKind.TRANSFER: (LEDGER_CODE_CARD_TRANSFER, CODE_WITHDRAWAL_FEE),
    PayoutKind.REPAYMENT: (LEDGER_CODE_CARD_REPAYMENT, CODE_WITHDRAWAL_FEE),
}


@dataclass(frozen=True, slots=True)
class PayoutPolicy:
    repayment_fee: WithdrawalFeePolicy = REPAYMENT_FEE_POLICY_DEFAULT
    # The most one payout may send (transfers to a card in particular are what fraud empties
    # a stolen wallet with).
    amount_fen_max: int = 50_000_00


@dataclass(frozen=True, slots=True)
class Preview:
    """What the user sees before confirming: the card recognised, the fee, the free quota."""

    kind: str
    bank_code: str
    bank_name: str
    card_type: str  # DC | CC
    card_masked: str
    card_tail: str
    amount_fen: int
    fee_fen: int
    total_fen: int  # what leaves the balance: amount + fee
    amount: str
    fee: str
    total: str
    free_quota_fen: int  # lifetime (transfer) or this month's (repayment) free quota
    quota_left_fen: int  # what is left of it before this payout
    quota_month: str | None  # repayment: the China month it counts in


@dataclass(frozen=True, slots=True)
class RepaymentCard:
    id: int
    bank_code: str
    bank_name: str
    card_masked: str
    card_tail: str
    remind_day: int | None
    created_at_us: int


class CardPayoutStore(Protocol):
    def payout(self, tx: Tx, payout_id: int) -> Any: ...

    def payouts(
        self, tx: Tx, user_id: int, kind: str | None, limit: int, before_id: int | None
    ) -> list[Any]:
        """The user's payouts (of one kind, or all), newest first, below the cursor."""
        ...

    def month_used_fen(self, tx: Tx, user_id: int, month: str) -> int:
        """Free repayment quota the user's repayments of that month use (failed and
        cancelled ones use none)."""
        ...

    def release_now(self, tx: Tx, payout_id: int, now_us: int) -> bool:
        """Make a `held` payout due now; False if it is no longer held."""
        ...

    def give_back_usage(self, tx: Tx, user_id: int, period: str, amount_fen: int) -> None:
        """Take `amount_fen` off the user's balance-payment usage of the account class's
        period (it was counted there, never below zero)."""
        ...

    def cards(self, tx: Tx, user_id: int, limit: int) -> list[Any]: ...

    def card(self, tx: Tx, card_id: int) -> Any: ...

    def card_by_number(self, tx: Tx, user_id: int, card_number: str) -> Any: ...

    def insert_card(self, tx: Tx, values: dict[str, Any]) -> int: ...

    def set_remind_day(self, tx: Tx, card_id: int, remind_day: int | None) -> None: ...

    def delete_card(self, tx: Tx, card_id: int) -> bool: ...


@dataclass
class CardPayoutService:
    db: Database
    store: CardPayoutStore
    wallet: WalletService
    users: UserService
    jobs: JobRunner
    clock: Clock
    policy: PayoutPolicy = field(default_factory=PayoutPolicy)
    # Where reminders go (the SMS port); None: saved cards are not reminded.
    sms: SmsSender | None = None
    # The REST answer of a payout, byte for byte (set by the wiring): stored with the bank's
    # answer in the same transaction, as the wallet's withdrawals do.
    answer_of: Callable[[CardPayout], tuple[int, str]] | None = None

    def __post_init__(self) -> None:
        self.rows = _CardPayoutRows(self)
        self.wallet.register_payouts(self.rows)

    def install_jobs(self) -> None:
        self.jobs.register(JOB_REMIND, self._on_remind)

    # Paying out -----------------------------------------------------------------------------

    def transfer(
        self,
        user_id: int,
        card_number: str,
        payee_name: str,
        amount_fen: int,
        proof: PaymentProof,
        *,
        arrival: PayoutArrival = PayoutArrival.INSTANT,
        memo: str = "",
    ) -> CardPayout:
        """Send `amount_fen` to anyone's debit card; the bank checks the payee's name."""
        card = payout_card(card_number, PayoutKind.TRANSFER)
        name = holder_name(payee_name)
        memo = check_memo(memo)
        self._check_amount(amount_fen)
        attempt = Attempt(
            user_id,
            Action.CARD_TRANSFER,
            amount_fen,
            _by_device(proof),
            delayed_already=arrival is not PayoutArrival.INSTANT,
            payee_card=card.number,
        )

        def hold(tx: Tx, assessment: Assessment) -> int:
            held = assessment.decision is Decision.DELAY  # sent in 2 hours, cancellable
            user = self.users.record_in(tx, user_id, for_update=True)
            self.users.check_can_pay_in(tx, user_id, amount_fen, funding="balance")
            assert user.account_class is not None, "checked as a balance payment"
            period = usage_period(AccountClass(user.account_class), self.clock.now())
            fee = transfer_fee(amount_fen, user.withdraw_quota_used_fen, self.wallet.fee_policy)
            payout_id = self._hold_in(
                tx,
                user_id,
                PayoutKind.TRANSFER,
                card,
                name,
                fee,
                amount_fen,
                PayoutArrival.DELAY_2H if held else arrival,
                memo=memo,
                risk_held=held,
                usage_period=period,
            )
            self.users.store.update(tx, user_id, withdraw_quota_used_fen=fee.quota_used_after_fen)
            if held:
                assert self.wallet.risk is not None
                self.wallet.risk.record_in(tx, attempt, assessment, f"{PREFIX}:{payout_id}")
            return payout_id

        payout_id = self.wallet.start_payout(attempt, proof, hold, kind=PREFIX)
        return self._send_if_due(user_id, payout_id)

    def repay(
        self,
        user_id: int,
        card_number: str,
        amount_fen: int,
        proof: PaymentProof,
        *,
        arrival: PayoutArrival = PayoutArrival.INSTANT,
    ) -> CardPayout:
        """Repay the user's own credit card: the bank checks it is held in the user's name."""
        card = payout_card(card_number, PayoutKind.REPAYMENT)
        self._check_amount(amount_fen)
        attempt = Attempt(user_id, Action.CARD_REPAYMENT, amount_fen, _by_device(proof))

        def hold(tx: Tx, assessment: Assessment) -> int:
            assert assessment.decision is not Decision.DELAY, "own card: never delayed"
            user = self._payer_in(tx, user_id)
            assert user.real_name is not None
            month = quota_month(self.clock.now())
            used_fen = self.store.month_used_fen(tx, user_id, month)
            fee = repayment_fee(amount_fen, used_fen, self.policy.repayment_fee)
            return self._hold_in(
                tx,
                user_id,
                PayoutKind.REPAYMENT,
                card,
                user.real_name,
                fee,
                amount_fen,
                arrival,
                month=month,
            )

        payout_id = self.wallet.start_payout(attempt, proof, hold, kind=PREFIX)
        return self._send_if_due(user_id, payout_id)

    def cancel(self, user_id: int, payout_id: int) -> CardPayout:
        """Cancel a payout not sent to the bank yet (a delayed one): everything comes back."""

        def work(tx: Tx) -> None:
            self._own_in(tx, user_id, payout_id)
            if not self.wallet.cancel_payout_in(tx, self.rows, payout_id):
                raise InvalidState(
                    "this payout has already gone to the bank", code="card_payout_not_cancellable"
                )

        self.db.run(work)
        return self.payout(user_id, payout_id)

    def resolve_held_in(self, tx: Tx, payout_id: int, *, land: bool) -> bool:
        """Risk review of a held transfer: send it now (the sweep picks it up) or cancel it.
        False if it is no longer held (sent at its time, or cancelled by the user)."""
        if land:
            return self.store.release_now(tx, payout_id, self.clock.now_us())
        return self.wallet.cancel_payout_in(tx, self.rows, payout_id)

    def preview(self, user_id: int, kind: PayoutKind, card_number: str, amount_fen: int) -> Preview:
        """The card's bank and type, the fee and the free quota, before confirming."""
        card = payout_card(card_number, kind)
        self._check_amount(amount_fen)
        policy = self._fee_policy(kind)
        with self.db.read() as tx:
            used_fen, month = self._quota_used_in(tx, user_id, kind)
        rule = transfer_fee if kind is PayoutKind.TRANSFER else repayment_fee
        fee = rule(amount_fen, used_fen, policy)
        total_fen = amount_fen + fee.fee_fen
        return Preview(
            kind=str(kind),
            bank_code=card.bank.code,
            bank_name=card.bank.name_zh,
            card_type=str(card.card_type),
            card_masked=mask_card_number(card.number, show_head=False),
            card_tail=card.tail,
            amount_fen=amount_fen,
            fee_fen=fee.fee_fen,
            total_fen=total_fen,
            amount=format_yuan(amount_fen),
            fee=format_yuan(fee.fee_fen),
            total=format_yuan(total_fen),
            free_quota_fen=policy.free_quota_fen,
            quota_left_fen=max(policy.free_quota_fen - used_fen, 0),
            quota_month=month,
        )

    def quota(self, user_id: int, kind: PayoutKind) -> tuple[int, int, str | None]:
        """(free quota, what is left of it, the repayment month) for a payout of `kind`."""
        policy = self._fee_policy(kind)
        with self.db.read() as tx:
            used_fen, month = self._quota_used_in(tx, user_id, kind)
        return policy.free_quota_fen, max(policy.free_quota_fen - used_fen, 0), month

    def _quota_used_in(self, tx: Tx, user_id: int, kind: PayoutKind) -> tuple[int, str | None]:
        """How much of the free quota is used: lifetime (transfer, shared with withdrawals),
        or of this China month (repayment, with the month)."""
        if kind is PayoutKind.TRANSFER:
            return self.users.record_in(tx, user_id).withdraw_quota_used_fen, None
        month = quota_month(self.clock.now())
        return self.store.month_used_fen(tx, user_id, month), month

    # Reading --------------------------------------------------------------------------------

    def payout(self, user_id: int, payout_id: int, kind: PayoutKind | None = None) -> CardPayout:
        with self.db.read() as tx:
            row = self._own_in(tx, user_id, payout_id)
        if kind is not None and row.kind != kind:
            raise NotFound("no such card payout", code="card_payout_not_found")
        return payout_view(row)

    def payouts(
        self,
        user_id: int,
        kind: PayoutKind | None = None,
        limit: int = 20,
        before_id: int | None = None,
    ) -> list[CardPayout]:
        if not 1 <= limit <= PAGE_SIZE_MAX:
            raise InvalidInput(f"page size must be 1..{PAGE_SIZE_MAX}", code="page_size_invalid")
        with self.db.read() as tx:
            rows = self.store.payouts(
                tx, user_id, None if kind is None else str(kind), limit, before_id
            )
        return [payout_view(row) for row in rows]

    # Saved repayment cards --------------------------------------------------------------------

    def save_card(
        self, user_id: int, card_number: str, remind_day: int | None = None
    ) -> RepaymentCard:
        """Save a credit card to repay (again: change its reminder day). Only numbers are kept:
        the bank checks the holder when the card is repaid."""
        card = payout_card(card_number, PayoutKind.REPAYMENT)
        check_remind_day(remind_day)

        def work(tx: Tx) -> int:
            self._payer_in(tx, user_id)  # locks the user: the count below stays true
            existing = self.store.card_by_number(tx, user_id, card.number)
            if existing is not None:
                self.store.set_remind_day(tx, existing.id, remind_day)
                card_id = int(existing.id)
            else:
                if len(self.store.cards(tx, user_id, CARDS_PER_USER_MAX)) >= CARDS_PER_USER_MAX:
                    raise LimitExceeded(
                        f"at most {CARDS_PER_USER_MAX} saved cards",
                        code="repayment_cards_limit_reached",
                    )
                card_id = self.store.insert_card(
                    tx,
                    {
                        "user_id": user_id,
                        "card_number": card.number,
                        "bank_code": card.bank.code,
                        "remind_day": remind_day,
                        "created_at_us": self.clock.now_us(),
                    },
                )
            self._schedule_reminder_in(tx, card_id, remind_day)
            return card_id

        card_id = self.db.run(work)
        return next(c for c in self.cards(user_id) if c.id == card_id)

    def remove_card(self, user_id: int, card_id: int) -> None:
        def work(tx: Tx) -> None:
            self._own_card_in(tx, user_id, card_id)
            self.store.delete_card(tx, card_id)  # its reminder job finds no card: no text

        self.db.run(work)

    def cards(self, user_id: int) -> list[RepaymentCard]:
        with self.db.read() as tx:
            return [card_view(row) for row in self.store.cards(tx, user_id, CARDS_PER_USER_MAX)]

    def card_number_of(self, user_id: int, card_id: int) -> str:
        """A saved card's full number (to repay it without typing it again)."""
        with self.db.read() as tx:
            return str(self._own_card_in(tx, user_id, card_id).card_number)

    def _schedule_reminder_in(self, tx: Tx, card_id: int, remind_day: int | None) -> None:
        if remind_day is None or self.sms is None:
            return
        at = next_reminder_at(self.clock.now(), remind_day)
        # One job per card, month and day: a changed day gets a job of its own; the old one
        # finds the day changed and stays silent.
        key = f"{card_id}:{at:%Y-%m}:{remind_day}"
        payload = {"card_id": card_id, "day": remind_day}
        self.jobs.schedule_in(tx, JOB_REMIND, key, us_from_datetime(at), payload)

    def _on_remind(self, tx: Tx, job: Job) -> None:
        card = self.store.card(tx, int(job.payload["card_id"]))
        if card is None or card.remind_day != job.payload["day"]:
            return  # removed, or reminded on another day now (that job is the live one)
        assert self.sms is not None
        user = self.users.record_in(tx, card.user_id)
        month = quota_month(self.clock.now())
        policy = self.policy.repayment_fee
        left_fen = max(policy.free_quota_fen - self.store.month_used_fen(tx, user.id, month), 0)
        bank = BANKS[card.bank_code].name_zh
        self.sms.send_in(
            tx,
            user.phone,
            f"【paybao】信用卡还款提醒:您的{bank}信用卡(尾号{card.card_number[-4:]})今天该还款了。"
            f"本月还可免费还款 {format_yuan(left_fen)} 元,超出部分收取 0.1% 服务费。"
            f" paybao: time to repay your {card.bank_code} credit card ending"
            f" {card.card_number[-4:]}.",
        )
        self._schedule_reminder_in(tx, card.id, card.remind_day)

    # Inside ---------------------------------------------------------------------------------

    def _hold_in(
        self,
        tx: Tx,
        user_id: int,
        kind: PayoutKind,
        card: CardInfo,
        name: str,
        fee: WithdrawalFee,
        amount_fen: int,
        arrival: PayoutArrival,
        *,
        memo: str = "",
        risk_held: bool = False,
        month: str | None = None,
        usage_period: str | None = None,
    ) -> int:
        return self.wallet.hold_payout_in(
            tx,
            self.rows,
            PAYOUT_DELAY_S[arrival],
            {
                "user_id": user_id,
                "kind": str(kind),
                "card_number": card.number,
                "bank_code": card.bank.code,
                "holder_name": name,
                "amount_fen": amount_fen,
                "fee_fen": fee.fee_fen,
                "quota_used_fen": fee.quota_used_fen,
                "quota_month": month,
                "usage_period": usage_period,
                "arrival": str(arrival),
                "risk_held": risk_held,
                "memo": memo,
            },
        )

    def _send_if_due(self, user_id: int, payout_id: int) -> CardPayout:
        view = self.payout(user_id, payout_id)
        if view.status != PayoutStatus.HELD or view.due_at_us > self.clock.now_us():
            return view
        answered: CardPayout | None = self.wallet.send_payout(self.rows, payout_id)
        return answered or self.payout(user_id, payout_id)

    def _payer_in(self, tx: Tx, user_id: int) -> UserRecord:
        """The paying user, locked: frozen accounts and unverified ones may not pay out."""
        user = self.users.record_in(tx, user_id, for_update=True)
        if user.status == "frozen":
            raise Forbidden("this account is frozen", code="account_frozen")
        if user.real_name is None or user.wallet_account_id is None:
            raise Forbidden("registration is not complete", code="registration_incomplete")
        return user

    def _own_in(self, tx: Tx, user_id: int, payout_id: int) -> Any:
        row = self.store.payout(tx, payout_id)
        if row is None or row.user_id != user_id:
            raise NotFound("no such card payout", code="card_payout_not_found")
        return row

    def _own_card_in(self, tx: Tx, user_id: int, card_id: int) -> Any:
        row = self.store.card(tx, card_id)
        if row is None or row.user_id != user_id:
            raise NotFound("no such saved card", code="repayment_card_not_found")
        return row

    def _check_amount(self, amount_fen: int) -> None:
        check_amount_fen(amount_fen)
        if amount_fen > self.policy.amount_fen_max:
            raise InvalidInput(
                f"one payout sends at most {format_yuan(self.policy.amount_fen_max)} CNY",
                code="card_payout_amount_over_max",
            )

    def _fee_policy(self, kind: PayoutKind) -> WithdrawalFeePolicy:
        if kind is PayoutKind.TRANSFER:
            return self.wallet.fee_policy
        return self.policy.repayment_fee

    def _answer_in(self, tx: Tx, payout_id: int) -> CardPayout:
        """The payout as the request that sent it answers, stored with the change."""
        view = payout_view(self.store.payout(tx, payout_id))
        idempotency = self.wallet.idempotency
        if idempotency is not None and self.answer_of is not None and idempotency.claiming():
            idempotency.mark_done_in(tx, f"{PREFIX}:{payout_id}", answer=self.answer_of(view))
        return view


@dataclass(frozen=True, slots=True)
class _CardPayoutRows:
    """The `card_payouts` table as the wallet's payout machinery sees it."""

    service: CardPayoutService
    table: str = TABLE
    prefix: str = PREFIX

    def codes(self, row: Any) -> tuple[int, int]:
        return _CODES[PayoutKind(row.kind)]

    def destination_in(self, tx: Tx, row: Any) -> tuple[str, str | None]:
        return row.card_number, row.holder_name

    def failed_in(self, tx: Tx, row: Any) -> None:
        # A repayment's monthly quota is the sum of the month's live repayments: a failed or
        # cancelled one drops out of it by itself.
        if row.kind != PayoutKind.TRANSFER:
            return
        self.service.wallet.give_back_withdraw_quota_in(tx, row.user_id, row.quota_used_fen)
        # Nobody was paid: the class limit's usage comes back to the period it counted in.
        self.service.store.give_back_usage(tx, row.user_id, row.usage_period, row.amount_fen)

    def answer_in(self, tx: Tx, row_id: int) -> CardPayout:
        return self.service._answer_in(tx, row_id)


def payout_view(row: Any) -> CardPayout:
    return CardPayout(
        id=int(row.id),
        kind=row.kind,
        status=row.status,
        amount_fen=int(row.amount_fen),
        fee_fen=int(row.fee_fen),
        amount=format_yuan(int(row.amount_fen)),
        fee=format_yuan(int(row.fee_fen)),
        bank_code=row.bank_code,
        bank_name=BANKS[row.bank_code].name_zh,
        card_masked=mask_card_number(row.card_number, show_head=False),
        card_tail=row.card_number[-4:],
        holder_name_masked=mask_real_name(row.holder_name),
        arrival=row.arrival,
        risk_held=bool(row.risk_held),
        memo=row.memo,
        due_at_us=int(row.due_at_us),
        created_at_us=int(row.created_at_us),
        finished_at_us=None if row.finished_at_us is None else int(row.finished_at_us),
        failure_code=row.failure_code,
    )


def card_view(row: Any) -> RepaymentCard:
    return RepaymentCard(
        id=int(row.id),
        bank_code=row.bank_code,
        bank_name=BANKS[row.bank_code].name_zh,
        card_masked=mask_card_number(row.card_number, show_head=False),
        card_tail=row.card_number[-4:],
        remind_day=row.remind_day,
        created_at_us=int(row.created_at_us),
    )


def _by_device(proof: PaymentProof) -> bool:
    """Whether a registered device confirmed the payout (not the payment password)."""
    return not isinstance(proof, str)
