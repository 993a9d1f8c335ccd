"""忘记密码: resetting a forgotten login password (signed out) or payment password (signed in).

Login password, two calls:

1. `request_login_reset(phone)`: a code is texted to the phone (purpose `reset_login`, the
   SMS throttles apply: `sms_resend_too_soon`, `sms_daily_limit_reached`). It answers the same
   whether or not the phone has an account: for a phone without one (or one whose registration
   never verified the phone) a decoy challenge is stored through the same SmsService, only no
   text leaves, so the throttles, the later confirm and the time spent all behave alike.
2. `confirm_login_reset(phone, sms_code, id_number, new_login_password)`: the code, and for a
   real-name verified user the ID number too (a swapped SIM alone is not enough), then the new
   password (the registration rules: `invalid_login_password`, checked first so a typo costs no
   try). A wrong code, a wrong or missing ID number, or a phone without an account all answer
   `reset_proof_wrong` (with `data["tries_left"]`) and cost one try of the code; the fifth
   burns it (`sms_code_burned`). So the answer never says which part was wrong, nor whether
   the phone has an account or a verified name. A right reset clears the sign-in lock and the
   failure count, revokes the user's API bearer tokens and ends the user's wallet sessions on
   every device (`users.sessions_valid_from_s`, checked by web/session.py), in one
   transaction with its audit row.

Payment password, signed in, two calls:

1. `request_payment_reset(user_id) -> masked phone`: a code to the user's own phone (purpose
   `reset_payment`). Only a real-name verified user with a payment password may reset:
   `registration_incomplete` otherwise.
2. `confirm_payment_reset(user_id, sms_code, id_number, new_payment_password)`: code + ID
   number (required) + the new password (registration rules: `invalid_payment_password`,
   `weak_payment_password`, `payment_password_equals_login_password`). Wrong code or wrong ID:
   `reset_proof_wrong`, one try of the code, as above. A right reset lifts the payment lock and
   zeroes the failure count: the lock is against guessing the old password, and the phone plus
   the ID number prove more than the old password would.

Both codes are single-use (`sms_code_used` on a replay); `sms_code_missing` before a code was
asked for, `sms_code_expired` after 5 minutes, `invalid_sms_code` for a malformed entry (not
counted).
"""

from __future__ import annotations

import dataclasses
import hmac
from dataclasses import dataclass
from typing import Final, Protocol

from paybao.domain.credentials import check_login_password, check_payment_password
from paybao.domain.errors import Forbidden, InvalidInput
from paybao.domain.identity import mask_phone, normalize_id_number, normalize_phone
from paybao.services.audit import AuditTrail
from paybao.services.ports import Clock, Database, Tx
from paybao.services.sms import SmsService
from paybao.services.users import UserRecord, UserService

PURPOSE_LOGIN: Final = "reset_login"
PURPOSE_PAYMENT: Final = "reset_payment"
# Registration rows that never proved the phone: nothing to recover, so they are treated as
# no account (registering again reuses the row).
STEP_PHONE_PENDING: Final = "phone_pending"


class UserTokenStore(Protocol):
    def revoke_all_in(self, tx: Tx, user_id: int, now_us: int) -> int:
        """Revoke the user's live API tokens; returns how many."""
        ...


class _NoText:
    """The decoy's sender: the challenge is stored, no text goes anywhere."""

    def send_in(self, tx: Tx, phone: str, text: str, **_details: object) -> None:
        del tx, phone, text


@dataclass(frozen=True, slots=True)
class ResetDone:
    user_id: int
    tokens_revoked: int = 0


