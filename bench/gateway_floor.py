"""The ceiling of the gateway on this machine: `/gateway.do` with no business and no database.

`paybao bench gateway` measures `alipay.trade.pay` end to end. This script measures what is
left when the payment itself costs nothing: the same pre-signed requests, the same HTTP client,
the same server stack (FastAPI on uvicorn with httptools, 2 worker processes, the same lean
route, the call in a worker thread), and per request only what the protocol makes every call
do: parse the form, verify the merchant's RSA2 signature, parse `biz_content`, check the
timestamp, and build and RSA2-sign the response envelope (a fixed trade). No database, no
ledger, no outbox.

No payment path on this stack can be faster than this, so it tells whether a throughput
target is within reach at all here, and how much of each payment's time the database and the
business take.

    python -m bench.gateway_floor [--seconds 30] [--workers 2] [--connections 32] [--json]

It writes bench/results/gateway_floor.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.envelope import build_response
from paybao.adapters.alipay.errors import WireError
from paybao.adapters.alipay.keys import generate_key_pair, load_private_key, load_public_key
from paybao.bench_gateway import (
    REQUESTS_PER_SECOND_MAX,
    _drive,
    _free_port,
    _presign,
    _result,
    rsa_sign_per_s_one_core,
    wait_for_port,
)

RESULTS = Path(__file__).resolve().parent / "results"
ENV_APP_KEY = "PAYBAO_FLOOR_APP_PUBLIC_KEY_FILE"
ENV_PLATFORM_KEY = "PAYBAO_FLOOR_PLATFORM_PRIVATE_KEY_FILE"
THREADS_MAX = 20  # as the real route: at most the database pool's size in flight
TRADE_FIELDS = {
    "code": "10000",
    "msg": "Success",
    "trade_no": "2026112622001400000000000001",
    "out_trade_no": "bench",
    "buyer_logon_id": "191******00",
    "total_amount": "0.01",
    "receipt_amount": "0.01",
    "buyer_pay_amount": "0.01",
    "point_amount": "0.00",
    "invoice_amount": "0.01",
    "gmt_payment": "2026-11-26 12:00:00",
    "fund_bill_list": [{"fund_channel": "ALIPAYACCOUNT", "amount": "0.01"}],
    "buyer_user_id": "2088000000000001",
}


def create_app() -> FastAPI:
    """The uvicorn factory: one route doing the protocol's own work and nothing else."""
    app_key = load_public_key(Path(os.environ[ENV_APP_KEY]).read_text())
    platform_key = load_private_key(Path(os.environ[ENV_PLATFORM_KEY]).read_text())
    limiter = anyio.CapacityLimiter(THREADS_MAX)

    def handle(body: bytes, content_type: str | None) -> bytes:
        method = "alipay.trade.pay"
        try:
            request = wire.parse_gateway_request(b"", body, content_type)
            common = wire.check_common_params(request)
            method = common.method
            wire.verify_request_signature(request, app_key)
            wire.parse_timestamp(common.timestamp)
            biz = wire.parse_biz_content(common.biz_content)
            fields = {**TRADE_FIELDS, "out_trade_no": str(biz["out_trade_no"])}
        except WireError as error:  # answered signed, as the real gateway does
            fields = dict(error.to_response_fields())
        return build_response(method, fields, platform_key, sign_type="RSA2", charset="utf-8")

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type")
        reply = await anyio.to_thread.run_sync(handle, body, content_type, limiter=limiter)
        return Response(reply, headers={"Content-Type": "text/html;charset=utf-8"})

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.router.routes.insert(0, Route("/gateway.do", endpoint, methods=["POST"]))
    return app


def run(seconds: float, workers: int, connections: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="paybao-floor-"))
    app_keys, platform_keys = generate_key_pair(), generate_key_pair()
    (folder / "app.pem").write_text(app_keys.public_pem_spki)
    (folder / "platform.pem").write_text(platform_keys.private_pem_pkcs1)
    codes = ["2a" + secrets.token_hex(8) for _ in range(int(seconds * REQUESTS_PER_SECOND_MAX))]
    bodies = _presign(app_keys.private_pem_pkcs1, codes)
    sign_rate = rsa_sign_per_s_one_core()
    port = _free_port()
    env = {
        **os.environ,
        ENV_APP_KEY: str(folder / "app.pem"),
        ENV_PLATFORM_KEY: str(folder / "platform.pem"),
    }
    command = [
        sys.executable, "-m", "uvicorn", "bench.gateway_floor:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-level", "warning", "--http", "httptools",
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        wait_for_port(port)
        cpu_before = _cpu_s()
        latencies_s, ok, failed, elapsed_s = asyncio.run(_drive(port, bodies, seconds, connections))
        cpu_used_s = _cpu_s() - cpu_before
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)
    result = _result(latencies_s, ok, failed, elapsed_s, sign_rate, workers, connections, "none")
    result["machine_cpu_ms_per_request"] = round(cpu_used_s * 1000 / max(1, ok + failed), 3)
    result["cores"] = os.cpu_count()
    return result


def _cpu_s() -> float:
    """CPU seconds the whole machine has spent outside idle (all processes, both sides)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(value) for value in fields]
    busy = sum(ticks) - ticks[3] - ticks[4]  # idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.seconds, args.workers, args.connections)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gateway_floor.json").write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result))
    else:
        width = max(len(key) for key in result)
        print("\n".join(f"{key.ljust(width)}  {value}" for key, value in result.items()))


if __name__ == "__main__":
    main()
