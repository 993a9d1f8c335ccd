"""bench/gateway_floor.py's server does the protocol's whole per-call work: a pre-signed pay
gets a success envelope signed with the platform key, and a tampered request is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench import gateway_floor
from fastapi.testclient import TestClient

from paybao.adapters.alipay.keys import generate_key_pair
from paybao.adapters.alipay.signing import verify_content
from paybao.bench_gateway import _signed_request


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    app, platform = generate_key_pair(), generate_key_pair()
    (tmp_path / "app.pem").write_text(app.public_pem_spki)
    (tmp_path / "platform.pem").write_text(platform.private_pem_pkcs1)
    monkeypatch.setenv(gateway_floor.ENV_APP_KEY, str(tmp_path / "app.pem"))
    monkeypatch.setenv(gateway_floor.ENV_PLATFORM_KEY, str(tmp_path / "platform.pem"))
    return app.private_pem_pkcs1, platform.public_pem_spki


def _post(request: bytes) -> bytes:
    body = request.split(b"\r\n\r\n", 1)[1]
    with TestClient(gateway_floor.create_app()) as client:
        answer = client.post(
            "/gateway.do",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )
    assert answer.status_code == 200
    return answer.content


def test_a_signed_pay_gets_a_signed_success(keys: tuple[str, str]) -> None:
    app_private, platform_public = keys
    body = _post(_signed_request((app_private, "run", "2026-11-26 12:00:00", 7, "2a00")))
    raw = body[len(b'{"alipay_trade_pay_response":') : body.index(b',"sign":"')]
    reply = json.loads(body)
    assert reply["alipay_trade_pay_response"]["code"] == "10000"
    assert reply["alipay_trade_pay_response"]["out_trade_no"] == "bench-run-7"
    assert verify_content(raw, reply["sign"], platform_public, "RSA2")


def test_a_tampered_request_is_refused(keys: tuple[str, str]) -> None:
    request = _signed_request((keys[0], "run", "2026-11-26 12:00:00", 7, "2a00"))
    tampered = request.replace(b"0.01", b"0.02")
    assert tampered != request
    reply = json.loads(_post(tampered))["alipay_trade_pay_response"]
    assert (reply["code"], reply["sub_code"]) == ("40002", "isv.invalid-signature")
