"""Acquiring trades: the state machine, the fee rule and the refund arithmetic. Pure.

A trade is created unpaid (WAIT_BUYER_PAY), then paid (TRADE_SUCCESS) or closed (TRADE_CLOSED,
on timeout, close or cancel). A paid trade stays refundable for the refund window; a full refund
closes it, the end of the window finishes it (TRADE_FINISHED). `TRANSITIONS` lists every allowed
move; anything else is refused with the error a merchant expects for that state.

Fees (written down once, used everywhere):
* the fee of a payment is `amount x rate`, rounded half-up to the fen (Alipay's 四舍五入), with
  the rate in parts per million (6000 ppm = 0.6 %), so no float or Decimal is ever stored;
* a refund gives back fee in proportion, computed on the cumulative refunded amount:
  `fee_back(cumulative) = round_half_up(fee x refunded_cumulative / total)`, and each refund
  returns `fee_back(after) - fee_back(before)`. Partial refunds therefore never drift: when the
  whole amount has been refunded, exactly the whole fee has been returned.

Discounts (coupons, domain/coupons.py; Alipay's funding split, alipay-product.md §13):
* `total = receipt + merchant-funded discount` (mdiscount: the merchant simply receives less),
  `receipt = buyer_pay + platform-funded discount` (discount: the platform's marketing account
  pays it to the merchant);
* the fee is charged on the receipt, what the merchant receives (platform subsidy included);
* a refund is an amount of the total; it splits pro rata into the buyer's part, the platform's
  subsidy reclaimed and the merchant discount (which never moved), computed on the cumulative
  refunded amount like the fee, so a full refund returns exactly what the buyer paid and
  reclaims exactly the subsidy. Used coupons are not given back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from paybao.domain.errors import (
    IdempotencyMismatch,
    InsufficientFunds,
    InvalidInput,
    InvalidState,
    NotFound,
)

FEE_RATE_PPM_DEFAULT: Final = 6000  # 0.6 %: the face-to-face standard rate
FEE_RATE_PPM_MAX: Final = 100_000  # 10 %: anything above is a typo, not a price
PPM: Final = 1_000_000
TRADE_NO_LENGTH: Final = 28
SUBJECT_LENGTH_MAX: Final = 256
BODY_LENGTH_MAX: Final = 400
OUT_TRADE_NO_LENGTH_MAX: Final = 64
OUT_REQUEST_NO_LENGTH_MAX: Final = 64
PAY_TIMEOUT_S_MIN: Final = 60
PAY_TIMEOUT_S_MAX: Final = 15 * 86_400
PAY_TIMEOUT_S_DEFAULT: Final = 15 * 86_400
# Ledger transfer codes (why money moved), for statements and reconciliation.
LEDGER_CODE_TRADE_PAY: Final = 2001
LEDGER_CODE_TRADE_FEE: Final = 2002
LEDGER_CODE_REFUND: Final = 2003
LEDGER_CODE_FEE_BACK: Final = 2004
LEDGER_CODE_PAYOUT: Final = 2005
# A refund of a card-funded trade on its way back to the card (原路退回): held on the buyer's
# wallet (which the refund has just credited) to bank clearing until the bank credits the card.
LEDGER_CODE_CARD_REFUND: Final = 2007
# The platform's marketing account pays a trade's platform-funded discount to the merchant, and
# takes back its share of each refund (domain/coupons.py).
LEDGER_CODE_TRADE_SUBSIDY: Final = 2008
LEDGER_CODE_SUBSIDY_BACK: Final = 2009
# Alipay lets a paid trade be cancelled (refunded in full) only within a day of its creation.
CANCEL_WINDOW_S: Final = 86_400


class TradeStatus(StrEnum):
    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
    TRADE_SUCCESS = "TRADE_SUCCESS"
    TRADE_CLOSED = "TRADE_CLOSED"
    TRADE_FINISHED = "TRADE_FINISHED"


class Funding(StrEnum):
    """Where a paid trade's money came from, and so where its refunds go back to."""

    BALANCE = "balance"  # the buyer's wallet balance
    CARD = "card"  # a quick-pay debit of the buyer's bound bank card (the cashier)
    CREDIT = "credit"  # the buyer's Huabei credit line (the cashier; domain/credit.py)


class DiscountFunder(StrEnum):
    """Who pays a discount: Alipay's discount_amount (platform) and mdiscount_amount (merchant)."""

    PLATFORM = "platform"
    MERCHANT = "merchant"


