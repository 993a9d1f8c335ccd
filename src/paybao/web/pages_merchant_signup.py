"""Merchant sign-up: name, contact (e-mail or mobile), notify URL and a password create the
merchant and its first app.

Without an uploaded app public key a key pair is generated here and the private key (PKCS#1
PEM) is shown once on the answer page; nothing keeps it. The new merchant is signed in.

Sign-ups are rate limited per client address and per contact (the service says how); a refused
one is a 429 with `Retry-After`, code `signup_rate_limited`, and the form kept. The client
address is the connection's, which uvicorn takes from X-Forwarded-For only when the proxy is
trusted (`--forwarded-allow-ips`).
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from paybao.adapters.alipay.keys import generate_key_pair
from paybao.domain.errors import DomainError, RateLimited
from paybao.services.merchant_accounts import SignUp
from paybao.web import pages_merchant as portal
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of
from paybao.web.session import sign_in

router = APIRouter(prefix="/merchant", include_in_schema=False)


def _form(request: Request, status_code: int = 200, **extra: object) -> HTMLResponse:
    title = portal.merchant_text(lang_of(request), "signup")
    return portal.render(request, "merchant/signup.html", status_code, title=title, **extra)


@router.get("/signup")
def signup_page(request: Request) -> HTMLResponse:
    return _form(request)


@router.post("/signup", dependencies=portal.CSRF)
async def signup(request: Request) -> HTMLResponse:
    form = await portal.form_of(request)
    uploaded = form.get("app_public_key", "").strip()
    generated = None if uploaded else generate_key_pair()
    public_key = uploaded or (generated.public_pem_spki if generated else "")
    new = SignUp(
        name=form.get("name", ""),
        notify_url=form.get("notify_url", "").strip() or None,
        password=form.get("password", ""),
        contact=form.get("contact", ""),
        client_ip=request.client.host if request.client else None,
    )
    try:
        merchant, app = portal.services(request)["merchant_accounts"].sign_up(new, public_key)
    except DomainError as error:
        context: dict[str, object] = {**portal.merchant_error(request, error)}
        retry_after_s = error.data.get("retry_after_s") if isinstance(error, RateLimited) else None
        if isinstance(retry_after_s, int):
            context["retry_after_min"] = max(math.ceil(retry_after_s / 60), 1)
        kept = {k: v for k, v in form.items() if k != "password"}
        answer = _form(request, status_for(error), values=kept, **context)
        if isinstance(retry_after_s, int):
            answer.headers["Retry-After"] = str(retry_after_s)
        return answer
    response = portal.render(
        request,
        "merchant/signup_done.html",
        title=portal.merchant_text(lang_of(request), "signup_done"),
        new_merchant=merchant,
        app=app,
        private_key=generated.private_pem_pkcs1 if generated else None,
        platform_public_key=portal.services(request)["platform_keys"].keys_of(app).public_pem,
    )
    # The private key must not sit in a shared cache or the browser's history store.
    response.headers["Cache-Control"] = "no-store"
    sign_in(response, request, merchant.id, kind=portal.KIND)
    return response
