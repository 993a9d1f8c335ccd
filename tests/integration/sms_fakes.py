"""Fake SMS gateways for the tests: a real `http.server` on 127.0.0.1 in a thread.

Each fake answers from a script (status, JSON body, seconds to sleep first; the last entry
repeats) and records what it received. `FakeWebhook` verifies paybao's HMAC-SHA256 signature
and its timestamp; `FakeAliyun` re-derives Aliyun's HMAC-SHA1 signature from the form it got,
written here from Alibaba Cloud's recipe independently of adapters/sms_aliyun.py (the standard
form encoder, then `+` -> %20, `*` -> %2A, %7E -> `~`, as the docs put it for Java).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WEBHOOK_SECRET = "s" * 16 + "-webhook-secret-0123456789"
ALIYUN_KEY_ID = "LTAItestkeyid"
ALIYUN_SECRET = "aliyun-test-secret"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    sleep_s: float = 0.0


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode("ascii"), keep_blank_values=True))


class FakeGateway:
    def __init__(self, script: list[Reply]) -> None:
        assert script
        self.script = list(script)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self.url = ""

    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        raise NotImplementedError

    def next_reply(self, headers: dict[str, str], body: bytes) -> Reply:
        with self._lock:
            self.received.append(Received(headers, body, self.verify(headers, body)))
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]


class FakeWebhook(FakeGateway):
    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        timestamp = headers.get("x-paybao-timestamp", "")
        if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > 300:
            return False
        expected = hmac.new(
            WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(headers.get("x-paybao-signature", ""), f"sha256={expected}")


def aliyun_encode(value: str) -> str:
    return (
        urllib.parse.quote_plus(value, encoding="utf-8")
        .replace("+", "%20")
        .replace("*", "%2A")
        .replace("%7E", "~")
    )


def aliyun_signature(secret: str, method: str, params: dict[str, str]) -> str:
    query = "&".join(f"{aliyun_encode(k)}={aliyun_encode(params[k])}" for k in sorted(params))
    to_sign = f"{method}&{aliyun_encode('/')}&{aliyun_encode(query)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class FakeAliyun(FakeGateway):
    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        form = dict(urllib.parse.parse_qsl(body.decode("ascii"), keep_blank_values=True))
        signature = form.pop("Signature", "")
        return (
            form.get("AccessKeyId") == ALIYUN_KEY_ID
            and form.get("SignatureMethod") == "HMAC-SHA1"
            and form.get("SignatureVersion") == "1.0"
            and form.get("Version") == "2017-05-25"
            and form.get("Action") == "SendSms"
            and hmac.compare_digest(signature, aliyun_signature(ALIYUN_SECRET, "POST", form))
        )


@contextmanager
def serving(gateway: FakeGateway) -> Iterator[FakeGateway]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply = gateway.next_reply(headers, body)
            if reply.sleep_s:
                time.sleep(reply.sleep_s)
            payload = json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (the timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
