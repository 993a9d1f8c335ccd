"""Portal membership cards (会员卡): the signed-in merchant's card templates (made through
alipay.marketing.card.template.create by its apps), each with its count of live cards, when its
app last changed it (template.modify; "-" if never), and the link that lets a wallet user take
the card (`/wallet/cards/apply/<template_id>`), as text and
as a QR code to print."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from paybao.adapters.qr import qr_svg
from paybao.domain.errors import DomainError
from paybao.web import pages_merchant as portal
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of

router = APIRouter(prefix="/merchant", include_in_schema=False)
portal.add_nav("nav_member_cards", "/merchant/member-cards")
portal.add_texts(
    {
        "nav_member_cards": {"zh": "会员卡", "en": "Membership cards"},
        "member_cards_hint": {
            "zh": "用开放接口 alipay.marketing.card.template.create 创建会员卡模板;"
            "用 alipay.marketing.card.template.modify 修改(已领的卡随之更新);"
            "用户扫码或打开领卡链接即可领卡,也可由你的应用调用 alipay.marketing.card.open 开卡。"
            "卡上的余额是你自己的储值,paybao 只展示,不记账。",
            "en": "Create templates with alipay.marketing.card.template.create and change them"
            " with alipay.marketing.card.template.modify (cards already held follow);"
            " users take a card"
            " from its link or QR code, or your app opens one with alipay.marketing.card.open."
            " A card's balance is your own stored value: paybao shows it and never books it.",
        },
        "member_cards_none": {"zh": "还没有会员卡模板。", "en": "No card templates yet."},
        "member_cards_template": {"zh": "模板", "en": "Template"},
        "member_cards_app": {"zh": "应用", "en": "App"},
        "member_cards_count": {"zh": "持卡人数", "en": "Cards held"},
        "member_cards_modified": {"zh": "最近修改", "en": "Last changed"},
        "member_cards_link": {"zh": "领卡链接", "en": "Link to take the card"},
    }
)


def apply_url(request: Request, template_id: str) -> str:
    base_url = platform_of(request).settings.base_url.rstrip("/")
    return f"{base_url}/wallet/cards/apply/{template_id}"


@router.get("/member-cards")
def templates_page(
    request: Request, merchant_id: int = Depends(portal.require_merchant)
) -> HTMLResponse:
    rows = portal.services(request)["member_cards"].templates_of_merchant(merchant_id)
    return portal.render(
        request,
        "merchant/member_cards.html",
        title=portal.merchant_text(lang_of(request), "nav_member_cards"),
        rows=[{"count": row, "url": apply_url(request, row.template.template_id)} for row in rows],
    )


@router.get("/member-cards/{template_id}/qr.svg")
def template_qr(
    request: Request, template_id: str, merchant_id: int = Depends(portal.require_merchant)
) -> Response:
    try:
        template = portal.services(request)["member_cards"].template(template_id[:32])
    except DomainError:
        return Response(status_code=404)
    if template.merchant_id != merchant_id:
        return Response(status_code=404)
    svg = qr_svg(apply_url(request, template.template_id))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private"})


def install(app: Any) -> None:
    app.include_router(router)
