"""Saved bill accounts (户号) and the reminders on the wallet's home page.

A user saves an account number of a biller with a nickname ("家里的电费"); saving asks the
biller first, so only accounts it knows are kept, at most `saved_accounts_max` per user. Each
saved account remembers what its biller said at the last look (holder masked, outstanding
amount, month): every inquiry of that account refreshes it, a paid bill lowers it at once, and
a sweep asks again about accounts whose last look is older than `refresh_s` (a day), a few
at a time. The reminders are the saved accounts that owe something; reading them asks no biller.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from paybao.domain.billpay import (
    BillAccountNotFound,
    BillerNotFound,
    BillerUnavailable,
    SavedAccountsLimit,
    check_nickname,
)
from paybao.domain.errors import NotFound
from paybao.services.billpay import BillpayService
from paybao.services.billpay_records import BillpayStore, Inquiry, SavedAccount, SavedLine
from paybao.services.clock import US_PER_S
from paybao.services.ports import Clock, Database, Tx
from paybao.services.users import UserService

log = logging.getLogger(__name__)


@dataclass
class SavedAccountService:
    db: Database
    store: BillpayStore
    payments: BillpayService
    users: UserService
    clock: Clock

    @property
    def limit(self) -> int:
        return self.payments.policy.saved_accounts_max

    def save(self, user_id: int, biller_id: int, account_no: str, nickname: str = "") -> SavedLine:
        """Keep an account number (saving it again renames it); the biller must know it."""
        name = check_nickname(nickname)
        inquiry = self.payments.inquire(biller_id, account_no)
        now_us = self.clock.now_us()

        def work(tx: Tx) -> int:
            # The user's row serialises a user's saves, so the count below holds.
            self.users.record_in(tx, user_id, for_update=True)
            known = self.store.saved(tx, user_id, inquiry.biller.id, inquiry.account_no)
            if known is not None:
                self.store.update_saved(tx, known.id, nickname=name)
                return known.id
            if self.store.count_saved(tx, user_id) >= self.limit:
                raise SavedAccountsLimit(f"at most {self.limit} saved accounts; delete one first")
            return self.store.insert_saved(tx, _saved(user_id, name, inquiry, now_us))

        saved_id = self.db.run(work)
        with self.db.read() as tx:
            saved = self.store.saved_by_id(tx, saved_id)
        assert saved is not None and saved.user_id == user_id
        return SavedLine(saved, inquiry.biller)

    def delete(self, user_id: int, saved_id: int) -> None:
        if not self.db.run(lambda tx: self.store.delete_saved(tx, user_id, saved_id)):
            raise NotFound("no such saved account", code="bill_saved_account_not_found")

    def accounts(self, user_id: int) -> list[SavedLine]:
        return self._lines(user_id, owing_only=False)

    def reminders(self, user_id: int) -> list[SavedLine]:
        """Saved accounts with something to pay, as their billers last said."""
        return self._lines(user_id, owing_only=True)

    def _lines(self, user_id: int, *, owing_only: bool) -> list[SavedLine]:
        with self.db.read() as tx:
            saved = self.store.saved_of(tx, user_id, self.limit, owing_only=owing_only)
            billers = self.store.billers_by_ids(tx, sorted({s.biller_id for s in saved}))
        # A disabled biller's accounts stay saved but are not shown (nothing can be paid).
        return [SavedLine(s, billers[s.biller_id]) for s in saved if billers[s.biller_id].active]

    def find(self, user_id: int, biller_id: int, account_no: str) -> SavedAccount | None:
        with self.db.read() as tx:
            return self.store.saved(tx, user_id, biller_id, account_no)

    def refresh_due(self) -> int:
        """Sweep: ask billers again about saved accounts not looked at for `refresh_s`."""
        policy = self.payments.policy
        now_us = self.clock.now_us()
        with self.db.read() as tx:
            due = self.store.saved_due(
                tx, now_us - policy.refresh_s * US_PER_S, policy.refresh_batch_max
            )
        for saved in due:
            self._refresh(saved, now_us)
        return len(due)

    def _refresh(self, saved: SavedAccount, now_us: int) -> None:
        try:
            self.payments.inquire(saved.biller_id, saved.account_no)  # updates every copy
            return
        except (BillAccountNotFound, BillerNotFound):
            owed_fen = 0  # gone at the biller, or the biller was disabled: nothing to remind
        except BillerUnavailable:
            log.info("biller of saved account %s did not answer; next look later", saved.id)
            owed_fen = saved.outstanding_fen
        # Looked at either way, so a slow biller is not asked again on every pass.
        self.db.run(
            lambda tx: self.store.update_saved(
                tx, saved.id, outstanding_fen=owed_fen, checked_at_us=now_us
            )
        )


def _saved(user_id: int, nickname: str, inquiry: Inquiry, now_us: int) -> SavedAccount:
    return SavedAccount(
        id=0,
        user_id=user_id,
        biller_id=inquiry.biller.id,
        account_no=inquiry.account_no,
        nickname=nickname,
        holder_masked=inquiry.holder_masked,
        outstanding_fen=inquiry.outstanding_fen,
        period=inquiry.period,
        checked_at_us=now_us,
        created_at_us=now_us,
    )
