"""Coupon campaigns (活动): the operators' page (`/admin/coupons`: platform-funded, any shop or
one; creating and stopping is the `coupon.manage` action, audited with the operator) and the
merchant portal's page (`/merchant/coupons`: its own merchant-funded coupons, limited to itself,
audited as `merchant:<id>`). Both list the campaigns with what was issued, what is left, how
many coupons were used and what they took off, and share one form.

Form fields: name, kind (fixed | discount), face (yuan off) or rate (折: 9, 8.5) with cap (yuan),
threshold (yuan, 0 = none), valid_from / valid_until (China-time dates, both days included),
coupon_days (0 = until the campaign ends), budget (yuan), count, per_user, issue_min (yuan:
given on the payment-success page after a payment of at least this, instead of claimed) and,
for operators, merchant_id (limit to one shop).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.account_class import CHINA_TZ
from paybao.domain.coupons import CouponKind, CouponTemplateInvalid, Terms
from paybao.domain.errors import DomainError
from paybao.domain.money import parse_yuan
from paybao.domain.trades import DiscountFunder
from paybao.services.clock import datetime_from_us, us_from_datetime
from paybao.services.marketing import Creator, TemplateView
from paybao.web import pages_admin
from paybao.web import pages_merchant as portal
from paybao.web.i18n import lang_of
from paybao.web.pages_coupons import day_of, marketing, parse_id, rule_text

SHOWN_MAX: Final = 100
FIELD_LENGTH_MAX: Final = 32

CAMPAIGN_TEXTS: Final = {
    "nav_coupons": {"zh": "优惠券", "en": "Coupons"},
    "cp_new": {"zh": "新建活动", "en": "New campaign"},
    "cp_name": {"zh": "名称", "en": "Name"},
    "cp_kind": {"zh": "类型", "en": "Kind"},
    "cp_fixed": {"zh": "满减/立减", "en": "Amount off"},
    "cp_discount": {"zh": "折扣", "en": "Discount"},
    "cp_face": {"zh": "减免金额(元,满减券)", "en": "Amount off (CNY, amount-off kind)"},
    "cp_rate": {"zh": "折扣(折,如 9 或 8.5)", "en": "Rate (折: 9 = pay 90%)"},
    "cp_cap": {"zh": "最多减(元,折扣券)", "en": "At most off (CNY, discount kind)"},
    "cp_threshold": {"zh": "使用门槛(元,0为无门槛)", "en": "Minimum order (CNY, 0 = none)"},
    "cp_from": {"zh": "开始日期", "en": "Starts"},
    "cp_until": {"zh": "结束日期(含)", "en": "Ends (inclusive)"},
    "cp_days": {"zh": "领取后有效天数(0为至活动结束)", "en": "Days valid after issue (0 = to end)"},
    "cp_budget": {"zh": "总预算(元)", "en": "Budget (CNY)"},
    "cp_count": {"zh": "总数量(张)", "en": "Coupons in all"},
    "cp_per_user": {"zh": "每人限领(张)", "en": "Per person"},
    "cp_issue_min": {
        "zh": "支付成功后发放:单笔满(元,留空则为用户领取)",
        "en": "Give after payments of at least (CNY; empty: users claim)",
    },
    "cp_merchant": {"zh": "仅限商户号(留空则全场)", "en": "Only at merchant id (empty: any)"},
    "cp_create": {"zh": "创建", "en": "Create"},
    "cp_stop": {"zh": "停止", "en": "Stop"},
    "cp_rule": {"zh": "规则", "en": "Rule"},
    "cp_window": {"zh": "有效期", "en": "Window"},
    "cp_issued": {"zh": "已发", "en": "Issued"},
    "cp_left": {"zh": "剩余", "en": "Left"},
    "cp_used": {"zh": "已用", "en": "Used"},
    "cp_spent": {"zh": "优惠金额", "en": "Taken off"},
    "cp_status": {"zh": "状态", "en": "Status"},
    "cp_active": {"zh": "进行中", "en": "Running"},
    "cp_stopped": {"zh": "已停止", "en": "Stopped"},
    "cp_how": {"zh": "发放方式", "en": "Given by"},
    "cp_claimed": {"zh": "用户领取", "en": "Claimed"},
    "cp_after_pay": {"zh": "支付后满{min}发放", "en": "After payments of {min}+"},
    "cp_no_campaigns": {"zh": "还没有活动", "en": "No campaigns yet"},
    "cp_created": {"zh": "活动已创建", "en": "Campaign created"},
    "cp_platform_note": {
        "zh": "平台出资:优惠由平台营销账户支付给商户。预算按每张券的最高优惠预留。",
        "en": "Platform-funded: the marketing account pays the discount to the shop. Each "
        "coupon reserves its most off against the budget.",
    },
    "cp_merchant_note": {
        "zh": "商户出资:顾客用券时您少收优惠部分,手续费按实收计算。退款按比例退回顾客实付部分。",
        "en": "You fund these: you receive the order less the discount, and the fee is on "
        "what you receive. Refunds give the buyer back its share of what it paid.",
    },
}
portal.add_texts(CAMPAIGN_TEXTS)
portal.add_nav("nav_coupons", "/merchant/coupons")
pages_admin.ADMIN_TEXTS.update(CAMPAIGN_TEXTS)
pages_admin.add_nav("nav_coupons", "/admin/coupons")

merchant_router = APIRouter(prefix="/merchant", include_in_schema=False)
admin_router = APIRouter(
    prefix="/admin",
    include_in_schema=False,
    dependencies=[Depends(pages_admin.require_operator)],
)


# The form -------------------------------------------------------------------------------------


def terms_from(form: dict[str, str], funder: DiscountFunder, now_us: int) -> Terms:
    """The form as a template's terms; bad numbers are the template's own error."""
    kind = CouponKind.DISCOUNT if form.get("kind") == "discount" else CouponKind.FIXED
    fixed = kind is CouponKind.FIXED
    today = datetime_from_us(now_us).astimezone(CHINA_TZ).date()
    merchant = form.get("merchant_id", "").strip()
    issue_min = form.get("issue_min", "").strip()
    return Terms(
        name=form.get("name", "").strip()[: FIELD_LENGTH_MAX + 1],
        kind=kind,
        funder=funder,
        merchant_id=_int(merchant, "merchant id") if merchant else None,
        face_fen=_yuan(form.get("face", ""), "amount off") if fixed else 0,
        rate_permille=0 if fixed else _rate(form.get("rate", "")),
        cap_fen=0 if fixed else _yuan(form.get("cap", ""), "cap"),
        threshold_fen=_yuan(form.get("threshold", "") or "0", "threshold", zero=True),
        valid_from_us=_day_start(form.get("valid_from", "") or today.isoformat()),
        valid_until_us=_day_start(form.get("valid_until", ""), days_after=1),
        coupon_days=_int(form.get("coupon_days", "") or "0", "days"),
        budget_fen=_yuan(form.get("budget", ""), "budget"),
        count_max=_int(form.get("count", ""), "count"),
        per_user_max=_int(form.get("per_user", "") or "1", "per-user cap"),
        issue_min_fen=_yuan(issue_min, "payment to give after") if issue_min else None,
    )


def _yuan(text: str, what: str, *, zero: bool = False) -> int:
    try:
        return parse_yuan(text.strip()[:FIELD_LENGTH_MAX], allow_zero=zero)
    except DomainError:
        raise CouponTemplateInvalid(f"{what}: an amount in yuan like 10.00") from None


def _int(text: str, what: str) -> int:
    text = text.strip()
    if not text.isdigit() or len(text) > 9:
        raise CouponTemplateInvalid(f"{what}: a whole number")
    return int(text)


def _rate(text: str) -> int:
    """折 as typed (9, 8.5, 8.88) to what the buyer pays per thousand (900, 850, 888)."""
    try:
        permille = Decimal(text.strip()[:8]) * 100
    except InvalidOperation:
        raise CouponTemplateInvalid("rate: 折 like 9 or 8.5") from None
    if not permille.is_finite() or permille != permille.to_integral_value():
        raise CouponTemplateInvalid("rate: 折 like 9 or 8.5")
    return int(permille)


def _day_start(text: str, *, days_after: int = 0) -> int:
    try:
        day = date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise CouponTemplateInvalid("dates are YYYY-MM-DD") from None
    start = datetime.combine(day + timedelta(days=days_after), time(), tzinfo=CHINA_TZ)
    return us_from_datetime(start)


def rows_of(views: list[TemplateView], lang: str) -> list[dict[str, Any]]:
    rows = []
    for view in views:
        template, terms = view.template, view.template.terms
        rows.append(
            {
                "id": template.id,
                "name": terms.name,
                "rule": rule_text(terms, lang),
                "window": f"{day_of(terms.valid_from_us + 1)} – {day_of(terms.valid_until_us)}",
                "issue_min_fen": terms.issue_min_fen,
                "merchant_id": terms.merchant_id,
                "issued": template.issued_count,
                "count_max": terms.count_max,
                "left": template.left_count,
                "used": view.used_count,
                "spent_fen": view.used_fen,
                "budget_fen": terms.budget_fen,
                "reserved_fen": template.issued_fen,
                "status": template.status.value,
                "funder": terms.funder.value,
            }
        )
    return rows


def _form_defaults(now_us: int) -> dict[str, str]:
    today = datetime_from_us(now_us).astimezone(CHINA_TZ).date()
    return {
        "kind": "fixed",
        "threshold": "0",
        "valid_from": today.isoformat(),
        "valid_until": (today + timedelta(days=30)).isoformat(),
        "coupon_days": "0",
        "per_user": "1",
    }


# The merchant portal --------------------------------------------------------------------------


@merchant_router.get("/coupons")
def merchant_page(
    request: Request, merchant_id: int = Depends(portal.require_merchant)
) -> HTMLResponse:
    done = request.query_params.get("done") == "created"
    return _merchant_page(request, merchant_id, notice="cp_created" if done else None)


def _merchant_page(
    request: Request, merchant_id: int, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    lang = lang_of(request)
    now_us = portal.services(request)["trades"].clock.now_us()
    views = marketing(request).templates(merchant_id=merchant_id, limit=SHOWN_MAX)
    notice = extra.pop("notice", None)
    return portal.render(
        request,
        "coupons/merchant.html",
        status_code,
        title=portal.merchant_text(lang, "nav_coupons"),
        rows=rows_of(
            [v for v in views if v.template.created_by == f"merchant:{merchant_id}"], lang
        ),
        form=extra.pop("form", None) or _form_defaults(now_us),
        notice=portal.merchant_text(lang, notice) if notice else None,
        action="/merchant/coupons",
        **extra,
    )


@merchant_router.post("/coupons", dependencies=portal.CSRF)
async def merchant_create(
    request: Request, merchant_id: int = Depends(portal.require_merchant)
) -> Response:
    form = await portal.form_of(request)
    creator = Creator(merchant_id=merchant_id)
    try:
        now_us = portal.services(request)["trades"].clock.now_us()
        terms = terms_from({**form, "merchant_id": ""}, DiscountFunder.MERCHANT, now_us)
        marketing(request).create_template(terms, creator)
    except DomainError as error:
        extra = _failed(request, error, portal.merchant_error)
        return _merchant_page(request, merchant_id, 400, form=form, **extra)
    return RedirectResponse("/merchant/coupons?done=created", status_code=303)


@merchant_router.post("/coupons/{template_id}/stop", dependencies=portal.CSRF)
async def merchant_stop(
    request: Request, template_id: str, merchant_id: int = Depends(portal.require_merchant)
) -> Response:
    try:
        marketing(request).stop_template(parse_id(template_id), Creator(merchant_id=merchant_id))
    except DomainError as error:
        extra = _failed(request, error, portal.merchant_error)
        return _merchant_page(request, merchant_id, 404, **extra)
    return RedirectResponse("/merchant/coupons", status_code=303)


# The operators' console -----------------------------------------------------------------------


@admin_router.get("/coupons")
def admin_page(request: Request) -> HTMLResponse:
    done = request.query_params.get("done") == "created"
    return _admin_page(request, notice="cp_created" if done else None)


def _admin_page(request: Request, status_code: int = 200, **extra: Any) -> HTMLResponse:
    lang = lang_of(request)
    now_us = pages_admin.services(request)["trades"].clock.now_us()
    views = marketing(request).templates(limit=SHOWN_MAX)
    notice = extra.pop("notice", None)
    return pages_admin.render(
        request,
        "coupons/admin.html",
        status_code,
        title=pages_admin.admin_text(lang, "nav_coupons"),
        rows=rows_of(views, lang),
        form=extra.pop("form", None) or _form_defaults(now_us),
        notice=pages_admin.admin_text(lang, notice) if notice else None,
        action="/admin/coupons",
        **extra,
    )


@admin_router.post("/coupons", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("coupon.manage")
async def admin_create(
    request: Request, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        now_us = pages_admin.services(request)["trades"].clock.now_us()
        terms = terms_from(form, DiscountFunder.PLATFORM, now_us)
        marketing(request).create_template(terms, Creator(operator_id=operator_id))
    except DomainError as error:
        extra = _failed(request, error, pages_admin.admin_error)
        return _admin_page(request, 400, form=form, **extra)
    return RedirectResponse("/admin/coupons?done=created", status_code=303)


@admin_router.post("/coupons/{template_id}/stop", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("coupon.manage")
async def admin_stop(
    request: Request, template_id: str, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    try:
        marketing(request).stop_template(parse_id(template_id), Creator(operator_id=operator_id))
    except DomainError as error:
        return _admin_page(request, 404, **_failed(request, error, pages_admin.admin_error))
    return RedirectResponse("/admin/coupons", status_code=303)


def _failed(request: Request, error: DomainError, describe: Any) -> dict[str, Any]:
    """The console's error context; a template's own rule says which one it broke."""
    extra: dict[str, Any] = describe(request, error)
    if isinstance(error, CouponTemplateInvalid):
        extra["error"] = f"{extra['error']}: {error.message}"
    return extra


def install(app: Any) -> None:
    app.include_router(merchant_router)
    app.include_router(admin_router)
