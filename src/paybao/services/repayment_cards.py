"""Saved repayment cards (信用卡还款 卡片管理): the credit cards a user repays, each with an
optional reminder day. At most `CARDS_PER_USER_MAX` per user; only the numbers are kept (the
bank checks the holder when a card is repaid). A card with a reminder day gets a text at
09:00 China time that day each month (`card_payouts.remind` jobs, one per card, month and day)
with what is left of the month's free repayment quota.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paybao.domain.bins import BANKS
from paybao.domain.card_payouts import (
    PayoutKind,
    check_remind_day,
    next_reminder_at,
    payout_card,
    quota_month,
)
from paybao.domain.errors import LimitExceeded, NotFound
from paybao.domain.money import format_yuan
from paybao.services.card_payout_records import (
    CARDS_PER_USER_MAX,
    CardPayoutStore,
    PayoutPolicy,
    RepaymentCard,
    card_view,
    payer_in,
)
from paybao.services.clock import us_from_datetime
from paybao.services.jobs import Job, JobRunner
from paybao.services.ports import Clock, Database, Tx
from paybao.services.sms import SmsSender
from paybao.services.users import UserService

JOB_REMIND = "card_payouts.remind"


@dataclass
class RepaymentCardService:
    db: Database
    store: CardPayoutStore
    users: UserService
    jobs: JobRunner
    clock: Clock
    policy: PayoutPolicy = field(default_factory=PayoutPolicy)
    # Where reminders go (the SMS port); None: saved cards are not reminded.
    sms: SmsSender | None = None

    def install_jobs(self) -> None:
        self.jobs.register(JOB_REMIND, self._on_remind)

    def save_card(
        self, user_id: int, card_number: str, remind_day: int | None = None
    ) -> RepaymentCard:
        """Save a credit card to repay (again: change its reminder day). Only numbers are kept:
        the bank checks the holder when the card is repaid."""
        card = payout_card(card_number, PayoutKind.REPAYMENT)
        check_remind_day(remind_day)

        def work(tx: Tx) -> int:
            payer_in(self.users, tx, user_id)  # locks the user: the count below stays true
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

    def _own_card_in(self, tx: Tx, user_id: int, card_id: int) -> Any:
        row = self.store.card(tx, card_id)
        if row is None or row.user_id != user_id:
            raise NotFound("no such saved card", code="repayment_card_not_found")
        return row
