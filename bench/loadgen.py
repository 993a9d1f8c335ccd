"""A realistic load generator, shared by the crash test and the sustained-load benchmark.

The mix: wallet top-ups, transfers, withdrawals and red packet sends through the REST API
(bearer tokens, `Idempotency-Key`; each confirmed by the payment password or, for a share
`device_share` of them, by the buyer's registered device signing the request, as a phone with
fingerprint pay does), red packet claims by other buyers (REST, `Idempotency-Key`), merchant
payments and refunds through `/gateway.do` (RSA2-signed, as an SDK would send them), and a
small share of payments through Alipay's v3 protocol (`POST /v3/alipay/trade/pay`, signed in the
Authorization header; a retry signs anew with a NEW nonce and the SAME out_trade_no). Every
operation has a caller key chosen before the first attempt; a client that sees a connection
error, a timeout or a 5xx retries with the SAME key, as a real client must.
The outcome of each operation is recorded so that a checker can compare it with the database.
"""

from __future__ import annotations

import json
import random
import secrets
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import insert, select, update

from bench.lean_http import Answer, LeanHttp, TransportError
from paybao.adapters.alipay.keys import generate_key_pair, load_private_key
from paybao.adapters.alipay.signing import sign_request_params
from paybao.adapters.alipay.v3 import AUTH_SCHEME, request_sign_content, sign_sha256_rsa
from paybao.adapters.db.tables.bank import bank_card_accounts
from paybao.adapters.db.tables.trade import pay_auth_codes
from paybao.adapters.db.tables.wallet import sms_outbox
from paybao.adapters.db.user_store import SqlUserStore
from paybao.bootstrap import Platform
from paybao.domain.cards import generate_card_number
from paybao.domain.devices import (
    HEADER_DEVICE_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    encode_b64,
    request_digest,
    signed_message,
)
from paybao.domain.identity import generate_id_number
from paybao.services.merchants import NewMerchant

PAYMENT_PASSWORD = "258036"  # noqa: S105 (test users of a throw-away database)
LOGIN_PASSWORD = "load1234"  # noqa: S105
ATTEMPTS_MAX = 60
CARD_FUNDS_FEN = 100_000_000_00  # each buyer's sandbox card: never the limit of a run
REQUEST_TIMEOUT_S = 10.0
# Red packets are a small share (1 in 18: ~5.6 %, sends and claims), so that the crash test's
# duration and the load benchmark stay comparable with runs before they were in the mix.
MIX: dict[str, int] = {
    "topup": 4,
    "transfer": 8,
    "pay": 14,
    "pay_v3": 2,  # taken from the classic pays: the mix's total and money flow stay as they were
    "refund": 4,
    "withdraw": 2,
    "red_packet_send": 1,
    "red_packet_claim": 1,
}
RED_PACKET_SHARES = 3
RED_PACKETS_OPEN_MAX = 20  # claims go to the newest packets sent: they still have shares


@dataclass(frozen=True)
class Buyer:
    user_id: int
    phone: str
    token: str
    card_id: int
    device_id: str
    device_key: Ed25519PrivateKey


@dataclass
class Setup:
    buyers: list[Buyer]
    app_id: str
    app_private_pem: str
    notify_url: str
    auth_codes: list[str] = field(default_factory=list)
    # Share (0..1) of wallet operations confirmed by the device instead of the password.
    device_share: float = 0.5
    # (packet id, sender's user id) of the red packets sent so far, shared by the clients.
    red_packets: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Outcome:
    kind: str
    key: str
    status: str  # ok | rejected | gave_up
    attempts: int
    latency_ms: float
    detail: dict[str, Any] = field(default_factory=dict)
    started_at_s: float = 0.0


# Preparation (in process, on the database the servers will use) ------------------------------


def _last_code(platform: Platform, phone: str) -> str:
    with platform.engine.connect() as connection:
        text = connection.execute(
            select(sms_outbox.c.text)
            .where(sms_outbox.c.phone == phone)
            .order_by(sms_outbox.c.id.desc())
            .limit(1)
        ).scalar_one()
    return str(text).split("验证码 ")[1][:6]


