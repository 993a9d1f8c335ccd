"""Helpers for agreement tests: a merchant's notify endpoint, a signed agreement made through the
gateway and the sign page, and withholding calls."""

from __future__ import annotations

import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from gateway_support import PAYMENT_PASSWORD, call, sign_in_on, signed_params
from tests.integration.admin_support import csrf_of

from paybao.bootstrap import Platform

GENERAL = {
    "personal_product_code": "GENERAL_WITHHOLDING_P",
    "product_code": "GENERAL_WITHHOLDING",
    "sign_scene": "INDUSTRY|PARKING",
    "access_params": {"channel": "ALIPAYAPP"},
}
RETURN_URL = "https://shop.example/agreements/back"


class Receiver:
    """The merchant's notify_url: records every form and answers `success`."""

    def __init__(self) -> None:
        self.url = ""
        self.forms: list[dict[str, str]] = []
        self.content_types: list[str] = []

    def of_type(self, notify_type: str) -> list[dict[str, str]]:
        return [form for form in self.forms if form.get("notify_type") == notify_type]


@contextmanager
def receiver() -> Iterator[Receiver]:
    found = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            content_type = self.headers.get("Content-Type", "")
            charset = content_type.partition("charset=")[2].strip() or "utf-8"
            found.content_types.append(content_type)
            found.forms.append(dict(urllib.parse.parse_qsl(body.decode(charset), encoding=charset)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"success")

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}/notify"
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


def sign_page_path(client: TestClient, biz: dict[str, Any], **extra: str) -> str:
    """alipay.user.agreement.page.sign as python-alipay-sdk sends it (a GET the browser
    follows): the path of the sign page the gateway redirects to."""
    params = signed_params("alipay.user.agreement.page.sign", biz, **extra)
    query = urllib.parse.urlencode(params, encoding=extra.get("charset", "utf-8"))
    response = client.get("/gateway.do?" + query, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith("http://testserver/agreements/sign/"), location
    return location.removeprefix("http://testserver")


def sign_on(client: TestClient, path: str, password: str = PAYMENT_PASSWORD) -> Any:
    page = client.get(path)
    form = {"csrf_token": csrf_of(page.text), "payment_password": password}
    return client.post(path, data=form, follow_redirects=False)


def returned_params(response: Any) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(RETURN_URL + "?"), location
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def signed_agreement(
    client: TestClient, phone: str, biz: dict[str, Any] | None = None, **extra: str
) -> str:
    """A user (already registered) signs `biz` (general withholding at a car park by default)
    through the gateway and the sign page; the agreement number from the return_url."""
    path = sign_page_path(client, biz or GENERAL, return_url=RETURN_URL, **extra)
    client.cookies.clear()
    sign_in_on(client, path, phone)
    return returned_params(sign_on(client, path))["agreement_no"]


def deduct(
    client: TestClient,
    agreement_no: str,
    out_trade_no: str,
    amount: str,
    product_code: str = "GENERAL_WITHHOLDING",
    **extra: Any,
) -> dict[str, Any]:
    biz = {
        "out_trade_no": out_trade_no,
        "product_code": product_code,
        "total_amount": amount,
        "subject": "停车费",
        "agreement_params": {"agreement_no": agreement_no},
    }
    return call(client, "alipay.trade.pay", biz, **extra)


def row_count(platform: Platform, sql: str) -> int:
    from sqlalchemy import text

    with platform.db.read() as tx:
        return int(tx.execute(text(sql)).scalar_one())


__all__ = ["PAYMENT_PASSWORD", "csrf_of", "sign_in_on"]  # what the tests import from here
