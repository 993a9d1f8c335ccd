"""The wallet's membership cards (我的会员卡), services/member_cards.py behind them.

- `/wallet/member-cards`: the user's live cards, each on its template's colour;
- `/wallet/member-cards/{id}`: one card: its face (name, level, points, the merchant's stored
  balance), the code to show at the till, the template's columns and buttons, and its history
  (newest first, HISTORY_PAGE_SIZE a page, `?before=<id>` for older); the user may delete it.
  The code follows the template's write_off_type as it is now: static (qrcode / barcode) is
  `qr.svg`, a QR of the card number, or of the merchant's own number when it gave one, and a
  `barcode.png` too for barcode when the number is digits; dynamic (dqrcode / dbarcode) is a
  short-lived code (services/member_card_codes.py) that static/member_card_code.js asks for with
  `POST /wallet/member-cards/{id}/code` (CSRF header; JSON `{code, expires_in_s, barcode}`;
  429 with `retry_after_s` when asked again within seconds, 409 once the template is static)
  and draws in the page, asking again before each runs out. A dynamic card has no static
  images (404): the number must not be scannable where the merchant wants a code that dies;
- `/wallet/member-cards/apply/{template_id}` (also `/wallet/cards/apply/{template_id}`, the
  link merchants hand out): after sign-in, the template and a button to take the card; a user
  who holds it already goes straight to it.

The balance shown is the merchant's own stored value: the page says it is not paybao money, and
nothing here moves any. Every POST checks CSRF; a card that is not the user's own is a 404, as
one that does not exist.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from paybao.adapters.qr import code128_png, qr_svg
from paybao.domain.errors import DomainError
from paybao.domain.member_card_codes import DYNAMIC_CODE_REFRESH_AHEAD_S
from paybao.domain.member_cards import code_value, format_point
from paybao.services.member_card_codes import MemberCardCodes
from paybao.services.member_cards import MemberCardService
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of, page_error
from paybao.web.pages_user import CSRF, _active_user, render
from paybao.web.session import login_redirect

router = APIRouter(include_in_schema=False)
ROOT = "/wallet/member-cards"
TEMPLATE_ID_LENGTH_MAX = 32
IMAGE_HEADERS = {"Cache-Control": "private, max-age=60"}
# A dynamic code is for this screen only: no cache, no proxy, no back-button copy keeps it.
CODE_HEADERS = {"Cache-Control": "no-store"}
CODE_STATUS = {"member_card_code_too_soon": 429, "member_card_code_static": 409}
ERRORS: dict[str, dict[str, str]] = {
    "member_card_not_found": {"zh": "会员卡不存在", "en": "No such membership card"},
    "member_card_template_not_found": {
        "zh": "会员卡不存在或已下架",
        "en": "No such membership card offer",
    },
    "member_card_cancelled": {
        "zh": "你在该商户的会员卡已销户,不能再次领取",
        "en": "Your card with this merchant was cancelled; it cannot be taken again",
    },
    "account_frozen": {"zh": "账户已冻结,暂不能领卡", "en": "The account is frozen"},
}


def _cards(request: Request) -> MemberCardService:
    service: MemberCardService = platform_of(request).services["member_cards"]
    return service


def _codes(request: Request) -> MemberCardCodes:
    service: MemberCardCodes = platform_of(request).services["member_card_codes"]
    return service


def _user_id(request: Request) -> int | None:
    user = _active_user(request)
    return None if user is None else int(user.id)


def _zh(request: Request) -> bool:
    return lang_of(request) == "zh"


@router.get(ROOT)
def cards_page(request: Request) -> Response:
    user_id = _user_id(request)
    if user_id is None:
        return login_redirect(request)
    zh = _zh(request)
    notice = ""
    if request.query_params.get("done") == "deleted":
        notice = "会员卡已删除" if zh else "Card deleted"
    return render(
        request,
        "member_cards/list.html",
        title="我的会员卡" if zh else "Membership cards",
        rows=_cards(request).cards_of(user_id),
        point=format_point,
        notice=notice,
    )


# Taking a card from a merchant's link -----------------------------------------------------------


@router.get("/wallet/cards/apply/{template_id}")
def apply_link(template_id: str) -> Response:
    """The short link merchants print: the apply page proper lives under the cards."""
    return RedirectResponse(f"{ROOT}/apply/{template_id[:TEMPLATE_ID_LENGTH_MAX]}", 303)


@router.get(ROOT + "/apply/{template_id}")
def apply_page(request: Request, template_id: str) -> Response:
    user_id = _user_id(request)
    if user_id is None:
        return login_redirect(request)
    cards = _cards(request)
    try:
        template = cards.template(template_id[:TEMPLATE_ID_LENGTH_MAX])
    except DomainError as error:
        return _apply_error(request, error, 404)
    held = [row for row in cards.cards_of(user_id) if row.template.template_id == template_id]
    if held:
        return RedirectResponse(f"{ROOT}/{held[0].card.id}", status_code=303)
    return _apply_form(request, template)


def _apply_form(request: Request, template: Any, status_code: int = 200, **extra: Any) -> Response:
    zh = _zh(request)
    return render(
        request,
        "member_cards/apply.html",
        status_code,
        title="领取会员卡" if zh else "Take the card",
        template=template,
        merchant_name=_merchant_name(request, template.merchant_id),
        **extra,
    )


def _apply_error(request: Request, error: DomainError, status_code: int) -> Response:
    zh = _zh(request)
    return render(
        request,
        "member_cards/apply.html",
        status_code,
        title="领取会员卡" if zh else "Take the card",
        template=None,
        **page_error(request, error, ERRORS),
    )


@router.post(ROOT + "/apply/{template_id}", dependencies=CSRF)
def apply(request: Request, template_id: str) -> Response:
    user_id = _user_id(request)
    if user_id is None:
        return login_redirect(request)
    cards = _cards(request)
    try:
        opened = cards.apply(user_id, template_id[:TEMPLATE_ID_LENGTH_MAX])
    except DomainError as error:
        try:
            template = cards.template(template_id[:TEMPLATE_ID_LENGTH_MAX])
        except DomainError:
            return _apply_error(request, error, 404)
        return _apply_form(request, template, 400, **page_error(request, error, ERRORS))
    return RedirectResponse(f"{ROOT}/{opened.card.id}", status_code=303)


# One card -------------------------------------------------------------------------------------


@router.get(ROOT + "/{card_id}")
def card_page(request: Request, card_id: int, before: int | None = None) -> Response:
    user_id = _user_id(request)
    if user_id is None:
        return login_redirect(request)
    try:
        view = _cards(request).card_view(user_id, card_id, before)
    except DomainError as error:
        return _missing(request, error)
    card = view.card
    write_off = view.template.spec.write_off
    value = code_value(card.biz_card_no, card.external_card_no)
    return render(
        request,
        "member_cards/card.html",
        title=view.template.spec.style.card_show_name,
        view=view,
        code=value,
        barcode=write_off.barcode and _digits(value),
        dynamic=write_off.dynamic,
        refresh_ahead_s=DYNAMIC_CODE_REFRESH_AHEAD_S,
        level_name=view.template.spec.level_name(card.level) if card.level else "",
        point=format_point,
    )


def _missing(request: Request, error: DomainError) -> Response:
    return render(
        request,
        "member_cards/list.html",
        404,
        title="我的会员卡" if _zh(request) else "Membership cards",
        rows=_cards(request).cards_of(_user_id(request) or 0),
        point=format_point,
        **page_error(request, error, ERRORS),
    )


def _own_code(request: Request, card_id: int) -> str | None:
    """The static code of the user's own card; None for a dynamic one (it has no fixed code)."""
    user_id = _user_id(request)
    if user_id is None:
        return None
    cards = _cards(request)
    try:
        card = cards.user_card(user_id, card_id)
        if cards.template(card.template_id).spec.write_off.dynamic:
            return None
    except DomainError:
        return None
    return code_value(card.biz_card_no, card.external_card_no)