@dataclass(frozen=True, slots=True)
class FundBill:
    """One funding channel's share of a payment (or of a refund): the buyer's channel, or a
    discount and who funded it."""

    funding: Funding | DiscountFunder
    amount_fen: int


def fund_bills(
    funding: Funding | None, amount_fen: int, discount_fen: int = 0, mdiscount_fen: int = 0
) -> tuple[FundBill, ...]:
    """How a trade's payment (or a refund) splits over its channels: `amount_fen` the buyer paid
    (or gets back) through one channel, then the platform's and the merchant's discounts. A
    trade paid before the channel was recorded was paid from the balance. A refund goes back
    the way the money came, so the same split applies to it."""
    assert amount_fen >= 0 and discount_fen >= 0 and mdiscount_fen >= 0
    assert amount_fen + discount_fen + mdiscount_fen > 0
    parts = (
        (funding or Funding.BALANCE, amount_fen),
        (DiscountFunder.PLATFORM, discount_fen),
        (DiscountFunder.MERCHANT, mdiscount_fen),
    )
    return tuple(FundBill(channel, fen) for channel, fen in parts if fen > 0)


class TradeEvent(StrEnum):
    PAY = "pay"
    CLOSE = "close"  # by the merchant (close/cancel) or by the payment timeout
    REFUND_PART = "refund_part"
    REFUND_ALL = "refund_all"
    FINISH = "finish"  # the refund window ended


W, S, C, F = (
    TradeStatus.WAIT_BUYER_PAY,
    TradeStatus.TRADE_SUCCESS,
    TradeStatus.TRADE_CLOSED,
    TradeStatus.TRADE_FINISHED,
)
TRANSITIONS: Final[dict[tuple[TradeStatus, TradeEvent], TradeStatus]] = {
    (W, TradeEvent.PAY): S,
    (W, TradeEvent.CLOSE): C,
    (S, TradeEvent.REFUND_PART): S,
    (S, TradeEvent.REFUND_ALL): C,
    (S, TradeEvent.FINISH): F,
}


# Errors: each a stable code; adapters/alipay/errors.py maps them to ACQ.* sub_codes.


class TradeNotFound(NotFound):
    code = "trade_not_found"


class TradeAlreadyPaid(InvalidState):
    code = "trade_has_success"


class TradeClosed(InvalidState):
    code = "trade_has_close"


class TradeFinished(InvalidState):
    code = "trade_has_finished"


class TradeStatusError(InvalidState):
    code = "trade_status_error"


class TradeContextInconsistent(IdempotencyMismatch):
    """The same out_trade_no came back with other parameters."""

    code = "trade_context_inconsistent"


class RefundRequestMismatch(IdempotencyMismatch):
    """The same out_request_no came back with another amount."""

    code = "refund_request_mismatch"


class RefundExceedsPaid(InvalidInput):
    code = "refund_exceeds_paid"


class RefundNotAllowed(InvalidState):
    code = "refund_not_allowed"


class CancelTooLate(InvalidState):
    code = "trade_cancel_time_out"


class BuyerBalanceNotEnough(InsufficientFunds):
    code = "buyer_balance_not_enough"


class SellerBalanceNotEnough(InsufficientFunds):
    code = "seller_balance_not_enough"


class BuyerIsSeller(InvalidInput):
    code = "buyer_seller_equal"


class AuthCodeInvalid(InvalidInput):
    code = "payment_auth_code_invalid"


def next_status(status: TradeStatus, event: TradeEvent) -> TradeStatus:
    """The state after `event`, or the error that state gives for it."""
    target = TRANSITIONS.get((status, event))
    if target is not None:
        return target
    raise _refusal(status, event)


def _refusal(status: TradeStatus, event: TradeEvent) -> InvalidState:
    if status is TradeStatus.TRADE_SUCCESS and event is TradeEvent.PAY:
        return TradeAlreadyPaid("the trade is already paid")
    if status is TradeStatus.TRADE_CLOSED:
        return TradeClosed("the trade is closed")
    if status is TradeStatus.TRADE_FINISHED:
        return TradeFinished("the trade is finished")
    return TradeStatusError(f"{event} is not allowed while the trade is {status}")


def fee_fen_for(amount_fen: int, rate_ppm: int) -> int:
    """The platform fee of a payment: amount x rate, rounded half-up to the fen."""
    assert amount_fen >= 0
    assert 0 <= rate_ppm <= FEE_RATE_PPM_MAX
    fee_fen = _div_round_half_up(amount_fen * rate_ppm, PPM)
    assert 0 <= fee_fen <= amount_fen
    return fee_fen


