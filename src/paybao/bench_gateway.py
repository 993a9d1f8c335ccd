"""`paybao bench gateway`: alipay.trade.pay end to end over HTTP, against a real server.

1. Prepare the database at the URL: migrate, a merchant app, buyers with balance, and one-time
   till codes (bulk-inserted: issuing them is not what we measure).
2. Pre-sign every request (RSA signing is the client's cost, not the server's) in a process
   pool, so the load generator only writes bytes.
3. Start the server (uvicorn, the same app factory as `paybao serve`, N worker processes, the
   background worker off and access logs off) on a free port.
4. Drive it with a minimal keep-alive HTTP/1.1 client on asyncio (C connections, closed loop)
   for S seconds; count `10000` answers; report payments/s and p50/p99 latency.
5. Measure one core's RSA-2048 SHA256withRSA signing rate for the target (60 % of it).

`python -m paybao.bench_gateway URL [N]` is the single-threaded view of the same call: N
pre-signed pays through `AlipayGateway.handle` in this process (no HTTP), reporting SQL
statements per pay and CPU ms per pay, then a cProfile of another N. It stays meaningful on a
busy machine, where the end-to-end figures do not.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from paybao.adapters.alipay.keys import generate_key_pair, load_private_key
from paybao.adapters.alipay.signing import sign_content, sign_request_params
from paybao.adapters.db.tables.trade import pay_auth_codes
from paybao.adapters.db.user_store import SqlUserStore
from paybao.bootstrap import Platform, build_platform
from paybao.domain.accounts import Purpose, platform_account, user_account
from paybao.domain.ledger import Transfer
from paybao.services.merchants import NewMerchant
from paybao.settings import Settings

BENCH_APP_ID = "2021000000009999"
BUYERS = 1000
BUYER_BALANCE_FEN = 10_000_000_00
REQUESTS_PER_SECOND_MAX = 2500
SERVER_START_S_MAX = 60
PROFILE_BUYERS = 50
PROFILE_WARM_UP = 2 * PROFILE_BUYERS


def run_benchmark(
    database_url: str, *, seconds: float, workers: int = 2, connections: int = 32
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="paybao-bench-"))
    settings = Settings(database_url=database_url, sandbox=True, data_dir=data_dir)
    count = int(seconds * REQUESTS_PER_SECOND_MAX)
    keys = generate_key_pair()
    platform = build_platform(settings, migrate=True)
    try:
        buyer_ids = _prepare(platform, keys.public_pem_spki)
        codes = _issue_codes(platform, buyer_ids, count)
    finally:
        platform.close()
    bodies = _presign(keys.private_pem_pkcs1, codes)
    sign_rate = rsa_sign_per_s_one_core()
    port = _free_port()
    server = _start_server(database_url, data_dir, port, workers)
    try:
        latencies_s, ok, failed, elapsed_s = asyncio.run(_drive(port, bodies, seconds, connections))
    finally:
        _stop(server)
    return _result(
        latencies_s, ok, failed, elapsed_s, sign_rate, workers, connections, database_url
    )


def _prepare(platform: Platform, app_public_key: str, buyers: int = BUYERS) -> list[int]:
    platform.ledger.open_platform_accounts()
    merchants = platform.services["merchants"]
    new = NewMerchant(
        name="bench merchant", notify_url="http://127.0.0.1:9/notify", app_id=BENCH_APP_ID
    )
    merchants.create(new, app_public_key)
    merchants.replace_app_key(BENCH_APP_ID, app_public_key)
    run_id = secrets.token_hex(3)
    return platform.db.run(lambda tx: [_buyer(platform, tx, run_id, n) for n in range(buyers)])


def _buyer(platform: Platform, tx: Any, run_id: str, number: int) -> int:
    store = SqlUserStore()
    phone = f"19{int(run_id, 16) % 10**5:05d}{number:04d}"
    user_id = store.insert(tx, phone, "!bench", "active", platform.clock.now_us())
    spec = user_account(user_id)
    wallet_id = platform.ledger.open_accounts_in(tx, [spec])[spec.key]
    store.update(tx, user_id, account_class="III", wallet_account_id=wallet_id)
    bank = platform_account(Purpose.BANK_CLEARING)
    bank_id = platform.ledger.open_accounts_in(tx, [bank])[bank.key]
    topup = Transfer(f"bench:{run_id}:{user_id}", bank_id, wallet_id, BUYER_BALANCE_FEN)
    platform.ledger.transfer_in(tx, [topup])
    return user_id


def _issue_codes(platform: Platform, buyer_ids: list[int], count: int) -> list[str]:
    now_us = platform.clock.now_us()
    rows = [
        {
            # Never all digits: 18 digits from 25..30 read as a device payment code first.
            "code": "2a" + secrets.token_hex(8),
            "user_id": buyer_ids[index % len(buyer_ids)],
            "issued_at_us": now_us,
            "expires_at_us": now_us + 3600 * 1_000_000,
        }
        for index in range(count)
    ]
    with platform.db.write() as tx:
        tx.execute(insert(pay_auth_codes), rows)
    return [str(row["code"]) for row in rows]


def _presign(private_pem: str, codes: list[str]) -> list[bytes]:
    run_id = secrets.token_hex(4)
    timestamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")  # noqa: DTZ005 (as SDKs do)
    jobs = [(private_pem, run_id, timestamp, index, code) for index, code in enumerate(codes)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(_signed_request, jobs, chunksize=256))


def _signed_request(job: tuple[str, str, str, int, str]) -> bytes:
    private_pem, run_id, timestamp, index, code = job
    biz = {
        "out_trade_no": f"bench-{run_id}-{index}",
        "scene": "bar_code",
        "auth_code": code,
        "subject": "bench 测试",
        "total_amount": "0.01",
    }
    params = {
        "app_id": BENCH_APP_ID,
        "method": "alipay.trade.pay",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": timestamp,
        "version": "1.0",
        "notify_url": "http://127.0.0.1:9/notify",
        "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
    }
    params["sign"] = sign_request_params(params, private_pem)
    body = urllib.parse.urlencode(params).encode("ascii")
    head = (
        "POST /gateway.do HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded;charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def rsa_sign_per_s_one_core(duration_s: float = 1.0) -> float:
    key = load_private_key(generate_key_pair().private_pem_pkcs1)
    content = b'{"code":"10000","msg":"Success","trade_no":"2024050122001446881000012345"}'
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < duration_s:
        sign_content(content, key)
        count += 1
    return count / (time.perf_counter() - started)


def profile_pays(database_url: str, count: int = 500) -> dict[str, Any]:
    """N pays through the gateway pipeline in this process: statements and CPU per pay."""
    import cProfile
    import io
    import pstats

    import psycopg

    data_dir = Path(tempfile.mkdtemp(prefix="paybao-profile-"))
    settings = Settings(database_url=database_url, sandbox=True, data_dir=data_dir)
    keys = generate_key_pair()
    platform = build_platform(settings, migrate=True)
    try:
        # Few buyers, each seen in the warm-up: per-buyer first times (the usage row of the
        # period, cached look-ups) are not the steady state the server runs in.
        buyer_ids = _prepare(platform, keys.public_pem_spki, PROFILE_BUYERS)
        codes = _issue_codes(platform, buyer_ids, 2 * count + PROFILE_WARM_UP)
        bodies = [_split(r) for r in _presign(keys.private_pem_pkcs1, codes)]
        gateway = platform.services["alipay_gateway"]
        content_type = "application/x-www-form-urlencoded;charset=utf-8"
        statements = [0]
        originals = (psycopg.Cursor.execute, psycopg.Cursor.executemany)

        def counting(original: Any) -> Any:
            def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                statements[0] += 1
                return original(self, *args, **kwargs)

            return wrapper

        def pay(body: bytes) -> None:
            reply = gateway.handle(b"", body, content_type)
            assert b'"code":"10000"' in reply.body, reply.body[:300]

        for body in bodies[:PROFILE_WARM_UP]:
            pay(body)
        psycopg.Cursor.execute = counting(originals[0])  # type: ignore[method-assign]
        psycopg.Cursor.executemany = counting(originals[1])  # type: ignore[method-assign]
        try:
            cpu_started, wall_started = time.process_time(), time.perf_counter()
            for body in bodies[PROFILE_WARM_UP : PROFILE_WARM_UP + count]:
                pay(body)
            cpu_s, wall_s = time.process_time() - cpu_started, time.perf_counter() - wall_started
        finally:
            psycopg.Cursor.execute, psycopg.Cursor.executemany = originals  # type: ignore[method-assign]
        profiler = cProfile.Profile()
        profiler.enable()
        for body in bodies[PROFILE_WARM_UP + count :]:
            pay(body)
        profiler.disable()
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("tottime").print_stats(20)
        stats.sort_stats("cumulative").print_stats("paybao", 30)
        sign_s = 1 / rsa_sign_per_s_one_core()
    finally:
        platform.close()
    return {
        "pays": count,
        "statements_per_pay": round(statements[0] / count, 2),
        "cpu_ms_per_pay": round(cpu_s * 1000 / count, 2),
        "cpu_ms_per_pay_without_rsa_sign": round((cpu_s / count - sign_s) * 1000, 2),
        "wall_ms_per_pay": round(wall_s * 1000 / count, 2),
        "profile": text.getvalue(),
    }


def _split(request: bytes) -> bytes:
    return request.split(b"\r\n\r\n", 1)[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_server(url: str, data_dir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PAYBAO_DATABASE_URL": url,
        "PAYBAO_DATA_DIR": str(data_dir),
        "PAYBAO_RUN_WORKER_IN_SERVER": "0",
        "PAYBAO_SANDBOX": "1",
    }
    command = [
        sys.executable, "-m", "uvicorn", "paybao.web.app:create_app_from_env", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-level", "warning", "--http", "httptools",
    ]  # fmt: skip
    # Our own interpreter and arguments: nothing in the command comes from outside.
    server = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603
    try:
        wait_for_port(port)
    except RuntimeError:
        _stop(server)
        raise
    return server


def wait_for_port(port: int) -> None:
    """Until the server on `port` accepts connections (then a second more, for every worker
    process to finish starting), at most SERVER_START_S_MAX."""
    deadline = time.monotonic() + SERVER_START_S_MAX
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                time.sleep(1.0)
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def _stop(server: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(server.pid, signal.SIGKILL)


async def _drive(
    port: int, bodies: list[bytes], seconds: float, connections: int
) -> tuple[list[float], int, int, float]:
    queue = iter(bodies)
    latencies_s: list[float] = []
    counts = {"ok": 0, "failed": 0}
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in queue:
                if time.perf_counter() >= deadline:
                    return
                started = time.perf_counter()
                writer.write(request)
                closing, body = await _read_response(reader)
                latencies_s.append(time.perf_counter() - started)
                counts["ok" if b'"code":"10000"' in body else "failed"] += 1
                if closing:  # the server recycles connections (web/connection_recycle.py)
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return latencies_s, counts["ok"], counts["failed"], time.perf_counter() - started


async def _read_response(reader: asyncio.StreamReader) -> tuple[bool, bytes]:
    """(whether the server closes the connection after it, the body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    closing = False
    for line in head.split(b"\r\n"):
        lowered = line.lower()
        if lowered.startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
        elif lowered.startswith(b"connection:"):
            closing = b"close" in lowered
    return closing, await reader.readexactly(length)


def _result(
    latencies_s: list[float],
    ok: int,
    failed: int,
    elapsed_s: float,
    sign_rate: float,
    workers: int,
    connections: int,
    url: str,
) -> dict[str, Any]:
    ordered = sorted(latencies_s) or [0.0]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    rate = ok / elapsed_s if elapsed_s else 0.0
    return {
        "payments_per_s": round(rate, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "rsa2_sign_per_s_one_core": round(sign_rate, 1),
        "target_payments_per_s": round(0.6 * sign_rate, 1),
        "target_met": rate >= 0.6 * sign_rate and p99 * 1000 < 100,
        "payments_ok": ok,
        "payments_failed": failed,
        "seconds": round(elapsed_s, 2),
        "server_workers": workers,
        "connections": connections,
        "database": url.split(":", 1)[0],
    }


def format_table(result: dict[str, Any]) -> str:
    width = max(len(key) for key in result)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in result.items())


if __name__ == "__main__":
    figures = profile_pays(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 500)
    print(figures.pop("profile"))
    print(json.dumps(figures))