@router.post(ROOT + "/{card_id}/code", dependencies=CSRF)
def dynamic_code(request: Request, card_id: int) -> Response:
    """A fresh dynamic code of the user's own card, for the page's script to draw."""
    user_id = _user_id(request)
    if user_id is None:
        return JSONResponse({"error": "login_required"}, 401, headers=CODE_HEADERS)
    try:
        issued = _codes(request).issue(user_id, card_id)
    except DomainError as error:
        status_code = CODE_STATUS.get(error.code, 404)
        body: dict[str, object] = {"error": error.code}
        headers = dict(CODE_HEADERS)
        if "retry_after_s" in error.data:
            body["retry_after_s"] = error.data["retry_after_s"]
            headers["Retry-After"] = str(error.data["retry_after_s"])
        return JSONResponse(body, status_code, headers=headers)
    body = {"code": issued.code, "expires_in_s": issued.expires_in_s, "barcode": issued.barcode}
    return JSONResponse(body, headers=CODE_HEADERS)


@router.get(ROOT + "/{card_id}/qr.svg")
def card_qr(request: Request, card_id: int) -> Response:
    value = _own_code(request, card_id)
    if value is None:
        return Response(status_code=404)
    return Response(qr_svg(value), media_type="image/svg+xml", headers=IMAGE_HEADERS)


@router.get(ROOT + "/{card_id}/barcode.png")
def card_barcode(request: Request, card_id: int) -> Response:
    value = _own_code(request, card_id)
    if value is None or not _digits(value):
        return Response(status_code=404)
    return Response(code128_png(value), media_type="image/png", headers=IMAGE_HEADERS)


@router.post(ROOT + "/{card_id}/delete", dependencies=CSRF)
def delete(request: Request, card_id: int) -> Response:
    user_id = _user_id(request)
    if user_id is None:
        return login_redirect(request)
    try:
        _cards(request).delete_by_user(user_id, card_id)
    except DomainError as error:
        return _missing(request, error)
    return RedirectResponse(f"{ROOT}?done=deleted", status_code=303)


def _digits(value: str) -> bool:
    """What a Code128 barcode can carry (paybao draws digits only)."""
    return value.isascii() and value.isdigit()


def _merchant_name(request: Request, merchant_id: int) -> str:
    try:
        return str(platform_of(request).services["merchants"].merchant(merchant_id).name)
    except DomainError:
        return ""


def install(app: Any) -> None:
    """Before the wallet pages: their `/wallet/{kind}` would shadow `/wallet/member-cards`.
    Also the merchant portal's page of templates."""
    from paybao.web import pages_member_card_portal

    app.include_router(router)
    pages_member_card_portal.install(app)
