"""Delivering merchant notifications over HTTP: one POST, bounded in time and size.

Explicit timeouts on connect, write and read, no redirects (Alipay forbids them for notify
URLs), and at most `RESPONSE_BYTES_MAX` of the answer is read: a merchant only has to say
`success`. Transport failures become a `Delivery` with `error` set, never an exception.
"""

from __future__ import annotations

import functools
import ssl
import time
from typing import Final

import httpx

from paybao.services.notify import Delivery

RESPONSE_BYTES_MAX: Final = 1024
USER_AGENT: Final = "paybao-notify/1.0"


class HttpNotifier:
    """Implements NotificationSender (services/notify.py)."""

    def __init__(self, timeout_s: float) -> None:
        assert 0 < timeout_s <= 30
        self.timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0))
        self._client = httpx.Client(
            timeout=self.timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
            verify=_tls_context(),
        )

    def post(self, url: str, body: bytes, content_type: str) -> Delivery:
        started = time.monotonic()
        try:
            with self._client.stream(
                "POST", url, content=body, headers={"Content-Type": content_type}
            ) as response:
                text = _read_bounded(response)
                status = response.status_code
        except (httpx.HTTPError, ValueError) as error:
            return Delivery(None, "", f"{type(error).__name__}: {error}"[:200], _ms(started))
        return Delivery(status, text, None, _ms(started))

    def close(self) -> None:
        self._client.close()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the system's CA certificates costs ~70 ms; one context serves every client of
    # the process (an SSLContext may be shared between threads).
    return ssl.create_default_context()


def _read_bounded(response: httpx.Response) -> str:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= RESPONSE_BYTES_MAX:
            break
    return b"".join(chunks)[:RESPONSE_BYTES_MAX].decode("utf-8", "replace")


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
