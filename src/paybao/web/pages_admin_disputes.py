"""Admin console: the escrow disputes queue, a case page (both sides' messages and evidence,
the trade's history) with the three rulings, and the sandbox clock control."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import paybao.web.status_texts  # noqa: F401  (registers the status words in TEXTS)
from paybao.domain.errors import DomainError
from paybao.domain.money import parse_yuan
from paybao.services.escrow import EscrowService, Party
from paybao.web import pages_admin
from paybao.web.deps import platform_of
from paybao.web.escrow_notes import history
from paybao.web.i18n import lang_of

router = APIRouter(
    prefix="/admin",
    include_in_schema=False,
    dependencies=[Depends(pages_admin.require_operator)],
)
pages_admin.add_nav("Disputes", "/admin/disputes")
pages_admin.add_nav("nav_clock", "/admin/clock")
# The pages' words. How a trade ended (`resolution`, the event that ended it) shows as words
# with the code beside; a code without words shows as itself. The history reads as the
# parties read it (web/escrow_notes.py), each line the service wrote keeping its record as a
# title.
pages_admin.ADMIN_TEXTS.update(
    {
        "nav_clock": {"zh": "沙箱时钟", "en": "Clock"},
        "ds_no": {"zh": "交易号", "en": "No."},
        "ds_title": {"zh": "商品", "en": "Title"},
        "ds_amount": {"zh": "金额", "en": "Amount"},
        "ds_asked_back": {"zh": "申请退款", "en": "Asked back"},
        "ds_since": {"zh": "发货时间", "en": "Since"},
        "ds_none": {"zh": "没有待处理的争议。", "en": "No open disputes."},
        "ds_case": {"zh": "争议 {no}", "en": "Case {no}"},
        "ds_status": {"zh": "状态", "en": "Status"},
        "ds_held": {"zh": "担保金额", "en": "Amount held"},
        "ds_parties": {"zh": "买家 / 卖家", "en": "Buyer / seller"},
        "ds_user_no": {"zh": "用户 {id}", "en": "user {id}"},
        "ds_merchant_no": {"zh": "商户 {id}", "en": "merchant {id}"},
        "ds_shipping": {"zh": "物流", "en": "Shipping"},
        "ds_refund_asked": {"zh": "申请退款", "en": "Refund asked"},
        "ds_outcome": {"zh": "处理结果", "en": "Outcome"},
        "ds_refunded": {"zh": "已退款 {amount}", "en": "refunded {amount}"},
        "ds_messages": {"zh": "留言与凭证", "en": "Messages and evidence"},
        "ds_evidence": {"zh": "凭证图片", "en": "evidence"},
        "ds_decision": {"zh": "裁决", "en": "Decision"},
        "ds_refund_all": {"zh": "全额退款给买家", "en": "Refund all to the buyer"},
        "ds_refund_part": {"zh": "部分退款:", "en": "Refund part:"},
        "ds_yuan": {"zh": "元", "en": "yuan"},
        "ds_release": {"zh": "全部打款给卖家", "en": "Release everything to the seller"},
        "ds_note": {"zh": "裁决说明", "en": "Note"},
        "ds_decide": {"zh": "提交裁决", "en": "Decide"},
        "ds_end_unpaid": {"zh": "未付款关闭", "en": "closed unpaid"},
        "ds_end_cancel": {"zh": "发货前买家取消", "en": "cancelled before shipment"},
        "ds_end_confirm": {"zh": "确认收货", "en": "goods confirmed"},
        "ds_end_agree_refund_all": {"zh": "卖家同意全额退款", "en": "seller refunded all"},
        "ds_end_agree_refund_part": {"zh": "卖家同意部分退款", "en": "seller refunded part"},
        "ds_end_lapse": {"zh": "买家未申请介入", "en": "buyer did not escalate"},
        "ds_end_rule_refund_all": {"zh": "平台裁决全额退款", "en": "ruled: refund all"},
        "ds_end_rule_refund_part": {"zh": "平台裁决部分退款", "en": "ruled: refund part"},
        "ds_end_rule_release": {"zh": "平台裁决打款给卖家", "en": "ruled: release to the seller"},
        "ck_title": {"zh": "沙箱时钟", "en": "Sandbox clock"},
        "ck_now": {"zh": "平台时间:", "en": "Platform time:"},
        "ck_duration": {"zh": "快进时长(如 3h、10d)", "en": "Advance by (e.g. 3h, 10d)"},
        "ck_advance": {"zh": "快进并执行到期的定时任务", "en": "Advance and run due timers"},
        "ck_not_sandbox": {
            "zh": "只有沙箱模式下时钟才能快进。",
            "en": "The clock moves only in sandbox mode.",
        },
        "ck_advanced": {
            "zh": "已快进,执行了 {jobs} 个定时任务",
            "en": "advanced; {jobs} timers ran",
        },
    }
)
# Refusals a ruling or an advance can meet, in the console's words (the others: the wallet's).
pages_admin.ADMIN_ERRORS.update(
    {
        "escrow_status_error": {
            "zh": "当前状态不能进行此操作",
            "en": "Not possible in the trade's current state",
        },
        "escrow_already_finished": {"zh": "交易已完成", "en": "The trade is finished"},
        "escrow_closed": {"zh": "交易已关闭", "en": "The trade is closed"},
        "escrow_refund_exceeds_held": {
            "zh": "退款金额不能超过担保金额",
            "en": "The refund may not exceed what is held",
        },
        "invalid_note": {"zh": "请填写裁决说明(500字以内)", "en": "Enter a note"},
        "invalid_duration": {
            "zh": "时长格式如 90s、15m、3h 或 10d(1秒至400天)",
            "en": "Durations look like 90s, 15m, 3h or 10d (1 s to 400 days)",
        },
    }
)
_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def _escrow(request: Request) -> EscrowService:
    service: EscrowService = platform_of(request).services["escrow"]
    return service


@router.get("/disputes")
def disputes(request: Request) -> HTMLResponse:
    rows = _escrow(request).disputes()
    title = pages_admin.admin_text(lang_of(request), "Disputes")
    return pages_admin.render(request, "escrow/admin_disputes.html", title=title, rows=rows)


@router.get("/disputes/{escrow_no}")
def case(request: Request, escrow_no: str) -> HTMLResponse:
    return _case_page(request, escrow_no)


def _case_page(request: Request, escrow_no: str, **extra: Any) -> HTMLResponse:
    service = _escrow(request)
    operator = Party.operator()
    escrow = service.get_for(escrow_no, operator)
    lang = lang_of(request)
    return pages_admin.render(
        request,
        "escrow/admin_case.html",
        status_code=400 if "error" in extra else 200,
        title=pages_admin.admin_text(lang, "ds_case", no=escrow_no),
        e=escrow,
        lines=history(service.messages(escrow_no, operator), lang),
        **extra,
    )


@router.get("/disputes/{escrow_no}/image/{message_id}")
def image(request: Request, escrow_no: str, message_id: int) -> Response:
    data, content_type = _escrow(request).image(escrow_no, message_id, Party.operator())
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}
    return Response(data, media_type=content_type, headers=headers)


@router.post("/disputes/{escrow_no}/rule", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("dispute.rule")
async def rule(
    request: Request, escrow_no: str, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = await request.form()
    decision = str(form.get("decision", ""))
    service = _escrow(request)
    try:
        escrow = service.get(escrow_no)
        refund_fen = {
            "refund_all": escrow.total_fen,
            "release": 0,
        }.get(decision)
        if refund_fen is None:
            refund_fen = parse_yuan(str(form.get("amount", "")))
        service.rule(escrow_no, Party.operator(operator_id), refund_fen, str(form.get("note", "")))
    except DomainError as error:
        return _case_page(request, escrow_no, **pages_admin.admin_error(request, error))
    return RedirectResponse(f"/admin/disputes/{escrow_no}", status_code=303)


@router.get("/clock")
def clock(request: Request) -> HTMLResponse:
    return _clock_page(request)


def _clock_page(request: Request, **extra: Any) -> HTMLResponse:
    platform = platform_of(request)
    return pages_admin.render(
        request,
        "escrow/admin_clock.html",
        status_code=400 if "error" in extra else 200,
        title=pages_admin.admin_text(lang_of(request), "ck_title"),
        now_us=platform.clock.now_us(),
        sandbox=platform.settings.sandbox,
        **extra,
    )


@router.post("/clock/advance", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("clock.advance")
async def advance(request: Request) -> Response:
    form = await request.form()
    text = str(form.get("duration", "")).strip()
    unit_s = _UNITS_S.get(text[-1:], 0)
    digits = text[:-1] if unit_s else text
    try:
        if not digits.isdigit() or int(digits) <= 0:
            raise DomainError("durations look like 90s, 15m, 3h or 10d", code="invalid_duration")
        report = platform_of(request).sandbox_clock.advance(int(digits) * (unit_s or 1))
    except DomainError as error:
        return _clock_page(request, **pages_admin.admin_error(request, error))
    notice = pages_admin.admin_text(lang_of(request), "ck_advanced", jobs=report.jobs_run)
    return _clock_page(request, notice=notice)


def install(app: Any) -> None:
    app.include_router(router)
