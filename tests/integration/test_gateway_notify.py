"""Notifications: retried on the published schedule until `success`, every attempt logged."""

from __future__ import annotations

import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from gateway_support import call, count_rows, make_buyer, make_shop

from paybao.adapters.alipay.wire import verify_notification
from paybao.bootstrap import Platform


class Merchant(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[list[bytes]] = []
    forms: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.forms.append(dict(urllib.parse.parse_qsl(body.decode())))
        answer = self.answers.pop(0) if self.answers else b"success"
        self.send_response(200)
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def endpoint() -> Iterator[tuple[str, type[Merchant]]]:
    handler = type("M", (Merchant,), {"answers": [b"fail", b"<html>oops</html>"], "forms": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/notify", handler
    server.shutdown()
    server.server_close()


def attempts(platform: Platform) -> list[Any]:
    with platform.db.read() as tx:
        from sqlalchemy import text

        return list(tx.execute(text("SELECT attempt_no, outcome FROM notify_attempts ORDER BY id")))


def test_retried_until_success_then_refund_notified(
    platform: Platform, client: TestClient, endpoint: tuple[str, type[Merchant]]
) -> None:
    url, merchant = endpoint
    make_shop(platform, notify_url=url)
    buyer = make_buyer(platform)
    code = platform.services["trades"].issue_auth_code(buyer)
    biz = {"out_trade_no": "n-1", "auth_code": code, "subject": "{通知} & =", "total_amount": "1"}
    call(client, "alipay.trade.pay", biz)

    platform.jobs.run_due()
    assert [tuple(row) for row in attempts(platform)] == [(1, "rejected")]
    platform.sandbox_clock.advance(3 * 60)
    assert len(attempts(platform)) == 1  # the first retry waits 4 minutes
    platform.sandbox_clock.advance(60)
    platform.sandbox_clock.advance(10 * 60)
    assert [tuple(row) for row in attempts(platform)] == [
        (1, "rejected"),
        (2, "rejected"),
        (3, "success"),
    ]
    public_pem = platform.services["platform_key"].public_pem
    forms = merchant.forms
    assert len({form["notify_id"] for form in forms}) == 1
    assert all(verify_notification(form, public_pem) for form in forms)
    assert forms[0]["trade_status"] == "TRADE_SUCCESS"

    call(client, "alipay.trade.refund", {"out_trade_no": "n-1", "refund_amount": "1.00"})
    platform.jobs.run_due()
    refund_form = merchant.forms[-1]
    assert (refund_form["trade_status"], refund_form["refund_fee"]) == ("TRADE_CLOSED", "1.00")
    assert refund_form["out_biz_no"] == "n-1"
    assert verify_notification(refund_form, public_pem)


def test_gives_up_after_the_schedule(platform: Platform, client: TestClient) -> None:
    make_shop(platform, notify_url="http://127.0.0.1:9/nobody-listens")
    buyer = make_buyer(platform)
    code = platform.services["trades"].issue_auth_code(buyer)
    call(
        client,
        "alipay.trade.pay",
        {"out_trade_no": "n-2", "auth_code": code, "subject": "s", "total_amount": "1"},
    )

    platform.sandbox_clock.advance(2 * 86_400)

    assert [row[0] for row in attempts(platform)] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert {row[1] for row in attempts(platform)} == {"error"}
    with platform.db.read() as tx:
        from sqlalchemy import text

        status = tx.execute(text("SELECT status FROM trade_notifications")).scalar_one()
    assert status == "failed"
    assert count_rows(platform, "trade_notifications") == 1
