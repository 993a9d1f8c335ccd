"""python-alipay-sdk 3.4.0's `DCAliPay` (public key certificate mode, 公钥证书模式) against a real
`paybao serve`, configured with nothing but the three files paybao hands out
(appCertPublicKey_<app_id>.crt, alipayCertPublicKey_RSA2.crt, alipayRootCert.crt).

DCAliPay signs `app_cert_sn` and `alipay_root_cert_sn` into every request and verifies every
answer with the key it reads from the platform certificate. Trades, a refund and
alipay.fund.trans.uni.transfer (which real Alipay only serves in certificate mode) go through
and verify; a tampered answer and a foreign platform certificate are rejected; a request naming
a revoked app certificate, or a root that is not the platform's, gets Alipay's error, signed;
the notification verifies with DCAliPay's own `verify`. Answers carry `alipay_cert_sn` after
`sign`, and the official SDK (which has no certificate mode) still works beside it.

The server and its fixtures are test_gateway_sdks.py's (a separate `paybao serve` for this
module); this process shares its database and data folder, so the certificates it issues are
the server's.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from alipay import DCAliPay
from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
from alipay.exceptions import AliPayException, AliPayValidationError
from test_gateway_sdks import (
    APP_ID,
    Server,
    _tampering_proxy,
    _wait_for_form,
    make_buyer,
    official,
    server,
)

from paybao.adapters.alipay import certificates
from paybao.adapters.alipay.keys import generate_key_pair, load_private_key
from paybao.adapters.alipay.methods import user_wire_id
from paybao.services.app_certificates import CertFiles

__all__ = ["official", "server"]  # fixtures used by the tests below

CERT_ACTOR = "contract-test"


def _files(server: Server) -> CertFiles:
    files: CertFiles = server.platform.services["app_certificates"].files(APP_ID, actor=CERT_ACTOR)
    return files


def dc_sdk(
    server: Server,
    *,
    app_cert: str | None = None,
    platform_cert: str | None = None,
    root: str | None = None,
    gateway_url: str | None = None,
) -> DCAliPay:
    files = _files(server)
    client = DCAliPay(
        appid=APP_ID,
        app_private_key_string=server.keys.private_pem_pkcs1,
        app_public_key_cert_string=app_cert or files.app_cert_pem,
        alipay_public_key_cert_string=platform_cert or files.platform_cert_pem,
        alipay_root_cert_string=root or files.root_pem,
        app_notify_url=server.receiver.url,
        sign_type="RSA2",
    )
    client._gateway = gateway_url or server.gateway_url
    return client


def _unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns()}"


def test_dcalipay_trades_refunds_and_transfers_in_certificate_mode(server: Server) -> None:
    client = dc_sdk(server)
    files = _files(server)
    assert client.app_cert_sn == files.app_cert_sn
    assert client.alipay_root_cert_sn == server.platform.services["app_certificates"].root_sn()
    buyer = make_buyer(server.platform, phone="13600000001")
    payee = make_buyer(server.platform, phone="13600000002", balance_fen=0)
    out = _unique("dc")

    pre = client.api_alipay_trade_precreate(
        subject="证书模式 {测试}", out_trade_no=out + "-qr", total_amount="1.00"
    )
    paid = client.api_alipay_trade_pay(
        out, "bar_code", server.code_for(buyer), "证书模式", total_amount="20.00"
    )
    query = client.api_alipay_trade_query(out_trade_no=out)
    refund = client.api_alipay_trade_refund("2.50", out_trade_no=out, out_request_no="r1")
    transfer = client.api_alipay_fund_trans_uni_transfer(
        out_biz_no=out + "-t",
        identity_type="ALIPAY_USER_ID",
        identity=user_wire_id(payee),
        trans_amount="1.50",
        order_title="奖金",
    )

    assert pre["code"] == "10000" and pre["qr_code"]
    assert (paid["code"], paid["total_amount"]) == ("10000", "20.00")
    assert (query["trade_status"], query["total_amount"]) == ("TRADE_SUCCESS", "20.00")
    assert (refund["fund_change"], refund["refund_fee"]) == ("Y", "2.50")
    assert (transfer["code"], transfer["status"]) == ("10000", "SUCCESS")


def test_answers_carry_alipay_cert_sn_after_sign(server: Server) -> None:
    client = dc_sdk(server)
    data = client.build_body("alipay.trade.query", {"out_trade_no": "none"})
    raw = httpx.get(server.gateway_url + "?" + client.sign_data(data), timeout=15).text

    platform_sn = certificates.cert_sn(certificates.load_cert(_files(server).platform_cert_pem))
    assert raw.endswith(f'"alipay_cert_sn":"{platform_sn}"}}')
    assert list(json.loads(raw)) == ["alipay_trade_query_response", "sign", "alipay_cert_sn"]
    answer = client._verify_and_return_sync_response(raw, "alipay_trade_query_response")
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")


def test_dcalipay_downloads_the_platform_certificate_an_answer_names(server: Server) -> None:
    """DCAliPay only builds the signed request for alipay.open.app.alipaycert.download; the
    merchant sends it (as with a page method) and checks the answer with the SDK's own code."""
    client = dc_sdk(server)
    sn = certificates.cert_sn(certificates.load_cert(_files(server).platform_cert_pem))
    query = client.api_alipay_open_app_alipaycert_download(sn)
    raw = httpx.get(server.gateway_url + "?" + query, timeout=15).text
    answer = client._verify_and_return_sync_response(
        raw, "alipay_open_app_alipaycert_download_response"
    )
    content = base64.b64decode(answer["alipay_cert_content"]).decode()
    assert content == _files(server).platform_cert_pem
    assert DCAliPay.get_cert_sn(content) == sn


