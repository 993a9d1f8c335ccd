"""REST: coupons (`/api/v1/coupons`): my coupons, the campaigns I may claim, claiming one.

Auth as the wallet's API (bearer token or session). Claiming changes state: it needs an
`Idempotency-Key` (a replay gets the first answer; the same key with another body is 409
`idempotency_key_reused`). It moves no money, so no payment password is asked. Errors (stable
codes): coupon_template_not_found (404), coupon_not_claimable (409: stopped, not running, or a
campaign given after payments), coupon_sold_out (409: count or budget used up),
coupon_claim_limit (403: the per-person cap).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from paybao.domain.coupons import CouponStatus, Held, Template, Terms
from paybao.domain.money import format_yuan
from paybao.services.clock import datetime_from_us
from paybao.services.marketing import LIST_LIMIT_MAX, MarketingService
from paybao.web.api_wallet import User, idempotent
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import ERROR_RESPONSES, error_body

router = APIRouter(prefix="/api/v1/coupons", tags=["coupons"], responses=ERROR_RESPONSES)
PageSize = Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX, description="Page size")]
CLAIM_ERRORS: dict[int | str, dict[str, object]] = {
    403: {
        "description": "The per-person cap of the campaign is reached.",
        "content": {"application/json": {"example": error_body("coupon_claim_limit", "cap")}},
    },
    409: {
        "description": "Sold out (count or budget), or not claimable now.",
        "content": {"application/json": {"example": error_body("coupon_sold_out", "gone")}},
    },
}


def _marketing(request: Request) -> MarketingService:
    service: MarketingService = platform_of(request).services["marketing"]
    return service


class TermsOut(BaseModel):
    name: str
    kind: str = Field(json_schema_extra={"enum": ["fixed", "discount"]})
    funder: str = Field(
        description="platform: the platform pays the discount; merchant: the shop receives less",
        json_schema_extra={"enum": ["platform", "merchant"]},
    )
    merchant_id: int | None = Field(description="Only at this shop (null: any shop).")
    face_fen: int = Field(description="fixed: the amount off (0 for a discount).")
    rate_permille: int = Field(description="discount: what the buyer pays per 1000 (900 = 9折).")
    cap_fen: int = Field(description="discount: the most it takes off.")
    threshold_fen: int = Field(description="Applies from this discountable amount (0: always).")


class CouponOut(BaseModel):
    id: int
    template_id: int
    state: str = Field(json_schema_extra={"enum": ["available", "used", "expired"]})
    terms: TermsOut
    issued_at: str = Field(json_schema_extra={"format": "date-time"})
    expires_at: str = Field(json_schema_extra={"format": "date-time"})
    trade_no: str | None = Field(description="The trade it paid part of (used coupons).")
    discount_fen: int = Field(description="What it took off that trade.")
    discount: str


class CampaignOut(BaseModel):
    template_id: int
    terms: TermsOut
    valid_until: str = Field(json_schema_extra={"format": "date-time"})
    coupon_days: int = Field(description="A claimed coupon lasts this many days (0: to the end).")
    left_count: int = Field(description="Coupons left (by count and by budget).")
    per_user_max: int
    held_count: int = Field(description="How many of it you hold (any state).")
    can_claim: bool


def terms_out(terms: Terms) -> TermsOut:
    return TermsOut(
        name=terms.name,
        kind=terms.kind.value,
        funder=terms.funder.value,
        merchant_id=terms.merchant_id,
        face_fen=terms.face_fen,
        rate_permille=terms.rate_permille,
        cap_fen=terms.cap_fen,
        threshold_fen=terms.threshold_fen,
    )


def coupon_out(held: Held, now_us: int) -> CouponOut:
    coupon = held.coupon
    return CouponOut(
        id=coupon.id,
        template_id=coupon.template_id,
        state=coupon.state_at(now_us).value,
        terms=terms_out(held.terms),
        issued_at=datetime_from_us(coupon.issued_at_us).isoformat(),
        expires_at=datetime_from_us(coupon.expires_at_us).isoformat(),
        trade_no=coupon.trade_no,
        discount_fen=coupon.discount_fen,
        discount=format_yuan(coupon.discount_fen),
    )


def campaign_out(template: Template, held_count: int, can_claim: bool) -> CampaignOut:
    return CampaignOut(
        template_id=template.id,
        terms=terms_out(template.terms),
        valid_until=datetime_from_us(template.terms.valid_until_us).isoformat(),
        coupon_days=template.terms.coupon_days,
        left_count=template.left_count,
        per_user_max=template.terms.per_user_max,
        held_count=held_count,
        can_claim=can_claim,
    )


@router.get("", response_model=list[CouponOut])
def my_coupons(
    request: Request,
    user_id: User,
    state: Annotated[str, Query(pattern="^(available|used|expired)$")] = "available",
    limit: PageSize = 50,
) -> list[CouponOut]:
    """My coupons in one state, newest first: `available` (usable now: the cashier picks the
    best), `used`, `expired`."""
    now_us = platform_of(request).clock.now_us()
    held = _marketing(request).coupons_of(user_id, CouponStatus(state), limit)
    return [coupon_out(h, now_us) for h in held]


@router.get("/templates", response_model=list[CampaignOut])
def campaigns(request: Request, user_id: User, limit: PageSize = 50) -> list[CampaignOut]:
    """Campaigns running now that users claim (gifts after payments are not listed)."""
    found = _marketing(request).claimable(user_id, limit)
    return [campaign_out(c.template, c.held_count, c.can_claim) for c in found]


class ClaimIn(BaseModel):
    template_id: int = Field(ge=1, le=ROW_ID_MAX)


@router.post("/claims", response_model=CouponOut, responses=CLAIM_ERRORS)
async def claim(body: ClaimIn, request: Request, user_id: User) -> JSONResponse:
    """Claim a coupon of a campaign (needs an `Idempotency-Key`). Answers the coupon."""
    service = _marketing(request)
    clock = platform_of(request).clock

    def work() -> Any:
        coupon = service.claim(user_id, body.template_id)
        template = service.template(coupon.template_id)
        return coupon_out(Held(coupon, template.terms), clock.now_us())

    return await idempotent(request, f"user:{user_id}", work)
