"""Escrow ("guarantee") trades: the state machine, its timers and refund arithmetic. Pure.

The buyer pays into a hold; the seller ships; the buyer confirms receipt (or the auto-confirm
timer does) and the hold is paid to the seller less the fee. While goods are under way the
buyer may ask for money back; the seller agrees or refuses, a refused buyer may escalate to a
dispute and an operator rules. Every path ends in one resolution of the hold: void (all back to
the buyer), or a post of the seller's part (the rest goes back to the buyer by itself).

One timer per trade at a time, with a generation number: every change of the timer (start,
pause, resume, extend) takes a fresh generation, and a timer that fires with a stale generation
does nothing. What the timer does depends on the state it finds:

    WAIT_BUYER_PAY             payment timeout: close
    WAIT_BUYER_CONFIRM_GOODS   auto-confirm: pay the seller
    REFUNDING                  the seller did not answer in time: the refund is agreed
    REFUND_REFUSED             the buyer did not escalate in time: the request lapses and the
                               auto-confirm timer resumes with the time it had left

WAIT_SELLER_SEND_GOODS has no timer (the buyer may cancel at any moment) and DISPUTE waits for
an operator; both are "live" holds for the reconcile alarm.

Coupons: platform-funded coupons may pay `discount_fen` of the price. The buyer's hold is then
the price less the discount and the platform's marketing account pays the discount into escrow,
so the escrow still holds the full price and the seller is paid as without a coupon. A refund
splits pro rata, exactly as a trade refund does (domain/trades.py `refund_parts`): the buyer
gets back its share of what it paid, the marketing account its share of the subsidy
(`split_hold`). Used coupons are not given back (as for trades).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from paybao.domain.errors import Forbidden, InvalidInput, InvalidState
from paybao.domain.money import AMOUNT_FEN_MAX
from paybao.domain.trades import fee_fen_for, refund_parts

US_PER_S: Final = 1_000_000
TITLE_LENGTH_MAX: Final = 128
CARRIER_LENGTH_MAX: Final = 32
TRACKING_NO_LENGTH_MAX: Final = 64
REASON_LENGTH_MAX: Final = 500
MESSAGE_LENGTH_MAX: Final = 2000
EXTEND_S_MAX: Final = 30 * 86_400
# Ledger transfer codes (why money moved).
LEDGER_CODE_ESCROW_HOLD: Final = 3001
LEDGER_CODE_ESCROW_POST: Final = 3002
LEDGER_CODE_ESCROW_VOID: Final = 3003
LEDGER_CODE_ESCROW_RELEASE: Final = 3004
LEDGER_CODE_ESCROW_FEE: Final = 3005
LEDGER_CODE_ESCROW_SUBSIDY: Final = 3006  # marketing -> escrow: coupons' part of the price
LEDGER_CODE_ESCROW_SUBSIDY_BACK: Final = 3007  # escrow -> marketing: its share of a refund


class EscrowStatus(StrEnum):
    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
    WAIT_SELLER_SEND_GOODS = "WAIT_SELLER_SEND_GOODS"
    WAIT_BUYER_CONFIRM_GOODS = "WAIT_BUYER_CONFIRM_GOODS"
    REFUNDING = "REFUNDING"
    REFUND_REFUSED = "REFUND_REFUSED"
    DISPUTE = "DISPUTE"
    TRADE_FINISHED = "TRADE_FINISHED"
    TRADE_CLOSED = "TRADE_CLOSED"


class EscrowEvent(StrEnum):
    PAY = "pay"
    CLOSE = "close"  # unpaid: payment timeout or the buyer gives up
    CANCEL = "cancel"  # paid, not shipped: the buyer takes everything back at once
    SHIP = "ship"
    EXTEND = "extend"
    CONFIRM = "confirm"  # the buyer, or the auto-confirm timer
    REQUEST_REFUND = "request_refund"
    WITHDRAW_REFUND = "withdraw_refund"
    AGREE_REFUND_ALL = "agree_refund_all"  # the seller, or the seller's silence
    AGREE_REFUND_PART = "agree_refund_part"
    REFUSE_REFUND = "refuse_refund"
    LAPSE = "lapse"  # a refused request the buyer did not escalate in time
    ESCALATE = "escalate"
    RULE_REFUND_ALL = "rule_refund_all"
    RULE_REFUND_PART = "rule_refund_part"
    RULE_RELEASE = "rule_release"


_S = EscrowStatus
_E = EscrowEvent
TRANSITIONS: Final[dict[tuple[EscrowStatus, EscrowEvent], EscrowStatus]] = {
    (_S.WAIT_BUYER_PAY, _E.PAY): _S.WAIT_SELLER_SEND_GOODS,
    (_S.WAIT_BUYER_PAY, _E.CLOSE): _S.TRADE_CLOSED,
    (_S.WAIT_SELLER_SEND_GOODS, _E.CANCEL): _S.TRADE_CLOSED,
    (_S.WAIT_SELLER_SEND_GOODS, _E.SHIP): _S.WAIT_BUYER_CONFIRM_GOODS,
    (_S.WAIT_BUYER_CONFIRM_GOODS, _E.EXTEND): _S.WAIT_BUYER_CONFIRM_GOODS,
    (_S.WAIT_BUYER_CONFIRM_GOODS, _E.CONFIRM): _S.TRADE_FINISHED,
    (_S.WAIT_BUYER_CONFIRM_GOODS, _E.REQUEST_REFUND): _S.REFUNDING,
    (_S.REFUNDING, _E.WITHDRAW_REFUND): _S.WAIT_BUYER_CONFIRM_GOODS,
    (_S.REFUNDING, _E.AGREE_REFUND_ALL): _S.TRADE_CLOSED,
    (_S.REFUNDING, _E.AGREE_REFUND_PART): _S.TRADE_FINISHED,
    (_S.REFUNDING, _E.REFUSE_REFUND): _S.REFUND_REFUSED,
    (_S.REFUND_REFUSED, _E.WITHDRAW_REFUND): _S.WAIT_BUYER_CONFIRM_GOODS,
    (_S.REFUND_REFUSED, _E.LAPSE): _S.WAIT_BUYER_CONFIRM_GOODS,
    (_S.REFUND_REFUSED, _E.ESCALATE): _S.DISPUTE,
    (_S.DISPUTE, _E.RULE_REFUND_ALL): _S.TRADE_CLOSED,
    (_S.DISPUTE, _E.RULE_REFUND_PART): _S.TRADE_FINISHED,
    (_S.DISPUTE, _E.RULE_RELEASE): _S.TRADE_FINISHED,
}

# States in which the buyer's money is held (the hold transfer is pending).
HELD: Final = frozenset(
    {_S.WAIT_SELLER_SEND_GOODS, _S.WAIT_BUYER_CONFIRM_GOODS, _S.REFUNDING, _S.REFUND_REFUSED}
    | {_S.DISPUTE}
)
# States that must have a live timer (see the module docstring).
TIMED: Final = frozenset(
    {_S.WAIT_BUYER_PAY, _S.WAIT_BUYER_CONFIRM_GOODS, _S.REFUNDING, _S.REFUND_REFUSED}
)
FINAL: Final = frozenset({_S.TRADE_FINISHED, _S.TRADE_CLOSED})
_REFUND_OPEN: Final = frozenset({_S.REFUNDING, _S.REFUND_REFUSED, _S.DISPUTE})


class GoodsType(StrEnum):
    AUTO_RECHARGE = "auto_recharge"
    AUTO_DELIVERY = "auto_delivery"
    VIRTUAL = "virtual"
    EXPRESS = "express"
    SURFACE_MAIL = "surface_mail"

    @property
    def ships_on_payment(self) -> bool:
        """Recharge goods are delivered by the seller's system the moment the buyer pays."""
        return self is GoodsType.AUTO_RECHARGE