def test_dcalipay_rejects_tampered_and_foreign_answers(server: Server) -> None:
    with _tampering_proxy(server) as proxy_url:
        client = dc_sdk(server, gateway_url=proxy_url)
        with pytest.raises((AliPayValidationError, AliPayException)):
            client.api_alipay_trade_query(out_trade_no="nope")
    # A platform certificate for some other key: the answers do not verify with it.
    stranger = generate_key_pair()
    files = _files(server)
    root = certificates.load_bundle(files.root_pem)[0]
    foreign = certificates.issue(
        load_private_key(stranger.private_pem_pkcs1),
        root,
        load_private_key(stranger.private_pem_pkcs1).public_key(),
        certificates.ca_name(certificates.PLATFORM_UNIT, "stranger"),
        datetime.now(UTC),
        certificates.PLATFORM_CERT_VALIDITY,
    )
    with pytest.raises(AliPayValidationError):
        dc_sdk(server, platform_cert=foreign.pem).api_alipay_trade_query(out_trade_no="nope")


def test_a_revoked_app_certificate_or_a_foreign_root_gets_alipays_error(server: Server) -> None:
    """The server caches what it learnt about an SN for up to 30 s (as it caches apps), so the
    revoked certificate is one it has not seen before: as a revocation by another process
    looks to it half a minute later."""
    service = server.platform.services["app_certificates"]
    revoked = service.issue(APP_ID, actor=CERT_ACTOR)
    service.revoke(APP_ID, revoked.sn, actor=CERT_ACTOR)
    fresh = service.issue(APP_ID, actor=CERT_ACTOR)
    out = _unique("dc-r")

    refused = dc_sdk(server, app_cert=revoked.pem).api_alipay_trade_precreate(
        subject="s", out_trade_no=out, total_amount="1.00"
    )
    assert (refused["code"], refused["sub_code"]) == ("40002", "isv.app-cert-not-exist")

    stranger_root = certificates.bundle_pem(
        [
            certificates.make_root(
                load_private_key(generate_key_pair().private_pem_pkcs1),
                datetime.now(UTC),
            )
        ]
    )
    wrong_root = dc_sdk(server, app_cert=fresh.pem, root=stranger_root)
    answer = wrong_root.api_alipay_trade_precreate(
        subject="s", out_trade_no=out, total_amount="1.00"
    )
    assert (answer["code"], answer["sub_code"]) == ("40002", "isv.invalid-alipay-root-cert-sn")

    accepted = dc_sdk(server, app_cert=fresh.pem).api_alipay_trade_precreate(
        subject="s", out_trade_no=out, total_amount="1.00"
    )
    assert accepted["code"] == "10000"


def test_the_notification_verifies_with_dcalipay(server: Server) -> None:
    client = dc_sdk(server)
    buyer = make_buyer(server.platform, phone="13600000003")
    out = _unique("dc-n")
    client.api_alipay_trade_pay(
        out, "bar_code", server.code_for(buyer), "通知", total_amount="0.01"
    )

    form = dict(_wait_for_form(server.receiver, out, "TRADE_SUCCESS"))
    signature = form.pop("sign")

    assert client.verify(dict(form), signature)
    assert not client.verify({**form, "total_amount": "100.00"}, signature)
    assert "alipay_cert_sn" not in form  # Alipay adds nothing to the form in this mode


def test_the_official_sdk_is_unchanged_beside_certificate_mode(
    server: Server, official: Any
) -> None:
    _files(server)  # the app has certificates; its ordinary calls stay ordinary
    model = AlipayTradeQueryModel()
    model.out_trade_no = "none-" + urllib.parse.quote("x")
    answer = json.loads(official().execute(AlipayTradeQueryRequest(biz_model=model)))
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")
