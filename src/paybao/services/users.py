"""Users: sign-in, the payment password, and the checks every payment makes.

Public interface (other features depend on it; keep it stable):

- `authenticate(phone, login_password) -> UserView`: `Unauthenticated` code `bad_credentials`;
  after `login_failures_max` failures in a row the phone is locked (`RateLimited`,
  code `login_locked`, `data["retry_after_s"]`).
- `get(user_id) -> UserView` (`NotFound` code `user_not_found`), `find_by_phone(phone)`.
- `verify_payment_password(user_id, password)`: own transaction. Wrong: `Forbidden` code
  `payment_password_wrong` with `data["tries_left"]`; the 5th wrong in a row locks payments for
  3 h: code `payment_password_locked`. Call it before opening the payment's transaction: argon2
  takes tens of milliseconds and no lock should be held meanwhile.
- `check_payment_password_in(tx, user_id, password)`: the same inside a caller's transaction.
  A wrong password raises `PaymentPasswordWrong`, and the caller's transaction rolls back, so
  the failure cannot be counted there: run the unit of work with `users.run_paying(work)`
  (a `db.run` that, on `PaymentPasswordWrong`, records the failure in a fresh transaction
  after the rollback and re-raises). Plain `db.run` would lose the count.
- `check_can_pay_in(tx, user_id, amount_fen, *, funding)`: frozen -> `Forbidden`
  `account_frozen`; unfinished registration -> `Forbidden` `registration_incomplete`; with
  funding "balance" the class limit is checked AND the usage recorded (it calls
  `record_balance_payment_in`; do not call both). Other fundings ("card", "credit", "fund")
  are not counted, as PBoC No. 43 says.
- `wallet_account_id_in(tx, user_id) -> int`.
- `change_login_password(user_id, old, new)` and `change_payment_password(user_id, new, *,
  payment_password=... | login_password=...)`: the security page's two forms. A wrong proof is
  counted by the lockout it belongs to (sign-in or payments); codes as above plus the
  registration rules' (invalid_login_password, invalid_payment_password,
  weak_payment_password, payment_password_equals_login_password).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from paybao.domain.account_class import (
    CLASS_POLICY_DEFAULT,
    AccountClass,
    ClassPolicy,
    LimitSummary,
    check_balance_payment,
    china_date,
    limit_summary,
)
from paybao.domain.credentials import (
    LOCKOUT_POLICY_DEFAULT,
    LockoutPolicy,
    PaymentPasswordState,
    check_login_password,
    check_payment_not_locked,
    check_payment_password,
    record_payment_password_failure,
)
from paybao.domain.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from paybao.domain.identity import mask_phone, mask_real_name, normalize_phone
from paybao.services.clock import US_PER_S, datetime_from_us, us_from_datetime
from paybao.services.ports import Clock, Database, Tx

T = TypeVar("T")

FUNDINGS = frozenset({"balance", "card", "credit", "fund"})
STEP_ACTIVE = "active"


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str | None, password: str) -> bool:
        """False on mismatch; None hash = no such user (still spends the time)."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """After a right password: whether to store a fresh hash of it (made before the
        pepper, or with other parameters than the configured ones)."""
        ...


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A `users` row as services see it."""

    id: int
    phone: str
    login_password_hash: str
    payment_password_hash: str | None
    real_name: str | None
    id_number: str | None
    step: str
    status: str
    account_class: str | None
    channels: str
    wallet_account_id: int | None
    login_failures: int
    login_locked_until_us: int | None
    pay_failures: int
    pay_locked_until_us: int | None
    withdraw_quota_used_fen: int
    created_at_us: int
    # Wallet sessions signed in before this (Unix seconds, wall clock) are over.
    sessions_valid_from_s: int | None = None