def _register(platform: Platform, rng: random.Random, number: int, run: str) -> Buyer:
    services = platform.services
    registration = services["registration"]
    phone = f"17{run}{number:04d}"
    name = "测试" + "甲乙丙丁戊己庚辛壬癸"[number % 10]
    user_id = registration.start(phone, LOGIN_PASSWORD)
    registration.verify_phone(user_id, _last_code(platform, phone))
    registration.set_payment_password(user_id, PAYMENT_PASSWORD)
    registration.verify_identity(user_id, name, generate_id_number(rng))
    card_number = generate_card_number(rng, "CCB")
    card_id = registration.add_card(user_id, card_number, name, phone)
    registration.confirm_card(user_id, card_id, _last_code(platform, phone))
    # The sandbox bank opens a card with 10,000 CNY; at ~30 CNY/s of top-ups per buyer that is
    # empty within minutes, the bank refuses the top-ups, and the wallets drain. Fund the card
    # for the whole run.
    platform.db.run(
        lambda tx: tx.execute(
            update(bank_card_accounts)
            .where(bank_card_accounts.c.card_number == card_number)
            .values(balance_fen=CARD_FUNDS_FEN)
        )
    )
    # Class III (verified in person, say), so that yearly balance limits do not end the run.
    platform.db.run(lambda tx: SqlUserStore().update(tx, user_id, account_class="III"))
    services["wallet"].top_up(user_id, card_id, 2_000_00, PAYMENT_PASSWORD)
    token = services["operators"].issue_token(user_id)
    key = Ed25519PrivateKey.generate()
    public_key = encode_b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    device = services["devices"].register(user_id, "load phone", public_key, PAYMENT_PASSWORD)
    return Buyer(user_id, phone, token, card_id, device.device_id, key)


def prepare(
    platform: Platform,
    *,
    buyers: int,
    notify_url: str,
    auth_codes: int,
    device_share: float = 0.5,
) -> Setup:
    rng = random.Random(7)
    run = f"{rng.randrange(10**5):05d}"
    people = [_register(platform, rng, number, run) for number in range(buyers)]
    pair = generate_key_pair()
    app_id = "2099" + f"{rng.randrange(10**12):012d}"
    platform.services["merchants"].create(
        NewMerchant(name="load merchant", notify_url=notify_url, app_id=app_id),
        pair.public_pem_spki,
    )
    setup = Setup(people, app_id, pair.private_pem_pkcs1, notify_url, device_share=device_share)
    setup.auth_codes = issue_auth_codes(platform, [b.user_id for b in people], auth_codes)
    return setup


def issue_auth_codes(platform: Platform, user_ids: list[int], count: int) -> list[str]:
    """Payment codes the buyers 'show' to the merchant (the wallet API issues the same)."""
    now_us = platform.clock.now_us()
    rows = [
        {
            "code": "28" + secrets.token_hex(8),
            "user_id": user_ids[index % len(user_ids)],
            "issued_at_us": now_us,
            "expires_at_us": now_us + 6 * 3600 * 1_000_000,
        }
        for index in range(count)
    ]
    with platform.db.write() as tx:
        tx.execute(insert(pay_auth_codes), rows)
    return [str(row["code"]) for row in rows]


