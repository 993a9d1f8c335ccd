"""SMS verification codes: issue (throttled), send through the `SmsSender` port, verify.

A text goes out with its kind (`code_register`, `code_bind_card`, `code_reset_login`, ...,
`notice`) and the variables a provider's template needs (`{"code": "123456"}`): template-based
gateways (Aliyun) cannot send free text, so they map the kind to a template and fill it with
the variables (services/sms_delivery.py). Free-text gateways and the developer inbox use the
text.

Throttles apply per phone and purpose, so the registration code and the card-binding code
to the same phone do not wait on each other. A wrong code must count even though the caller
then fails, so `verify` commits the updated
challenge first and raises afterwards (never inside the transaction that stored it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from paybao.domain.credentials import (
    SMS_POLICY_DEFAULT,
    SmsChallenge,
    SmsPolicy,
    generate_sms_code,
    issue_sms_challenge,
    verify_sms_code,
)
from paybao.domain.errors import InvalidInput
from paybao.services.clock import US_PER_S, datetime_from_us, us_from_datetime
from paybao.services.ports import Clock, Database, Tx

DAY_S = 86_400
# The kinds of text (template gateways map each to a template). A text without a kind of its
# own (a reminder) is a `notice`.
KIND_NOTICE: Final = "notice"
KIND_CODE_REGISTER: Final = "code_register"
KIND_CODE_BIND_CARD: Final = "code_bind_card"


class SmsSender(Protocol):
    def send_in(
        self,
        tx: Tx,
        phone: str,
        text: str,
        *,
        kind: str = KIND_NOTICE,
        params: Mapping[str, str] | None = None,
    ) -> None:
        """Queue a text in the caller's transaction (sent iff it commits)."""
        ...


class SmsStore(Protocol):
    def latest(
        self, tx: Tx, phone: str, purpose: str, *, for_update: bool = False
    ) -> tuple[int, SmsChallenge] | None: ...

    def sent_since(self, tx: Tx, phone: str, purpose: str, since_us: int) -> list[int]: ...

    def insert(self, tx: Tx, challenge: SmsChallenge) -> int: ...

    def save(self, tx: Tx, challenge_id: int, challenge: SmsChallenge) -> None: ...


# What a code is for, as its text says; other purposes read as registration.
_PURPOSE_ZH: Final = {
    "register": "注册",
    "bind": "绑定银行卡",
    "reset_login": "重置登录密码",
    "reset_payment": "重置支付密码",
}


def _purpose_base(purpose: str) -> str:
    """`bind:<card id>` -> `bind`: the purpose without its object."""
    return purpose.split(":", 1)[0]


def code_kind(purpose: str) -> str:
    """The kind of a code's text: `code_bind_card` for a card binding (`bind:<card id>`), else
    `code_<purpose>` (`code_register`, `code_reset_login`, ...). Every kind starting `code_`
    carries the variable `code`."""
    base = _purpose_base(purpose)
    if base == "bind":
        return KIND_CODE_BIND_CARD
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in base.lower())
    return f"code_{cleaned}"[:32] if cleaned else KIND_CODE_REGISTER


def message_text(code: str, purpose: str, valid_min: int) -> str:
    what = _PURPOSE_ZH.get(_purpose_base(purpose), _PURPOSE_ZH["register"])
    return (
        f"【paybao】验证码 {code},用于{what},{valid_min} 分钟内有效,请勿告诉他人。"
        f" Your paybao code is {code}."
    )


@dataclass
class SmsService:
    db: Database
    store: SmsStore
    sender: SmsSender
    clock: Clock
    policy: SmsPolicy = SMS_POLICY_DEFAULT

    def send_code_in(self, tx: Tx, phone: str, purpose: str) -> None:
        """Issue a code (throttle checked) and queue the text, in the caller's transaction."""
        now = self.clock.now()
        since_us = us_from_datetime(now) - DAY_S * US_PER_S
        sent_at = [
            datetime_from_us(at) for at in self.store.sent_since(tx, phone, purpose, since_us)
        ]
        code = generate_sms_code(self.policy)
        challenge = issue_sms_challenge(
            phone, purpose, code, now, sent_at=sent_at, policy=self.policy
        )
        self.store.insert(tx, challenge)
        text = message_text(code, purpose, self.policy.valid_s // 60)
        self.sender.send_in(tx, phone, text, kind=code_kind(purpose), params={"code": code})

    def send_code(self, phone: str, purpose: str) -> None:
        self.db.run(lambda tx: self.send_code_in(tx, phone, purpose))

    def verify(
        self, phone: str, purpose: str, code_typed: str, *, other_proof_ok: bool = True
    ) -> datetime:
        """Check a code in its own transaction; returns when it was used, else raises.
        `other_proof_ok` False: another proof sent with the code was wrong, and the attempt
        counts as a wrong code (domain/credentials.verify_sms_code)."""

        def work(tx: Tx) -> InvalidInput | datetime:
            # Locked: concurrent guesses must each count, and a code be used exactly once.
            found = self.store.latest(tx, phone, purpose, for_update=True)
            if found is None:
                return InvalidInput("ask for a code first", code="sms_code_missing")
            challenge_id, challenge = found
            result = verify_sms_code(
                challenge, code_typed, self.clock.now(), self.policy, other_proof_ok=other_proof_ok
            )
            if result.challenge != challenge:
                self.store.save(tx, challenge_id, result.challenge)
            if result.error is not None:
                return result.error
            assert result.challenge.used_at is not None
            return result.challenge.used_at

        outcome = self.db.run(work)
        if isinstance(outcome, InvalidInput):
            raise outcome
        return outcome
