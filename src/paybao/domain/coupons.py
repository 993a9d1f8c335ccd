"""Coupons (营销: 优惠券 / 立减): templates, the coupons users hold, and what they take off a trade.

Pure rules (alipay-product.md §13). A template (活动) is created by the platform (its marketing
account pays the discount to the merchant) or by a merchant (merchant-funded: the merchant
simply receives less). Kinds:

* FIXED: `face_fen` off once the discountable amount reaches `threshold_fen` (满100减10; a
  threshold of 0 is an unconditional 立减);
* DISCOUNT: the buyer pays `rate_permille` of the discountable amount (900 = 9折), the
  discount rounded down to the fen and never more than `cap_fen`, also from `threshold_fen`.

A template has a validity window, a budget and a count cap (each coupon issued reserves its most,
the face value or the cap, against the budget, so the budget holds whatever the coupons are used
for), a per-user cap, and may be limited to one merchant. It is either claimed by users, or
issued on the payment-success page after a payment of at least `issue_min_fen`.

A trade takes at most one merchant-funded and one platform-funded coupon. The merchant's applies
to the discountable amount (total - undiscountable), the platform's to what is left of it; the
buyer always pays at least a fen. Worked example (§13): a 100.00 bill with 20.00 excluded,
a merchant 9折 and a platform 5.00 off: the merchant's coupon takes 8.00 of the 80.00, the
platform's 5.00 of the 72.00 left; the merchant receives 92.00, the buyer pays 87.00.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from paybao.domain.errors import InvalidInput, InvalidState, LimitExceeded, NotFound
from paybao.domain.trades import DiscountFunder as Funder

US_PER_DAY: Final = 86_400 * 1_000_000
NAME_LENGTH_MAX: Final = 32
FACE_FEN_MAX: Final = 10_000_00  # 10,000 CNY off at most: anything more is a typo
THRESHOLD_FEN_MAX: Final = 1_000_000_00
RATE_PERMILLE_MIN: Final = 100  # 1折
RATE_PERMILLE_MAX: Final = 990  # 9.9折
BUDGET_FEN_MAX: Final = 100_000_000_00  # 1,000,000 CNY per template
COUNT_MAX_LIMIT: Final = 1_000_000
PER_USER_MAX_LIMIT: Final = 10
WINDOW_DAYS_MAX: Final = 366
COUPON_DAYS_MAX: Final = 366
# A buyer's available coupons read for one payment: the best is chosen among these.
CANDIDATES_MAX: Final = 100
PERMILLE: Final = 1000


class CouponKind(StrEnum):
    FIXED = "fixed"
    DISCOUNT = "discount"


class TemplateStatus(StrEnum):
    ACTIVE = "active"
    STOPPED = "stopped"  # no more claims or issues; coupons already held stay usable


class CouponStatus(StrEnum):
    AVAILABLE = "available"
    USED = "used"
    # Expired is not stored: an available coupon past `expires_at_us` (see `Coupon.state_at`).
    EXPIRED = "expired"


# Errors: each a stable code (web/i18n.py names them for people).


class CouponTemplateInvalid(InvalidInput):
    code = "coupon_template_invalid"


class CouponTemplateNotFound(NotFound):
    code = "coupon_template_not_found"


class CouponNotFound(NotFound):
    code = "coupon_not_found"


class CouponNotClaimable(InvalidState):
    """Stopped, not started, ended, or a template issued after payments only."""

    code = "coupon_not_claimable"


class CouponSoldOut(InvalidState):
    """The template's count cap or budget is used up."""

    code = "coupon_sold_out"


class CouponClaimLimit(LimitExceeded):
    """The user holds as many coupons of the template as one user may."""

    code = "coupon_claim_limit"


class CouponUnavailable(InvalidState):
    """Not the buyer's, used, or expired."""

    code = "coupon_unavailable"


class CouponNotApplicable(InvalidInput):
    """The coupon does not apply to this trade (another merchant, threshold not reached, or two
    coupons of the same funder)."""

    code = "coupon_not_applicable"


