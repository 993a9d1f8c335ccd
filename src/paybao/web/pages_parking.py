"""The wallet's parking page (`/wallet/parking`): bind one plate, enable password-free parking
auto-pay (payment password; per-deduction and monthly caps), change the caps, end auto-pay,
unbind; and the parking orders (lot, entry, exit, duration, amount, status).

Every POST checks CSRF; a DomainError re-renders the page with the message for its code.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from paybao.domain.errors import DomainError
from paybao.domain.money import parse_yuan
from paybao.domain.parking import Caps, duration_minutes
from paybao.services.parking import ParkingAccounts
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of, page_error
from paybao.web.pages_user import CSRF, form_of, render
from paybao.web.session import current_user_id, login_redirect

router = APIRouter(include_in_schema=False)
PAGE = "/wallet/parking"

ERRORS: dict[str, dict[str, str]] = {
    "invalid_plate": {
        "zh": "车牌号格式不正确（如 京A12345，新能源 粤BD12345）",
        "en": "Not a Chinese plate number (e.g. 京A12345, new energy 粤BD12345)",
    },
    "parking_plate_already_bound": {
        "zh": "每个账户只能绑定一个车牌，请先解绑",
        "en": "One plate per account: unbind the current one first",
    },
    "parking_plate_taken": {
        "zh": "该车牌已被其他账户绑定",
        "en": "This plate is bound to another account",
    },
    "parking_plate_not_bound": {"zh": "请先绑定车牌", "en": "Bind a plate first"},
    "invalid_parking_cap": {
        "zh": "单笔限额须在 0.01–100 元之间，每月限额不低于单笔限额",
        "en": "The per-payment cap is 0.01–100 CNY; the monthly cap is at least that",
    },
    "agreement_not_found": {"zh": "尚未开通无感支付", "en": "Auto-pay is not on"},
    "parking_service_not_configured": {
        "zh": "该停车场未提供缴费页面",
        "en": "This car park has no page to open",
    },
}
NOTICES = {
    "bound": {"zh": "车牌已绑定", "en": "Plate bound"},
    "enabled": {"zh": "已开通停车无感支付", "en": "Parking auto-pay is on"},
    "caps": {"zh": "限额已保存", "en": "Caps saved"},
    "disabled": {"zh": "已关闭无感支付", "en": "Auto-pay is off"},
    "unbound": {"zh": "车牌已解绑", "en": "Plate unbound"},
}
STATUS_TEXT = {
    "PARKED": {"zh": "停车中", "en": "Parked"},
    "UNPAID": {"zh": "待缴费", "en": "Unpaid"},
    "PAID": {"zh": "已无感支付", "en": "Paid by auto-pay"},
    "REFUSED": {"zh": "未能自动扣款，请在出口付款", "en": "Not auto-paid: pay at the exit"},
    "PAID_OTHER": {"zh": "已其他方式支付", "en": "Paid another way"},
}


def _parking(request: Request) -> ParkingAccounts:
    service: ParkingAccounts = platform_of(request).services["parking"]
    return service


def _page(request: Request, user_id: int, status_code: int = 200, **extra: Any) -> Response:
    lang = lang_of(request)
    service = _parking(request)
    overview = service.overview(user_id)
    rows = []
    for row in overview.orders:
        order = row.order
        status = order.pay_status.value
        if status == "UNPAID" and order.out_at_us is None:
            status = "PARKED"
        minutes = duration_minutes(order.in_at_us, order.out_at_us) if order.out_at_us else None
        rows.append(
            {
                "o": order,
                "lot": row.lot_name,
                "status": status,
                "minutes": minutes,
                "status_text": STATUS_TEXT[status][lang],
            }
        )
    done = request.query_params.get("done", "")
    notice = NOTICES[done][lang] if done in NOTICES else ""
    title = "停车无感支付" if lang == "zh" else "Parking auto-pay"
    return render(
        request,
        "parking/wallet.html",
        status_code,
        title=title,
        view=overview,
        rows=rows,
        notice=notice,
        single_max_fen=service.limits.single_fen_max,
        month_cap_fen=overview.agreement.user_cap_fen if overview.agreement else None,
        services=platform_of(request).services["parking_configs"].services_for(user_id),
        **extra,
    )


@router.get(PAGE)
def parking_page(request: Request) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    return _page(request, user_id)


async def _act(request: Request, action: Any, done: str) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    form = await form_of(request)
    try:
        action(user_id, form)
    except DomainError as error:
        return _page(request, user_id, 400, **page_error(request, error, ERRORS))
    return RedirectResponse(f"{PAGE}?done={done}", status_code=303)


def _caps(form: dict[str, str]) -> Caps:
    single = form.get("single_cap", "").strip()
    month = form.get("month_cap", "").strip()
    return Caps(
        single_fen=parse_yuan(single) if single else Caps().single_fen,
        month_fen=parse_yuan(month) if month else None,
    )


@router.post(PAGE + "/bind", dependencies=CSRF)
async def bind(request: Request) -> Response:
    service = _parking(request)
    return await _act(request, lambda u, f: service.bind(u, f.get("plate", "")[:16]), "bound")


@router.post(PAGE + "/auto-pay", dependencies=CSRF)
async def enable(request: Request) -> Response:
    service = _parking(request)

    def action(user_id: int, form: dict[str, str]) -> None:
        password = form.get("payment_password", "")
        if form.get("mode") == "caps":
            service.set_caps(user_id, password, _caps(form))
        else:
            service.enable_auto_pay(user_id, password, _caps(form))

    done = "caps" if (await form_of(request)).get("mode") == "caps" else "enabled"
    return await _act(request, action, done)


@router.post(PAGE + "/auto-pay/off", dependencies=CSRF)
async def disable(request: Request) -> Response:
    service = _parking(request)
    return await _act(request, lambda u, f: service.disable_auto_pay(u), "disabled")


@router.post(PAGE + "/unbind", dependencies=CSRF)
async def unbind(request: Request) -> Response:
    service = _parking(request)
    return await _act(request, lambda u, f: service.unbind(u), "unbound")


@router.post(PAGE + "/services/{app_id}", dependencies=CSRF)
async def open_service(request: Request, app_id: str) -> Response:
    """Send the driver to the car park's page with a car id for this plate (the consent that
    lets that app's vehicle.query see the plate; services/parking_configs.py)."""
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    configs = platform_of(request).services["parking_configs"]
    try:
        url = configs.open_service(user_id, app_id[:16])
    except DomainError as error:
        return _page(request, user_id, 400, **page_error(request, error, ERRORS))
    return RedirectResponse(url, status_code=303)


def install(app: Any) -> None:
    """Before the wallet pages: their `/wallet/{kind}` would shadow `/wallet/parking`. Also
    the merchant portal's and the console's parking pages (web/pages_parking_portal.py)."""
    from paybao.web import pages_parking_portal

    app.include_router(router)
    pages_parking_portal.install(app)
