"""The wallet's coupons page (`/wallet/coupons`): campaigns to claim, my coupons, used, expired.

Phone-sized, one column (wallet.css). Claiming posts a one-time `idem` key, so a double tap
claims once (the idempotency service answers the second from the first). Also the coupons'
texts shared by the cashier and the campaign pages: how a coupon's rule reads (满100减10,
9折 最多减50), its scope and its dates, and the error messages of the coupon codes.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.account_class import CHINA_TZ
from paybao.domain.coupons import CouponKind, CouponStatus, Held, Terms
from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.money import format_yuan
from paybao.domain.trades import DiscountFunder
from paybao.services.clock import datetime_from_us
from paybao.services.idempotency import fingerprint
from paybao.services.marketing import MarketingService
from paybao.web.deps import platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import ERRORS, TEXTS, lang_of
from paybao.web.pages_user import CSRF, _active_user, _error, render
from paybao.web.session import login_redirect

TABS: Final = ("claim", "available", "used", "expired")
SHOWN_MAX: Final = 50
TEMPLATE_ID_LENGTH_MAX: Final = 18

TEXTS.update(
    {
        "coupons": {"zh": "优惠券", "en": "Coupons"},
        "coupons_tab_claim": {"zh": "领券", "en": "Claim"},
        "coupons_tab_available": {"zh": "可使用", "en": "Mine"},
        "coupons_tab_used": {"zh": "已使用", "en": "Used"},
        "coupons_tab_expired": {"zh": "已过期", "en": "Expired"},
        "coupons_claim": {"zh": "立即领取", "en": "Claim"},
        "coupons_claimed": {"zh": "已领取", "en": "Claimed"},
        "coupons_sold_out": {"zh": "已抢光", "en": "All gone"},
        "coupons_left": {"zh": "剩余{n}张", "en": "{n} left"},
        "coupons_until": {"zh": "有效期至 {date}", "en": "Valid until {date}"},
        "coupons_days": {"zh": "领取后{n}天内有效", "en": "Valid {n} days after claiming"},
        "coupons_expired_on": {"zh": "已于 {date} 过期", "en": "Expired on {date}"},
        "coupons_used_on": {
            "zh": "{date} 用于订单 {trade_no},减 ¥{off}",
            "en": "Used on {date} for order {trade_no}: {off} CNY off",
        },
        "coupons_any_shop": {"zh": "全场通用", "en": "Any shop"},
        "coupons_one_shop": {"zh": "仅限 {name}", "en": "Only at {name}"},
        "coupons_platform": {"zh": "平台券", "en": "Platform coupon"},
        "coupons_merchant": {"zh": "商家券", "en": "Shop coupon"},
        "coupons_rule_fixed": {"zh": "满{threshold}减{off}", "en": "{off} off {threshold}+"},
        "coupons_rule_cut": {"zh": "立减{off}", "en": "{off} off"},
        "coupons_rule_discount": {
            "zh": "{rate}折,最多减{cap}",
            "en": "{percent}% off, at most {cap}",
        },
        "coupons_rule_from": {"zh": "满{threshold}可用", "en": "from {threshold}"},
        "coupons_none_claim": {
            "zh": "暂无可领取的优惠券",
            "en": "No coupons to claim right now",
        },
        "coupons_none": {"zh": "暂无优惠券", "en": "No coupons here"},
        "coupons_done_claimed": {
            "zh": "领取成功,付款时自动为您选择最优惠的券",
            "en": "Claimed: the cashier picks your best coupon when you pay",
        },
        "coupons_note": {
            "zh": "付款时收银台会自动选择最优惠的券(商家券与平台券各一张可叠加)。"
            "退款时已使用的优惠券不退回。",
            "en": "The cashier picks your best coupons when you pay (one shop and one "
            "platform coupon stack). Used coupons are not given back on refunds.",
        },
    }
)

ERRORS.update(
    {
        "coupon_template_invalid": {"zh": "活动设置有误", "en": "The campaign is not valid"},
        "coupon_template_not_found": {"zh": "没有这个活动", "en": "No such campaign"},
        "coupon_not_found": {"zh": "没有这张优惠券", "en": "No such coupon"},
        "coupon_not_claimable": {
            "zh": "该活动当前不可领取",
            "en": "This campaign cannot be claimed now",
        },
        "coupon_sold_out": {"zh": "优惠券已抢光", "en": "All coupons are gone"},
        "coupon_claim_limit": {
            "zh": "您已领取过,每人限领数量已达上限",
            "en": "You already hold as many of these as one person may",
        },
        "coupon_unavailable": {
            "zh": "优惠券已使用或已过期",
            "en": "This coupon has been used or has expired",
        },
        "coupon_not_applicable": {
            "zh": "该优惠券不适用于本订单",
            "en": "This coupon does not apply to this order",
        },
        "coupon_funder_forbidden": {
            "zh": "商户只能创建自己出资的优惠券",
            "en": "A merchant creates coupons it funds itself",
        },
    }
)

router = APIRouter(include_in_schema=False)


def marketing(request: Request) -> MarketingService:
    service: MarketingService = platform_of(request).services["marketing"]
    return service


# How a coupon reads ---------------------------------------------------------------------------


def rule_text(terms: Terms, lang: str) -> str:
    """满100减10 / 立减5 / 9折,最多减50 (and 满30可用 for a discount with a threshold)."""
    off = short_yuan(terms.face_fen)
    threshold = short_yuan(terms.threshold_fen)
    if terms.kind is CouponKind.FIXED:
        key = "coupons_rule_fixed" if terms.threshold_fen else "coupons_rule_cut"
        return _text(lang, key, off=off, threshold=threshold)
    rate = f"{terms.rate_permille / 100:g}"
    percent = f"{(1000 - terms.rate_permille) / 10:g}"
    cap = short_yuan(terms.cap_fen)
    text = _text(lang, "coupons_rule_discount", rate=rate, percent=percent, cap=cap)
    if terms.threshold_fen:
        text += " · " + _text(lang, "coupons_rule_from", threshold=threshold)
    return text


def short_yuan(amount_fen: int) -> str:
    """Yuan as a coupon's rule says it: 100, 12.8, 0.05 (no trailing zeros)."""
    text = format_yuan(amount_fen)
    return text.rstrip("0").rstrip(".") if "." in text else text