# A merchant's notify receiver ------------------------------------------------------------------


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A killed worker resets its kept-alive connections: expected, not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class NotifyReceiver:
    """Counts notifications by out_trade_no and answers `success`, like a merchant server."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as merchant servers do: the notifier reuses its connections.
            protocol_version = "HTTP/1.1"
            # The answer in one segment: written unbuffered, headers and body went as two, and
            # Nagle's algorithm held the body back for the notifier's delayed ACK (~40 ms per
            # notification, which made the receiver, not paybao, the pace of deliveries).
            wbufsize = -1

            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), 1_000_000)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
                key = (form.get("out_trade_no") or ["?"])[0]
                with receiver.lock:
                    receiver.counts[key] = receiver.counts.get(key, 0) + 1
                body = b"success"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> NotifyReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()


# The client --------------------------------------------------------------------------------------


class LoadClient:
    def __init__(self, base_url: str, setup: Setup, seed: int) -> None:
        self.base_url = base_url
        self.setup = setup
        self.rng = random.Random(seed)
        self.http = LeanHttp(base_url, timeout_s=REQUEST_TIMEOUT_S)
        self.paid: list[tuple[str, int]] = []  # (out_trade_no, amount_fen) seen paid
        self.retries = 0
        self.seed = seed
        self.counter = 0
        self._v3_private_key: Any = None

    def close(self) -> None:
        self.http.close()

    def key(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}-{self.seed}-{self.counter}-{secrets.token_hex(3)}"

    def one(self) -> Outcome:
        kinds = list(MIX)
        kind = self.rng.choices(kinds, weights=[MIX[k] for k in kinds])[0]
        if kind == "refund" and not self.paid:
            kind = "pay"
        if kind == "red_packet_claim" and not self.setup.red_packets:
            kind = "red_packet_send"
        operation: Callable[[], Outcome] = getattr(self, f"op_{kind}")
        return operation()

    # Wallet operations through REST ---------------------------------------------------------

    def _rest(self, kind: str, path: str, buyer: Buyer, body: dict[str, Any]) -> Outcome:
        key = self.key(kind)
        headers = {"Authorization": f"Bearer {buyer.token}", "Idempotency-Key": key}
        if self.rng.random() < self.setup.device_share:
            del body["payment_password"]
            raw = json.dumps(body).encode()
            headers.update(_device_headers(buyer, path, key, raw))
            return self._retry(
                kind, key, lambda: self.http.post(path, content=raw, headers=headers)
            )
        return self._retry(kind, key, lambda: self.http.post(path, json_body=body, headers=headers))

    def op_topup(self) -> Outcome:
        buyer = self.rng.choice(self.setup.buyers)
        body = {
            "card_id": buyer.card_id,
            # Top-ups refill what the mix spends (8 pays of ~10 CNY, a withdrawal of ~10 CNY
            # per 2 top-ups of ~50 CNY): otherwise balances drain within minutes and the mix
            # turns into a stream of insufficient-funds refusals.
            "amount_fen": self.rng.randint(100, 10_000),
            "payment_password": PAYMENT_PASSWORD,
        }
        return self._rest("topup", "/api/v1/wallet/topups", buyer, body)

    def op_transfer(self) -> Outcome:
        payer, payee = self.rng.sample(self.setup.buyers, 2)
        body = {
            "payee_phone": payee.phone,
            "amount_fen": self.rng.randint(1, 3_000),
            "payment_password": PAYMENT_PASSWORD,
        }
        return self._rest("transfer", "/api/v1/wallet/transfers", payer, body)

    def op_withdraw(self) -> Outcome:
        buyer = self.rng.choice(self.setup.buyers)
        body = {
            "card_id": buyer.card_id,
            "amount_fen": self.rng.randint(100, 2_000),
            "payment_password": PAYMENT_PASSWORD,
            "arrival": "instant",
        }
        return self._rest("withdraw", "/api/v1/wallet/withdrawals", buyer, body)

    def op_red_packet_send(self) -> Outcome:
        buyer = self.rng.choice(self.setup.buyers)
        body = {
            "kind": "lucky",
            "total_fen": self.rng.randint(RED_PACKET_SHARES, 3_000),
            "count": RED_PACKET_SHARES,
            "payment_password": PAYMENT_PASSWORD,
        }
        outcome = self._rest("red_packet_send", "/api/v1/red-packets", buyer, body)
        if outcome.status == "ok":
            self.setup.red_packets.append((str(outcome.detail["id"]), buyer.user_id))
        return outcome

    def op_red_packet_claim(self) -> Outcome:
        packet_id, sender_id = self.rng.choice(self.setup.red_packets[-RED_PACKETS_OPEN_MAX:])
        claimant = self.rng.choice([b for b in self.setup.buyers if b.user_id != sender_id])
        key = self.key("red_packet_claim")
        path = f"/api/v1/red-packets/{packet_id}/claim"
        headers = {"Authorization": f"Bearer {claimant.token}", "Idempotency-Key": key}
        return self._retry("red_packet_claim", key, lambda: self.http.post(path, headers=headers))

    # Merchant operations through the gateway ------------------------------------------------

    def _gateway(self, kind: str, key: str, method: str, biz: dict[str, Any]) -> Outcome:
        def send() -> Answer:
            params = {
                "app_id": self.setup.app_id,
                "method": method,
                "charset": "utf-8",
                "sign_type": "RSA2",
                # Naive local time, as both Alipay SDKs stamp their requests.
                "timestamp": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),  # noqa: DTZ005
                "version": "1.0",
                "notify_url": self.setup.notify_url,
                "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
            }
            params["sign"] = sign_request_params(params, self.setup.app_private_pem)
            return self.http.post("/gateway.do", form=params)

        return self._retry(kind, key, send, gateway_method=method)

    def _new_pay(self, kind: str, subject: str) -> tuple[str, int, dict[str, Any]] | None:
        """(out_trade_no, amount_fen, biz_content) of a bar-code pay with the next payment
        code, or None when the codes ran out."""
        if not self.setup.auth_codes:
            return None
        out_trade_no = self.key(kind)
        amount_fen = self.rng.randint(1, 2_000)
        biz = {
            "out_trade_no": out_trade_no,
            "scene": "bar_code",
            "auth_code": self.setup.auth_codes.pop(),
            "subject": subject,
            "total_amount": f"{amount_fen / 100:.2f}",
        }
        return out_trade_no, amount_fen, biz

    def _paid(self, outcome: Outcome, out_trade_no: str, amount_fen: int) -> Outcome:
        if outcome.status == "ok":
            self.paid.append((out_trade_no, amount_fen))
        return outcome

    def op_pay(self) -> Outcome:
        new = self._new_pay("pay", "load {测试}")
        if new is None:
            return self.op_transfer()
        out_trade_no, amount_fen, biz = new
        outcome = self._gateway("pay", out_trade_no, "alipay.trade.pay", biz)
        return self._paid(outcome, out_trade_no, amount_fen)

    def op_pay_v3(self) -> Outcome:
        """A bar-code pay over v3. Each attempt is signed anew: a new nonce (a replayed one is
        refused) and timestamp, the same out_trade_no and body, as a real client retries."""
        new = self._new_pay("pay_v3", "load v3 {测试}")
        if new is None:
            return self.op_transfer()
        out_trade_no, amount_fen, biz = new
        biz["notify_url"] = self.setup.notify_url
        body = json.dumps(biz, ensure_ascii=False, separators=(",", ":")).encode()
        path = "/v3/alipay/trade/pay"
        key = self._v3_key()

        def send() -> Answer:
            auth = (
                f"app_id={self.setup.app_id},nonce={secrets.token_hex(16)},"
                f"timestamp={int(time.time() * 1000)}"
            )
            signature = sign_sha256_rsa(request_sign_content(auth, "POST", path, body), key)
            headers = {
                "Authorization": f"{AUTH_SCHEME} {auth},sign={signature}",
                "Content-Type": "application/json",
            }
            return self.http.post(path, content=body, headers=headers)

        outcome = self._retry("pay_v3", out_trade_no, send, v3=True)
        return self._paid(outcome, out_trade_no, amount_fen)

    def _v3_key(self) -> Any:
        if self._v3_private_key is None:  # parsing costs ~50 ms: once per client
            self._v3_private_key = load_private_key(self.setup.app_private_pem)
        return self._v3_private_key

    def op_refund(self) -> Outcome:
        out_trade_no, amount_fen = self.rng.choice(self.paid)
        refund_fen = max(1, amount_fen // 4)
        out_request_no = self.key("refund")
        biz = {
            "out_trade_no": out_trade_no,
            "refund_amount": f"{refund_fen / 100:.2f}",
            "out_request_no": out_request_no,
        }
        return self._gateway("refund", out_request_no, "alipay.trade.refund", biz)

    # Retrying with the same key -----------------------------------------------------------------

    def _retry(
        self,
        kind: str,
        key: str,
        send: Callable[[], Answer],
        gateway_method: str = "",
        *,
        v3: bool = False,
    ) -> Outcome:
        started = time.perf_counter()
        wall_start = time.time()
        for attempt in range(1, ATTEMPTS_MAX + 1):
            try:
                response = send()
            except TransportError:
                response = None
            verdict = _v3_verdict(response) if v3 else _verdict(response, gateway_method)
            if verdict is not None:
                status, detail = verdict
                latency_ms = (time.perf_counter() - started) * 1000
                return Outcome(kind, key, status, attempt, latency_ms, detail, wall_start)
            self.retries += 1
            time.sleep(min(2.0, 0.05 * 2 ** min(attempt, 6)) * (0.5 + self.rng.random()))
        latency_ms = (time.perf_counter() - started) * 1000
        return Outcome(kind, key, "gave_up", ATTEMPTS_MAX, latency_ms, {}, wall_start)


def _device_headers(buyer: Buyer, path: str, idempotency_key: str, raw: bytes) -> dict[str, str]:
    """Signed once: a retry sends the same request, signature included."""
    timestamp_s = int(time.time())
    digest = request_digest("POST", path, idempotency_key, raw)
    signature = buyer.device_key.sign(signed_message(buyer.device_id, timestamp_s, digest))
    return {
        "Content-Type": "application/json",
        HEADER_DEVICE_ID: buyer.device_id,
        HEADER_TIMESTAMP: str(timestamp_s),
        HEADER_SIGNATURE: encode_b64(signature),
    }


def _verdict(response: Answer | None, gateway_method: str) -> tuple[str, dict[str, Any]] | None:
    """None means: try again with the same key (no answer, 5xx, or a retryable code)."""
    if response is None or response.status_code >= 500:
        return None
    if not gateway_method:
        body = response.json()
        if response.status_code == 200:
            if body.get("status") == "failed":  # a top-up or withdrawal the bank refused
                return "rejected", {"code": body.get("failure_code") or "failed"}
            return "ok", body
        code = body.get("error", {}).get("code", "")
        # Still running elsewhere, or left by a killed server: ask again until it is answered.
        if code in ("temporarily_unavailable", "rate_limited", "idempotency_key_in_use"):
            return None
        return "rejected", {"code": code}
    envelope = response.json()
    answer = envelope.get(gateway_method.replace(".", "_") + "_response", {})
    code = str(answer.get("code", ""))
    if code == "10000":
        return "ok", answer
    # 20000 means the platform could not answer (ISP unknown error): SDKs advise a retry.
    if code == "20000" or answer.get("sub_code") in ("isp.unknow-error", "ACQ.SYSTEM_ERROR"):
        return None
    return "rejected", {"code": code, "sub_code": answer.get("sub_code", "")}


def _v3_verdict(response: Answer | None) -> tuple[str, dict[str, Any]] | None:
    """None means: sign anew and try again (no answer, 5xx, or the platform's own failure)."""
    if response is None or response.status_code >= 500:
        return None
    body = response.json()
    if response.status_code == 200:
        return "ok", body
    code = str(body.get("code", "")) if isinstance(body, dict) else ""
    if code in ("unknow-error", "ACQ.SYSTEM_ERROR"):
        return None
    return "rejected", {"code": code}


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)


def drive(
    base_url: str,
    setup: Setup,
    *,
    seconds: float,
    clients: int,
    rate_per_s: float | None = None,
    tally: Tally | None = None,
) -> Tally:
    """`clients` threads run the mix for `seconds`, each as fast as it can or, with
    `rate_per_s`, at a fixed offered rate shared among them (open-loop pacing)."""
    tally = tally or Tally()
    deadline = time.monotonic() + seconds
    interval_s = clients / rate_per_s if rate_per_s else 0.0

    def worker(number: int) -> None:
        client = LoadClient(base_url, setup, seed=number)
        next_at = time.monotonic() + interval_s * number / max(clients, 1)
        try:
            while time.monotonic() < deadline:
                if interval_s:
                    time.sleep(max(0.0, next_at - time.monotonic()))
                    next_at += interval_s
                tally.add(client.one())
        finally:
            with tally.lock:
                tally.retries += client.retries
            client.close()

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + ATTEMPTS_MAX * 3 + 60)
    return tally
