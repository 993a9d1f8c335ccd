"""Withdrawal fees and arrival times of withdrawals and transfers.

Fee (Alipay since 2016-10-12): each user has a lifetime free quota of 20,000 CNY of
withdrawals; on the part of a withdrawal above what is left of it, 0.1%, at least 0.10 CNY
per charged withdrawal. A withdrawal that straddles the quota is free up to the quota and
charged on the excess only. The fee is charged on top of the amount (the card receives the
full amount), so the balance must cover amount + fee. Rounding: ROUND_HALF_UP to the fen.

Arrival: transfers land instantly or after a 2 h / 24 h anti-fraud delay, cancellable by the
sender until they land; withdrawals arrive instantly or the next day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Final

from paybao.domain.errors import InvalidState
from paybao.domain.money import apply_rate, check_amount_fen


@dataclass(frozen=True, slots=True)
class WithdrawalFeePolicy:
    free_quota_fen: int = 20_000_00
    rate: Decimal = Decimal("0.001")
    fee_min_fen: int = 10


WITHDRAWAL_FEE_POLICY_DEFAULT: Final = WithdrawalFeePolicy()


@dataclass(frozen=True, slots=True)
class WithdrawalFee:
    fee_fen: int
    quota_used_fen: int  # free quota this withdrawal consumes
    quota_used_after_fen: int  # lifetime total to store after it
    charged_fen: int  # the part of the amount the rate applies to


def withdrawal_fee(
    amount_fen: int,
    quota_used_before_fen: int,
    policy: WithdrawalFeePolicy = WITHDRAWAL_FEE_POLICY_DEFAULT,
) -> WithdrawalFee:
    """Fee for withdrawing `amount_fen` when `quota_used_before_fen` of the quota is used."""
    check_amount_fen(amount_fen)
    assert quota_used_before_fen >= 0
    quota_left_fen = max(policy.free_quota_fen - quota_used_before_fen, 0)
    quota_used_fen = min(amount_fen, quota_left_fen)
    charged_fen = amount_fen - quota_used_fen
    fee_fen = 0
    if charged_fen > 0:
        fee_fen = max(
            apply_rate(charged_fen, policy.rate, rounding=ROUND_HALF_UP), policy.fee_min_fen
        )
    assert quota_used_fen + charged_fen == amount_fen
    assert (fee_fen == 0) == (charged_fen == 0)
    return WithdrawalFee(
        fee_fen=fee_fen,
        quota_used_fen=quota_used_fen,
        quota_used_after_fen=quota_used_before_fen + quota_used_fen,
        charged_fen=charged_fen,
    )


# --- arrival -------------------------------------------------------------------------------


class TransferArrival(StrEnum):
    INSTANT = "instant"
    DELAY_2H = "delay_2h"
    DELAY_24H = "delay_24h"


class WithdrawalArrival(StrEnum):
    INSTANT = "instant"
    NEXT_DAY = "next_day"


TRANSFER_DELAY_S: Final = {
    TransferArrival.INSTANT: 0,
    TransferArrival.DELAY_2H: 2 * 3600,
    TransferArrival.DELAY_24H: 24 * 3600,
}
WITHDRAWAL_DELAY_S: Final = {
    WithdrawalArrival.INSTANT: 0,
    WithdrawalArrival.NEXT_DAY: 24 * 3600,
}


def transfer_due_at(arrival: TransferArrival, created_at: datetime) -> datetime:
    """When the payee is credited."""
    return created_at + timedelta(seconds=TRANSFER_DELAY_S[arrival])


def withdrawal_due_at(arrival: WithdrawalArrival, created_at: datetime) -> datetime:
    """When the withdrawal is sent to the bank."""
    return created_at + timedelta(seconds=WITHDRAWAL_DELAY_S[arrival])


def transfer_cancellable(arrival: TransferArrival, created_at: datetime, now: datetime) -> bool:
    """Only a delayed transfer that has not landed yet can be cancelled."""
    return arrival is not TransferArrival.INSTANT and now < transfer_due_at(arrival, created_at)


def check_transfer_cancellable(
    arrival: TransferArrival, created_at: datetime, now: datetime
) -> None:
    if not transfer_cancellable(arrival, created_at, now):
        raise InvalidState(
            "only a delayed transfer that has not arrived yet can be cancelled",
            code="transfer_not_cancellable",
        )
