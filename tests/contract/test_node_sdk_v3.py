"""The official Node SDK's v3 client (`curl(method, path, {body})`, alipay-sdk 4.14.0) against a
real `paybao serve`: the trade cycle over /v3/alipay/..., each answer verified by the SDK itself
(dist/commonjs/alipay.js: `alipay-timestamp\\nalipay-nonce\\nbody\\n` with the Alipay public
key, an `alipay-sn` that differs from its configured one refused), refusals surfacing as its
AlipayRequestError with our code and HTTP status, and an answer tampered in flight refused.

The SDK verifies only 2xx answers (a 4xx/5xx goes straight to AlipayRequestError); ours are
signed either way, as the integration tests check.
"""

from __future__ import annotations

import http.client
import http.server
import sys
import threading
from pathlib import Path
from typing import Any

from node_sdk import error, run_node, value
from test_gateway_sdks import TRICKY, Server, _unique, _wait_for_form, server
from test_node_sdk import TRICKY_CJK, node_prefix, sdk_config

from paybao.adapters.alipay.keys import generate_key_pair
from paybao.adapters.alipay.methods import user_wire_id

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import make_buyer

__all__ = ["node_prefix", "server"]  # fixtures used by the tests below


def curl(path: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "curl", "httpMethod": "POST", "path": path, "options": {"body": body}}


def test_trade_cycle_over_v3(node_prefix: Path, server: Server) -> None:
    buyer = make_buyer(server.platform, phone="13500000401")
    out = _unique("node-v3")
    results = run_node(
        node_prefix,
        sdk_config(server),
        [
            curl(
                "/v3/alipay/trade/precreate",
                {"out_trade_no": out + "-qr", "total_amount": "1.00", "subject": TRICKY_CJK},
            ),
            curl(
                "/v3/alipay/trade/pay",
                {
                    "out_trade_no": out,
                    "scene": "bar_code",
                    "auth_code": server.code_for(buyer),
                    "subject": TRICKY,
                    "total_amount": "12.34",
                    "notify_url": server.receiver.url,
                },
            ),
            curl("/v3/alipay/trade/query", {"out_trade_no": out}),
            curl(
                "/v3/alipay/trade/refund",
                {"out_trade_no": out, "refund_amount": "2.00", "out_request_no": "r1"},
            ),
            curl(
                "/v3/alipay/trade/fastpay/refund/query",
                {"out_trade_no": out, "out_request_no": "r1"},
            ),
            curl("/v3/alipay/trade/cancel", {"out_trade_no": out}),
            curl("/v3/alipay/trade/query", {"out_trade_no": "does-not-exist"}),
        ],
    )
    pre, paid, query, refund, found, cancel = (value(result) for result in results[:6])
    missing = error(results[6])

    assert all(answer["status"] == 200 for answer in (pre, paid, query, refund, found, cancel))
    assert pre["data"]["qr_code"].startswith(f"http://{server.host}")
    assert "code" not in paid["data"]
    assert (paid["data"]["total_amount"], paid["data"]["buyer_user_id"]) == (
        "12.34",
        user_wire_id(buyer),
    )
    assert (query["data"]["trade_status"], query["data"]["subject"]) == ("TRADE_SUCCESS", TRICKY)
    assert (refund["data"]["fund_change"], refund["data"]["refund_fee"]) == ("Y", "2.00")
    assert found["data"]["refund_status"] == "REFUND_SUCCESS"
    assert cancel["data"]["action"] == "refund"
    assert (missing["code"], missing["status"]) == ("ACQ.TRADE_NOT_EXIST", 400)

    # The notify_url of the v3 body: the notification comes, and the SDK verifies it.
    form = dict(_wait_for_form(server.receiver, out, "TRADE_SUCCESS"))
    (checked,) = run_node(
        node_prefix, sdk_config(server), [{"kind": "checkNotifySign", "form": form}]
    )
    assert value(checked) is True


def test_create_and_close_over_v3(node_prefix: Path, server: Server) -> None:
    out = _unique("node-v3c")
    buyer_id = user_wire_id(make_buyer(server.platform, phone="13500000402", balance_fen=0))
    created, closed, again = run_node(
        node_prefix,
        sdk_config(server),
        [
            curl(
                "/v3/alipay/trade/create",
                {"out_trade_no": out, "total_amount": "2.00", "subject": "c", "buyer_id": buyer_id},
            ),
            curl("/v3/alipay/trade/close", {"out_trade_no": out}),
            curl("/v3/alipay/trade/close", {"out_trade_no": out}),
        ],
    )
    assert len(value(created)["data"]["trade_no"]) == 28
    assert value(closed)["data"]["out_trade_no"] == out
    assert (error(again)["code"], error(again)["status"]) == ("ACQ.TRADE_STATUS_ERROR", 400)


def test_refusals_reach_the_sdk_as_alipay_errors(node_prefix: Path, server: Server) -> None:
    query = curl("/v3/alipay/trade/query", {"out_trade_no": "x"})
    (wrong_key,) = run_node(
        node_prefix, sdk_config(server, privateKey=generate_key_pair().private_base64), [query]
    )
    (unknown_app,) = run_node(node_prefix, sdk_config(server, appId="2021000000009999"), [query])
    (foreign,) = run_node(
        node_prefix,
        sdk_config(server, alipayPublicKey=generate_key_pair().public_base64),
        [
            curl(
                "/v3/alipay/trade/precreate",
                {"out_trade_no": _unique("f"), "total_amount": "1", "subject": "s"},
            )
        ],
    )

    assert (error(wrong_key)["code"], error(wrong_key)["status"]) == ("invalid-signature", 400)
    assert (error(unknown_app)["code"], error(unknown_app)["status"]) == ("invalid-app-id", 400)
    assert error(unknown_app)["message"].startswith("无效的AppID参数 (traceId: ")
    assert error(foreign)["code"] == "response-signature-verify-error"


class _V3TamperHandler(http.server.BaseHTTPRequestHandler):
    """Forwards a v3 request with all its headers; changes one word in the answer's body and
    keeps the answer's signature headers."""

    target: tuple[str, int] = ("127.0.0.1", 80)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        connection = http.client.HTTPConnection(*self.target, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        connection.request("POST", self.path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read().replace(b'"1.00"', b'"9.00"')
        self.send_response(answer.status)
        for name, header_value in answer.getheaders():
            if name.lower() not in ("content-length", "connection", "date", "server"):
                self.send_header(name, header_value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return


def test_a_tampered_v3_answer_is_refused(node_prefix: Path, server: Server) -> None:
    out = _unique("node-v3t")
    buyer_id = user_wire_id(make_buyer(server.platform, phone="13500000403", balance_fen=0))
    create = curl(
        "/v3/alipay/trade/create",
        {"out_trade_no": out, "total_amount": "1.00", "subject": "t", "buyer_id": buyer_id},
    )
    query = curl("/v3/alipay/trade/query", {"out_trade_no": out})
    created, direct = run_node(node_prefix, sdk_config(server), [create, query])
    handler = type("H", (_V3TamperHandler,), {"target": (server.host, server.port)})
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        (tampered,) = run_node(
            node_prefix,
            sdk_config(server, endpoint=f"http://127.0.0.1:{proxy.server_address[1]}"),
            [query],
        )
    finally:
        proxy.shutdown()
        proxy.server_close()

    assert value(created)["status"] == 200
    assert value(direct)["data"]["total_amount"] == "1.00"
    assert error(tampered)["code"] == "response-signature-verify-error"
