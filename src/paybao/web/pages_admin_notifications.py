"""Admin console: merchants' trade notifications (`/admin/notifications`).

The newest notifications of every merchant (filter by delivery status and merchant id, 50 a
page), one notification with every delivery attempt and who resent it, and a resend button for
finance and admin (`notify.resend`): one more delivery now with the same notify_id, as the
merchant's own portal button does (services/notify.py), audited under the operator.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import paybao.web.status_texts  # noqa: F401  (registers the status words in TEXTS)
from paybao.adapters.db.admin_notify_queries import STATUSES, notifications_page
from paybao.adapters.db.admin_queries import audit_page, operator_names
from paybao.domain.errors import DomainError, NotFound
from paybao.services.notify import NotifyService
from paybao.web import pages_admin as admin
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of

PAGE_SIZE = 50
NOTIFY_ID_LENGTH_MAX = 64
HISTORY_ROWS = 20

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(admin.require_operator)]
)
admin.add_nav("nav_notifications", "/admin/notifications")
admin.ADMIN_TEXTS.update(
    {
        "created_at": {"zh": "创建时间", "en": "Created"},
        "nav_notifications": {"zh": "商户通知", "en": "Notifications"},
        "notify_id": {"zh": "通知 ID", "en": "Notify ID"},
        "merchant_id": {"zh": "商户ID", "en": "Merchant id"},
        "out_trade_no": {"zh": "商户订单号", "en": "Merchant order no."},
        "event": {"zh": "事件", "en": "Event"},
        "delivery": {"zh": "推送状态", "en": "Delivery"},
        "attempts": {"zh": "推送次数", "en": "Attempts"},
        "last_attempt": {"zh": "最近推送", "en": "Last attempt"},
        "http_status": {"zh": "HTTP 状态", "en": "HTTP status"},
        "duration": {"zh": "耗时(ms)", "en": "Time (ms)"},
        "notify_all": {"zh": "全部", "en": "All"},
        "notify_pending": {"zh": "待推送", "en": "Pending"},
        "notify_delivered": {"zh": "已送达", "en": "Delivered"},
        "notify_failed": {"zh": "已放弃", "en": "Given up"},
        "filter": {"zh": "筛选", "en": "Filter"},
        "no_notifications": {"zh": "没有通知", "en": "No notifications"},
        "resend": {"zh": "重新推送", "en": "Resend"},
        "resent": {
            "zh": "已安排立即重新推送(同一通知 ID)",
            "en": "One more delivery scheduled now (same notify ID)",
        },
        "resent_already": {
            "zh": "已有一次重新推送在排队,未重复安排",
            "en": "A resend is already waiting to run; none added",
        },
        "notify_history": {"zh": "操作记录", "en": "Operator actions"},
        "older": {"zh": "更早", "en": "Older"},
    }
)
admin.ADMIN_ERRORS.update(
    {"notification_not_found": {"zh": "没有这条通知", "en": "No such notification"}}
)


def _notify(request: Request) -> NotifyService:
    service: NotifyService = platform_of(request).services["notify"]
    return service


def _int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name, "").strip()
    return int(value) if value.isdigit() and 0 < int(value) <= ROW_ID_MAX else None


@router.get("/notifications")
def notifications(request: Request) -> HTMLResponse:
    status = request.query_params.get("status", "")
    status = status if status in STATUSES else ""
    merchant_id = _int_param(request, "merchant")
    with platform_of(request).db.read() as tx:
        rows = notifications_page(
            tx,
            status=status,
            merchant_id=merchant_id,
            before_id=_int_param(request, "before"),
            limit=PAGE_SIZE,
        )
    return admin.render(
        request,
        "admin/notifications.html",
        title=admin.admin_text(lang_of(request), "nav_notifications"),
        rows=rows,
        status=status,
        statuses=STATUSES,
        merchant_id=merchant_id,
        next_before=rows[-1].id if len(rows) == PAGE_SIZE else None,
    )


def _detail(request: Request, notify_id: str, status_code: int = 200, **extra: Any) -> Response:
    notification = _notify(request).notification(notify_id[:NOTIFY_ID_LENGTH_MAX])
    if notification is None:
        error = NotFound("no such notification", code="notification_not_found")
        return admin.render(request, "admin/message.html", 404, **admin.admin_error(request, error))
    with platform_of(request).db.read() as tx:
        history = audit_page(
            tx, before_id=None, limit=HISTORY_ROWS, subject=f"notify:{notification.notify_id}"
        )
        names = operator_names(tx, {int(r.operator_id) for r in history if r.operator_id})
    return admin.render(
        request,
        "admin/notification.html",
        status_code,
        title=notification.notify_id,
        n=notification,
        attempts=_notify(request).attempts_of(notification.id),
        audit=history,
        names=names,
        **extra,
    )


@router.get("/notifications/{notify_id}")
def notification_page(request: Request, notify_id: str) -> Response:
    done = request.query_params.get("done", "")
    notice = (
        admin.admin_text(lang_of(request), done) if done in ("resent", "resent_already") else None
    )
    return _detail(request, notify_id, notice=notice)


@router.post("/notifications/{notify_id}/resend", dependencies=admin.CSRF)
@admin.operator_action("notify.resend")
def resend(
    request: Request, notify_id: str, operator_id: int = Depends(admin.require_operator)
) -> Response:
    notify_id = notify_id[:NOTIFY_ID_LENGTH_MAX]
    try:
        scheduled = _notify(request).resend_by_operator(operator_id, notify_id)
    except DomainError as error:
        return _detail(request, notify_id, status_for(error), **admin.admin_error(request, error))
    done = "resent" if scheduled else "resent_already"
    return RedirectResponse(f"/admin/notifications/{notify_id}?done={done}", status_code=303)


def install(app: Any) -> None:
    app.include_router(router)