@dataclass(frozen=True, slots=True)
class EscrowTimers:
    """Auto-confirm periods by goods type and the refund-dialogue deadlines (settings)."""

    confirm_s: dict[GoodsType, int]
    refund_response_s: int
    escalate_window_s: int

    def confirm_s_for(self, goods_type: GoodsType) -> int:
        seconds = self.confirm_s[goods_type]
        assert seconds >= 0
        return seconds


DEFAULT_CONFIRM_S: Final[dict[GoodsType, int]] = {
    GoodsType.AUTO_RECHARGE: 0,
    GoodsType.AUTO_DELIVERY: 24 * 3600,
    GoodsType.VIRTUAL: 3 * 86_400,
    GoodsType.EXPRESS: 10 * 86_400,
    GoodsType.SURFACE_MAIL: 30 * 86_400,
}


# Errors: stable codes, one per refusal a caller can act on -------------------------------


class EscrowNotFound(InvalidInput):
    code = "escrow_not_found"


class EscrowNotPaid(InvalidState):
    code = "escrow_not_paid"


class EscrowNotShipped(InvalidState):
    code = "escrow_not_shipped"


class EscrowAlreadyShipped(InvalidState):
    code = "escrow_already_shipped"


class EscrowRefundOpen(InvalidState):
    code = "escrow_refund_open"


