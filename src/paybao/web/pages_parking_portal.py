"""Plate-bound parking for car park merchants and operators.

* The merchant portal's "停车场 / Car parks" page (`/merchant/parking`): the merchant's lots
  (parking_id, its own out_parking_id, name, address), its service configuration
  (config.set) if any, and its stays newest first (lot, plate, entry, exit, amount, status,
  the trade or the lot's own order number), filtered by status and paged by id. Scoped by the
  signed-in merchant: another merchant's lots and stays are never read.
* The console's read-only view (`/admin/parking`): every merchant's lots and stays, the same
  columns plus the merchant, and which merchant is the platform's own parking service (it
  holds the drivers' agreements, owns no lot and receives no money, so it lists no lots or
  stays here and is named once at the top instead of among the car parks).
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from paybao.domain.errors import DomainError
from paybao.domain.parking import PayStatus
from paybao.services.parking_views import ParkingViews, StayPage
from paybao.web import pages_admin as admin
from paybao.web import pages_merchant as portal
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of

PAGE_SIZE: Final = 50
STATUSES: Final = ("", "PARKED", *[status.value for status in PayStatus])

TEXTS: Final = {
    "nav_parking": {"zh": "停车场", "en": "Car parks"},
    "pk_lots": {"zh": "我的车场", "en": "Lots"},
    "pk_lot": {"zh": "车场", "en": "Lot"},
    "pk_none_lots": {
        "zh": "还没有停车场。用 alipay.eco.mycar.parking.parkinglotinfo.create 录入。",
        "en": "No lots yet. Register one with alipay.eco.mycar.parking.parkinglotinfo.create.",
    },
    "pk_out_id": {"zh": "车场编号", "en": "Your lot id"},
    "pk_address": {"zh": "地址", "en": "Address"},
    "pk_config": {"zh": "服务配置", "en": "Service configuration"},
    "pk_service_phone": {"zh": "客服电话", "en": "Service phone"},
    "pk_userpage": {"zh": "缴费页", "en": "Driver page"},
    "pk_no_config": {
        "zh": "未配置(alipay.eco.mycar.parking.config.set)",
        "en": "Not set (alipay.eco.mycar.parking.config.set)",
    },
    "pk_stays": {"zh": "停车记录", "en": "Stays"},
    "pk_none_stays": {"zh": "没有符合条件的停车记录", "en": "No stay matches"},
    "pk_plate": {"zh": "车牌", "en": "Plate"},
    "pk_in": {"zh": "入场", "en": "In"},
    "pk_out": {"zh": "出场", "en": "Out"},
    "pk_amount": {"zh": "金额", "en": "Amount"},
    "pk_status": {"zh": "状态", "en": "Status"},
    "pk_ref": {"zh": "交易号 / 订单号", "en": "Trade / order no."},
    "pk_all": {"zh": "全部", "en": "All"},
    "pk_older": {"zh": "更早", "en": "Older"},
    "pk_newest": {"zh": "最新", "en": "Newest"},
    "pk_merchant": {"zh": "商户", "en": "Merchant"},
    "pk_app": {"zh": "应用", "en": "app"},
    "pk_holder": {
        "zh": "平台停车服务商户(持有车主的无感支付协议,不收款,无车场)",
        "en": "The platform's parking service merchant (holds the drivers' auto-pay "
        "agreements; owns no lot, receives no money)",
    },
    "pk_status_": {"zh": "全部", "en": "All"},
    "pk_status_PARKED": {"zh": "在场", "en": "Parked"},
    "pk_status_UNPAID": {"zh": "待缴费", "en": "Unpaid"},
    "pk_status_PAID": {"zh": "无感支付", "en": "Auto-paid"},
    "pk_status_REFUSED": {"zh": "扣款被拒", "en": "Auto-pay refused"},
    "pk_status_PAID_OTHER": {"zh": "其他方式支付", "en": "Paid another way"},
}

merchant_router = APIRouter(prefix="/merchant", include_in_schema=False)
admin_router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(admin.require_operator)]
)
portal.add_nav("nav_parking", "/merchant/parking")
portal.add_texts(TEXTS)
admin.add_nav("nav_parking", "/admin/parking")
admin.ADMIN_TEXTS.update(TEXTS)


def _views(request: Request) -> ParkingViews:
    views: ParkingViews = platform_of(request).services["parking_views"]
    return views


def _page(
    request: Request, merchant_id: int | None, status: str, before: int | None
) -> tuple[StayPage, str]:
    """The stays page; "PARKED" is an UNPAID stay without its exit, filtered after the read
    (a page may then hold fewer rows, never other ones)."""
    status = status if status in STATUSES else ""
    wanted = PayStatus.UNPAID if status == "PARKED" else (PayStatus(status) if status else None)
    page = _views(request).page(merchant_id, status=wanted, before_id=before, limit=PAGE_SIZE)
    return page, status


def _rows(page: StayPage) -> list[dict[str, Any]]:
    rows = []
    for stay in page.stays:
        order = stay.order
        status = order.pay_status.value
        if status == "UNPAID" and order.out_at_us is None:
            status = "PARKED"
        rows.append({"s": stay, "o": order, "status": status})
    return rows


def _only(rows: list[dict[str, Any]], status: str) -> list[dict[str, Any]]:
    if status == "PARKED":
        return [row for row in rows if row["status"] == "PARKED"]
    if status == "UNPAID":
        return [row for row in rows if row["status"] == "UNPAID"]
    return rows


@merchant_router.get("/parking")
def merchant_parking(
    request: Request,
    status: str = "",
    before: int | None = None,
    merchant_id: int = Depends(portal.require_merchant),
) -> HTMLResponse:
    page, status = _page(request, merchant_id, status, before)
    configs = platform_of(request).services["parking_configs"]
    apps = platform_of(request).services["merchants"].apps_of(merchant_id)
    settings = [c for c in (configs.config_or_none(app.app_id) for app in apps) if c]
    return portal.render(
        request,
        "parking/portal.html",
        title=portal.merchant_text(lang_of(request), "nav_parking"),
        page=page,
        rows=_only(_rows(page), status),
        status=status,
        statuses=STATUSES,
        configs=settings,
        base="/merchant/parking",
        all_merchants=False,
    )


@admin_router.get("/parking")
def admin_parking(request: Request, status: str = "", before: int | None = None) -> HTMLResponse:
    from paybao.wiring.parking import HOLDER_APP_ID

    page, status = _page(request, None, status, before)
    services = platform_of(request).services
    try:
        holder = services["merchants"].app(HOLDER_APP_ID)
    except DomainError:  # not made yet: no driver has turned auto-pay on
        holder = None
    return admin.render(
        request,
        "parking/admin.html",
        title=admin.admin_text(lang_of(request), "nav_parking"),
        page=page,
        rows=_only(_rows(page), status),
        status=status,
        statuses=STATUSES,
        holder=holder,
        holder_app_id=HOLDER_APP_ID,
        base="/admin/parking",
        all_merchants=True,
    )


def install(app: Any) -> None:
    app.include_router(merchant_router)
    app.include_router(admin_router)
