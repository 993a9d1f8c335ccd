"""Settlement: paying merchants their money at their bank. Pure rules.

At T+1 a merchant is paid what day T's acquiring left on its settlement account: payments less
refunds less fees (fees given back on refunds count in the merchant's favour), never more than
the account's available balance (a merchant may already have spent some on payouts). A
merchant may also withdraw by hand. Either way the money leaves as a ledger hold
(settlement account -> bank clearing) that posts when the bank confirms the credit and voids
when it refuses; a refused payout is tried again on `RETRY_DELAYS_S`, then given up and shown.

Fee rates: the rule (rounding half-up to the fen, refunds give fee back in proportion) lives in
domain/trades.py and is the only one; bills print the fee each trade and refund row recorded.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Final

from paybao.domain.errors import InsufficientFunds, InvalidInput, InvalidState, NotFound

LEDGER_CODE_SETTLEMENT: Final = 2006
# The ledger codes whose movements make up a merchant's settled business of a day.
SETTLED_CODES: Final = (2001, 2002, 2003, 2004)
# Backoff between bank attempts; after the last one the payout is marked failed.
RETRY_DELAYS_S: Final = (600, 1800, 3600, 4 * 3600, 12 * 3600)
ATTEMPTS_MAX: Final = len(RETRY_DELAYS_S) + 1
# How long an unanswered bank request waits before we ask the bank again.
QUERY_DELAY_S: Final = 60
# A hold outlives every retry by far: it only expires if the platform lost track of it.
HOLD_TIMEOUT_S: Final = 7 * 86_400
OUT_NO_LENGTH_MAX: Final = 32

# Category default rates in parts per million (reference/alipay-product.md §15); a merchant's
# own `fee_rate_ppm` is set from these at onboarding and may be changed per merchant.
CATEGORY_FEE_RATE_PPM: Final[dict[str, int]] = {
    "retail": 3800,
    "catering": 6000,
    "leisure": 6000,
    "services": 6000,
    "default": 6000,
}


class SettlementKind(StrEnum):
    DAILY = "daily"
    MANUAL = "manual"


class SettlementStatus(StrEnum):
    PENDING = "pending"  # waiting for its (next) bank attempt
    SENT = "sent"  # the bank was asked; the hold is pending
    PAID = "paid"
    FAILED = "failed"  # every attempt refused: the money stayed on the account


class NoSettlementCard(InvalidState):
    code = "settlement_card_missing"


class SettlementNotFound(NotFound):
    code = "settlement_not_found"


class WithdrawalExceedsBalance(InsufficientFunds):
    code = "merchant_balance_not_enough"


class InvalidOutNo(InvalidInput):
    code = "invalid_out_no"


def fee_rate_ppm_for_category(category: str) -> int:
    return CATEGORY_FEE_RATE_PPM.get(category, CATEGORY_FEE_RATE_PPM["default"])


def daily_request_key(merchant_id: int, day: date) -> str:
    assert merchant_id > 0
    return f"settle:{merchant_id}:{day.strftime('%Y%m%d')}"


def manual_request_key(merchant_id: int, out_no: str) -> str:
    assert merchant_id > 0
    if not out_no or len(out_no) > OUT_NO_LENGTH_MAX or not out_no.isascii():
        raise InvalidOutNo("the withdrawal number must be 1..32 ASCII characters")
    return f"mwd:{merchant_id}:{out_no}"


def attempt_request_id(request_key: str, attempt: int) -> str:
    """The bank request id of one attempt, and the id of its ledger hold."""
    assert 0 < attempt <= ATTEMPTS_MAX
    request_id = f"{request_key}:{attempt}"
    assert len(request_id) <= 59, "ledger ids are 64 characters; post:/void: prefixes fit"
    return request_id


def settlement_amount_fen(day_net_fen: int, available_fen: int) -> int:
    """What T+1 pays: the day's net business, capped by what is available; never negative."""
    assert available_fen >= 0
    amount_fen = max(0, min(day_net_fen, available_fen))
    assert 0 <= amount_fen <= available_fen
    return amount_fen


def retry_delay_s(attempts: int) -> int | None:
    """Seconds until the next attempt after `attempts` refused ones, or None: give up."""
    assert attempts >= 1
    if attempts >= ATTEMPTS_MAX:
        return None
    return RETRY_DELAYS_S[attempts - 1]