class UserStore(Protocol):
    def get(self, tx: Tx, user_id: int, *, for_update: bool = False) -> UserRecord | None: ...

    def get_by_phone(self, tx: Tx, phone: str) -> UserRecord | None: ...

    def insert(
        self, tx: Tx, phone: str, login_password_hash: str, step: str, now_us: int
    ) -> int: ...

    def update(self, tx: Tx, user_id: int, **values: object) -> None: ...

    def count_by_id_number(self, tx: Tx, id_number: str) -> int: ...

    def usage_fen(self, tx: Tx, user_id: int, period: str, *, for_update: bool = False) -> int: ...

    def add_usage(self, tx: Tx, user_id: int, period: str, amount_fen: int) -> int:
        """Add to the period's usage (locking its row) and return the new total."""
        ...


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    phone_masked: str
    real_name_masked: str
    status: str  # 'active' | 'frozen'
    account_class: str | None  # 'I' | 'II' | 'III'; None until the real name is verified
    wallet_account_id: int | None  # None until registration completes
    step: str = STEP_ACTIVE  # registration step reached; 'active' when all six are done


@dataclass(frozen=True, slots=True)
class UserPolicy:
    login_failures_max: int = 10
    login_lock_s: int = 15 * 60
    lockout: LockoutPolicy = LOCKOUT_POLICY_DEFAULT
    classes: ClassPolicy = CLASS_POLICY_DEFAULT


class PaymentPasswordWrong(Forbidden):
    """Wrong payment password. `user_id` lets `run_paying` count it after the rollback."""

    code = "payment_password_wrong"

    def __init__(self, message: str, *, user_id: int, **data: object) -> None:
        super().__init__(message)
        self.data = data
        self.user_id = user_id


def view_of(user: UserRecord) -> UserView:
    return UserView(
        id=user.id,
        phone_masked=mask_phone(user.phone),
        real_name_masked=mask_real_name(user.real_name) if user.real_name else "",
        status=user.status,
        account_class=user.account_class,
        wallet_account_id=user.wallet_account_id,
        step=user.step,
    )


def usage_period(account_class: AccountClass, at: datetime) -> str:
    """Where balance payments are summed: 'lifetime' (class I) or the China year."""
    if account_class is AccountClass.I:
        return "lifetime"
    return str(china_date(at).year)