@dataclass(frozen=True, slots=True)
class Terms:
    """What a template promises; fixed once created."""

    name: str
    kind: CouponKind
    funder: Funder
    merchant_id: int | None  # None: any merchant (platform-funded only)
    face_fen: int  # FIXED: the amount off; DISCOUNT: 0
    rate_permille: int  # DISCOUNT: what the buyer pays per thousand; FIXED: 0
    cap_fen: int  # DISCOUNT: the most off; FIXED: 0
    threshold_fen: int  # the discountable amount from which it applies (0: always)
    valid_from_us: int
    valid_until_us: int
    coupon_days: int  # a coupon expires this many days after it is issued (0: window's end)
    budget_fen: int
    count_max: int
    per_user_max: int
    issue_min_fen: int | None = None  # set: issued after payments of at least this, not claimed

    @property
    def max_value_fen(self) -> int:
        """The most one coupon can take off: what issuing it reserves of the budget."""
        return self.face_fen if self.kind is CouponKind.FIXED else self.cap_fen

    @property
    def claimable(self) -> bool:
        return self.issue_min_fen is None


@dataclass(frozen=True, slots=True)
class Template:
    id: int
    terms: Terms
    status: TemplateStatus
    issued_count: int
    issued_fen: int  # reserved: the sum of issued coupons' max values
    created_by: str  # "operator:<id>" or "merchant:<id>"
    created_at_us: int

    @property
    def left_count(self) -> int:
        by_budget = (self.terms.budget_fen - self.issued_fen) // self.terms.max_value_fen
        return max(0, min(self.terms.count_max - self.issued_count, by_budget))


@dataclass(frozen=True, slots=True)
class Coupon:
    id: int
    template_id: int
    user_id: int
    status: CouponStatus  # AVAILABLE or USED as stored
    value_fen: int  # the template's max value when issued
    issued_at_us: int
    expires_at_us: int
    trade_no: str | None = None
    used_at_us: int | None = None
    discount_fen: int = 0  # what it took off its trade
    source_trade_no: str | None = None  # issued after this payment

    def state_at(self, now_us: int) -> CouponStatus:
        if self.status is CouponStatus.AVAILABLE and self.expires_at_us <= now_us:
            return CouponStatus.EXPIRED
        return self.status


@dataclass(frozen=True, slots=True)
class Held:
    """A coupon with its template's terms: what the rules need to price it."""

    coupon: Coupon
    terms: Terms


@dataclass(frozen=True, slots=True)
class VoucherUse:
    """One coupon's part of a trade."""

    coupon_id: int
    funder: Funder
    amount_fen: int


@dataclass(frozen=True, slots=True)
class Quote:
    """What the chosen coupons take off a trade; `auto`: chosen by the rules, not the buyer."""

    total_fen: int
    vouchers: tuple[VoucherUse, ...] = ()
    auto: bool = False

    @property
    def discount_fen(self) -> int:
        return sum(v.amount_fen for v in self.vouchers if v.funder is Funder.PLATFORM)

    @property
    def mdiscount_fen(self) -> int:
        return sum(v.amount_fen for v in self.vouchers if v.funder is Funder.MERCHANT)

    @property
    def receipt_fen(self) -> int:
        return self.total_fen - self.mdiscount_fen

    @property
    def buyer_pay_fen(self) -> int:
        return self.receipt_fen - self.discount_fen


@dataclass(frozen=True, slots=True)
class CouponChoice:
    """How a payment uses coupons: none, the best (`auto`), or the buyer's own pick."""

    auto: bool = False
    coupon_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        assert not (self.auto and self.coupon_ids)
        if len(self.coupon_ids) > 2 or len(set(self.coupon_ids)) != len(self.coupon_ids):
            raise CouponNotApplicable("at most one merchant and one platform coupon")


NO_COUPONS: Final = CouponChoice()
BEST_COUPONS: Final = CouponChoice(auto=True)


# Templates ---------------------------------------------------------------------------------