def fee_back_fen(fee_fen: int, total_fen: int, refunded_before_fen: int, refund_fen: int) -> int:
    """The fee a refund gives back, proportional on the cumulative refunded amount."""
    assert total_fen > 0
    assert refunded_before_fen >= 0
    assert refund_fen > 0
    assert refunded_before_fen + refund_fen <= total_fen
    before = _div_round_half_up(fee_fen * refunded_before_fen, total_fen)
    after = _div_round_half_up(fee_fen * (refunded_before_fen + refund_fen), total_fen)
    assert 0 <= after - before <= fee_fen
    return after - before


def _div_round_half_up(numerator: int, denominator: int) -> int:
    assert numerator >= 0 and denominator > 0
    return (2 * numerator + denominator) // (2 * denominator)


def check_fee_rate_ppm(rate_ppm: int) -> int:
    if not 0 <= rate_ppm <= FEE_RATE_PPM_MAX:
        raise InvalidInput("fee rate must be between 0 and 10 %", code="invalid_fee_rate")
    return rate_ppm


@dataclass(frozen=True, slots=True)
class RefundParts:
    """A refund of an amount of the total, by who gets it: the buyer, the platform (its subsidy
    reclaimed), and the merchant discount's share (no money: the merchant never received it)."""

    buyer_fen: int
    discount_back_fen: int
    mdiscount_back_fen: int


def refund_parts(
    *, total_fen: int, discount_fen: int, mdiscount_fen: int, refunded_fen: int, refund_fen: int
) -> RefundParts:
    """Pro rata on the cumulative refunded amount, so that parts never drift and the whole
    total gives back exactly what the buyer paid and reclaims exactly the subsidy. The
    discounts' share rounds down (the buyer's up), and is then split between the platform
    (rounded down) and the merchant: every part only grows as refunds add up."""
    off_fen = discount_fen + mdiscount_fen
    assert 0 <= off_fen < total_fen, "a buyer pays at least a fen"
    assert refunded_fen >= 0 and refund_fen > 0 and refunded_fen + refund_fen <= total_fen

    def discounts_of(cumulative_fen: int) -> tuple[int, int]:
        off = off_fen * cumulative_fen // total_fen
        platform = off * discount_fen // off_fen if off_fen else 0
        return platform, off - platform

    platform_before, merchant_before = discounts_of(refunded_fen)
    platform_after, merchant_after = discounts_of(refunded_fen + refund_fen)
    discount_back = platform_after - platform_before
    mdiscount_back = merchant_after - merchant_before
    buyer_fen = refund_fen - discount_back - mdiscount_back
    assert buyer_fen >= 0 and discount_back >= 0 and mdiscount_back >= 0
    return RefundParts(buyer_fen, discount_back, mdiscount_back)


@dataclass(frozen=True, slots=True)
class RefundPlan:
    """What one refund moves, and the trade's state after it."""

    refund_fen: int
    fee_back_fen: int
    refunded_after_fen: int
    status_after: TradeStatus
    parts: RefundParts


def plan_refund(
    *,
    status: TradeStatus,
    total_fen: int,
    fee_fen: int,
    refunded_fen: int,
    refund_fen: int,
    window_open: bool,
    discount_fen: int = 0,
    mdiscount_fen: int = 0,
) -> RefundPlan:
    """Check a new refund against the trade and say what it moves."""
    assert 0 <= refunded_fen <= total_fen
    if refund_fen <= 0:
        raise InvalidInput("refund amount must be positive", code="invalid_amount")
    if status is TradeStatus.TRADE_SUCCESS and not window_open:
        raise TradeFinished("the refund window has ended")
    if refunded_fen + refund_fen > total_fen:
        raise RefundExceedsPaid("refund amount exceeds what is left to refund")
    all_back = refunded_fen + refund_fen == total_fen
    event = TradeEvent.REFUND_ALL if all_back else TradeEvent.REFUND_PART
    status_after = next_status(status, event)
    fee_back = fee_back_fen(fee_fen, total_fen, refunded_fen, refund_fen)
    parts = refund_parts(
        total_fen=total_fen,
        discount_fen=discount_fen,
        mdiscount_fen=mdiscount_fen,
        refunded_fen=refunded_fen,
        refund_fen=refund_fen,
    )
    return RefundPlan(refund_fen, fee_back, refunded_fen + refund_fen, status_after, parts)
