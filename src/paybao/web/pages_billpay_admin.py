"""The operators' billers page (`/admin/billers`): the list with what each biller's merchant
received and has not settled; create, disable and enable (the `biller.manage` action: admins),
each audited by the service (`biller.create|disable|enable`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import paybao.web.status_texts  # noqa: F401  (registers the status words in TEXTS)
from paybao.domain.billpay import CATEGORY_NAMES, CITY_NAMES, Category, display_name
from paybao.domain.errors import DomainError, InvalidInput
from paybao.services.billpay_billers import BillerService, NewBiller
from paybao.web import pages_admin
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of
from paybao.web.pages_user import form_of

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(pages_admin.require_operator)]
)
pages_admin.add_nav("nav_billers", "/admin/billers")
FIELD_LENGTH_MAX = 64
DONE = ("created", "disabled", "enabled")
pages_admin.ADMIN_TEXTS.update(
    {
        "nav_billers": {"zh": "缴费机构", "en": "Billers"},
        "bl_hint": {
            "zh": "生活缴费:每个缴费机构对应一个商户,用户缴纳的费用进入该商户的结算账户"
            "(与其他商户一样结算)。话费充值类的运营商以编码命名:cmcc、cucc 或 ctcc。"
            "也可用命令行",
            "en": "City services: each biller is backed by a merchant whose settlement account "
            "receives what users pay (settled as any merchant's). A carrier (category mobile) "
            "is named by its code: cmcc, cucc or ctcc. Also",
        },
        "bl_hint_end": {"zh": "。", "en": "."},
        "bl_code": {"zh": "编码", "en": "Code"},
        "bl_name": {"zh": "名称", "en": "Name"},
        "bl_category": {"zh": "类别", "en": "Category"},
        "bl_city": {"zh": "城市", "en": "City"},
        "bl_merchant": {"zh": "商户", "en": "Merchant"},
        "bl_unsettled": {"zh": "已收款未结算", "en": "Received, unsettled"},
        "bl_status": {"zh": "状态", "en": "Status"},
        "bl_disable": {"zh": "停用", "en": "Disable"},
        "bl_enable": {"zh": "启用", "en": "Enable"},
        "bl_none": {"zh": "还没有缴费机构。", "en": "No billers yet."},
        "bl_new": {"zh": "新增缴费机构", "en": "New biller"},
        "bl_code_field": {"zh": "编码(小写字母、数字、_)", "en": "Code (a-z, 0-9, _)"},
        "bl_merchant_field": {
            "zh": "商户号(留空则为其新建商户)",
            "en": "Merchant id (empty: create a merchant for it)",
        },
        "bl_create": {"zh": "创建", "en": "Create"},
        "bl_done_created": {"zh": "缴费机构已创建", "en": "Biller created"},
        "bl_done_disabled": {"zh": "缴费机构已停用", "en": "Biller disabled"},
        "bl_done_enabled": {"zh": "缴费机构已启用", "en": "Biller enabled"},
    }
)
pages_admin.ADMIN_ERRORS.update(
    {
        "biller_code_taken": {"zh": "该编码已被使用", "en": "This biller code is taken"},
        "biller_code_invalid": {
            "zh": "编码为2-32位小写字母、数字或下划线,以字母开头;运营商的编码为 cmcc、cucc 或 ctcc",
            "en": "A code is 2-32 characters a-z, 0-9 and _, starting with a letter; a "
            "carrier's is cmcc, cucc or ctcc",
        },
        "biller_name_invalid": {"zh": "请填写名称(64字以内)", "en": "Enter a name (64 at most)"},
        "biller_category_invalid": {"zh": "请选择类别", "en": "Choose a category"},
        "biller_city_invalid": {
            "zh": "请选择城市;运营商服务全国",
            "en": "Choose a city; carriers serve the whole country",
        },
        "biller_not_found": {"zh": "没有这个缴费机构", "en": "No such biller"},
        "merchant_not_found": {"zh": "没有这个商户号", "en": "No such merchant"},
    }
)


def _billers(request: Request) -> BillerService:
    service: BillerService = platform_of(request).services["billers"]
    return service


def _row_id(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) <= ROW_ID_MAX else None


@router.get("/billers")
def admin_billers(request: Request) -> HTMLResponse:
    return _admin_page(request)


def _admin_page(request: Request, status_code: int = 200, **extra: Any) -> HTMLResponse:
    billers = _billers(request)
    rows = [(b, billers.settlement_balance_fen(b)) for b in billers.all()]
    done = request.query_params.get("done", "")
    lang = lang_of(request)
    return pages_admin.render(
        request,
        "billpay/admin.html",
        status_code,
        title=pages_admin.admin_text(lang, "nav_billers"),
        rows=rows,
        cities=[(code, display_name(names, lang)) for code, names in CITY_NAMES.items()],
        categories=[(c.value, display_name(CATEGORY_NAMES[c], lang)) for c in Category],
        notice=pages_admin.admin_text(lang, f"bl_done_{done}") if done in DONE else None,
        form=extra.pop("form", {}),
        **extra,
    )


@router.post("/billers", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("biller.manage")
async def admin_create(
    request: Request, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = {k: v[:FIELD_LENGTH_MAX] for k, v in (await form_of(request)).items()}
    try:
        merchant_text = form.get("merchant_id", "").strip()
        merchant_id = _row_id(merchant_text)
        if merchant_text and merchant_id is None:
            raise InvalidInput("a merchant id is a number", code="merchant_not_found")
        new = NewBiller(
            code=form.get("code", ""),
            name=form.get("name", ""),
            category=form.get("category", ""),
            city=form.get("city", ""),
            merchant_id=merchant_id,
        )
        _billers(request).create(new, operator_id=operator_id)
    except DomainError as error:
        context = pages_admin.admin_error(request, error)
        return _admin_page(request, status_for(error), form=form, **context)
    return RedirectResponse("/admin/billers?done=created", status_code=303)


@router.post("/billers/{biller_id}/status", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("biller.manage")
async def admin_status(
    biller_id: int, request: Request, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = await form_of(request)
    active = form.get("status") == "active"
    try:
        if not 0 < biller_id <= ROW_ID_MAX:
            raise InvalidInput("no such biller", code="biller_not_found")
        _billers(request).set_active(biller_id, active, operator_id=operator_id)
    except DomainError as error:
        context = pages_admin.admin_error(request, error)
        return _admin_page(request, status_for(error), **context)
    done = "enabled" if active else "disabled"
    return RedirectResponse(f"/admin/billers?done={done}", status_code=303)
