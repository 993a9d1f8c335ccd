"""The load generator's client (bench/lean_http.py): an answer cut short by a killed server is
a transport failure (retried with the same key), never a short body read as complete."""

from __future__ import annotations

import socket
import threading

import pytest
from bench.lean_http import LeanHttp, TransportError


def test_a_body_cut_short_is_a_transport_error_and_a_whole_one_is_read() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    answers = [
        b'HTTP/1.1 200 OK\r\nContent-Length: 20\r\nContent-Type: application/json\r\n\r\n{"a"',
        b'HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\n{"a": 1}',
    ]

    def serve() -> None:
        for answer in answers:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = LeanHttp(f"http://127.0.0.1:{port}", timeout_s=5)
    try:
        with pytest.raises(TransportError, match="IncompleteRead"):
            client.post("/x", json_body={"k": 1})
        answer = client.post("/x", json_body={"k": 1})  # a new connection after the failure
        assert (answer.status_code, answer.json()) == (200, {"a": 1})
    finally:
        client.close()
        thread.join(5)
        listener.close()