class EscrowNoRefundOpen(InvalidState):
    code = "escrow_no_refund_open"


class EscrowFinished(InvalidState):
    code = "escrow_already_finished"


class EscrowClosed(InvalidState):
    code = "escrow_closed"


class EscrowStatusError(InvalidState):
    code = "escrow_status_error"


class EscrowRefundExceedsHeld(InvalidInput):
    code = "escrow_refund_exceeds_held"


class EscrowExtendTooLong(InvalidInput):
    code = "escrow_extend_too_long"


class EscrowNotParty(Forbidden):
    code = "escrow_not_party"


class EscrowSelfPurchase(InvalidInput):
    code = "escrow_buyer_is_seller"


def next_status(status: EscrowStatus, event: EscrowEvent) -> EscrowStatus:
    """The state after `event`, or the refusal that state gives for it."""
    target = TRANSITIONS.get((status, event))
    if target is not None:
        return target
    raise refusal(status, event)


def refusal(status: EscrowStatus, event: EscrowEvent) -> InvalidState:
    assert (status, event) not in TRANSITIONS
    if status is _S.TRADE_FINISHED:
        return EscrowFinished("the trade is finished; the seller has been paid")
    if status is _S.TRADE_CLOSED:
        return EscrowClosed("the trade is closed")
    if status is _S.WAIT_BUYER_PAY:
        return EscrowNotPaid(f"{event} needs a paid trade")
    if status is _S.WAIT_SELLER_SEND_GOODS and event in _NEEDS_SHIPMENT:
        return EscrowNotShipped(f"{event} needs the goods shipped first")
    if event is _E.SHIP:
        return EscrowAlreadyShipped("the goods are already shipped")
    if status in _REFUND_OPEN and event in _BLOCKED_BY_REFUND:
        return EscrowRefundOpen(f"{event} is not possible while a refund request is open")
    if event in _NEEDS_REFUND:
        return EscrowNoRefundOpen(f"{event} needs an open refund request")
    return EscrowStatusError(f"{event} is not allowed while the trade is {status}")


_NEEDS_SHIPMENT: Final = frozenset({_E.CONFIRM, _E.EXTEND, _E.REQUEST_REFUND})
_BLOCKED_BY_REFUND: Final = frozenset({_E.CONFIRM, _E.EXTEND, _E.REQUEST_REFUND, _E.CANCEL})
_NEEDS_REFUND: Final = frozenset(
    {_E.WITHDRAW_REFUND, _E.AGREE_REFUND_ALL, _E.AGREE_REFUND_PART, _E.REFUSE_REFUND}
    | {_E.ESCALATE, _E.LAPSE, _E.RULE_REFUND_ALL, _E.RULE_REFUND_PART, _E.RULE_RELEASE}
)


# The auto-confirm timer: pure arithmetic on int microseconds -----------------------------


@dataclass(frozen=True, slots=True)
class ConfirmTimer:
    """Running (`due_at_us` set) or paused (`remaining_us` set); never both."""

    due_at_us: int | None
    remaining_us: int | None

    def __post_init__(self) -> None:
        assert (self.due_at_us is None) != (self.remaining_us is None), self
        assert self.remaining_us is None or self.remaining_us >= 0

    @property
    def running(self) -> bool:
        return self.due_at_us is not None


def start_timer(now_us: int, period_s: int) -> ConfirmTimer:
    assert period_s >= 0
    return ConfirmTimer(now_us + period_s * US_PER_S, None)


def pause_timer(timer: ConfirmTimer, now_us: int) -> ConfirmTimer:
    """Stop the clock; what was left is kept (never negative: an overdue timer keeps 0)."""
    assert timer.due_at_us is not None, "only a running timer pauses"
    paused = ConfirmTimer(None, max(0, timer.due_at_us - now_us))
    assert paused.remaining_us is not None and paused.remaining_us >= 0
    return paused


def resume_timer(timer: ConfirmTimer, now_us: int) -> ConfirmTimer:
    assert timer.remaining_us is not None, "only a paused timer resumes"
    resumed = ConfirmTimer(now_us + timer.remaining_us, None)
    assert resumed.due_at_us is not None and resumed.due_at_us >= now_us
    return resumed


