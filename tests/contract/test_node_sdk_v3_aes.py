"""The official Node SDK's v3 content encryption (`curl(method, path, {body, needEncrypt: true})`,
alipay-sdk 4.14.0, `encryptKey` in its config) against a real `paybao serve`: the SDK encrypts
the body, sends it as text/plain with `alipay-encrypt-type: AES` and signs the ciphertext; it
verifies each answer's signature over the body as received and then decrypts it
(dist/commonjs/alipay.js). A recording proxy shows that both directions travel encrypted.

Refusals reach the SDK as its AlipayRequestError with our code and HTTP status: an app without
an AES key, a client holding another key (content that does not open), a ciphertext changed in
flight (its signature no longer matches), and an encrypted answer changed in flight (the SDK's
own signature check refuses it).

The server and its fixtures are test_gateway_sdks.py's (a separate `paybao serve` for this
module); this process shares its SQLite file and data folder to give the app its key.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from node_sdk import error, run_node, value
from test_gateway_sdks import APP_ID, TRICKY, Server, _unique, _wait_for_form, server
from test_node_sdk import TRICKY_CJK, node_prefix, sdk_config

from paybao.adapters.alipay import content_crypto
from paybao.adapters.alipay.methods import user_wire_id
from paybao.services.merchants import NewMerchant

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import make_buyer

__all__ = ["node_prefix", "server"]  # fixtures used by the tests below

KEYLESS_APP_ID = "2021000000004343"


@pytest.fixture(scope="module")
def aes_key(server: Server) -> str:
    """The app's key, given before any encrypted call (the server caches what it read)."""
    return str(server.platform.services["app_aes_keys"].set(APP_ID))


def sealed_curl(path: str, body: dict[str, Any]) -> dict[str, Any]:
    options = {"body": body, "needEncrypt": True}
    return {"kind": "curl", "httpMethod": "POST", "path": path, "options": options}


def plain_curl(path: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "curl", "httpMethod": "POST", "path": path, "options": {"body": body}}


class _Exchange:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[tuple[int, dict[str, str], bytes]] = []


