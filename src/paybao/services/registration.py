"""Account opening in six steps, and binding bank cards (step 5 and 6, and later cards).

1. `start(phone, login_password)`: a user row at step `phone_pending`; a code is texted.
   Restarting an unverified phone is allowed (the row is reused); a verified one is taken.
2. `verify_phone(user_id, code)` -> `phone_verified`.
3. `set_payment_password(user_id, password)` -> `payment_password_set`.
4. `verify_identity(user_id, real_name, id_number)` -> `identity_verified`, class I
   (one external channel: the ID check). At most `accounts_per_id_number_max` per ID number.
5. `add_card(user_id, card_number, holder_name, reserved_phone)`: card checks, the bank
   confirms name + ID + phone, a code goes to the reserved phone.
6. `confirm_card(user_id, card_id, code)`: the card is bound; on the first card the wallet
   account opens, the bank-card channel counts, and the user is `active`.

Codes: phone_taken, wrong_step (InvalidState, `data["step"]` says where the user is),
id_number_account_limit, card_already_bound, card_info_mismatch (the bank disagrees), plus the
domain's (invalid_phone, invalid_login_password, weak_payment_password, id_checksum_mismatch,
card_checksum_mismatch, card_holder_name_mismatch, sms_code_*, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from paybao.domain.account_class import VerificationChannel, account_class_for, china_date
from paybao.domain.accounts import user_account
from paybao.domain.bins import CardType
from paybao.domain.cards import check_card_holder, identify_card
from paybao.domain.credentials import check_login_password, check_payment_password
from paybao.domain.errors import (
    Conflict,
    InvalidInput,
    InvalidState,
    LimitExceeded,
    Retryable,
)
from paybao.domain.identity import normalize_phone, normalize_real_name, parse_id_number
from paybao.services.banking import BankChannel, BankOutcome
from paybao.services.ledger import LedgerService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.sms import SmsService
from paybao.services.users import STEP_ACTIVE, UserRecord, UserService

STEPS = (
    "phone_pending",
    "phone_verified",
    "payment_password_set",
    "identity_verified",
    STEP_ACTIVE,
)
CARDS_PER_USER_MAX = 10


@dataclass(frozen=True, slots=True)
class CardRecord:
    id: int
    user_id: int
    card_number: str
    bank_code: str
    card_type: str
    reserved_phone: str
    status: str
    created_at_us: int


class CardStore(Protocol):
    def get(self, tx: Tx, card_id: int) -> CardRecord | None: ...

    def of_user(self, tx: Tx, user_id: int) -> list[CardRecord]: ...

    def upsert_pending(
        self,
        tx: Tx,
        user_id: int,
        number: str,
        bank_code: str,
        card_type: str,
        phone: str,
        now_us: int,
    ) -> int: ...

    def set_status(self, tx: Tx, card_id: int, status: str) -> None: ...


@dataclass
class RegistrationService:
    db: Database
    users: UserService
    cards: CardStore
    sms: SmsService
    bank: BankChannel
    ledger: LedgerService
    clock: Clock
    accounts_per_id_number_max: int = 3

    # Steps 1-2 -------------------------------------------------------------------------

    def start(self, phone: str, login_password: str) -> int:
        phone = normalize_phone(phone)
        check_login_password(login_password)
        password_hash = self.users.hasher.hash(login_password)

        def work(tx: Tx) -> int:
            existing = self.users.store.get_by_phone(tx, phone)
            if existing is not None and existing.step != "phone_pending":
                raise Conflict("this phone number already has an account", code="phone_taken")
            if existing is None:
                user_id = self.users.store.insert(
                    tx, phone, password_hash, "phone_pending", self.clock.now_us()
                )
            else:
                user_id = existing.id
                self.users.store.update(tx, user_id, login_password_hash=password_hash)
            self.sms.send_code_in(tx, phone, "register")
            return user_id

        return self.db.run(work)

    def resend_phone_code(self, user_id: int) -> None:
        def work(tx: Tx) -> None:
            user = self._at_step_in(tx, user_id, "phone_pending")
            self.sms.send_code_in(tx, user.phone, "register")

        self.db.run(work)

    def verify_phone(self, user_id: int, code: str) -> None:
        user = self._at_step(user_id, "phone_pending")
        self.sms.verify(user.phone, "register", code)
        self._advance(user_id, "phone_pending", step="phone_verified")

    # Steps 3-4 -------------------------------------------------------------------------

    def set_payment_password(self, user_id: int, payment_password: str) -> None:
        user = self._at_step(user_id, "phone_verified")
        check_payment_password(payment_password)
        # The login password is only kept hashed, so "not equal" is checked through the hash.
        if self.users.hasher.verify(user.login_password_hash, payment_password):
            raise InvalidInput(
                "payment password must differ from the login password",
                code="payment_password_equals_login_password",
            )
        password_hash = self.users.hasher.hash(payment_password)
        self._advance(
            user_id,
            "phone_verified",
            step="payment_password_set",
            payment_password_hash=password_hash,
        )

    def verify_identity(self, user_id: int, real_name: str, id_number: str) -> None:
        name = normalize_real_name(real_name)
        resident = parse_id_number(id_number, today=self._china_today())

        def work(tx: Tx) -> None:
            self._at_step_in(tx, user_id, "payment_password_set", for_update=True)
            holders = self.users.store.count_by_id_number(tx, resident.number)
            if holders >= self.accounts_per_id_number_max:
                raise LimitExceeded(
                    f"one ID number may open at most {self.accounts_per_id_number_max} accounts",
                    code="id_number_account_limit",
                )
            channels = [VerificationChannel.ID_CHECK]
            self.users.store.update(
                tx,
                user_id,
                step="identity_verified",
                real_name=name,
                id_number=resident.number,
                channels=_join(channels),
                account_class=str(account_class_for(channels)),
            )

        self.db.run(work)

    # Steps 5-6 (and later cards) -------------------------------------------------------

    def add_card(
        self, user_id: int, card_number: str, holder_name: str, reserved_phone: str
    ) -> int:
        card = identify_card(card_number, card_types=frozenset({CardType.DEBIT}))
        phone = normalize_phone(reserved_phone)
        user = self.users.record(user_id)
        if user.step not in ("identity_verified", STEP_ACTIVE):
            raise _wrong_step(user, "identity_verified")
        assert user.real_name is not None and user.id_number is not None
        check_card_holder(holder_name, user.real_name)
        answer = self.bank.verify_card(card.number, user.real_name, user.id_number, phone)
        if answer.outcome is BankOutcome.UNKNOWN:
            # No answer is not a "no": nothing was bound, and asking again is safe.
            raise Retryable("the bank did not answer; try again", code="bank_unavailable")
        if answer.outcome is not BankOutcome.SUCCEEDED:
            raise InvalidInput(
                "the bank does not know this card with your name, ID number and phone",
                code=answer.failure_code or "card_info_mismatch",
            )

        def work(tx: Tx) -> int:
            cards = self.cards.of_user(tx, user_id)
            if any(c.card_number == card.number and c.status == "bound" for c in cards):
                raise Conflict("this card is already bound", code="card_already_bound")
            if len(cards) >= CARDS_PER_USER_MAX:
                raise LimitExceeded("too many cards", code="cards_limit_reached")
            card_id = self.cards.upsert_pending(
                tx,
                user_id,
                card.number,
                card.bank.code,
                str(card.card_type),
                phone,
                self.clock.now_us(),
            )
            self.sms.send_code_in(tx, phone, f"bind:{card_id}")
            return card_id

        return self.db.run(work)

    def confirm_card(self, user_id: int, card_id: int, code: str) -> None:
        with self.db.read() as tx:
            card = self.cards.get(tx, card_id)
        if card is None or card.user_id != user_id or card.status != "pending":
            raise InvalidState("no card waiting for confirmation", code="card_not_pending")
        self.sms.verify(card.reserved_phone, f"bind:{card_id}", code)
        self.db.run(lambda tx: self._bind_in(tx, user_id, card_id))

    def _bind_in(self, tx: Tx, user_id: int, card_id: int) -> None:
        user = self.users.record_in(tx, user_id, for_update=True)
        self.cards.set_status(tx, card_id, "bound")
        channels = _split(user.channels) | {VerificationChannel.BANK_CARD}
        values: dict[str, object] = {
            "channels": _join(channels),
            "account_class": str(account_class_for(channels)),
        }
        if user.step == "identity_verified":
            ids = self.ledger.open_accounts_in(tx, [user_account(user_id)])
            values.update(step=STEP_ACTIVE, wallet_account_id=ids[user_account(user_id).key])
        self.users.store.update(tx, user_id, **values)

    def remove_card(self, user_id: int, card_id: int) -> None:
        def work(tx: Tx) -> None:
            card = self.cards.get(tx, card_id)
            if card is None or card.user_id != user_id or card.status == "removed":
                raise InvalidState("no such card", code="card_not_found")
            self.cards.set_status(tx, card_id, "removed")

        self.db.run(work)

    # Helpers ---------------------------------------------------------------------------

    def _at_step(self, user_id: int, step: str) -> UserRecord:
        with self.db.read() as tx:
            return self._at_step_in(tx, user_id, step)

    def _at_step_in(
        self, tx: Tx, user_id: int, step: str, *, for_update: bool = False
    ) -> UserRecord:
        user = self.users.record_in(tx, user_id, for_update=for_update)
        if user.step != step:
            raise _wrong_step(user, step)
        return user

    def _advance(self, user_id: int, expected: str, **values: object) -> None:
        def work(tx: Tx) -> None:
            self._at_step_in(tx, user_id, expected, for_update=True)
            self.users.store.update(tx, user_id, **values)

        self.db.run(work)

    def _china_today(self) -> date:
        return china_date(self.clock.now())


def _wrong_step(user: UserRecord, expected: str) -> InvalidState:
    return InvalidState(
        f"this step needs {expected}; the account is at {user.step}",
        code="wrong_step",
        step=user.step,
    )


def _split(channels: str) -> set[VerificationChannel]:
    return {VerificationChannel(c) for c in channels.split(",") if c}


def _join(channels: object) -> str:
    assert isinstance(channels, (list, set, frozenset))
    return ",".join(sorted(str(c) for c in channels))