@dataclass
class UserService:
    db: Database
    store: UserStore
    clock: Clock
    hasher: PasswordHasher
    policy: UserPolicy = field(default_factory=UserPolicy)
    # Session cookies carry wall-clock seconds (web/session.py), not the sandbox clock's.
    wall_clock_s: Callable[[], float] = time.time

    # Reading ---------------------------------------------------------------------------

    def get(self, user_id: int) -> UserView:
        with self.db.read() as tx:
            return view_of(self.record_in(tx, user_id))

    def record(self, user_id: int) -> UserRecord:
        with self.db.read() as tx:
            return self.record_in(tx, user_id)

    def record_in(self, tx: Tx, user_id: int, *, for_update: bool = False) -> UserRecord:
        user = self.store.get(tx, user_id, for_update=for_update)
        if user is None:
            raise NotFound("no such user", code="user_not_found")
        return user

    def find_by_phone(self, phone: str) -> UserView | None:
        try:
            normalized = normalize_phone(phone)
        except InvalidInput:
            return None
        with self.db.read() as tx:
            user = self.store.get_by_phone(tx, normalized)
        return view_of(user) if user is not None else None

    def wallet_account_id_in(self, tx: Tx, user_id: int) -> int:
        user = self.record_in(tx, user_id)
        if user.wallet_account_id is None:
            raise Forbidden("registration is not complete", code="registration_incomplete")
        return user.wallet_account_id

    def limits(self, user_id: int) -> LimitSummary | None:
        """The class limit and what is used of it; None before the real name is verified."""
        with self.db.read() as tx:
            user = self.record_in(tx, user_id)
            if user.account_class is None:
                return None
            account_class = AccountClass(user.account_class)
            period = usage_period(account_class, self.clock.now())
            used_fen = self.store.usage_fen(tx, user_id, period)
        return limit_summary(account_class, used_fen, self.policy.classes)

    # Sign-in ---------------------------------------------------------------------------

    def authenticate(self, phone: str, login_password: str) -> UserView:
        try:
            normalized = normalize_phone(phone)
        except InvalidInput:
            normalized = ""
        with self.db.read() as tx:
            user = self.store.get_by_phone(tx, normalized) if normalized else None
        now_us = self.clock.now_us()
        if user is not None and (user.login_locked_until_us or 0) > now_us:
            raise _login_locked(user.login_locked_until_us or 0, now_us)
        right = self.hasher.verify(user.login_password_hash if user else None, login_password)
        if user is None:
            raise Unauthenticated("wrong phone number or password", code="bad_credentials")
        if not right:
            self.db.run(lambda tx: self._login_failed_in(tx, user.id))
            raise Unauthenticated("wrong phone number or password", code="bad_credentials")
        values: dict[str, object] = {"login_failures": 0} if user.login_failures else {}
        if user.login_password_hash and self.hasher.needs_rehash(user.login_password_hash):
            values["login_password_hash"] = self.hasher.hash(login_password)
        if values:
            self.db.run(lambda tx: self.store.update(tx, user.id, **values))
        return view_of(user)

    def _login_failed_in(self, tx: Tx, user_id: int) -> None:
        user = self.record_in(tx, user_id, for_update=True)
        failures = user.login_failures + 1
        if failures >= self.policy.login_failures_max:
            until_us = self.clock.now_us() + self.policy.login_lock_s * US_PER_S
            self.store.update(tx, user_id, login_failures=0, login_locked_until_us=until_us)
        else:
            self.store.update(tx, user_id, login_failures=failures)

    def change_login_password(self, user_id: int, old_password: str, new_password: str) -> None:
        """Old password, then the new one (same rules as registration). A wrong old password
        counts toward the sign-in lockout: `Forbidden` code `bad_credentials`. Every wallet
        session signed in before ends (the caller signs its own browser in again)."""
        check_login_password(new_password)
        self._prove_login_password(user_id, old_password)
        new_hash = self.hasher.hash(new_password)
        self.db.run(
            lambda tx: self.store.update(
                tx, user_id, login_password_hash=new_hash, **self.end_sessions_values()
            )
        )

    def end_sessions_values(self) -> dict[str, object]:
        """What to store with a new login password: every session signed in until now is
        over. Cookies count whole seconds, so the cut-off is the next second; a session
        signed in from then on (web/session.sign_in starts it at the cut-off at the
        earliest) counts."""
        return {"sessions_valid_from_s": int(self.wall_clock_s()) + 1}

    def sessions_valid_from_s(self, user_id: int) -> int | None:
        """The user's session cut-off (wall-clock seconds); None: none, or no such user."""
        with self.db.read() as tx:
            user = self.store.get(tx, user_id)
        return user.sessions_valid_from_s if user is not None else None

    def session_current(self, user_id: int, issued_s: int) -> bool:
        """Whether a wallet session signed in at `issued_s` (wall clock) still counts: the
        user exists and no login password change or reset came after it."""
        with self.db.read() as tx:
            user = self.store.get(tx, user_id)
        if user is None:
            return False
        return user.sessions_valid_from_s is None or issued_s >= user.sessions_valid_from_s

    def _prove_login_password(self, user_id: int, login_password: str) -> UserRecord:
        """A signed-in user re-types the login password: the sign-in lock refuses it
        (`login_locked`), a wrong one is counted like a failed sign-in (`bad_credentials`)."""
        user = self.record(user_id)
        now_us = self.clock.now_us()
        if (user.login_locked_until_us or 0) > now_us:
            raise _login_locked(user.login_locked_until_us or 0, now_us)
        if not self.hasher.verify(user.login_password_hash, login_password):
            self.db.run(lambda tx: self._login_failed_in(tx, user_id))
            raise Forbidden("the current login password is wrong", code="bad_credentials")
        if user.login_failures:
            self.db.run(lambda tx: self.store.update(tx, user_id, login_failures=0))
        return user

    # Payment password ------------------------------------------------------------------

    def verify_payment_password(self, user_id: int, payment_password: str) -> None:
        """Check before a money transaction; a failure is counted durably before raising.

        The hash is checked outside any transaction: argon2 takes ~20 ms of CPU, and holding
        a pooled connection (on SQLite, the database's write lock) that long throttled every
        other request. Only a reset of the failure count writes, in a short transaction."""
        with self.db.read() as tx:
            user = self.record_in(tx, user_id)
        try:
            self._check_payment_password(user, payment_password)
        except PaymentPasswordWrong as wrong:
            self._count_payment_failure(wrong)
            raise
        values = self._after_right_payment_password(user, payment_password)
        if values:
            self.db.run(lambda tx: self.store.update(tx, user_id, **values))

    def check_payments_unlocked(self, user: UserRecord) -> None:
        """Refuse while wrong payment passwords keep payments locked (`payment_password_locked`),
        whatever proves the payment: a lock means someone is guessing."""
        check_payment_not_locked(_pay_state(user), self.clock.now())

    def check_payment_password_in(self, tx: Tx, user_id: int, payment_password: str) -> None:
        user = self.record_in(tx, user_id)
        self._check_payment_password(user, payment_password)
        values = self._after_right_payment_password(user, payment_password)
        if values:
            self.store.update(tx, user_id, **values)

    def _after_right_payment_password(
        self, user: UserRecord, payment_password: str
    ) -> dict[str, object]:
        """What to store after a right payment password: the failure count back to 0, and a
        fresh hash when the stored one predates the pepper or the configured parameters."""
        values: dict[str, object] = {"pay_failures": 0} if user.pay_failures else {}
        stored = user.payment_password_hash
        if stored and self.hasher.needs_rehash(stored):
            values["payment_password_hash"] = self.hasher.hash(payment_password)
        return values

    def _check_payment_password(self, user: UserRecord, payment_password: str) -> None:
        now = self.clock.now()
        check_payment_not_locked(_pay_state(user), now)
        if user.payment_password_hash is None:
            raise Forbidden("no payment password set yet", code="registration_incomplete")
        if not self.hasher.verify(user.payment_password_hash, payment_password):
            failed = record_payment_password_failure(_pay_state(user), now, self.policy.lockout)
            tries_left = (
                0
                if failed.locked_until
                else self.policy.lockout.failures_max - failed.failures_in_row
            )
            raise PaymentPasswordWrong(
                "wrong payment password", user_id=user.id, tries_left=tries_left
            )

    def change_payment_password(
        self,
        user_id: int,
        new_password: str,
        *,
        payment_password: str | None = None,
        login_password: str | None = None,
    ) -> None:
        """Set a new payment password, proven by the current payment password or by the login
        password (exactly one). The new one follows the registration rules (6 digits, not
        trivial, not the login password) and may not be the birth date or tail of the ID number.

        A wrong payment password counts toward the payment lockout (`payment_password_wrong`,
        then `payment_password_locked`); a wrong login password toward the sign-in lockout
        (`bad_credentials`, then `login_locked`). While payments are locked neither proof
        works: the lock would mean nothing if the login password could lift it.
        """
        assert (payment_password is None) != (login_password is None), "one proof, not two"
        user = self.record(user_id)
        if user.payment_password_hash is None:
            raise Forbidden("no payment password set yet", code="registration_incomplete")
        check_payment_password(new_password, id_number=user.id_number)
        if payment_password is not None:
            self.verify_payment_password(user_id, payment_password)
        else:
            self.check_payments_unlocked(user)
            self._prove_login_password(user_id, login_password or "")
        if self.hasher.verify(user.login_password_hash, new_password):
            raise InvalidInput(
                "payment password must differ from the login password",
                code="payment_password_equals_login_password",
            )
        new_hash = self.hasher.hash(new_password)

        def work(tx: Tx) -> None:
            current = self.record_in(tx, user_id, for_update=True)
            self.check_payments_unlocked(current)
            self.store.update(tx, user_id, payment_password_hash=new_hash, pay_failures=0)

        self.db.run(work)

    def run_paying(self, work: Callable[[Tx], T]) -> T:
        """`db.run(work)`, but a wrong payment password is counted after the rollback."""
        try:
            return self.db.run(work)
        except PaymentPasswordWrong as wrong:
            self._count_payment_failure(wrong)
            raise

    def _count_payment_failure(self, wrong: PaymentPasswordWrong) -> None:
        """Count one failure in its own transaction; raise instead if that locked payments."""
        user_id = wrong.user_id
        locked = self.db.run(lambda tx: self._payment_failed_in(tx, user_id))
        if locked is not None:
            check_payment_not_locked(locked, self.clock.now())

    def _payment_failed_in(self, tx: Tx, user_id: int) -> PaymentPasswordState | None:
        """Count one failure; return the state if it locked payments."""
        user = self.record_in(tx, user_id, for_update=True)
        now = self.clock.now()
        state = record_payment_password_failure(_pay_state(user), now, self.policy.lockout)
        locked_until_us = us_from_datetime(state.locked_until) if state.locked_until else None
        self.store.update(
            tx, user_id, pay_failures=state.failures_in_row, pay_locked_until_us=locked_until_us
        )
        return state if state.is_locked(now) else None

    # Payment checks --------------------------------------------------------------------

    def check_can_pay_in(self, tx: Tx, user_id: int, amount_fen: int, *, funding: str) -> None:
        assert funding in FUNDINGS, f"unknown funding {funding}"
        user = self.record_in(tx, user_id)
        if user.status == "frozen":
            raise Forbidden(
                "this account is frozen; it can receive but not pay", code="account_frozen"
            )
        if user.step != STEP_ACTIVE or user.wallet_account_id is None:
            raise Forbidden("registration is not complete", code="registration_incomplete")
        if funding == "balance":
            self._record_balance_payment_in(tx, user, amount_fen)

    def record_balance_payment_in(self, tx: Tx, user_id: int, amount_fen: int) -> None:
        """Check the class limit and add `amount_fen` to the period's usage (row locked)."""
        self._record_balance_payment_in(tx, self.record_in(tx, user_id), amount_fen)

    def _record_balance_payment_in(self, tx: Tx, user: UserRecord, amount_fen: int) -> None:
        if user.account_class is None:
            raise Forbidden("real name not verified", code="registration_incomplete")
        account_class = AccountClass(user.account_class)
        period = usage_period(account_class, self.clock.now())
        # Add first, then check: a refusal raises and the transaction rolls the add back.
        used_fen = self.store.add_usage(tx, user.id, period, amount_fen) - amount_fen
        check_balance_payment(account_class, used_fen, amount_fen, self.policy.classes)

    # Operators' actions ----------------------------------------------------------------

    def set_status_in(self, tx: Tx, user_id: int, status: str) -> None:
        assert status in ("active", "frozen")
        self.record_in(tx, user_id, for_update=True)
        self.store.update(tx, user_id, status=status)


def _pay_state(user: UserRecord) -> PaymentPasswordState:
    locked_until = datetime_from_us(user.pay_locked_until_us) if user.pay_locked_until_us else None
    return PaymentPasswordState(failures_in_row=user.pay_failures, locked_until=locked_until)


def _login_locked(until_us: int, now_us: int) -> DomainError:
    retry_after_s = max((until_us - now_us + US_PER_S - 1) // US_PER_S, 1)
    return RateLimited(
        "too many wrong passwords; try again later",
        code="login_locked",
        retry_after_s=retry_after_s,
    )


__all__ = [
    "FUNDINGS",
    "PasswordHasher",
    "PaymentPasswordWrong",
    "UserPolicy",
    "UserRecord",
    "UserService",
    "UserStore",
    "UserView",
    "view_of",
]
