"""Portal certificates (公钥证书模式): for each app, the three files a certificate-mode SDK
configuration reads, and the app's certificates with re-issue and revoke.

The keys page links here per app (templates/merchant/certs_section.html). Downloading the app
certificate issues one for the app's registered public key when it has no current one (the
merchant already proved that key when it registered it; nothing else changes). Re-issue and
revoke are forms (CSRF) and audited with the actor `merchant:<id>`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.errors import DomainError, NotFound
from paybao.services.app_certificates import PLATFORM_CERT_NAME, ROOT_CERT_NAME, app_cert_name
from paybao.services.merchants import App
from paybao.web import pages_merchant as portal
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of

router = APIRouter(prefix="/merchant", include_in_schema=False)
portal.add_texts(
    {
        "certificates": {"zh": "公钥证书", "en": "Certificates"},
        "certificates_hint": {
            "zh": "公钥证书模式(如 DCAliPay、CertAlipayRequest)使用以下三个文件。",
            "en": "Certificate mode (DCAliPay, CertAlipayRequest, ...) reads these three files.",
        },
        "app_cert": {"zh": "应用公钥证书", "en": "App public key certificate"},
        "platform_cert": {"zh": "平台公钥证书", "en": "Platform public key certificate"},
        "root_cert": {"zh": "平台根证书", "en": "Platform root certificate"},
        "manage_certificates": {"zh": "管理证书", "en": "Manage certificates"},
        "cert_sn": {"zh": "证书序列号(SN)", "en": "Certificate SN"},
        "cert_state": {"zh": "状态", "en": "State"},
        "cert_current": {"zh": "有效", "en": "Current"},
        "cert_revoked": {"zh": "已作废", "en": "Revoked"},
        "cert_superseded": {"zh": "已失效", "en": "No longer valid"},
        "cert_issued_at": {"zh": "签发时间", "en": "Issued"},
        "cert_expires_at": {"zh": "到期时间", "en": "Expires"},
        "cert_reissue": {"zh": "重新签发", "en": "Issue a new certificate"},
        "cert_revoke": {"zh": "作废", "en": "Revoke"},
        "cert_revoke_confirm": {
            "zh": "作废后,使用该证书的请求将被拒绝",
            "en": "Requests naming this certificate will be refused",
        },
        "cert_issued": {"zh": "已签发新证书", "en": "A new certificate was issued"},
        "cert_revoked_notice": {"zh": "证书已作废", "en": "The certificate was revoked"},
        "no_certificates": {
            "zh": "尚未签发证书;下载应用公钥证书时自动签发。",
            "en": "No certificate yet; one is issued when you download the app certificate.",
        },
    }
)
portal.MERCHANT_ERRORS.setdefault(
    "app_cert_limit",
    {"zh": "有效证书过多,请先作废一个", "en": "Too many current certificates; revoke one first"},
)
PEM_MEDIA_TYPE = "application/x-x509-ca-cert"


def _own_app(request: Request, merchant_id: int, app_id: str) -> App:
    """The merchant's app, or app_not_found (another merchant's app is not found either)."""
    apps: list[App] = portal.services(request)["merchants"].apps_of(merchant_id)
    for app in apps:
        if app.app_id == app_id:
            return app
    raise NotFound("no such app", code="app_not_found")


def _actor(merchant_id: int) -> str:
    return f"merchant:{merchant_id}"


@router.get("/keys/{app_id}/certs")
def certs_page(
    request: Request, app_id: str, merchant_id: int = Depends(portal.require_merchant)
) -> HTMLResponse:
    return _render(request, merchant_id, app_id)


def _render(
    request: Request, merchant_id: int, app_id: str, status_code: int = 200, **extra: object
) -> HTMLResponse:
    lang = lang_of(request)
    try:
        app = _own_app(request, merchant_id, app_id)
    except DomainError as error:
        return portal.render(
            request,
            "merchant/message.html",
            status_for(error),
            **portal.merchant_error(request, error),
        )
    services = portal.services(request)
    certs = services["app_certificates"].certificates_of(app_id)
    now_us = services["app_certificates"].clock.now_us()
    rows = [
        (
            cert,
            "revoked"
            if cert.revoked_at_us is not None
            else ("current" if cert.current_for(app.public_key, now_us) else "superseded"),
        )
        for cert in certs
    ]
    notice = ""
    if request.query_params.get("issued"):
        notice = portal.merchant_text(lang, "cert_issued")
    if request.query_params.get("revoked"):
        notice = portal.merchant_text(lang, "cert_revoked_notice")
    return portal.render(
        request,
        "merchant/certs.html",
        status_code,
        title=portal.merchant_text(lang, "certificates"),
        app=app,
        rows=rows,
        notice=notice,
        **extra,
    )


@router.get("/keys/{app_id}/certs/{name}")
def download(
    request: Request, app_id: str, name: str, merchant_id: int = Depends(portal.require_merchant)
) -> Response:
    services = portal.services(request)
    if name not in (app_cert_name(app_id), PLATFORM_CERT_NAME, ROOT_CERT_NAME):
        return Response(status_code=404)
    try:
        _own_app(request, merchant_id, app_id)
        files = services["app_certificates"].files(app_id, actor=_actor(merchant_id))
    except DomainError as error:
        return Response(error.code, status_code=status_for(error), media_type="text/plain")
    return Response(
        files.by_name()[name],
        media_type=PEM_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/keys/{app_id}/certs/reissue", dependencies=portal.CSRF)
def reissue(
    request: Request, app_id: str, merchant_id: int = Depends(portal.require_merchant)
) -> Response:
    try:
        _own_app(request, merchant_id, app_id)
        portal.services(request)["app_certificates"].issue(app_id, actor=_actor(merchant_id))
    except DomainError as error:
        context = portal.merchant_error(request, error)
        return _render(request, merchant_id, app_id, status_for(error), **context)
    return RedirectResponse(f"/merchant/keys/{app_id}/certs?issued=1", status_code=303)


@router.post("/keys/{app_id}/certs/{sn}/revoke", dependencies=portal.CSRF)
def revoke(
    request: Request, app_id: str, sn: str, merchant_id: int = Depends(portal.require_merchant)
) -> Response:
    try:
        _own_app(request, merchant_id, app_id)
        portal.services(request)["app_certificates"].revoke(app_id, sn, actor=_actor(merchant_id))
    except DomainError as error:
        context = portal.merchant_error(request, error)
        return _render(request, merchant_id, app_id, status_for(error), **context)
    return RedirectResponse(f"/merchant/keys/{app_id}/certs?revoked=1", status_code=303)
