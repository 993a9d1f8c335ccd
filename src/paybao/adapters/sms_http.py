"""SMS through a generic webhook: one signed JSON POST per text (PAYBAO_SMS_PROVIDER=http).

The body is `{"message_id", "phone", "text", "kind", "params"}` (UTF-8 JSON; `kind` and
`params` let a relay fill a template of its own gateway). Two headers sign it:
`X-Paybao-Timestamp: <unix seconds>` and
`X-Paybao-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>`. The timestamp
is inside the signed material, so a receiver that refuses timestamps more than 5 minutes off
and remembers `message_id`s (the same on every retry) cannot be replayed into.

Any 2xx is sent. 408, 425, 429 and 5xx are tried again later; any other answer (a 4xx, a
redirect: redirects are never followed) is a refusal for good. The answer's body is not kept
(it may echo the text): only the status, and a JSON `{"error": "<code>"}` the receiver may give.

`BoundedPoster` is the transport of both gateways (adapters/sms_aliyun.py too): explicit connect
and overall timeouts, no redirects, no proxies from the environment, at most
`RESPONSE_BYTES_MAX` of the answer read.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import httpx

from paybao.services.sms_delivery import (
    REFUSED,
    RETRY,
    SECRET_CHARS_MIN,
    SENT,
    SmsRequest,
    SmsResult,
    safe_reason,
    url_allowed,
)

RESPONSE_BYTES_MAX: Final = 8192
CONNECT_TIMEOUT_S_MAX: Final = 3.0
USER_AGENT: Final = "paybao-sms/1.0"
SIGNATURE_HEADER: Final = "X-Paybao-Signature"
TIMESTAMP_HEADER: Final = "X-Paybao-Timestamp"
RETRY_STATUSES: Final = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back: a status and at most RESPONSE_BYTES_MAX of the body, or the name of
    the transport error (never its text: it may quote the URL or the request)."""

    status: int | None
    body: bytes
    error: str = ""


class BoundedPoster:
    def __init__(self, timeout_s: float) -> None:
        assert 0 < timeout_s <= 30
        self.timeout_s = timeout_s
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S_MAX)),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=4),
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
            verify=_tls_context(),
        )

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        # httpx's read timeout bounds each read; the deadline bounds the whole answer, so a
        # gateway that drips bytes cannot hold a worker thread longer than `timeout_s`.
        deadline = time.monotonic() + self.timeout_s
        try:
            with self._client.stream("POST", url, content=body, headers=dict(headers)) as answer:
                chunks: list[bytes] = []
                size = 0
                for chunk in answer.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= RESPONSE_BYTES_MAX:
                        break
                    if time.monotonic() > deadline:
                        return Answer(None, b"", "ReadDeadline")
                return Answer(answer.status_code, b"".join(chunks)[:RESPONSE_BYTES_MAX])
        except (httpx.HTTPError, ValueError, OSError) as error:
            return Answer(None, b"", type(error).__name__)

    def close(self) -> None:
        self._client.close()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the system's CA certificates costs ~70 ms: one context for the process.
    return ssl.create_default_context()


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The value of X-Paybao-Signature."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class HttpSmsProvider:
    """Implements SmsProvider (services/sms_delivery.py)."""

    name = "http"

    def __init__(
        self,
        url: str,
        secret: str,
        timeout_s: float,
        *,
        now_s: Callable[[], float] = time.time,
    ) -> None:
        assert url_allowed(url), "the SMS webhook needs an https URL"
        assert len(secret) >= SECRET_CHARS_MIN
        self.url = url
        self._secret = secret.encode("utf-8")
        self._now_s = now_s  # the wall clock, not the platform's: the receiver checks it
        self.poster = BoundedPoster(timeout_s)

    def __repr__(self) -> str:  # never the secret
        return f"HttpSmsProvider({urlsplit(self.url).hostname})"

    def send(self, request: SmsRequest) -> SmsResult:
        body = json.dumps(
            {
                "message_id": request.message_id,
                "phone": request.phone,
                "text": request.text,
                "kind": request.kind,
                "params": dict(request.params),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        timestamp = str(int(self._now_s()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        return classify(self.poster.post(self.url, body, headers))

    def close(self) -> None:
        self.poster.close()


def classify(answer: Answer) -> SmsResult:
    if answer.status is None:
        return SmsResult(RETRY, answer.error or "transport")
    status = answer.status
    if 200 <= status < 300:
        return SmsResult(SENT)
    reason = f"http_{status}"
    code = _error_code(answer.body)
    if code:
        reason += ":" + code
    if status >= 500 or status in RETRY_STATUSES:
        return SmsResult(RETRY, reason)
    return SmsResult(REFUSED, reason)


def _error_code(body: bytes) -> str:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ""
    code = value.get("error") if isinstance(value, dict) else None
    return safe_reason(code)[:40] if isinstance(code, str) else ""
