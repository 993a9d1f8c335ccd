"""Card payouts: a transfer from the balance to anyone's debit card, and a repayment of the
user's own credit card (rules: domain/card_payouts.py).

The money moves through the wallet's payout machinery (services/wallet_payouts.py
`PayoutRows`), as a withdrawal's does:
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

Saved repayment cards and their reminders: services/repayment_cards.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from paybao.domain.account_class import AccountClass
from paybao.domain.card_payouts import (
    LEDGER_CODE_CARD_REPAYMENT,
    LEDGER_CODE_CARD_TRANSFER,
    PAYOUT_DELAY_S,
    CardPayout,
    PayoutArrival,
    PayoutKind,
    PayoutStatus,
    check_memo,
    holder_name,
    payout_card,
    quota_month,
    repayment_fee,
    transfer_fee,
)
from paybao.domain.cards import CardInfo, mask_card_number
from paybao.domain.errors import InvalidInput, InvalidState, NotFound
from paybao.domain.money import check_amount_fen, format_yuan
from paybao.domain.risk import Action, Assessment, Decision
from paybao.domain.withdrawal import WithdrawalFee, WithdrawalFeePolicy
from paybao.services.card_payout_records import (
    PAGE_SIZE_MAX,
    PREFIX,
    TABLE,
    CardPayoutStore,
    PayoutPolicy,
    Preview,
    payer_in,
    payout_view,
)
from paybao.services.devices import PaymentProof
from paybao.services.ports import Clock, Database, Tx
from paybao.services.risk import Attempt
from paybao.services.users import UserService, usage_period
from paybao.services.wallet import WalletService
from paybao.services.wallet_operations import by_device
from paybao.services.wallet_statement import CODE_WITHDRAWAL_FEE

_CODES = {
    PayoutKind.TRANSFER: (LEDGER_CODE_CARD_TRANSFER, CODE_WITHDRAWAL_FEE),
    PayoutKind.REPAYMENT: (LEDGER_CODE_CARD_REPAYMENT, CODE_WITHDRAWAL_FEE),
}


@dataclass
class CardPayoutService:
    db: Database
    store: CardPayoutStore
    wallet: WalletService
    users: UserService
    clock: Clock
    policy: PayoutPolicy = field(default_factory=PayoutPolicy)
    # The REST answer of a payout, byte for byte (set by the wiring): stored with the bank's
    # answer in the same transaction, as the wallet's withdrawals do.
    answer_of: Callable[[CardPayout], tuple[int, str]] | None = None

    def __post_init__(self) -> None:
        self.rows = _CardPayoutRows(self)
        self.wallet.payouts.register(self.rows)

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
            by_device(proof),
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
                risk = self.wallet.operations.risk
                assert risk is not None
                risk.record_in(tx, attempt, assessment, f"{PREFIX}:{payout_id}")
            return payout_id

        payout_id = self.wallet.payouts.start(attempt, proof, hold, kind=PREFIX)
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
        attempt = Attempt(user_id, Action.CARD_REPAYMENT, amount_fen, by_device(proof))

        def hold(tx: Tx, assessment: Assessment) -> int:
            assert assessment.decision is not Decision.DELAY, "own card: never delayed"
            user = payer_in(self.users, tx, user_id)
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

        payout_id = self.wallet.payouts.start(attempt, proof, hold, kind=PREFIX)
        return self._send_if_due(user_id, payout_id)

    def cancel(self, user_id: int, payout_id: int) -> CardPayout:
        """Cancel a payout not sent to the bank yet (a delayed one): everything comes back."""

        def work(tx: Tx) -> None:
            self._own_in(tx, user_id, payout_id)
            if not self.wallet.payouts.cancel_in(tx, self.rows, payout_id):
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
        return self.wallet.payouts.cancel_in(tx, self.rows, payout_id)

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
        return self.wallet.payouts.hold_in(
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
        answered: CardPayout | None = self.wallet.payouts.send(self.rows, payout_id)
        return answered or self.payout(user_id, payout_id)

    def _own_in(self, tx: Tx, user_id: int, payout_id: int) -> Any:
        row = self.store.payout(tx, payout_id)
        if row is None or row.user_id != user_id:
            raise NotFound("no such card payout", code="card_payout_not_found")
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
        idempotency = self.wallet.operations.idempotency
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