class _RecordingProxy(http.server.BaseHTTPRequestHandler):
    """Forwards each POST with all its headers, records both sides, and may change the request
    body or the answer body on the way (keeping every header, the signatures among them)."""

    target: tuple[str, int] = ("127.0.0.1", 80)
    exchange: _Exchange = _Exchange()
    change_request: Callable[[bytes], bytes] = staticmethod(lambda body: body)
    change_answer: Callable[[bytes], bytes] = staticmethod(lambda body: body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        self.exchange.requests.append(({k.lower(): v for k, v in headers.items()}, body))
        body = self.change_request(body)
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        connection = http.client.HTTPConnection(*self.target, timeout=10)
        connection.request("POST", self.path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        answer_headers = {k.lower(): v for k, v in answer.getheaders()}
        self.exchange.answers.append((answer.status, answer_headers, data))
        data = self.change_answer(data)
        self.send_response(answer.status)
        for name, header_value in answer.getheaders():
            if name.lower() not in ("content-length", "connection", "date", "server"):
                self.send_header(name, header_value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def proxy_to(
    server: Server,
    *,
    change_request: Callable[[bytes], bytes] | None = None,
    change_answer: Callable[[bytes], bytes] | None = None,
) -> Iterator[tuple[str, _Exchange]]:
    """The endpoint of a recording proxy in front of the server, and what it saw."""
    exchange = _Exchange()
    attributes: dict[str, Any] = {"target": (server.host, server.port), "exchange": exchange}
    if change_request is not None:
        attributes["change_request"] = staticmethod(change_request)
    if change_answer is not None:
        attributes["change_answer"] = staticmethod(change_answer)
    handler = type("P", (_RecordingProxy,), attributes)
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{proxy.server_address[1]}", exchange
    finally:
        proxy.shutdown()
        proxy.server_close()


def _one_character_changed(text: bytes) -> bytes:
    """One base64 character in the middle of the text swapped for another."""
    middle = len(text) // 2
    return (
        text[:middle] + (b"A" if text[middle : middle + 1] != b"A" else b"B") + text[middle + 1 :]
    )


def test_an_encrypted_trade_cycle_over_v3(node_prefix: Path, server: Server, aes_key: str) -> None:
    buyer = make_buyer(server.platform, phone="13500000501")
    out = _unique("node-v3-aes")
    calls = [
        sealed_curl(
            "/v3/alipay/trade/precreate",
            {"out_trade_no": out + "-qr", "total_amount": "1.00", "subject": TRICKY_CJK},
        ),
        sealed_curl(
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
        sealed_curl("/v3/alipay/trade/query", {"out_trade_no": out}),
        sealed_curl(
            "/v3/alipay/trade/refund",
            {"out_trade_no": out, "refund_amount": "2.00", "out_request_no": "r1"},
        ),
        sealed_curl("/v3/alipay/trade/query", {"out_trade_no": "does-not-exist"}),
        # The same SDK and app, in plain: still served, and answered in plain.
        plain_curl("/v3/alipay/trade/query", {"out_trade_no": out}),
    ]
    with proxy_to(server) as (endpoint, exchange):
        results = run_node(
            node_prefix, sdk_config(server, endpoint=endpoint, encryptKey=aes_key), calls
        )
    pre, paid, query, refund = (value(result) for result in results[:4])
    missing = error(results[4])
    plain_query = value(results[5])

    assert all(answer["status"] == 200 for answer in (pre, paid, query, refund, plain_query))
    assert pre["data"]["qr_code"].startswith(f"http://{server.host}")
    assert "code" not in paid["data"]
    assert (paid["data"]["total_amount"], paid["data"]["buyer_user_id"]) == (
        "12.34",
        user_wire_id(buyer),
    )
    assert (query["data"]["trade_status"], query["data"]["subject"]) == ("TRADE_SUCCESS", TRICKY)
    assert (refund["data"]["fund_change"], refund["data"]["refund_fee"]) == ("Y", "2.00")
    assert (missing["code"], missing["status"]) == ("ACQ.TRADE_NOT_EXIST", 400)
    assert plain_query["data"] == query["data"]

    # On the wire: encrypted requests are text/plain base64 that opens to the SDK's JSON, and
    # their 200 answers are base64 that opens to the business JSON; the refusal and the plain
    # call are JSON.
    key = content_crypto.key_from_text(aes_key)
    for (headers, body), (status, answer_headers, answer) in zip(
        exchange.requests[:4], exchange.answers[:4], strict=True
    ):
        assert (headers["content-type"], headers["alipay-encrypt-type"]) == ("text/plain", "AES")
        assert json.loads(content_crypto.decrypt(body.decode("ascii"), key))
        assert status == 200 and answer_headers["content-type"].startswith("text/plain")
        assert json.loads(content_crypto.decrypt(answer.decode("ascii"), key))
    assert TRICKY.encode() not in exchange.requests[1][1]
    assert b"TRADE_SUCCESS" not in exchange.answers[2][2]
    assert json.loads(exchange.answers[4][2])["code"] == "ACQ.TRADE_NOT_EXIST"
    assert json.loads(exchange.answers[5][2])["trade_status"] == "TRADE_SUCCESS"

    # The notify_url inside the encrypted body: the notification comes, signed as usual.
    form = dict(_wait_for_form(server.receiver, out, "TRADE_SUCCESS"))
    (checked,) = run_node(
        node_prefix, sdk_config(server), [{"kind": "checkNotifySign", "form": form}]
    )
    assert value(checked) is True


def test_encrypted_refusals_reach_the_sdk(node_prefix: Path, server: Server, aes_key: str) -> None:
    server.platform.services["merchants"].create(
        NewMerchant(name="无AES密钥", app_id=KEYLESS_APP_ID), server.keys.public_pem_spki
    )
    out = _unique("node-v3-aes-r")
    buyer_id = user_wire_id(make_buyer(server.platform, phone="13500000502", balance_fen=0))
    create = sealed_curl(
        "/v3/alipay/trade/create",
        {"out_trade_no": out, "total_amount": "1.00", "subject": "r", "buyer_id": buyer_id},
    )
    other_key = base64.b64encode(bytes(16)).decode("ascii")
    assert other_key != aes_key

    (keyless,) = run_node(
        node_prefix, sdk_config(server, appId=KEYLESS_APP_ID, encryptKey=aes_key), [create]
    )
    (wrong_key,) = run_node(node_prefix, sdk_config(server, encryptKey=other_key), [create])
    with proxy_to(server, change_request=_one_character_changed) as (endpoint, _):
        (tampered_request,) = run_node(
            node_prefix, sdk_config(server, endpoint=endpoint, encryptKey=aes_key), [create]
        )
    with proxy_to(server, change_answer=_one_character_changed) as (endpoint, exchange):
        (tampered_answer,) = run_node(
            node_prefix, sdk_config(server, endpoint=endpoint, encryptKey=aes_key), [create]
        )

    assert (error(keyless)["code"], error(keyless)["status"]) == (
        "decryption-error-not-valid-encrypt-key",
        400,
    )
    assert error(keyless)["message"].startswith("解密出错, 未配置加密密钥或加密密钥格式错误")
    assert (error(wrong_key)["code"], error(wrong_key)["status"]) == (
        "decryption-error-unknown",
        400,
    )
    # The signature covers the ciphertext: a change in flight is caught before decryption.
    assert (error(tampered_request)["code"], error(tampered_request)["status"]) == (
        "invalid-signature",
        400,
    )
    # Only the last call went through (the answer was changed after the server made it), so
    # the trade exists once the SDK has refused what it received.
    assert exchange.answers[0][0] == 200
    assert error(tampered_answer)["code"] == "response-signature-verify-error"
    (query,) = run_node(
        node_prefix,
        sdk_config(server, encryptKey=aes_key),
        [sealed_curl("/v3/alipay/trade/query", {"out_trade_no": out})],
    )
    assert value(query)["data"]["trade_status"] == "WAIT_BUYER_PAY"
