"""Admin console: card refunds that need an operator's eye (`/admin/card-refunds`).

A refund of a card-paid trade goes back to the card (services/card_refunds.py). Two outcomes
are worth watching: the bank refused it (`failed`: the money stayed in the buyer's balance, the
buyer may ask where it went) and the bank has not answered yet (`processing`: held in the
buyer's wallet while a job asks again; many attempts or an old one means the bank link is
down). Both are listed, newest first, paged by refund id, with a filter for either one.
Nothing here changes a refund: the retry job settles a pending one by itself.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from paybao.services.card_refunds import UNSETTLED, CardRefundService
from paybao.web import pages_admin as admin
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of

PAGE_SIZE = 50

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(admin.require_operator)]
)
admin.add_nav("nav_card_refunds", "/admin/card-refunds")
admin.ADMIN_TEXTS.update(
    {
        "nav_card_refunds": {"zh": "银行卡退款", "en": "Card refunds"},
        "cr_hint": {
            "zh": "退回银行卡的退款中,被银行拒绝(钱留在买家余额)或仍在等待银行答复的。"
            "等待中的由后台任务自动重试。",
            "en": "Refunds going back to a card that the bank refused (the money stayed in "
            "the buyer's balance) or that still wait for the bank's answer; a job retries "
            "the waiting ones by itself.",
        },
        "cr_status_all": {"zh": "全部未完成", "en": "All unsettled"},
        "cr_status_failed": {"zh": "银行拒绝", "en": "Refused by the bank"},
        "cr_status_processing": {"zh": "等待银行", "en": "Waiting for the bank"},
        "cr_refund": {"zh": "退款号", "en": "Refund"},
        "cr_trade": {"zh": "交易号", "en": "Trade"},
        "cr_buyer": {"zh": "买家", "en": "Buyer"},
        "cr_failure": {"zh": "银行返回", "en": "Bank's code"},
        "cr_attempts": {"zh": "请求次数", "en": "Attempts"},
        "cr_finished": {"zh": "结束时间", "en": "Ended"},
        "cr_none": {"zh": "没有需要关注的银行卡退款", "en": "No card refund needs attention"},
    }
)


def _service(request: Request) -> CardRefundService:
    service: CardRefundService = platform_of(request).services["card_refunds"]
    return service


@router.get("/card-refunds")
def card_refunds(request: Request, status: str = "", before: int | None = None) -> HTMLResponse:
    chosen = status if status in UNSETTLED else None
    rows = _service(request).unsettled(chosen, before_refund_id=before, limit=PAGE_SIZE)
    next_before = rows[-1].refund_id if len(rows) == PAGE_SIZE else None
    filters: list[dict[str, Any]] = [
        {"status": value, "label": f"cr_status_{value or 'all'}", "active": value == (chosen or "")}
        for value in ("", *UNSETTLED)
    ]
    return admin.render(
        request,
        "admin/card_refunds.html",
        title=admin.admin_text(lang_of(request), "nav_card_refunds"),
        refunds=rows,
        status=chosen or "",
        filters=filters,
        next_before=next_before,
    )


def install(app: Any) -> None:
    app.include_router(router)