def extend_timer(timer: ConfirmTimer, extra_s: int, extended_s_before: int) -> ConfirmTimer:
    """The seller gives the buyer more time; all extensions together are capped."""
    if extra_s <= 0:
        raise InvalidInput("extend by a positive number of seconds", code="invalid_extension")
    if extended_s_before + extra_s > EXTEND_S_MAX:
        raise EscrowExtendTooLong("extensions may add up to 30 days at most")
    extra_us = extra_s * US_PER_S
    if timer.due_at_us is not None:
        return ConfirmTimer(timer.due_at_us + extra_us, None)
    assert timer.remaining_us is not None
    return ConfirmTimer(None, timer.remaining_us + extra_us)


# Money ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resolution:
    """How the hold ends: `refund_fen` back to the buyer, the rest to the seller less fee."""

    refund_fen: int
    seller_fen: int
    fee_fen: int

    @property
    def payee_net_fen(self) -> int:
        return self.seller_fen - self.fee_fen


def resolve(total_fen: int, refund_fen: int, fee_rate_ppm: int) -> Resolution:
    """Split the held `total_fen`; the fee is the gateway's rule on what the seller keeps."""
    assert total_fen > 0
    check_refund_fen(total_fen, refund_fen, allow_zero=True)
    seller_fen = total_fen - refund_fen
    fee_fen = fee_fen_for(seller_fen, fee_rate_ppm)
    resolution = Resolution(refund_fen, seller_fen, fee_fen)
    assert resolution.refund_fen + resolution.seller_fen == total_fen
    assert 0 <= resolution.fee_fen <= resolution.seller_fen
    return resolution


@dataclass(frozen=True, slots=True)
class HoldSplit:
    """Where a hold paid partly by the platform's subsidy goes at the end: the buyer's hold
    (total - discount) posts `post_fen` to escrow and returns `buyer_back_fen`; the subsidy
    returns `discount_back_fen` to the marketing account; the seller gets the resolution's
    `seller_fen`: the post and the subsidy kept."""

    resolution: Resolution
    post_fen: int
    buyer_back_fen: int
    discount_back_fen: int


def split_hold(total_fen: int, discount_fen: int, refund_fen: int, fee_rate_ppm: int) -> HoldSplit:
    """Split the hold of an escrow with a platform discount: a refund pro rata on the total,
    the discount's share rounded down (the buyer's up), as trade refunds do."""
    assert 0 <= discount_fen < total_fen, "a buyer pays at least a fen"
    resolution = resolve(total_fen, refund_fen, fee_rate_ppm)
    buyer_back_fen = discount_back_fen = 0
    if refund_fen:
        parts = refund_parts(
            total_fen=total_fen,
            discount_fen=discount_fen,
            mdiscount_fen=0,
            refunded_fen=0,
            refund_fen=refund_fen,
        )
        buyer_back_fen, discount_back_fen = parts.buyer_fen, parts.discount_back_fen
    post_fen = total_fen - discount_fen - buyer_back_fen
    split = HoldSplit(resolution, post_fen, buyer_back_fen, discount_back_fen)
    assert post_fen >= 0 and 0 <= discount_back_fen <= discount_fen
    assert post_fen + discount_fen - discount_back_fen == resolution.seller_fen
    assert buyer_back_fen + discount_back_fen == resolution.refund_fen
    return split


def check_refund_fen(total_fen: int, refund_fen: int, *, allow_zero: bool = False) -> int:
    if refund_fen < 0 or (refund_fen == 0 and not allow_zero):
        raise InvalidInput("the refund amount must be positive", code="invalid_amount")
    if refund_fen > total_fen:
        raise EscrowRefundExceedsHeld("the refund is more than the money held")
    return refund_fen


def refund_event(total_fen: int, refund_fen: int, *, ruling: bool) -> EscrowEvent:
    """Which arrow a refund of `refund_fen` takes: all back closes, part back finishes."""
    check_refund_fen(total_fen, refund_fen)
    if refund_fen == total_fen:
        return _E.RULE_REFUND_ALL if ruling else _E.AGREE_REFUND_ALL
    return _E.RULE_REFUND_PART if ruling else _E.AGREE_REFUND_PART


def check_text(value: str, *, field: str, length_max: int, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{field} is required", code=f"invalid_{field}")
    if len(text) > length_max:
        raise InvalidInput(f"{field} is longer than {length_max}", code=f"invalid_{field}")
    return text


def check_price_fen(price_fen: int) -> int:
    if not 0 < price_fen <= AMOUNT_FEN_MAX:
        raise InvalidInput("the price must be 0.01 .. 100000000.00", code="invalid_amount")
    return price_fen


def goods_type_of(text: str) -> GoodsType:
    try:
        return GoodsType(text)
    except ValueError:
        raise InvalidInput(f"unknown goods type {text!r}", code="invalid_goods_type") from None
