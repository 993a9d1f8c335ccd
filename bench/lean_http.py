"""The load generator's HTTP client: keep-alive HTTP/1.1 POSTs on `http.client`.

The load generator shares this machine's cores with the server it measures, so what the
client spends is taken from the figures. httpx costs ~0.4 ms of CPU per kept-alive POST;
`http.client` ~0.1 ms (measured for the notifier, adapters/notify_http.py). One `LeanHttp` per
client thread (a connection is not shared). Every transport failure (refused, reset, timed
out, a connection the server closed just as it was reused, a malformed answer) drops the
connection and raises `TransportError`: the caller sends the same request again with the same
idempotency key, as it did on httpx's errors. A server's `Connection: close` is honoured (the
next request opens a new connection: web/connection_recycle.py closes one now and then).
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any

ANSWER_BYTES_MAX = 1 << 20  # paybao's answers are a few KiB; anything larger is a failure


class TransportError(Exception):
    """No answer came back: the request may or may not have been applied."""


class Answer:
    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code = status_code
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class LeanHttp:
    def __init__(self, base_url: str, *, timeout_s: float) -> None:
        parts = urllib.parse.urlsplit(base_url)
        assert parts.scheme == "http" and parts.hostname, base_url
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout_s = timeout_s
        self._connection: http.client.HTTPConnection | None = None

    def post(
        self,
        path: str,
        *,
        content: bytes = b"",
        json_body: Any = None,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body, ensure_ascii=False).encode()
            sent.setdefault("Content-Type", "application/json")
        elif form is not None:
            content = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection = self._connection or self._open()
            connection.request("POST", path, body=content, headers=sent)
            response = connection.getresponse()
            if response.length is not None and response.length > ANSWER_BYTES_MAX:
                raise TransportError(f"an answer of over {ANSWER_BYTES_MAX} bytes")
            # read() whole, never read(n): read(n) returns a body cut short by a killed server
            # as if it were complete; read() raises IncompleteRead.
            body = response.read()
            if response.will_close:
                self.close()
            return Answer(response.status, body)
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise TransportError(f"{type(error).__name__}: {error}") from error
        except TransportError:
            self.close()
            raise

    def _open(self) -> http.client.HTTPConnection:
        self._connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
