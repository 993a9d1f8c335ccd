"""Payment-account classes I / II / III (PBoC 2015 No. 43) and their balance-payment limits.

The class follows from how the holder's identity was verified: one external channel gives
class I, three give II, five give III, and a face-to-face check gives III at once. Only
payments *from balance* count against the limit (bank-card quick pay, credit and fund
redemptions do not; the service tags the funding source). Class I counts since opening;
II and III count per calendar year in China time. All amounts are fen.

Codes: identity_not_verified (InvalidInput), balance_payment_limit_exceeded (LimitExceeded,
with `data` limit_fen, used_fen, remaining_fen).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Final

from paybao.domain.errors import InvalidInput, LimitExceeded
from paybao.domain.money import check_amount_fen

# China has had no daylight saving since 1991: a fixed +08:00 is Asia/Shanghai exactly.
CHINA_TZ: Final = timezone(timedelta(hours=8), "Asia/Shanghai")


class AccountClass(StrEnum):
    I = "I"  # noqa: E741 (the regulation names the class I)
    II = "II"
    III = "III"


class VerificationChannel(StrEnum):
    """External sources that confirmed the holder's identity (each counts once)."""

    ID_CHECK = "id_check"  # public-security online check of name + ID number
    BANK_CARD = "bank_card"  # a bank confirmed name + ID + card + reserved phone
    MOBILE_CARRIER = "mobile_carrier"  # the carrier's real-name record of the phone
    FACE_RECOGNITION = "face_recognition"  # remote liveness + photo match (still remote)
    SOCIAL_SECURITY = "social_security"
    TAX = "tax"


@dataclass(frozen=True, slots=True)
class ClassPolicy:
    channels_for_ii: int = 3
    channels_for_iii: int = 5
    class_i_lifetime_fen: int = 1_000_00
    class_ii_yearly_fen: int = 100_000_00
    class_iii_yearly_fen: int = 200_000_00

    def limit_fen(self, account_class: AccountClass) -> int:
        return {
            AccountClass.I: self.class_i_lifetime_fen,
            AccountClass.II: self.class_ii_yearly_fen,
            AccountClass.III: self.class_iii_yearly_fen,
        }[account_class]


CLASS_POLICY_DEFAULT: Final = ClassPolicy()


def account_class_for(
    channels: Collection[VerificationChannel],
    *,
    face_to_face: bool = False,
    policy: ClassPolicy = CLASS_POLICY_DEFAULT,
) -> AccountClass:
    """The highest class the verification supports; no channel at all is no class."""
    channel_count = len(set(channels))
    if face_to_face or channel_count >= policy.channels_for_iii:
        return AccountClass.III
    if channel_count >= policy.channels_for_ii:
        return AccountClass.II
    if channel_count >= 1:
        return AccountClass.I
    raise InvalidInput(
        "the account holder's identity is not verified yet", code="identity_not_verified"
    )


@dataclass(frozen=True, slots=True)
class UsageWindow:
    """Where balance payments are summed: [start, end) as aware datetimes; None = unbounded."""

    start: datetime | None
    end: datetime | None

    def contains(self, at: datetime) -> bool:
        after_start = self.start is None or at >= self.start
        before_end = self.end is None or at < self.end
        return after_start and before_end


def china_date(at: datetime) -> date:
    """The calendar date in China at an aware instant."""
    assert at.tzinfo is not None and at.utcoffset() is not None, "times must be timezone-aware"
    return at.astimezone(CHINA_TZ).date()


def usage_window(account_class: AccountClass, on: date) -> UsageWindow:
    """Class I: since opening (unbounded). II/III: the China calendar year containing `on`."""
    if account_class is AccountClass.I:
        return UsageWindow(start=None, end=None)
    start = datetime(on.year, 1, 1, tzinfo=CHINA_TZ)
    end = datetime(on.year + 1, 1, 1, tzinfo=CHINA_TZ)
    return UsageWindow(start=start, end=end)


def check_balance_payment(
    account_class: AccountClass,
    used_fen: int,
    amount_fen: int,
    policy: ClassPolicy = CLASS_POLICY_DEFAULT,
) -> int:
    """Allow a balance payment of `amount_fen` given `used_fen` in the window; return the
    room left after it, or raise `balance_payment_limit_exceeded`."""
    check_amount_fen(amount_fen)
    assert used_fen >= 0
    limit_fen = policy.limit_fen(account_class)
    remaining_fen = max(limit_fen - used_fen, 0)
    if amount_fen > remaining_fen:
        raise LimitExceeded(
            f"balance payments for class {account_class} are limited",
            code="balance_payment_limit_exceeded",
            limit_fen=limit_fen,
            used_fen=used_fen,
            remaining_fen=remaining_fen,
        )
    assert used_fen + amount_fen <= limit_fen
    return remaining_fen - amount_fen


@dataclass(frozen=True, slots=True)
class LimitSummary:
    """What the limits page shows."""

    account_class: AccountClass
    limit_fen: int
    used_fen: int
    remaining_fen: int
    lifetime: bool


def limit_summary(
    account_class: AccountClass, used_fen: int, policy: ClassPolicy = CLASS_POLICY_DEFAULT
) -> LimitSummary:
    limit_fen = policy.limit_fen(account_class)
    return LimitSummary(
        account_class=account_class,
        limit_fen=limit_fen,
        used_fen=used_fen,
        remaining_fen=max(limit_fen - used_fen, 0),
        lifetime=account_class is AccountClass.I,
    )


def upgrade_hint(
    account_class: AccountClass,
    channels: Collection[VerificationChannel],
    *,
    lang: str = "zh",
    policy: ClassPolicy = CLASS_POLICY_DEFAULT,
) -> str | None:
    """How to reach the next class, in Chinese ("zh") or English; None at class III."""
    if account_class is AccountClass.III:
        return None
    target = AccountClass.II if account_class is AccountClass.I else AccountClass.III
    need = policy.channels_for_ii if target is AccountClass.II else policy.channels_for_iii
    missing = max(need - len(set(channels)), 1)
    if lang == "zh":
        return (
            f"再完成 {missing} 项身份验证(如绑定本人银行卡、运营商实名、人脸识别),"
            f"或到合作网点当面核验身份,即可升级为 {target} 类账户。"
        )
    return (
        f"Verify your identity through {missing} more channel(s) (bind your own bank card, "
        f"mobile carrier real-name check, face recognition) or in person at a partner outlet "
        f"to upgrade to a class {target} account."
    )