def day_of(at_us: int) -> str:
    """The China-time date of an instant (a coupon's last day is the day before its end)."""
    return datetime_from_us(at_us - 1).astimezone(CHINA_TZ).strftime("%Y-%m-%d")


def _text(lang: str, key: str, **values: object) -> str:
    return TEXTS[key][lang].format(**values)


def coupon_view(
    held: Held, lang: str, now_us: int, shop_name: Callable[[int], str]
) -> dict[str, Any]:
    """What a coupon card shows."""
    coupon, terms = held.coupon, held.terms
    state = coupon.state_at(now_us)
    if state is CouponStatus.USED:
        when = day_of((coupon.used_at_us or 0) + 1)
        off = format_yuan(coupon.discount_fen)
        line = _text(lang, "coupons_used_on", date=when, trade_no=coupon.trade_no, off=off)
    elif state is CouponStatus.EXPIRED:
        line = _text(lang, "coupons_expired_on", date=day_of(coupon.expires_at_us))
    else:
        line = _text(lang, "coupons_until", date=day_of(coupon.expires_at_us))
    return {
        "id": coupon.id,
        "name": terms.name,
        "rule": rule_text(terms, lang),
        "scope": scope_text(terms, lang, shop_name),
        "funder": _funder_text(terms, lang),
        "line": line,
        "state": state.value,
        "big": big_text(terms, lang),
    }


def big_text(terms: Terms, lang: str) -> str:
    """The figure a coupon card shows large: ¥10.00, or 9折 (10% off)."""
    if terms.kind is CouponKind.FIXED:
        return f"¥{format_yuan(terms.face_fen)}"
    if lang == "zh":
        return f"{terms.rate_permille / 100:g}折"
    return f"{(1000 - terms.rate_permille) / 10:g}% off"


