"""The notifier's HTTP client: kept-alive connections, bounded answers, timeouts, no redirects,
and failures reported as a Delivery, never raised."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from paybao.adapters.notify_http import RESPONSE_BYTES_MAX, HttpNotifier

FORM = "application/x-www-form-urlencoded; charset=utf-8"


class Merchant(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    connections: ClassVar[set[tuple[str, int]]] = set()
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        type(self).connections.add(self.client_address)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append(body)
        if self.path == "/slow":
            time.sleep(1.5)
        if self.path == "/moved":
            self._answer(302, b"", location="http://127.0.0.1:9/elsewhere")
        elif self.path == "/big":
            self._answer(200, b"success" + b"x" * (3 * RESPONSE_BYTES_MAX))
        elif self.path == "/close":
            self._answer(200, b"success", close=True)
        elif self.path == "/drop":  # closes without saying so, as an idle timeout does
            self._answer(200, b"success")
            self.close_connection = True
        else:
            self._answer(200, b"success")

    def _answer(self, status: int, body: bytes, *, close: bool = False, location: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if location:
            self.send_header("Location", location)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def server() -> Iterator[tuple[str, type[Merchant]]]:
    handler = type("M", (Merchant,), {"connections": set(), "bodies": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


def test_posts_reuse_one_kept_alive_connection(server: tuple[str, type[Merchant]]) -> None:
    base, merchant = server
    notifier = HttpNotifier(5.0)
    deliveries = [notifier.post(f"{base}/notify?x=1", b"a=1", FORM) for _ in range(5)]
    assert all(d.acknowledged and d.error is None for d in deliveries)
    assert len(merchant.connections) == 1
    assert merchant.bodies == [b"a=1"] * 5
    notifier.close()


def test_a_connection_the_merchant_closed_is_replaced(server: tuple[str, type[Merchant]]) -> None:
    base, merchant = server
    notifier = HttpNotifier(5.0)
    assert notifier.post(f"{base}/close", b"a=1", FORM).acknowledged
    assert notifier.post(f"{base}/notify", b"a=2", FORM).acknowledged
    assert len(merchant.connections) == 2
    assert merchant.bodies == [b"a=1", b"a=2"]


def test_a_kept_connection_closed_while_idle_is_not_used(
    server: tuple[str, type[Merchant]],
) -> None:
    base, merchant = server
    notifier = HttpNotifier(5.0)
    assert notifier.post(f"{base}/notify", b"a=1", FORM).acknowledged
    for connections in notifier._idle.values():  # the merchant's idle timeout ran out
        for connection, _ in connections:
            assert connection.sock is not None
            connection.sock.shutdown(socket.SHUT_RDWR)
    assert notifier.post(f"{base}/notify", b"a=2", FORM).acknowledged
    assert merchant.bodies == [b"a=1", b"a=2"]


def test_a_request_that_finds_its_reused_connection_closed_is_sent_again(
    server: tuple[str, type[Merchant]], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, merchant = server
    notifier = HttpNotifier(5.0)
    assert notifier.post(f"{base}/drop", b"a=1", FORM).acknowledged
    time.sleep(0.1)  # the merchant's FIN has arrived
    # The close lands between the check and the request: the check cannot see it.
    monkeypatch.setattr("paybao.adapters.notify_http._still_open", lambda _: True)
    assert notifier.post(f"{base}/notify", b"a=2", FORM).acknowledged
    assert merchant.bodies == [b"a=1", b"a=2"]
    assert len(merchant.connections) == 2


def test_at_most_the_limit_of_the_answer_is_read(server: tuple[str, type[Merchant]]) -> None:
    base, merchant = server
    notifier = HttpNotifier(5.0)
    delivery = notifier.post(f"{base}/big", b"a=1", FORM)
    assert delivery.http_status == 200 and len(delivery.body_text) == RESPONSE_BYTES_MAX
    assert not delivery.acknowledged
    # The rest was never read: that connection is not reused.
    assert notifier.post(f"{base}/notify", b"a=2", FORM).acknowledged
    assert len(merchant.connections) == 2


def test_redirects_are_not_followed(server: tuple[str, type[Merchant]]) -> None:
    base, merchant = server
    delivery = HttpNotifier(5.0).post(f"{base}/moved", b"a=1", FORM)
    assert (delivery.http_status, delivery.acknowledged, delivery.error) == (302, False, None)
    assert len(merchant.bodies) == 1


def test_a_slow_merchant_times_out(server: tuple[str, type[Merchant]]) -> None:
    base, _ = server
    started = time.monotonic()
    delivery = HttpNotifier(0.3).post(f"{base}/slow", b"a=1", FORM)
    assert time.monotonic() - started < 1.2
    assert delivery.http_status is None and delivery.error is not None
    assert "timed out" in delivery.error


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/nobody", "ftp://127.0.0.1/x", "not a url", "http:///path", "http://h:x/"],
)
def test_failures_are_deliveries_with_an_error(url: str) -> None:
    delivery = HttpNotifier(1.0).post(url, b"a=1", FORM)
    assert delivery.http_status is None and delivery.error
    assert not delivery.acknowledged


def test_threads_share_one_notifier(server: tuple[str, type[Merchant]]) -> None:
    base, merchant = server
    notifier = HttpNotifier(5.0)
    results: list[bool] = []

    def send(number: int) -> None:
        for _ in range(10):
            results.append(notifier.post(f"{base}/n", f"a={number}".encode(), FORM).acknowledged)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [True] * 80
    assert len(merchant.connections) <= 8
