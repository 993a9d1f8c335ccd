"""Both real SDKs against a real `paybao serve` over HTTP: every gateway method, tricky text,
GBK, tampered responses, page/app pay into the cashier, and notifications each SDK verifies.

The server runs as a subprocess on its own SQLite file (with the worker thread on, so
notifications go out); this test process opens the same database to seed buyers and codes.
The official SDK only connects to port 80: we serve on 127.x.y.z:80 when we may bind it (CI
runs as root), else on a free port with the documented test-only connection shortcut.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from alipay import AliPay
from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.domain.AlipayTradeAppPayModel import AlipayTradeAppPayModel
from alipay.aop.api.domain.AlipayTradeCancelModel import AlipayTradeCancelModel
from alipay.aop.api.domain.AlipayTradeCloseModel import AlipayTradeCloseModel
from alipay.aop.api.domain.AlipayTradeCreateModel import AlipayTradeCreateModel
from alipay.aop.api.domain.AlipayTradeFastpayRefundQueryModel import (
    AlipayTradeFastpayRefundQueryModel,
)
from alipay.aop.api.domain.AlipayTradePagePayModel import AlipayTradePagePayModel
from alipay.aop.api.domain.AlipayTradePayModel import AlipayTradePayModel
from alipay.aop.api.domain.AlipayTradePrecreateModel import AlipayTradePrecreateModel
from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
from alipay.aop.api.domain.AlipayTradeRefundModel import AlipayTradeRefundModel
from alipay.aop.api.exception.Exception import ResponseException
from alipay.aop.api.request.AlipayTradeAppPayRequest import AlipayTradeAppPayRequest
from alipay.aop.api.request.AlipayTradeCancelRequest import AlipayTradeCancelRequest
from alipay.aop.api.request.AlipayTradeCloseRequest import AlipayTradeCloseRequest
from alipay.aop.api.request.AlipayTradeCreateRequest import AlipayTradeCreateRequest
from alipay.aop.api.request.AlipayTradeFastpayRefundQueryRequest import (
    AlipayTradeFastpayRefundQueryRequest,
)
from alipay.aop.api.request.AlipayTradePagePayRequest import AlipayTradePagePayRequest
from alipay.aop.api.request.AlipayTradePayRequest import AlipayTradePayRequest
from alipay.aop.api.request.AlipayTradePrecreateRequest import AlipayTradePrecreateRequest
from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
from alipay.aop.api.request.AlipayTradeRefundRequest import AlipayTradeRefundRequest
from alipay.aop.api.util import WebUtils
from alipay.aop.api.util.SignatureUtils import get_sign_content, verify_with_rsa
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig
from alipay_harness import port_honouring_connection

from paybao.adapters.alipay.keys import KeyPair, generate_key_pair
from paybao.adapters.alipay.methods import user_wire_id
from paybao.bootstrap import Platform, build_platform
from paybao.services.merchants import NewMerchant
from paybao.settings import Settings

APP_ID = "2021000000004242"
TRICKY = 'a{b}} c{{ & = " 测试商品 😀 \\ end'
TRICKY_GBK = 'a{b}} c{{ & = " 测试商品 \\ end'
sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import make_buyer  # noqa: E402


@dataclass
class Receiver:
    """A merchant's notify endpoint: records every form, answers `success`."""

    url: str = ""
    forms: list[dict[str, str]] = field(default_factory=list)
    raw: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class Server:
    host: str
    port: int
    platform: Platform
    keys: KeyPair
    platform_public_pem: str
    receiver: Receiver
    official_shortcut: bool
    log_path: Path  # the server's output: uvicorn's access log among it

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}{'' if self.port == 80 else f':{self.port}'}/gateway.do"

    def code_for(self, buyer: int) -> str:
        return str(self.platform.services["trades"].issue_auth_code(buyer))