def scope_text(terms: Terms, lang: str, shop_name: Callable[[int], str]) -> str:
    if terms.merchant_id is None:
        return _text(lang, "coupons_any_shop")
    return _text(lang, "coupons_one_shop", name=shop_name(terms.merchant_id))


def _funder_text(terms: Terms, lang: str) -> str:
    key = "coupons_platform" if terms.funder is DiscountFunder.PLATFORM else "coupons_merchant"
    return _text(lang, key)


def shop_names(request: Request) -> Callable[[int], str]:
    """A merchant's name by id, each asked once per page."""
    merchants = platform_of(request).services["merchants"]
    names: dict[int, str] = {}

    def name(merchant_id: int) -> str:
        if merchant_id not in names:
            try:
                names[merchant_id] = str(merchants.merchant(merchant_id).name)
            except DomainError:
                names[merchant_id] = f"#{merchant_id}"
        return names[merchant_id]

    return name


# The wallet's page ----------------------------------------------------------------------------


@router.get("/wallet/coupons")
def coupons_page(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    tab = request.query_params.get("tab", "claim")
    done = request.query_params.get("done") == "claimed"
    return _page(request, user.id, tab if tab in TABS else "claim", done=done)


def _page(
    request: Request, user_id: int, tab: str, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    lang = lang_of(request)
    service = marketing(request)
    now_us = platform_of(request).clock.now_us()
    names = shop_names(request)
    claimable = []
    coupons = []
    if tab == "claim":
        for item in service.claimable(user_id, SHOWN_MAX):
            view = coupon_view(_as_held(item.template.terms), lang, now_us, names)
            days = item.template.terms.coupon_days
            if days:
                view["line"] = _text(lang, "coupons_days", n=days)
            view.update(
                template_id=item.template.id,
                can_claim=item.can_claim,
                held=item.held_count,
                left=item.template.left_count,
            )
            claimable.append(view)
    else:
        held = service.coupons_of(user_id, CouponStatus(tab), SHOWN_MAX)
        coupons = [coupon_view(h, lang, now_us, names) for h in held]
    done = extra.pop("done", False)
    return render(
        request,
        "coupons/wallet.html",
        status_code=status_code,
        title=TEXTS["coupons"][lang],
        tab=tab,
        tabs=TABS,
        claimable=claimable,
        coupons=coupons,
        idem=secrets.token_urlsafe(16),
        notice=TEXTS["coupons_done_claimed"][lang] if done else None,
        **extra,
    )


def _as_held(terms: Terms) -> Held:
    """A template shown as the coupon it would give (for the claim list's cards)."""
    from paybao.domain.coupons import Coupon

    coupon = Coupon(0, 0, 0, CouponStatus.AVAILABLE, terms.max_value_fen, 0, terms.valid_until_us)
    return Held(coupon, terms)


@router.post("/wallet/coupons/claim", dependencies=CSRF)
async def claim(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    service = marketing(request)
    try:
        template_id = parse_id(form.get("template_id", ""))

        def work() -> tuple[int, str]:
            coupon = service.claim(user.id, template_id)
            return 200, json.dumps({"coupon_id": coupon.id})

        digest = fingerprint("coupon_claim", str(template_id))
        key = form.get("idem") or secrets.token_urlsafe(8)
        platform_of(request).services["idempotency"].run(f"form:{user.id}", key, digest, work)
    except DomainError as error:
        return _page(request, user.id, "claim", status_for(error), **_error(request, error))
    return RedirectResponse("/wallet/coupons?tab=available&done=claimed", status_code=303)


def parse_id(text: str) -> int:
    if not text.isdigit() or len(text) > TEMPLATE_ID_LENGTH_MAX or int(text) == 0:
        raise InvalidInput("choose a coupon", code="coupon_template_not_found")
    return int(text)


def install(app: Any) -> None:
    """Before the wallet pages: their /wallet/{kind} would shadow /wallet/coupons."""
    from paybao.web import api_coupons, pages_coupon_campaigns

    app.include_router(router)
    app.include_router(api_coupons.router)
    pages_coupon_campaigns.install(app)
