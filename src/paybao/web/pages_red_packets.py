"""Red packet pages (红包): the send form and the lists at /wallet/red-packets, and a packet's
own page at /red-packets/<id> (its share link: open it, claim, see who got what, its QR code).

Every POST checks CSRF; a DomainError re-renders the page with the message for its code. The
send form carries a one-time `idem` key, so a double submit sends one packet (the idempotency
service answers the second from the first). A claim is once per user by the database itself.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from paybao.adapters.qr import qr_svg
from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.money import parse_yuan
from paybao.domain.red_packets import Kind
from paybao.services.idempotency import fingerprint, without_secrets
from paybao.services.red_packets import RedPackets, SendRequest
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of, page_error
from paybao.web.pages_user import CSRF, form_of, render
from paybao.web.session import current_user_id, login_redirect

router = APIRouter(include_in_schema=False)
LIST_SHOWN = 20
IMAGE_CACHE = {"Cache-Control": "private, max-age=3600"}

ERRORS: dict[str, dict[str, str]] = {
    "red_packet_not_found": {"zh": "红包不存在", "en": "No such red packet"},
    "red_packet_empty": {"zh": "手慢了，红包派完了", "en": "Too slow: every share is taken"},
    "red_packet_expired": {
        "zh": "该红包已超过24小时，已过期",
        "en": "This red packet is more than 24 hours old: it has expired",
    },
    "red_packet_claimed": {"zh": "你已领取过这个红包", "en": "You have opened this one already"},
    "red_packet_not_for_you": {
        "zh": "这是发给别人的红包",
        "en": "This red packet is for someone else",
    },
    "red_packet_share_too_large": {
        "zh": "单个红包金额不可超过200元",
        "en": "A share is at most 200.00 CNY",
    },
    "red_packet_count_invalid": {"zh": "红包个数为1至100个", "en": "A packet has 1 to 100 shares"},
    "red_packet_total_too_small": {
        "zh": "每人至少0.01元",
        "en": "Each share is at least 0.01 CNY",
    },
    "red_packet_greeting_too_long": {
        "zh": "祝福语最多24个字",
        "en": "A greeting is at most 24 characters",
    },
    "red_packet_greeting_invalid": {"zh": "祝福语含有无效字符", "en": "The greeting is not text"},
    "payee_is_payer": {"zh": "不能发给自己", "en": "Send it to someone else"},
}
KIND_TEXT = {
    "lucky": {"zh": "拼手气红包", "en": "Lucky red packet"},
    "equal": {"zh": "普通红包", "en": "Equal red packet"},
    "single": {"zh": "个人红包", "en": "Red packet for one"},
}
STATE_TEXT = {
    "active": {"zh": "可领取", "en": "Open"},
    "finished": {"zh": "已领完", "en": "All taken"},
    "expired": {"zh": "已过期", "en": "Expired"},
}


def _service(request: Request) -> RedPackets:
    service: RedPackets = platform_of(request).services["red_packets"]
    return service


def _words(request: Request) -> dict[str, Any]:
    lang = lang_of(request)
    return {
        "kind_text": {k: v[lang] for k, v in KIND_TEXT.items()},
        "state_text": {k: v[lang] for k, v in STATE_TEXT.items()},
    }


# Send ---------------------------------------------------------------------------------------


def _send_page(request: Request, user_id: int, status_code: int = 200, **extra: Any) -> Response:
    service = _service(request)
    lang = lang_of(request)
    return render(
        request,
        "red_packets/send.html",
        status_code,
        title="发红包" if lang == "zh" else "Send a red packet",
        idem=secrets.token_urlsafe(16),
        sent=service.sent(user_id, limit=LIST_SHOWN).items,
        received=service.received(user_id, limit=LIST_SHOWN).items,
        waiting=service.waiting(user_id, limit=LIST_SHOWN),
        form=extra.pop("form", {}),
        greeting_default=service.policy.greeting_default,
        **_words(request),
        **extra,
    )


@router.get("/wallet/red-packets")
def send_page(request: Request) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    return _send_page(request, user_id)


@router.post("/wallet/red-packets", dependencies=CSRF)
async def send(request: Request) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    form = await form_of(request)
    service = _service(request)
    try:
        send_request = _send_request(form)

        def work() -> tuple[int, str]:
            sent = service.send(user_id, send_request, form.get("payment_password", ""))
            return 200, json.dumps({"id": sent.id})

        public = without_secrets({k: v for k, v in form.items() if k != "csrf_token"})
        digest = fingerprint("red_packet", *(f"{k}={v}" for k, v in sorted(public.items())))
        idem = form.get("idem") or secrets.token_urlsafe(8)
        _, body = (
            platform_of(request).services["idempotency"].run(f"form:{user_id}", idem, digest, work)
        )
    except DomainError as error:
        errors = page_error(request, error, ERRORS)
        return _send_page(request, user_id, 400, form=form, **errors)
    return RedirectResponse(f"/red-packets/{json.loads(body)['id']}", status_code=303)


def _send_request(form: dict[str, str]) -> SendRequest:
    try:
        kind = Kind(form.get("kind", ""))
        count = 1 if kind is Kind.SINGLE else int(form.get("count", "").strip() or "0")
    except ValueError:
        raise InvalidInput("choose a kind and a number of shares", code="invalid_input") from None
    amount_fen = parse_yuan(form.get("amount", "").strip())
    return SendRequest(
        kind=kind,
        count=count,
        total_fen=None if kind is Kind.EQUAL else amount_fen,
        share_fen=amount_fen if kind is Kind.EQUAL else None,
        greeting=form.get("greeting", ""),
        to_phone=form.get("to_phone", ""),
    )


# A packet -----------------------------------------------------------------------------------


def _packet_page(
    request: Request, user_id: int, packet_no: str, status_code: int = 200, **extra: Any
) -> Response:
    view = _service(request).packet(user_id, packet_no)
    lang = lang_of(request)
    return render(
        request,
        "red_packets/packet.html",
        status_code,
        title="红包" if lang == "zh" else "Red packet",
        packet=view,
        **_words(request),
        **extra,
    )


@router.get("/red-packets/{packet_no}")
def packet_page(request: Request, packet_no: str) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    try:
        return _packet_page(request, user_id, packet_no)
    except DomainError as error:
        return render(
            request,
            "user/info.html",
            404,
            title="404",
            sections=[],
            **page_error(request, error, ERRORS),
        )


@router.post("/red-packets/{packet_no}/claim", dependencies=CSRF)
def claim(request: Request, packet_no: str) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    try:
        _service(request).claim(user_id, packet_no)
    except DomainError as error:
        errors = page_error(request, error, ERRORS)
        try:
            return _packet_page(request, user_id, packet_no, 400, **errors)
        except DomainError:
            return render(request, "user/info.html", 404, title="404", sections=[], **errors)
    return RedirectResponse(f"/red-packets/{packet_no}", status_code=303)


@router.get("/red-packets/{packet_no}/qr.svg")
def packet_qr(request: Request, packet_no: str) -> Response:
    """The share link as a QR code, for whoever may see the packet."""
    user_id = current_user_id(request)
    if user_id is None:
        return Response(status_code=401)
    try:
        view = _service(request).packet(user_id, packet_no)
    except DomainError:
        return Response(status_code=404)
    return Response(qr_svg(view.share_url), media_type="image/svg+xml", headers=IMAGE_CACHE)


def install(app: Any) -> None:
    """Before the wallet pages: their `/wallet/{kind}` would shadow `/wallet/red-packets`."""
    from paybao.web import api_red_packets

    app.include_router(router)
    app.include_router(api_red_packets.router)
