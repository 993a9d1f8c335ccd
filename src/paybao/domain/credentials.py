"""Credential rules: login and payment passwords, SMS verification codes, payment lockout.

All state is plain frozen dataclasses; every function takes `now` (an aware datetime) and
returns a new state, so the service stores what comes back and the clock stays outside.

Codes:
- invalid_login_password; invalid_payment_password (not 6 digits);
  payment_password_equals_login_password; weak_payment_password (`data["reason"]` says why:
  same_digit, sequence, pairs, triples, repeating, birthday, id_tail);
- invalid_sms_code, sms_code_wrong, sms_code_expired, sms_code_burned, sms_code_used
  (InvalidInput); sms_resend_too_soon, sms_daily_limit_reached (RateLimited, with
  `data["retry_after_s"]`);
- payment_password_locked (Forbidden, with `data["locked_until"]`).
"""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from typing import Final

from paybao.domain.errors import Forbidden, InvalidInput, RateLimited

# China has had no daylight saving since 1991, so a fixed +08:00 is Asia/Shanghai exactly and
# needs no tz database.
CHINA_TZ: Final = timezone(timedelta(hours=8), "Asia/Shanghai")

# --- login password ------------------------------------------------------------------------

LOGIN_PASSWORD_LEN_MIN: Final = 6
LOGIN_PASSWORD_LEN_MAX: Final = 16


def check_login_password(password: str) -> None:
    """6-16 printable ASCII characters (no space) with at least one letter and one digit."""
    if not isinstance(password, str):
        raise InvalidInput("login password must be text", code="invalid_login_password")
    if not LOGIN_PASSWORD_LEN_MIN <= len(password) <= LOGIN_PASSWORD_LEN_MAX:
        raise InvalidInput(
            f"login password must be {LOGIN_PASSWORD_LEN_MIN}-{LOGIN_PASSWORD_LEN_MAX} characters",
            code="invalid_login_password",
        )
    # Space is excluded: forms and password managers trim it, which locks people out.
    if not all("!" <= char <= "~" for char in password):
        raise InvalidInput(
            "login password may use letters, digits and ASCII symbols only",
            code="invalid_login_password",
        )
    has_letter = any(char.isascii() and char.isalpha() for char in password)
    has_digit = any(char.isdigit() for char in password)
    if not (has_letter and has_digit):
        raise InvalidInput(
            "login password must contain both letters and digits", code="invalid_login_password"
        )


# --- payment password ----------------------------------------------------------------------

PAYMENT_PASSWORD_LEN: Final = 6


def check_payment_password(
    password: str, *, login_password: str | None = None, id_number: str | None = None
) -> None:
    """Exactly 6 digits, not the login password, not guessable from patterns or the ID."""
    if not (
        isinstance(password, str)
        and len(password) == PAYMENT_PASSWORD_LEN
        and password.isascii()
        and password.isdigit()
    ):
        raise InvalidInput("payment password must be 6 digits", code="invalid_payment_password")
    if login_password is not None and hmac.compare_digest(password, login_password):
        raise InvalidInput(
            "payment password must differ from the login password",
            code="payment_password_equals_login_password",
        )
    reason = weak_payment_password_reason(password, id_number=id_number)
    if reason is not None:
        raise InvalidInput(
            f"payment password is too easy to guess ({reason})",
            code="weak_payment_password",
            reason=reason,
        )


def weak_payment_password_reason(password: str, *, id_number: str | None = None) -> str | None:
    """Why a 6-digit PIN is guessable, or None if it is not."""
    assert len(password) == PAYMENT_PASSWORD_LEN and password.isdigit()
    digits = [int(char) for char in password]
    steps = {(b - a) % 10 for a, b in pairwise(digits)}
    if len(set(digits)) == 1:
        return "same_digit"
    # 123456, 654321 and the wrapping 890123 are all one step at a time.
    if steps in ({1}, {9}):
        return "sequence"
    if password[0::2] == password[1::2]:
        return "pairs"  # 112233, 558800
    if password[0:3] == password[0] * 3 and password[3:] == password[3] * 3:
        return "triples"  # 111222
    if password[:2] * 3 == password or password[:3] * 2 == password:
        return "repeating"  # 121212, 123123
    if id_number is not None and len(id_number) == 18:
        if password == id_number[8:14]:
            return "birthday"  # YYMMDD of the birth date
        if password == id_number[-6:]:
            return "id_tail"
    return None


# --- SMS verification codes ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SmsPolicy:
    code_len: int = 6
    valid_s: int = 300
    tries_max: int = 5
    resend_interval_s: int = 60
    sends_per_day_max: int = 10


SMS_POLICY_DEFAULT: Final = SmsPolicy()


@dataclass(frozen=True, slots=True)
class SmsChallenge:
    """One code sent to one phone for one purpose (register, bind_card, reset, ...)."""

    phone: str
    purpose: str
    code: str
    issued_at: datetime
    expires_at: datetime
    tries_wrong: int = 0
    used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SmsVerification:
    """The outcome of one attempt: store `challenge`, then raise `error` if it is set."""

    challenge: SmsChallenge
    error: InvalidInput | None

    @property
    def ok(self) -> bool:
        return self.error is None


def generate_sms_code(policy: SmsPolicy = SMS_POLICY_DEFAULT) -> str:
    """A uniformly random code from the secrets module (never `random`)."""
    return f"{secrets.randbelow(10**policy.code_len):0{policy.code_len}d}"