def check_terms(terms: Terms, now_us: int) -> Terms:
    """Refuse a template a payment platform should not run: each rule its own message."""
    _check(0 < len(terms.name.strip()) <= NAME_LENGTH_MAX, "the name is 1-32 characters")
    if terms.kind is CouponKind.FIXED:
        _check(0 < terms.face_fen <= FACE_FEN_MAX, "the amount off is 0.01-10000.00")
        _check(terms.rate_permille == 0 and terms.cap_fen == 0, "a fixed coupon has no rate")
        _check(
            terms.threshold_fen == 0 or terms.face_fen < terms.threshold_fen,
            "the amount off must be below the threshold (满100减10)",
        )
    else:
        _check(
            RATE_PERMILLE_MIN <= terms.rate_permille <= RATE_PERMILLE_MAX,
            "the discount is 1折 to 9.9折",
        )
        _check(0 < terms.cap_fen <= FACE_FEN_MAX, "a discount needs a cap of 0.01-10000.00")
        _check(terms.face_fen == 0, "a discount coupon has no fixed amount")
    _check(0 <= terms.threshold_fen <= THRESHOLD_FEN_MAX, "the threshold is too large")
    _check_window(terms, now_us)
    _check_caps(terms)
    if terms.funder is Funder.MERCHANT:
        _check(terms.merchant_id is not None, "a merchant-funded coupon names its merchant")
    if terms.issue_min_fen is not None:
        _check(0 < terms.issue_min_fen <= THRESHOLD_FEN_MAX, "the payment to issue after is 0.01+")
    return terms


def _check_window(terms: Terms, now_us: int) -> None:
    _check(terms.valid_from_us < terms.valid_until_us, "the window ends after it starts")
    _check(terms.valid_until_us > now_us, "the window has already ended")
    length_us = terms.valid_until_us - terms.valid_from_us
    _check(length_us <= WINDOW_DAYS_MAX * US_PER_DAY, "the window is at most 366 days")
    _check(0 <= terms.coupon_days <= COUPON_DAYS_MAX, "a coupon lasts 0-366 days")


def _check_caps(terms: Terms) -> None:
    _check(0 < terms.count_max <= COUNT_MAX_LIMIT, "the count is 1-1000000")
    _check(0 < terms.per_user_max <= PER_USER_MAX_LIMIT, "a user may hold 1-10")
    _check(terms.per_user_max <= terms.count_max, "the per-user cap exceeds the count")
    _check(
        terms.max_value_fen <= terms.budget_fen <= BUDGET_FEN_MAX,
        "the budget covers at least one coupon and is at most 1000000.00",
    )


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise CouponTemplateInvalid(message)


def check_issuable(template: Template, now_us: int) -> None:
    """A coupon of this template may be handed out now (the per-user cap, the count and the
    budget are checked when it is: the last two by one conditional update)."""
    if template.status is not TemplateStatus.ACTIVE:
        raise CouponNotClaimable("this campaign has stopped")
    if not template.terms.valid_from_us <= now_us < template.terms.valid_until_us:
        raise CouponNotClaimable("this campaign is not running now")


def check_claimable(template: Template, now_us: int) -> None:
    if not template.terms.claimable:
        raise CouponNotClaimable("this coupon is given after payments, not claimed")
    check_issuable(template, now_us)


def expires_at_us(terms: Terms, issued_at_us: int) -> int:
    if terms.coupon_days == 0:
        return terms.valid_until_us
    return min(terms.valid_until_us, issued_at_us + terms.coupon_days * US_PER_DAY)


def issue_template_for(
    templates: Iterable[Template], merchant_id: int, paid_fen: int, now_us: int
) -> Template | None:
    """The template to issue from after a payment of `paid_fen` to this merchant: the most
    valuable one that is running, has coupons left and asks for no more than was paid."""
    fitting = [
        t
        for t in templates
        if t.terms.issue_min_fen is not None
        and t.terms.issue_min_fen <= paid_fen
        and t.terms.merchant_id in (None, merchant_id)
        and t.status is TemplateStatus.ACTIVE
        and t.terms.valid_from_us <= now_us < t.terms.valid_until_us
        and t.left_count > 0
    ]
    return max(fitting, key=lambda t: (t.terms.max_value_fen, -t.id), default=None)


# Pricing -----------------------------------------------------------------------------------


