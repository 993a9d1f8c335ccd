"""Admin console: payouts to bank cards (`/admin/payouts`) — withdrawals and card payouts.

The money still held by payouts (waiting for their time, or for the bank's answer), each kind's
payouts by status with their bank-query job, the stuck ones marked (no answer for 30 minutes,
or a query job that gave up), and for finance a button that asks the bank again now
(`services/payout_watch.py`). Paged by payout id, newest first.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import paybao.web.status_texts  # noqa: F401  (registers the status words in TEXTS)
from paybao.domain.errors import DomainError
from paybao.services.payout_watch import FILTERS, PayoutWatch
from paybao.web import pages_admin as admin
from paybao.web.deps import platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of

PAGE_SIZE = 50

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(admin.require_operator)]
)
admin.add_nav("nav_payouts", "/admin/payouts")
admin.ADMIN_TEXTS.update(
    {
        "nav_payouts": {"zh": "出款", "en": "Payouts"},
        "po_hint": {
            "zh": "提现和转账到银行卡:等待发出或等待银行答复的资金仍冻结在用户余额中。"
            "超过30分钟没有答复、或查询任务已放弃的标为“卡住”。",
            "en": "Withdrawals and transfers to cards: money waiting to be sent or for the "
            "bank's answer is still held in the user's wallet. No answer for 30 minutes, or a "
            "query job that gave up, is marked stuck.",
        },
        "po_kind_withdraw": {"zh": "提现", "en": "Withdrawals"},
        "po_kind_cardpayout": {"zh": "转账到卡 / 信用卡还款", "en": "Card transfers / repayments"},
        "po_status_open": {"zh": "资金冻结中", "en": "Money held"},
        "po_status_held": {"zh": "待发出", "en": "Waiting to be sent"},
        "po_status_sent": {"zh": "等待银行", "en": "Waiting for the bank"},
        "po_status_failed": {"zh": "失败", "en": "Failed"},
        "po_status_succeeded": {"zh": "成功", "en": "Succeeded"},
        "po_status_cancelled": {"zh": "已取消", "en": "Cancelled"},
        "po_in_flight": {"zh": "在途资金", "en": "Money in flight"},
        "po_payout": {"zh": "出款号", "en": "Payout"},
        "po_user": {"zh": "用户", "en": "User"},
        "po_fee": {"zh": "手续费", "en": "Fee"},
        "po_due": {"zh": "发出时间", "en": "Due"},
        "po_query": {"zh": "银行查询", "en": "Bank query"},
        "po_stuck": {"zh": "卡住", "en": "stuck"},
        "po_ask": {"zh": "立即查询银行", "en": "Ask the bank now"},
        "po_asked": {"zh": "已安排立即查询", "en": "The bank will be asked now"},
        "po_none": {"zh": "没有符合条件的出款", "en": "No payout matches"},
    }
)


def _watch(request: Request) -> PayoutWatch:
    service: PayoutWatch = platform_of(request).services["payout_watch"]
    return service


@router.get("/payouts")
def payouts(
    request: Request, kind: str = "", status: str = "open", before: int | None = None
) -> HTMLResponse:
    return _page(request, kind, status, before)


def _page(
    request: Request,
    kind: str,
    status: str,
    before: int | None,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    watch = _watch(request)
    kinds = watch.kinds()
    kind = kind if kind in kinds else kinds[0]
    status = status if status in FILTERS else "open"
    page = watch.payouts_page(kind, status, before_id=before, limit=PAGE_SIZE)
    return admin.render(
        request,
        "admin/payouts.html",
        status_code=status_code,
        title=admin.admin_text(lang_of(request), "nav_payouts"),
        in_flight=watch.in_flight(),
        kinds=kinds,
        kind=kind,
        filters=FILTERS,
        status=status,
        lines=page.lines,
        next_before=page.next_before_id,  # none on the last page, even a full one
        **extra,
    )


@router.post("/payouts/{kind}/{payout_id}/query", dependencies=admin.CSRF)
@admin.operator_action("payout.query")
async def ask_bank(
    request: Request,
    kind: str,
    payout_id: int,
    operator_id: int = Depends(admin.require_operator),
) -> Response:
    try:
        _watch(request).ask_bank_now(kind, payout_id, operator_id)
    except DomainError as error:
        context = admin.admin_error(request, error)
        return _page(request, kind, "open", None, status_for(error), **context)
    return RedirectResponse(f"/admin/payouts?kind={kind}&status=sent&asked={payout_id}", 303)


def install(app: Any) -> None:
    app.include_router(router)
