"""The bill download through python-alipay-sdk against a real `paybao serve` over HTTP.

A merchant's tool does exactly this: `alipay.data.dataservice.bill.downloadurl.query` for a
closed day, an HTTP GET of the returned URL within 30 seconds, then the zip is read the way
bookkeeping tools read Alipay's (GBK entry names, `#` comment lines, rows, totals lines).
The server runs as a subprocess on its own SQLite file (its own module: the sandbox clock is
moved a day ahead here, which would disturb the shared server of test_gateway_sdks.py).
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from alipay import AliPay
from alipay.utils import AliPayConfig

from paybao.adapters.alipay.keys import KeyPair, generate_key_pair
from paybao.bootstrap import Platform, build_platform
from paybao.services.merchants import NewMerchant
from paybao.settings import Settings

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from gateway_support import make_buyer

APP_ID = "2021000000005151"
BILL_METHOD = "alipay.data.dataservice.bill.downloadurl.query"
CHINA_TZ = timezone(timedelta(hours=8))


@dataclass
class Served:
    base_url: str
    platform: Platform
    keys: KeyPair


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_listening(base_url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("paybao serve did not start")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("bills")
    url = f"sqlite:///{folder / 'paybao.sqlite3'}"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(database_url=url, sandbox=True, data_dir=folder, base_url=base_url)
    platform = build_platform(settings, migrate=True)
    platform.ledger.open_platform_accounts()
    keys = generate_key_pair()
    new = NewMerchant(name="账单商户", app_id=APP_ID)
    platform.services["merchants"].create(new, keys.public_pem_spki)
    env = {
        **os.environ,
        "PAYBAO_DATABASE_URL": url,
        "PAYBAO_DATA_DIR": str(folder),
        "PAYBAO_SANDBOX": "1",
        "PAYBAO_BASE_URL": base_url,
        "PAYBAO_WORKER_POLL_INTERVAL_S": "0.1",
    }
    paybao = str(Path(sys.executable).parent / "paybao")
    process = subprocess.Popen(
        [paybao, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(base_url)
        yield Served(base_url, platform, keys)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
        platform.close()


def _sdk(served: Served) -> AliPay:
    client = AliPay(
        appid=APP_ID,
        app_notify_url=None,
        app_private_key_string=served.keys.private_pem_pkcs1,
        alipay_public_key_string=served.platform.services["platform_key"].public_pem,
        sign_type="RSA2",
        config=AliPayConfig(timeout=15),
    )
    client._gateway = f"{served.base_url}/gateway.do"
    return client


def _advance(client: AliPay, seconds: int) -> dict[str, Any]:
    answer = client.server_api("paybao.sandbox.clock.advance", {"duration": f"{seconds}s"})
    assert answer["code"] == "10000", answer
    return dict(answer)


def _bill_when_ready(client: AliPay, day: str, timeout_s: float = 15.0) -> dict[str, Any]:
    deadline_s = time.monotonic() + timeout_s
    while True:
        answer = dict(client.server_api(BILL_METHOD, {"bill_type": "trade", "bill_date": day}))
        if answer["code"] == "10000" or time.monotonic() > deadline_s:
            return answer
        time.sleep(0.2)


def _status_now(served: Served) -> datetime:
    status = httpx.get(f"{served.base_url}/api/v1/status", timeout=5).json()
    return datetime.fromisoformat(status["platform_time"]).astimezone(CHINA_TZ)


def _fen(cell: str) -> int:
    return int(Decimal(cell.strip()) * 100)


def _read_csv(archive: zipfile.ZipFile, name: str) -> tuple[list[dict[str, str]], list[str]]:
    lines = archive.read(name).decode("gbk").splitlines()
    comments = [line for line in lines if line.startswith("#")]
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    return rows, comments


def _yuan_after(label: str, comments: list[str]) -> tuple[int, int]:
    """(count, fen) of a totals line like `#交易合计：2笔，商家实收共45.67元，...`."""
    line = next(c for c in comments if c.startswith(f"#{label}"))
    found = re.search(r"：(\d+)笔，[^共]*共(-?\d+\.\d{2})元", line)
    assert found, line
    return int(found.group(1)), _fen(found.group(2))


def test_bill_download_url_zip_and_its_30_second_expiry(served: Served) -> None:
    client = _sdk(served)
    trades = served.platform.services["trades"]
    buyer = make_buyer(served.platform, phone="13600000001", balance_fen=500_00)
    amounts = ("12.34", "100.00", "0.05")
    for n, amount in enumerate(amounts):
        code = trades.issue_auth_code(buyer)
        paid = client.api_alipay_trade_pay(
            f"bill-{n}", "bar_code", code, f"商品{n}", total_amount=amount
        )
        assert paid["code"] == "10000", paid
    refund = client.api_alipay_trade_refund("30.00", out_trade_no="bill-1", out_request_no="r1")
    assert refund["fund_change"] == "Y"

    day = _status_now(served).date().isoformat()
    early = client.server_api(BILL_METHOD, {"bill_type": "trade", "bill_date": day})
    assert (early["code"], early["sub_code"]) == ("40004", "isp.bill_not_exist")

    now = _status_now(served)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), CHINA_TZ)
    _advance(client, int((midnight - now).total_seconds()) + 5)
    # The day's close runs in the advance, or in the server's own worker (polling every
    # 0.1 s) when it claims the due job first: the merchant sees the bill either way.
    answer = _bill_when_ready(client, day)
    assert answer["code"] == "10000", answer
    url = answer["bill_download_url"]
    assert url.startswith(f"{served.base_url}/bills/download?")
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    _check_trade_zip(response.content, day)
    assert httpx.get(url, timeout=10).status_code == 200  # still within 30 s: same file

    signcustomer = client.server_api(BILL_METHOD, {"bill_type": "signcustomer", "bill_date": day})
    movements = httpx.get(signcustomer["bill_download_url"], timeout=10)
    assert movements.status_code == 200
    _check_signcustomer_zip(movements.content)

    _advance(client, 31)
    expired = httpx.get(url, timeout=10)
    assert expired.status_code == 400
    assert expired.json()["error"]["code"] == "bill_not_exist"


def _check_trade_zip(content: bytes, day: str) -> None:
    with zipfile.ZipFile(io.BytesIO(content)) as raw:
        for info in raw.infolist():
            assert info.flag_bits & 0x800 == 0  # names are GBK, not flagged UTF-8
            assert info.filename.encode("cp437").decode("gbk").endswith(".csv")
    with zipfile.ZipFile(io.BytesIO(content), metadata_encoding="gbk") as archive:
        names = archive.namelist()
        detail = next(n for n in names if n.endswith("_业务明细.csv"))
        summary = next(n for n in names if n.endswith("_业务明细(汇总).csv"))
        assert day.replace("-", "") in detail
        rows, comments = _read_csv(archive, detail)
        summary_rows, summary_comments = _read_csv(archive, summary)
    assert comments[0].startswith("#支付宝业务明细查询")
    assert summary_comments[0].startswith("#支付宝业务汇总查询")
    payments = [r for r in rows if r["业务类型"].strip() == "交易"]
    refunds = [r for r in rows if r["业务类型"].strip() == "退款"]
    assert sorted(_fen(r["订单金额（元）"]) for r in payments) == [5, 12_34, 100_00]
    assert [_fen(r["商家实收（元）"]) for r in refunds] == [-30_00]
    assert all(_fen(r["服务费（元）"]) >= 0 for r in refunds)
    received = sum(_fen(r["商家实收（元）"]) for r in payments)
    refunded = sum(_fen(r["商家实收（元）"]) for r in refunds)
    assert _yuan_after("交易合计", comments) == (3, received)
    assert _yuan_after("退款合计", comments) == (1, refunded)
    total = next(r for r in summary_rows if r["门店编号"].strip() == "合计")
    fees = sum(_fen(r["服务费（元）"]) for r in rows)
    assert _fen(total["商家实收（元）"]) == received + refunded
    assert _fen(total["服务费（元）"]) == fees
    assert _fen(total["实收净额（元）"]) == received + refunded + fees


def _check_signcustomer_zip(content: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(content), metadata_encoding="gbk") as archive:
        (name,) = archive.namelist()
        rows, comments = _read_csv(archive, name)
    assert comments[0].startswith("#支付宝账务明细查询")
    balance_fen = 0
    for row in rows:
        income = _fen(row["收入金额（+元）"]) if row["收入金额（+元）"].strip() else 0
        expense = _fen(row["支出金额（-元）"]) if row["支出金额（-元）"].strip() else 0
        balance_fen += income + expense
        assert _fen(row["账户余额（元）"]) == balance_fen
    assert _yuan_after("收入合计", comments)[0] == sum(
        1 for r in rows if r["收入金额（+元）"].strip()
    )