def value_fen(terms: Terms, base_fen: int) -> int:
    """What the coupon takes off `base_fen` of discountable amount (0: it does not apply)."""
    assert base_fen >= 0
    if base_fen == 0 or base_fen < terms.threshold_fen:
        return 0
    if terms.kind is CouponKind.FIXED:
        off = terms.face_fen
    else:
        off = min(base_fen * (PERMILLE - terms.rate_permille) // PERMILLE, terms.cap_fen)
    return min(off, base_fen)


def usable(held: Held, merchant_id: int, now_us: int) -> bool:
    """The coupon can pay towards a trade of this merchant now (thresholds aside)."""
    terms = held.terms
    return (
        held.coupon.state_at(now_us) is CouponStatus.AVAILABLE
        and terms.valid_from_us <= now_us
        and terms.merchant_id in (None, merchant_id)
    )


def quote(
    total_fen: int,
    undiscountable_fen: int,
    merchant: Held | None,
    platform: Held | None,
    *,
    auto: bool = False,
) -> Quote:
    """The split with these coupons: the merchant's first on the discountable amount, the
    platform's on what is left; the buyer pays at least a fen. A coupon that takes nothing is
    left out."""
    assert 0 <= undiscountable_fen <= total_fen and total_fen > 0
    assert merchant is None or merchant.terms.funder is Funder.MERCHANT
    assert platform is None or platform.terms.funder is Funder.PLATFORM
    base_fen = total_fen - undiscountable_fen
    left_fen = total_fen - 1  # what the coupons together may take
    vouchers = []
    for held in (merchant, platform):
        if held is None:
            continue
        off = min(value_fen(held.terms, base_fen), left_fen)
        if off > 0:
            vouchers.append(VoucherUse(held.coupon.id, held.terms.funder, off))
            base_fen -= off
            left_fen -= off
    result = Quote(total_fen, tuple(vouchers), auto)
    assert 0 < result.buyer_pay_fen <= result.receipt_fen <= total_fen
    return result


def best_quote(
    total_fen: int,
    undiscountable_fen: int,
    candidates: Sequence[Held],
    merchant_id: int,
    now_us: int,
) -> Quote:
    """The pair (one merchant-funded, one platform-funded, either may be absent) that takes the
    most off; ties go to the coupons that expire first, then the older ones."""
    fit = [held for held in candidates if usable(held, merchant_id, now_us)]
    fit.sort(key=lambda held: (held.coupon.expires_at_us, held.coupon.id))
    merchants: list[Held | None] = [None, *(h for h in fit if h.terms.funder is Funder.MERCHANT)]
    platforms: list[Held | None] = [None, *(h for h in fit if h.terms.funder is Funder.PLATFORM)]
    best = Quote(total_fen, auto=True)
    for merchant in merchants:
        for platform in platforms:
            candidate = quote(total_fen, undiscountable_fen, merchant, platform, auto=True)
            if _off(candidate) > _off(best):
                best = candidate
    return best


def chosen_quote(
    total_fen: int,
    undiscountable_fen: int,
    chosen: Sequence[Held],
    merchant_id: int,
    now_us: int,
) -> Quote:
    """The buyer's own pick: every coupon must be usable here and take something off."""
    by_funder: dict[Funder, Held] = {}
    for held in chosen:
        if not usable(held, merchant_id, now_us):
            raise CouponUnavailable("this coupon cannot be used")
        if held.terms.funder in by_funder:
            raise CouponNotApplicable("one merchant and one platform coupon at most")
        by_funder[held.terms.funder] = held
    result = quote(
        total_fen,
        undiscountable_fen,
        by_funder.get(Funder.MERCHANT),
        by_funder.get(Funder.PLATFORM),
    )
    if len(result.vouchers) != len(chosen):
        raise CouponNotApplicable("this coupon does not apply to this order")
    return result


def _off(result: Quote) -> int:
    return result.total_fen - result.buyer_pay_fen


@dataclass(frozen=True, slots=True)
class VoucherDetail:
    """A coupon as a paid trade's answers name it (Alipay's voucher_detail_list)."""

    coupon_id: int
    template_id: int
    name: str
    kind: CouponKind
    funder: Funder
    amount_fen: int
