"""Admin console: risk control — the review queue of held transfers, every recent decision with
its reasons, and the blacklist of accounts that may not be paid (`services/risk.py`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.errors import DomainError
from paybao.services.risk import RiskService
from paybao.web import pages_admin
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of

router = APIRouter(
    prefix="/admin/risk",
    include_in_schema=False,
    dependencies=[Depends(pages_admin.require_operator)],
)
pages_admin.add_nav("nav_risk", "/admin/risk")
# The page's words; a decision, review, action or reason shows as words with its code beside
# (`rk_decision_delay`, ...: a code without words shows as itself).
pages_admin.ADMIN_TEXTS.update(
    {
        "nav_risk": {"zh": "风控", "en": "Risk"},
        "rk_waiting": {
            "zh": "待审核的延迟到账转账",
            "en": "Held transfers waiting for review",
        },
        "rk_user": {"zh": "用户", "en": "User"},
        "rk_user_no": {"zh": "用户 {id}", "en": "user {id}"},
        "rk_payee": {"zh": "收款方", "en": "Payee"},
        "rk_amount": {"zh": "金额", "en": "Amount"},
        "rk_reasons": {"zh": "原因", "en": "Reasons"},
        "rk_held_at": {"zh": "冻结时间", "en": "Held"},
        "rk_holds": {"zh": "冻结单号", "en": "Holds"},
        "rk_release": {"zh": "立即到账", "en": "Release now"},
        "rk_confirm": {"zh": "按时到账", "en": "Let it land"},
        "rk_cancel": {"zh": "退回付款方", "en": "Return to payer"},
        "rk_no_waiting": {"zh": "没有待审核的转账。", "en": "Nothing is waiting for review."},
        "rk_decisions": {"zh": "最近的风控决策", "en": "Recent decisions"},
        "rk_when": {"zh": "时间", "en": "When"},
        "rk_action": {"zh": "业务", "en": "Action"},
        "rk_decision": {"zh": "决策", "en": "Decision"},
        "rk_review": {"zh": "人工审核", "en": "Review"},
        "rk_operator_no": {"zh": "操作员 {id}", "en": "operator {id}"},
        "rk_older": {"zh": "更早", "en": "Older"},
        "rk_no_decisions": {
            "zh": "还没有被延迟或拒绝的转账或提现。",
            "en": "No transfer or withdrawal has been held or refused.",
        },
        "rk_blacklist": {
            "zh": "黑名单(任何人都不能向这些账户付款)",
            "en": "Blacklist (nobody can pay these accounts)",
        },
        "rk_phone": {"zh": "手机号", "en": "Phone"},
        "rk_name": {"zh": "姓名", "en": "Name"},
        "rk_reason": {"zh": "原因", "en": "Reason"},
        "rk_added": {"zh": "加入时间", "en": "Added"},
        "rk_remove": {"zh": "移出", "en": "Remove"},
        "rk_no_blacklist": {"zh": "黑名单为空。", "en": "The blacklist is empty."},
        "rk_add": {"zh": "加入黑名单", "en": "Add to blacklist"},
        "rk_decision_pass": {"zh": "放行", "en": "Passed"},
        "rk_decision_delay": {"zh": "延迟到账", "en": "Held"},
        "rk_decision_challenge": {"zh": "需二次验证", "en": "Challenged"},
        "rk_decision_reject": {"zh": "拒绝", "en": "Refused"},
        "rk_review_released": {"zh": "已立即到账", "en": "Released"},
        "rk_review_confirmed": {"zh": "按时到账", "en": "Left to land"},
        "rk_review_cancelled": {"zh": "已退回付款方", "en": "Returned to the payer"},
        "rk_action_transfer": {"zh": "转账", "en": "Transfer"},
        "rk_action_withdrawal": {"zh": "提现", "en": "Withdrawal"},
        "rk_action_card_transfer": {"zh": "转账到卡", "en": "Transfer to a card"},
        "rk_action_card_repayment": {"zh": "信用卡还款", "en": "Credit card repayment"},
        "rk_action_code_pay": {"zh": "付款码支付", "en": "Payment code"},
        "rk_reason_blacklisted_payee": {"zh": "收款方在黑名单", "en": "Blacklisted payee"},
        "rk_reason_velocity": {"zh": "短时间内频繁转出", "en": "Too many in a short time"},
        "rk_reason_new_payee": {"zh": "首次向该收款方付款", "en": "New payee"},
        "rk_reason_amount_anomaly": {"zh": "金额异常", "en": "Unusual amount"},
    }
)
pages_admin.ADMIN_ERRORS.update(
    {
        "invalid_review": {"zh": "未知的审核操作", "en": "Unknown review"},
        "risk_decision_not_found": {"zh": "没有这条风控决策", "en": "No such risk decision"},
        "risk_already_reviewed": {
            "zh": "该决策已审核过",
            "en": "This decision is not waiting for review",
        },
        "risk_nothing_held": {
            "zh": "该决策没有冻结的转账",
            "en": "This decision holds no transfer",
        },
        "risk_already_resolved": {
            "zh": "该转账已到账或已取消",
            "en": "The transfer has already landed or been cancelled",
        },
        "blacklist_reason_invalid": {
            "zh": "请填写原因(200字以内)",
            "en": "Enter a reason (200 characters at most)",
        },
        "already_blacklisted": {
            "zh": "该账户已在黑名单中",
            "en": "This account is already blacklisted",
        },
        "not_blacklisted": {"zh": "该账户不在黑名单中", "en": "This account is not blacklisted"},
    }
)
# Shared with the users page, which may register it first: the wording of whichever comes.
pages_admin.ADMIN_ERRORS.setdefault(
    "user_not_found",
    {"zh": "没有使用这个手机号的账户", "en": "No paybao account with this phone number"},
)
DECISIONS_SHOWN = 50


def _risk(request: Request) -> RiskService:
    service: RiskService = platform_of(request).services["risk"]
    return service


@router.get("")
def queue(request: Request) -> HTMLResponse:
    return _page(request)


def _page(request: Request, **extra: Any) -> HTMLResponse:
    service = _risk(request)
    before = request.query_params.get("before", "")
    decisions = service.decisions(
        limit=DECISIONS_SHOWN, before_id=int(before) if before.isdigit() else None
    )
    return pages_admin.render(
        request,
        "admin/risk.html",
        status_code=400 if "error" in extra else 200,
        title=pages_admin.admin_text(lang_of(request), "nav_risk"),
        waiting=service.decisions(unreviewed=True, limit=DECISIONS_SHOWN),
        decisions=decisions,
        older=decisions[-1].id if len(decisions) == DECISIONS_SHOWN else None,
        blacklist=service.blacklist(),
        **extra,
    )


@router.post("/decisions/{decision_id}/review", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("risk.review")
async def review(
    request: Request, decision_id: int, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = await request.form()
    try:
        _risk(request).review(decision_id, str(form.get("review", "")), operator_id)
    except DomainError as error:
        return _page(request, **pages_admin.admin_error(request, error))
    return RedirectResponse("/admin/risk", status_code=303)


@router.post("/blacklist", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("risk.blacklist")
async def blacklist_add(
    request: Request, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    form = await request.form()
    try:
        _risk(request).blacklist_add(
            str(form.get("phone", "")), str(form.get("reason", "")), operator_id
        )
    except DomainError as error:
        return _page(request, **pages_admin.admin_error(request, error))
    return RedirectResponse("/admin/risk#blacklist", status_code=303)


@router.post("/blacklist/{user_id}/remove", dependencies=pages_admin.CSRF)
@pages_admin.operator_action("risk.blacklist")
async def blacklist_remove(
    request: Request, user_id: int, operator_id: int = Depends(pages_admin.require_operator)
) -> Response:
    try:
        _risk(request).blacklist_remove(user_id, operator_id)
    except DomainError as error:
        return _page(request, **pages_admin.admin_error(request, error))
    return RedirectResponse("/admin/risk#blacklist", status_code=303)


def install(app: Any) -> None:
    app.include_router(router)
