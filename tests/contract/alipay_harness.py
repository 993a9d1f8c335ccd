"""A minimal in-process Alipay gateway built on wire.py, for the contract tests.

The mini gateway is the smallest honest server: it parses, checks, verifies and answers with
our envelope over real HTTP, so the real SDKs exercise every byte we produce.
"""

from __future__ import annotations

import http.client
import http.server
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.signing import SignType, parse_sign_type

APP_ID = "2021000000000001"
Answer = Callable[[str, dict[str, object]], dict[str, object]]


def trade_query_answer(method: str, biz: dict[str, object]) -> dict[str, object]:
    """A fixed alipay.trade.query answer; echoes `subject` so tests can send tricky text."""
    amount_fen = wire.parse_amount_fen(biz.get("total_amount", "88.88"), field="total_amount")
    amount_yuan = wire.format_amount(amount_fen)
    return {
        "code": "10000",
        "msg": "Success",
        "trade_no": "2024050122001446881000012345",
        "out_trade_no": str(biz.get("out_trade_no", "")),
        "trade_status": "TRADE_SUCCESS",
        "total_amount": amount_yuan,
        "subject": str(biz.get("subject", "测试商品")),
        "fund_bill_list": [{"amount": amount_yuan, "fund_channel": "ALIPAYACCOUNT"}],
    }


@dataclass
class MiniGateway:
    app_public_key: str
    platform_private_key: str
    answer: Answer = trade_query_answer
    # The SDKs stamp requests with the merchant's naive local clock, meant as Beijing time (a
    # merchant in China). Reading our naive local clock the same way keeps the test independent
    # of the container's TZ; `clock_skew_s` moves the gateway's clock to test the window.
    clock_skew_s: int = 0
    timestamp_window_s: int = 300
    tamper_response: bool = False
    unsigned_response: bool = False
    requests: list[wire.GatewayRequest] = field(default_factory=list)
    errors: list[wire.WireError] = field(default_factory=list)
    http_methods: list[str] = field(default_factory=list)

    def now(self) -> datetime:
        local_naive = datetime.now()  # noqa: DTZ005 (see clock comment above)
        skewed = local_naive + timedelta(seconds=self.clock_skew_s)
        return skewed.replace(tzinfo=wire.BEIJING_TZ)

    def handle(self, query: bytes, body: bytes, content_type: str | None) -> tuple[bytes, str]:
        """Answer one gateway call: (response body, response charset)."""
        method, sign_type, charset = _best_effort_context(query)
        try:
            request = wire.parse_gateway_request(query, body, content_type)
            self.requests.append(request)
            charset = request.charset_codec
            fields = self._answer(request)
            method = str(request.params["method"])
        except wire.WireError as error:
            self.errors.append(error)
            fields = dict(error.to_response_fields())
        key = None if self.unsigned_response else self.platform_private_key
        response = wire.build_response(method, fields, key, sign_type=sign_type, charset=charset)
        if self.tamper_response:
            response = response.replace(b'"code":"10000"', b'"code":"10001"')
        return response, charset

    def _answer(self, request: wire.GatewayRequest) -> dict[str, object]:
        common = wire.check_common_params(request)
        wire.verify_request_signature(request, self.app_public_key)
        timestamp = wire.parse_timestamp(common.timestamp)
        wire.check_timestamp_window(timestamp, self.now(), window_s=self.timestamp_window_s)
        return self.answer(common.method, wire.parse_biz_content(common.biz_content))


def _best_effort_context(query: bytes) -> tuple[str, SignType, str]:
    """Method, sign_type and charset for an error answer when the request cannot be parsed."""
    params = dict(urllib.parse.parse_qsl(query.decode("latin-1")))
    sign_type = parse_sign_type(params.get("sign_type")) or "RSA2"
    return params.get("method", "error"), sign_type, "utf-8"


def handler_class(gateway: MiniGateway) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._respond(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            # Read at most one byte past the limit: enough for wire.py to refuse it.
            self._respond(self.rfile.read(min(length, wire.REQUEST_BODY_SIZE_MAX_BYTES + 1)))

        def _respond(self, body: bytes) -> None:
            # The official SDK sends an absolute-form target (POST http://host/gateway.do?...).
            query = urllib.parse.urlsplit(self.path).query.encode("latin-1")
            gateway.http_methods.append(self.command)
            response, charset = gateway.handle(query, body, self.headers.get("Content-Type"))
            self.send_response(200)
            self.send_header("Content-Type", f"text/html;charset={charset}")
            self.send_header("Content-Length", str(len(response)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(response)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@dataclass
class RunningGateway:
    gateway: MiniGateway
    host: str
    port: int

    @property
    def url(self) -> str:
        port_part = "" if self.port == 80 else f":{self.port}"
        return f"http://{self.host}{port_part}/gateway.do"


def serve(gateway: MiniGateway, host: str, port: int) -> Iterator[RunningGateway]:
    server = http.server.ThreadingHTTPServer((host, port), handler_class(gateway))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield RunningGateway(gateway=gateway, host=host, port=server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def port_honouring_connection(
    url: str, query_string: str, timeout: float
) -> tuple[str, http.client.HTTPConnection]:
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    return f"{parts.path}?{query_string}", connection