def check_sms_send_allowed(
    sent_at: Iterable[datetime], now: datetime, policy: SmsPolicy = SMS_POLICY_DEFAULT
) -> None:
    """Throttle sends to one phone: one per `resend_interval_s`, a cap per China day."""
    _assert_aware(now)
    sent = sorted(sent_at)
    if sent:
        wait_s = policy.resend_interval_s - (now - sent[-1]).total_seconds()
        if wait_s > 0:
            raise RateLimited(
                "wait before asking for another code",
                code="sms_resend_too_soon",
                retry_after_s=math.ceil(wait_s),
            )
    day_start = _china_day_start(now)
    sent_today = sum(1 for at in sent if day_start <= at <= now)
    if sent_today >= policy.sends_per_day_max:
        next_day = day_start + timedelta(days=1)
        raise RateLimited(
            "too many codes sent to this phone today",
            code="sms_daily_limit_reached",
            retry_after_s=int((next_day - now).total_seconds()),
        )


def issue_sms_challenge(
    phone: str,
    purpose: str,
    code: str,
    now: datetime,
    *,
    sent_at: Iterable[datetime] = (),
    policy: SmsPolicy = SMS_POLICY_DEFAULT,
) -> SmsChallenge:
    """A fresh challenge after the throttle allows it; a resend replaces the old one."""
    assert len(code) == policy.code_len and code.isdigit()
    check_sms_send_allowed(sent_at, now, policy)
    return SmsChallenge(
        phone=phone,
        purpose=purpose,
        code=code,
        issued_at=now,
        expires_at=now + timedelta(seconds=policy.valid_s),
    )


def verify_sms_code(
    challenge: SmsChallenge,
    code_typed: str,
    now: datetime,
    policy: SmsPolicy = SMS_POLICY_DEFAULT,
    *,
    other_proof_ok: bool = True,
) -> SmsVerification:
    """Check a typed code; a wrong one counts, and `tries_max` wrong ones burn the code.

    `other_proof_ok` False: a proof checked together with the code (an ID number) was wrong,
    so even the right code answers and counts as a wrong one; the caller's answer then never
    says which of the two was wrong, and both share the code's few tries."""
    _assert_aware(now)
    code_typed = code_typed.strip() if isinstance(code_typed, str) else ""
    if challenge.used_at is not None:
        return _refused(challenge, "this code was already used", "sms_code_used")
    if challenge.tries_wrong >= policy.tries_max:
        return _refused(challenge, "too many wrong codes; ask for a new one", "sms_code_burned")
    if now >= challenge.expires_at:
        return _refused(challenge, "the code has expired; ask for a new one", "sms_code_expired")
    # A malformed entry cannot be a guess at the code, so it does not cost a try.
    if len(code_typed) != policy.code_len or not (code_typed.isascii() and code_typed.isdigit()):
        return _refused(challenge, f"the code is {policy.code_len} digits", "invalid_sms_code")
    if not (hmac.compare_digest(code_typed, challenge.code) and other_proof_ok):
        spent = replace(challenge, tries_wrong=challenge.tries_wrong + 1)
        tries_left = policy.tries_max - spent.tries_wrong
        return _refused(spent, "wrong code", "sms_code_wrong", tries_left=tries_left)
    return SmsVerification(challenge=replace(challenge, used_at=now), error=None)


def _refused(challenge: SmsChallenge, message: str, code: str, **data: object) -> SmsVerification:
    return SmsVerification(challenge=challenge, error=InvalidInput(message, code=code, **data))


def _china_day_start(at: datetime) -> datetime:
    local = at.astimezone(CHINA_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _assert_aware(at: datetime) -> None:
    assert at.tzinfo is not None and at.utcoffset() is not None, "times must be timezone-aware"


# --- payment password lockout --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    failures_max: int = 5
    lock_s: int = 3 * 3600


LOCKOUT_POLICY_DEFAULT: Final = LockoutPolicy()


@dataclass(frozen=True, slots=True)
class PaymentPasswordState:
    """Wrong payment passwords in a row, and the lock they caused (if any)."""

    failures_in_row: int = 0
    locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


class PaymentPasswordLocked(Forbidden):
    code = "payment_password_locked"


def check_payment_not_locked(state: PaymentPasswordState, now: datetime) -> None:
    """Refuse any payment-password attempt while locked (attempts then are not counted)."""
    _assert_aware(now)
    if state.is_locked(now):
        assert state.locked_until is not None
        raise PaymentPasswordLocked(
            "payments are locked after too many wrong payment passwords",
            locked_until=state.locked_until,
            retry_after_s=int((state.locked_until - now).total_seconds()),
        )


def record_payment_password_failure(
    state: PaymentPasswordState, now: datetime, policy: LockoutPolicy = LOCKOUT_POLICY_DEFAULT
) -> PaymentPasswordState:
    """One more wrong password; the `failures_max`-th locks for `lock_s` and resets the count."""
    check_payment_not_locked(state, now)
    failures = state.failures_in_row + 1
    if failures >= policy.failures_max:
        return PaymentPasswordState(
            failures_in_row=0, locked_until=now + timedelta(seconds=policy.lock_s)
        )
    return PaymentPasswordState(failures_in_row=failures, locked_until=state.locked_until)


def record_payment_password_success(
    state: PaymentPasswordState, now: datetime
) -> PaymentPasswordState:
    """A right password clears the count (it cannot happen while locked)."""
    check_payment_not_locked(state, now)
    return PaymentPasswordState()


def lockout_from_attempts(
    attempts: Sequence[tuple[datetime, bool]], policy: LockoutPolicy = LOCKOUT_POLICY_DEFAULT
) -> PaymentPasswordState:
    """Replay (time, was_right) attempts in order; attempts made while locked are ignored."""
    state = PaymentPasswordState()
    for at, was_right in sorted(attempts, key=lambda attempt: attempt[0]):
        if state.is_locked(at):
            continue
        if was_right:
            state = record_payment_password_success(state, at)
        else:
            state = record_payment_password_failure(state, at, policy)
    return state