@dataclass
class PasswordResetService:
    db: Database
    users: UserService
    sms: SmsService
    tokens: UserTokenStore
    clock: Clock
    audit: AuditTrail | None = None

    # Login password (signed out) -------------------------------------------------------

    def request_login_reset(self, phone: str) -> None:
        """Text a code if the phone has an account; else a decoy. Same answer either way."""
        phone = normalize_phone(phone)
        # The decoy shares the store, the clock and the policy: the throttles count its sends.
        decoy = dataclasses.replace(self.sms, sender=_NoText())

        def work(tx: Tx) -> None:
            user = self.users.store.get_by_phone(tx, phone)
            sms = self.sms if _recoverable(user) else decoy
            sms.send_code_in(tx, phone, PURPOSE_LOGIN)

        self.db.run(work)

    def confirm_login_reset(
        self, phone: str, sms_code: str, id_number: str | None, new_login_password: str
    ) -> ResetDone:
        check_login_password(new_login_password)
        phone = normalize_phone(phone)
        typed_id = _typed_id_number(id_number)
        with self.db.read() as tx:
            user = self.users.store.get_by_phone(tx, phone)
        found = user if _recoverable(user) else None
        # Not verified: nothing to compare, any typed ID number is ignored.
        proven = found is not None and (
            found.id_number is None or _same_id(typed_id, found.id_number)
        )
        self._prove(phone, PURPOSE_LOGIN, sms_code, identity_ok=proven)
        assert found is not None
        new_hash = self.users.hasher.hash(new_login_password)
        user_id = found.id

        def work(tx: Tx) -> ResetDone:
            self.users.record_in(tx, user_id, for_update=True)
            self.users.store.update(
                tx,
                user_id,
                login_password_hash=new_hash,
                login_failures=0,
                login_locked_until_us=None,
                **self.users.end_sessions_values(),  # every device signs in again
            )
            revoked = self.tokens.revoke_all_in(tx, user_id, self.clock.now_us())
            self._audit_in(
                tx, "user.login_password_reset", user_id, f"api tokens revoked: {revoked}"
            )
            return ResetDone(user_id, revoked)

        return self.db.run(work)

    # Payment password (signed in) ------------------------------------------------------

    def request_payment_reset(self, user_id: int) -> str:
        """Text a code to the user's own phone; returns the phone masked, for the page."""

        def work(tx: Tx) -> str:
            user = _verified(self.users.record_in(tx, user_id))
            self.sms.send_code_in(tx, user.phone, PURPOSE_PAYMENT)
            return mask_phone(user.phone)

        return self.db.run(work)

    def confirm_payment_reset(
        self, user_id: int, sms_code: str, id_number: str, new_payment_password: str
    ) -> ResetDone:
        user = _verified(self.users.record(user_id))
        assert user.id_number is not None
        check_payment_password(new_payment_password, id_number=user.id_number)
        typed_id = _typed_id_number(id_number)
        if typed_id is None:
            raise InvalidInput("the ID number is required", code="invalid_id_number")
        # Checked before the proof, so that breaking a rule costs no code. It tells nothing:
        # a login password has letters, so it can never be six digits.
        if self.users.hasher.verify(user.login_password_hash, new_payment_password):
            raise InvalidInput(
                "payment password must differ from the login password",
                code="payment_password_equals_login_password",
            )
        identity_ok = _same_id(typed_id, user.id_number)
        try:
            self._prove(user.phone, PURPOSE_PAYMENT, sms_code, identity_ok=identity_ok)
        except InvalidInput as refused:
            if not identity_ok and self.audit is not None:
                # Signed in, so nothing to hide from whoever asks; the operators see who
                # holds a session but not the ID number.
                self.audit.record(
                    "user.payment_password_reset",
                    f"user:{user_id}",
                    actor=f"user:{user_id}",
                    detail="wrong ID number",
                    outcome=refused.code,
                )
            raise
        new_hash = self.users.hasher.hash(new_payment_password)

        def work(tx: Tx) -> ResetDone:
            self.users.record_in(tx, user_id, for_update=True)
            self.users.store.update(
                tx,
                user_id,
                payment_password_hash=new_hash,
                pay_failures=0,
                pay_locked_until_us=None,
            )
            self._audit_in(tx, "user.payment_password_reset", user_id, "payment lock lifted")
            return ResetDone(user_id)

        return self.db.run(work)

    # Proof -----------------------------------------------------------------------------

    def _prove(self, phone: str, purpose: str, sms_code: str, *, identity_ok: bool) -> None:
        """Check the code; with `identity_ok` False the attempt fails like a wrong code.

        A wrong ID number (or no account behind the phone) spends one try of the code inside
        SmsService's locked check, like a wrong code: the ID number then has the code's small
        budget of guesses, and the answer is the wrong code's, so it cannot tell which of the
        two was wrong. Expired, burned, used and missing codes answer as they would anyway."""
        try:
            self.sms.verify(phone, purpose, sms_code, other_proof_ok=identity_ok)
        except InvalidInput as refused:
            if refused.code == "sms_code_wrong":
                raise InvalidInput(
                    "the code or the ID number is wrong",
                    code="reset_proof_wrong",
                    tries_left=refused.data.get("tries_left", 0),
                ) from None
            raise

    def _audit_in(self, tx: Tx, action: str, user_id: int, detail: str) -> None:
        if self.audit is not None:
            subject = f"user:{user_id}"
            self.audit.record_in(tx, action, subject, actor=subject, detail=detail)


def _recoverable(user: UserRecord | None) -> bool:
    return user is not None and user.step != STEP_PHONE_PENDING


def _verified(user: UserRecord) -> UserRecord:
    if user.id_number is None or user.payment_password_hash is None:
        raise Forbidden(
            "verify your real name before resetting the payment password",
            code="registration_incomplete",
        )
    return user


def _typed_id_number(text: str | None) -> str | None:
    """The typed ID number normalised (spaces out, X upper-case); None if left blank."""
    if text is None or not text.strip():
        return None
    return normalize_id_number(text)


def _same_id(typed: str | None, on_record: str) -> bool:
    return typed is not None and hmac.compare_digest(typed.encode(), on_record.encode())


__all__ = [
    "PURPOSE_LOGIN",
    "PURPOSE_PAYMENT",
    "PasswordResetService",
    "ResetDone",
    "UserTokenStore",
]