def _bind_host() -> tuple[str, int, bool]:
    host = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    try:
        with socket.socket() as probe:
            probe.bind((host, 80))
        return host, 80, False
    except OSError:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return "127.0.0.1", int(probe.getsockname()[1]), True


def _receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            content_type = self.headers.get("Content-Type", "")
            receiver.raw.append((content_type, body))
            charset = content_type.split("charset=")[-1].strip() or "utf-8"
            receiver.forms.append(
                dict(urllib.parse.parse_qsl(body.decode(charset), encoding=charset))
            )
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"success")

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/notify"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("serve")
    url = f"sqlite:///{folder / 'paybao.sqlite3'}"
    host, port, shortcut = _bind_host()
    base_url = f"http://{host}:{port}"
    settings = Settings(database_url=url, sandbox=True, data_dir=folder, base_url=base_url)
    platform = build_platform(settings, migrate=True)
    platform.ledger.open_platform_accounts()
    keys = generate_key_pair()
    platform.services["merchants"].create(
        NewMerchant(name="SDK 商户", app_id=APP_ID), keys.public_pem_spki
    )
    receiver_iter = _receiver()
    receiver = next(receiver_iter)
    env = {
        **os.environ,
        "PAYBAO_DATABASE_URL": url,
        "PAYBAO_DATA_DIR": str(folder),
        "PAYBAO_SANDBOX": "1",
        "PAYBAO_BASE_URL": base_url,
        "PAYBAO_WORKER_POLL_INTERVAL_S": "0.1",
    }
    paybao = str(Path(sys.executable).parent / "paybao")
    command = [paybao, "serve", "--host", host, "--port", str(port)]
    log_path = folder / "serve.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        command,
        env=env,
        start_new_session=True,
        stdout=log_file,  # uvicorn's access log
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_listening(host, port)
        yield Server(
            host,
            port,
            platform,
            keys,
            platform.services["platform_key"].public_pem,
            receiver,
            shortcut,
            log_path,
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
        log_file.close()
        platform.close()
        next(receiver_iter, None)


def _wait_listening(host: str, port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{host}:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("paybao serve did not start")


def python_sdk(
    server: Server, gateway_url: str | None = None, platform_public_pem: str | None = None
) -> AliPay:
    client = AliPay(
        appid=APP_ID,
        app_notify_url=server.receiver.url,
        app_private_key_string=server.keys.private_pem_pkcs1,
        alipay_public_key_string=platform_public_pem or server.platform_public_pem,
        sign_type="RSA2",
        debug=False,
        config=AliPayConfig(timeout=15),
    )
    client._gateway = gateway_url or server.gateway_url
    return client


@pytest.fixture
def official(server: Server, monkeypatch: pytest.MonkeyPatch) -> Any:
    if server.official_shortcut:
        monkeypatch.setattr(WebUtils, "get_http_connection", port_honouring_connection)

    def make(charset: str = "utf-8") -> DefaultAlipayClient:
        config = AlipayClientConfig()
        config.server_url = server.gateway_url
        config.app_id = APP_ID
        config.app_private_key = server.keys.private_base64
        config.alipay_public_key = "".join(server.platform_public_pem.splitlines()[1:-1])
        config.sign_type = "RSA2"
        config.charset = charset
        config.timeout = 15
        return DefaultAlipayClient(alipay_client_config=config)

    return make


def _unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns()}"


def _wait_for_form(receiver: Receiver, out_trade_no: str, status: str) -> dict[str, str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for form in receiver.forms:
            if form.get("out_trade_no") == out_trade_no and form.get("trade_status") == status:
                return form
        time.sleep(0.05)
    raise AssertionError(f"no {status} notification for {out_trade_no}")


# python-alipay-sdk 3.4.0 ------------------------------------------------------------------


def test_python_sdk_full_trade_cycle(server: Server) -> None:
    client = python_sdk(server)
    buyer = make_buyer(server.platform, phone="13500000001")
    out = _unique("py")

    pre = client.api_alipay_trade_precreate(
        subject=TRICKY, out_trade_no=out + "-qr", total_amount=1
    )
    missing = client.api_alipay_trade_query(out_trade_no=out + "-qr")
    paid = client.api_alipay_trade_pay(
        out, "bar_code", server.code_for(buyer), TRICKY, total_amount="12.34"
    )
    query = client.api_alipay_trade_query(out_trade_no=out)
    part = client.api_alipay_trade_refund("2.00", out_trade_no=out, out_request_no="r1")
    again = client.api_alipay_trade_refund("2.00", out_trade_no=out, out_request_no="r1")
    found = client.api_alipay_trade_fastpay_refund_query("r1", out_trade_no=out)
    cancel = client.api_alipay_trade_cancel(out_trade_no=out)

    assert pre["code"] == "10000" and pre["qr_code"].startswith(f"http://{server.host}")
    assert (missing["code"], missing["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")
    assert (paid["code"], paid["total_amount"]) == ("10000", "12.34")
    assert (query["trade_status"], query["subject"]) == ("TRADE_SUCCESS", TRICKY)
    assert (part["fund_change"], part["refund_fee"]) == ("Y", "2.00")
    assert (again["fund_change"], again["refund_fee"]) == ("N", "2.00")
    assert (found["refund_amount"], found["refund_status"]) == ("2.00", "REFUND_SUCCESS")
    assert (cancel["code"], cancel["action"]) == ("10000", "refund")


def test_python_sdk_create_close_bill_transfer(server: Server) -> None:
    client = python_sdk(server)
    out = _unique("py-c")
    payee = make_buyer(server.platform, phone="13500000002", balance_fen=0)
    buyer = make_buyer(server.platform, phone="13500000003")
    client.api_alipay_trade_pay(
        out + "-in", "bar_code", server.code_for(buyer), "in", total_amount="20"
    )

    order = {"out_trade_no": out, "total_amount": "1.00", "subject": "c"}
    nobody = client.server_api("alipay.trade.create", biz_content=order)
    order["buyer_id"] = user_wire_id(buyer)
    created = client.server_api("alipay.trade.create", biz_content=order)
    closed = client.api_alipay_trade_close(out_trade_no=out)
    bill = client.server_api(
        "alipay.data.dataservice.bill.downloadurl.query",
        biz_content={"bill_type": "trade", "bill_date": "2024-05-01"},
    )
    transfer = client.server_api(
        "alipay.fund.trans.uni.transfer",
        biz_content={
            "out_biz_no": out,
            "trans_amount": "1.50",
            "product_code": "TRANS_ACCOUNT_NO_PWD",
            "biz_scene": "DIRECT_TRANSFER",
            "order_title": "奖金",
            "payee_info": {
                "identity": f"2088{payee:012d}",
                "identity_type": "ALIPAY_USER_ID",
                "name": None,
            },
        },
    )

    assert (nobody["code"], nobody["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER")
    assert created["code"] == "10000" and len(created["trade_no"]) == 28
    assert closed["code"] == "10000"
    assert (bill["code"], bill["sub_code"]) == ("40004", "isp.bill_not_exist")
    assert (transfer["code"], transfer["status"]) == ("10000", "SUCCESS")


def test_python_sdk_page_pay_leads_to_cashier(server: Server) -> None:
    client = python_sdk(server)
    out = _unique("py-page")
    query = client.client_api(
        "alipay.trade.page.pay",
        biz_content={
            "out_trade_no": out,
            "total_amount": "3.00",
            "subject": TRICKY,
            "product_code": "FAST_INSTANT_TRADE_PAY",
        },
        return_url="http://127.0.0.1:9/return",
    )
    response = httpx.get(server.gateway_url + "?" + query)
    assert response.status_code == 302
    cashier = httpx.get(response.headers["location"])
    assert cashier.status_code == 200
    assert "¥3.00" in cashier.text


def test_python_sdk_notification_verifies(server: Server) -> None:
    client = python_sdk(server)
    buyer = make_buyer(server.platform, phone="13500000004")
    out = _unique("py-n")
    client.api_alipay_trade_pay(
        out, "bar_code", server.code_for(buyer), TRICKY, total_amount="0.01"
    )

    form = dict(_wait_for_form(server.receiver, out, "TRADE_SUCCESS"))
    signature = form.pop("sign")

    assert client.verify(form, signature)
    assert json.loads(form["fund_bill_list"]) == [
        {"amount": "0.01", "fundChannel": "ALIPAYACCOUNT"}
    ]
    assert all(value != "" for value in form.values())


def test_python_sdk_rejects_tampered_and_foreign_responses(server: Server) -> None:
    foreign = python_sdk(server, platform_public_pem=generate_key_pair().public_pem_spki)
    with pytest.raises(AliPayValidationError):
        foreign.api_alipay_trade_query(out_trade_no="nope")
    with (
        _tampering_proxy(server) as proxy_url,
        pytest.raises((AliPayValidationError, AliPayException)),
    ):
        python_sdk(server, proxy_url).api_alipay_trade_query(out_trade_no="nope")


class _TamperHandler(http.server.BaseHTTPRequestHandler):
    target: tuple[str, int] = ("127.0.0.1", 80)

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        connection = http.client.HTTPConnection(*self.target, timeout=10)
        connection.request(
            self.command,
            self.path,
            body=body,
            headers={"Content-Type": self.headers.get("Content-Type", "")},
        )
        answer = connection.getresponse()
        data = answer.read().replace(b'"code":"40004"', b'"code":"10000"')
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type", "text/html"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _forward

    def log_message(self, format: str, *args: object) -> None:
        return


class _tampering_proxy:
    def __init__(self, server: Server) -> None:
        handler = type("H", (_TamperHandler,), {"target": (server.host, server.port)})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)

    def __enter__(self) -> str:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/gateway.do"

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# Official alipay-sdk-python ------------------------------------------------------------------


def _execute(client: DefaultAlipayClient, request: Any) -> dict[str, Any]:
    return dict(json.loads(client.execute(request)))


def test_official_sdk_full_trade_cycle(server: Server, official: Any) -> None:
    client = official()
    buyer = make_buyer(server.platform, phone="13500000011")
    out = _unique("of")

    model = AlipayTradePayModel()
    model.out_trade_no, model.scene, model.auth_code = out, "bar_code", server.code_for(buyer)
    model.subject, model.total_amount = TRICKY, 8.8
    paid = _execute(client, AlipayTradePayRequest(biz_model=model))

    query_model = AlipayTradeQueryModel()
    query_model.out_trade_no = out
    query = _execute(client, AlipayTradeQueryRequest(biz_model=query_model))

    refund_model = AlipayTradeRefundModel()
    refund_model.out_trade_no, refund_model.refund_amount, refund_model.out_request_no = (
        out,
        "1.00",
        "r1",
    )
    refund = _execute(client, AlipayTradeRefundRequest(biz_model=refund_model))

    rq_model = AlipayTradeFastpayRefundQueryModel()
    rq_model.out_trade_no, rq_model.out_request_no = out, "r1"
    refund_query = _execute(client, AlipayTradeFastpayRefundQueryRequest(biz_model=rq_model))

    cancel_model = AlipayTradeCancelModel()
    cancel_model.out_trade_no = out
    cancel = _execute(client, AlipayTradeCancelRequest(biz_model=cancel_model))

    assert (paid["code"], paid["total_amount"]) == ("10000", "8.80")
    assert (query["trade_status"], query["subject"]) == ("TRADE_SUCCESS", TRICKY)
    assert refund["refund_fee"] == "1.00"
    assert refund_query["refund_amount"] == "1.00"
    assert cancel["action"] == "refund"


def test_official_sdk_precreate_create_close_gbk(server: Server, official: Any) -> None:
    client = official("GBK")
    out = _unique("of-gbk")
    pre = AlipayTradePrecreateModel()
    pre.out_trade_no, pre.subject, pre.total_amount = out + "-qr", TRICKY_GBK, 1
    precreate = _execute(client, AlipayTradePrecreateRequest(biz_model=pre))
    create = AlipayTradeCreateModel()
    create.out_trade_no, create.subject, create.total_amount = out, TRICKY_GBK, "2.50"
    create.buyer_id = user_wire_id(make_buyer(server.platform, phone="13500000021"))
    created = _execute(client, AlipayTradeCreateRequest(biz_model=create))
    query_model = AlipayTradeQueryModel()
    query_model.out_trade_no = out
    query = _execute(client, AlipayTradeQueryRequest(biz_model=query_model))
    close = AlipayTradeCloseModel()
    close.out_trade_no = out
    closed = _execute(client, AlipayTradeCloseRequest(biz_model=close))

    assert precreate["code"] == "10000"
    assert created["code"] == "10000"
    assert (query["subject"], query["total_amount"]) == (TRICKY_GBK, "2.50")
    assert closed["code"] == "10000"


def test_official_sdk_signed_business_error(server: Server, official: Any) -> None:
    query_model = AlipayTradeQueryModel()
    query_model.out_trade_no = "does-not-exist"
    answer = _execute(official(), AlipayTradeQueryRequest(biz_model=query_model))
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")


def test_official_sdk_rejects_tampered_response(
    server: Server, official: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _tampering_proxy(server) as proxy_url:
        monkeypatch.setattr(WebUtils, "get_http_connection", port_honouring_connection)
        client = official()
        client._DefaultAlipayClient__config.server_url = proxy_url  # type: ignore[attr-defined]
        query_model = AlipayTradeQueryModel()
        query_model.out_trade_no = "does-not-exist"
        with pytest.raises(ResponseException):
            client.execute(AlipayTradeQueryRequest(biz_model=query_model))


def test_official_sdk_page_and_app_pay_reach_cashier(server: Server, official: Any) -> None:
    client = official()
    page = AlipayTradePagePayModel()
    page.out_trade_no, page.total_amount, page.subject = _unique("of-page"), "6.00", "页面支付"
    page.product_code = "FAST_INSTANT_TRADE_PAY"
    url = client.page_execute(AlipayTradePagePayRequest(biz_model=page), http_method="GET")
    app = AlipayTradeAppPayModel()
    app.out_trade_no, app.total_amount, app.subject = _unique("of-app"), "7.00", "App 支付"
    order_string = client.sdk_execute(AlipayTradeAppPayRequest(biz_model=app))

    for target, amount in ((url, "6.00"), (server.gateway_url + "?" + order_string, "7.00")):
        response = httpx.get(target)
        assert response.status_code == 302, response.text
        assert f"¥{amount}" in httpx.get(response.headers["location"]).text


def test_official_sdk_notification_verifies(server: Server, official: Any) -> None:
    buyer = make_buyer(server.platform, phone="13500000012")
    out = _unique("of-n")
    model = AlipayTradePayModel()
    model.out_trade_no, model.scene, model.auth_code = out, "bar_code", server.code_for(buyer)
    model.subject, model.total_amount = TRICKY, "0.02"
    request = AlipayTradePayRequest(biz_model=model)
    request.notify_url = server.receiver.url
    _execute(official(), request)

    form = dict(_wait_for_form(server.receiver, out, "TRADE_SUCCESS"))
    signature = form.pop("sign")
    form.pop("sign_type")
    content = get_sign_content(form)

    public_base64 = "".join(server.platform_public_pem.splitlines()[1:-1])
    assert verify_with_rsa(public_base64, content.encode("utf-8"), signature)
