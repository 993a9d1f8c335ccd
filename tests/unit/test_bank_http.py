"""HttpBank (adapters/banks/http.py) against a fake bank bridge on 127.0.0.1 (real sockets).

The fake checks each request's signature with its own HMAC code over the material
docs/bank-protocol.md writes down, and signs its answers the same way unless a test makes it
lie. What is asserted is what paybao concludes: a trusted answer's status; UNKNOWN for every
answer that may hide a movement (timeout, reset, 5xx, too large, unsigned, forged, stale, about
another request, malformed) and for a refused connection (an earlier attempt may have arrived).
No card number reaches a log line or an exception."""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from paybao.adapters.banks.http import BankStatementUnavailable, HttpBank
from paybao.adapters.banks.port import BankOutcome, BankResult

SECRET = "bank-bridge-secret-" + "x" * 24
CARD = "6222021234567890128"
TIMEOUT_S = 1.0


def _hmac(material: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), material, hashlib.sha256).hexdigest()


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # a dict (sent as JSON) or raw bytes
    sign_with: str | None = None  # a nonce to sign over instead of the request's
    forge: bool = False
    timestamp_shift_s: int = 0
    delay_s: float = 0.0
    reset: bool = False  # close without answering
    unsigned: bool = False
    drip_s: float = 0.0  # send the body a byte at a time, this long apart


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool


@dataclass
class FakeBridge:
    answer: Callable[[dict[str, Any]], Reply] = lambda request: Reply()
    seen: list[Seen] = field(default_factory=list)


def _handler(bridge: FakeBridge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The headers and the body leave in two writes: with Nagle on, the body waits for the
        # client's delayed ACK of the headers, 40 ms a request that no real bridge need add.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            timestamp = self.headers["X-Paybao-Timestamp"]
            nonce = self.headers["X-Paybao-Nonce"]
            material = f"PAYBAO-BANK-REQUEST-1\n{timestamp}\n{nonce}\nPOST\n{self.path}\n"
            expected = _hmac(material.encode() + body)
            signed = hmac.compare_digest(expected, self.headers["X-Paybao-Signature"])
            bridge.seen.append(Seen(self.path, dict(self.headers), body, signed))
            reply = bridge.answer(json.loads(body))
            time.sleep(reply.delay_s)
            if reply.reset:
                self.close_connection = True
                return
            raw = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            stamp = str(int(time.time()) + reply.timestamp_shift_s)
            over = reply.sign_with if reply.sign_with is not None else nonce
            head = f"PAYBAO-BANK-ANSWER-1\n{stamp}\n{over}\n{reply.status}\n".encode()
            signature = _hmac(head + raw)
            if reply.forge:
                signature = "sha256=" + "f" * 64
            try:
                self.send_response(reply.status)
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("X-Paybao-Timestamp", stamp)
                if not reply.unsigned:
                    self.send_header("X-Paybao-Signature", signature)
                self.end_headers()
                if reply.drip_s:
                    for index in range(min(len(raw), 20)):
                        self.wfile.write(raw[index : index + 1])
                        self.wfile.flush()
                        time.sleep(reply.drip_s)
                self.wfile.write(raw)
            except OSError:
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def bridge() -> Iterator[tuple[FakeBridge, str]]:
    fake = FakeBridge()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    # shutdown() waits for the loop to look at its flag: every 0.5 s by default, per test.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}/bridge"
    server.shutdown()
    server.server_close()


def _bank(url: str, **overrides: Any) -> HttpBank:
    values: dict[str, Any] = {
        "timeout_s": TIMEOUT_S,
        "connect_timeout_s": 0.5,
        "answer_bytes_max": 8192,
    }
    values.update(overrides)
    return HttpBank(url, SECRET, **values)


def _money(request: dict[str, Any], status: str, code: str | None = None) -> Reply:
    return Reply(body={"request_id": request["request_id"], "status": status, "failure_code": code})


def test_requests_are_signed_and_carry_the_documented_fields(
    bridge: tuple[FakeBridge, str],
) -> None:
    fake, url = bridge
    fake.answer = lambda request: _money(request, "succeeded")
    bank = _bank(url)
    assert bank.debit("topup:7", CARD, 12_34) == BankResult(BankOutcome.SUCCEEDED)
    assert bank.credit("withdraw:8", CARD, 5_00, holder_name="王小明").outcome is (
        BankOutcome.SUCCEEDED
    )
    debit, credit = fake.seen
    assert debit.signature_ok and credit.signature_ok
    assert debit.path == "/bridge/v1/debits" and credit.path == "/bridge/v1/credits"
    assert json.loads(debit.body) == {
        "request_id": "topup:7",
        "card_number": CARD,
        "amount_fen": 1234,
    }
    assert json.loads(credit.body)["holder_name"] == "王小明"
    assert debit.headers["X-Paybao-Nonce"] != credit.headers["X-Paybao-Nonce"]
    assert abs(int(debit.headers["X-Paybao-Timestamp"]) - time.time()) < 5


def test_a_request_signed_with_another_secret_does_not_verify(
    bridge: tuple[FakeBridge, str],
) -> None:
    fake, url = bridge
    fake.answer = lambda request: _money(request, "succeeded")
    other = HttpBank(
        url, "another-secret-" + "y" * 30, timeout_s=1, connect_timeout_s=0.5, answer_bytes_max=8192
    )
    other.debit("topup:1", CARD, 100)
    assert fake.seen[0].signature_ok is False


def test_each_trusted_status_is_the_outcome(bridge: tuple[FakeBridge, str]) -> None:
    fake, url = bridge
    bank = _bank(url)
    fake.answer = lambda request: _money(request, "failed", "card_insufficient_balance")
    assert bank.debit("topup:1", CARD, 100) == BankResult(
        BankOutcome.FAILED, "card_insufficient_balance"
    )
    fake.answer = lambda request: _money(request, "processing")
    assert bank.debit("topup:2", CARD, 100) == BankResult(BankOutcome.UNKNOWN)
    fake.answer = lambda request: _money(request, "not_found")
    assert bank.query("topup:3") == BankResult(BankOutcome.NOT_FOUND)
    assert bank.debit("topup:3", CARD, 100) == BankResult(BankOutcome.UNKNOWN)  # not for a debit
    fake.answer = lambda request: _money(request, "succeeded")
    assert bank.query("topup:4") == BankResult(BankOutcome.SUCCEEDED)
    fake.answer = lambda request: Reply(
        body={"status": "failed", "failure_code": "card_info_mismatch"}
    )
    assert bank.verify_card(CARD, "王小明", "110101199003071234", "13900000001") == BankResult(
        BankOutcome.FAILED, "card_info_mismatch"
    )
    fake.answer = lambda request: Reply(body={"status": "succeeded", "failure_code": None})
    assert bank.verify_card(CARD, "王小明", "110101199003071234", "13900000001").outcome is (
        BankOutcome.SUCCEEDED
    )


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(lambda r: Reply(body=_money(r, "succeeded").body, forge=True), id="forged"),
        pytest.param(
            lambda r: Reply(body=_money(r, "succeeded").body, unsigned=True), id="unsigned"
        ),
        pytest.param(
            lambda r: Reply(body=_money(r, "succeeded").body, sign_with="0" * 32), id="other-nonce"
        ),
        pytest.param(
            lambda r: Reply(body=_money(r, "succeeded").body, timestamp_shift_s=-3600), id="stale"
        ),
        pytest.param(lambda r: Reply(status=500, body={"error": "oops"}), id="http-500"),
        pytest.param(lambda r: Reply(status=409, body={"error": "request_id_conflict"}), id="409"),
        pytest.param(lambda r: Reply(body=b"<html>ok</html>"), id="not-json"),
        pytest.param(
            lambda r: Reply(body={"request_id": "topup:999", "status": "succeeded"}), id="other-id"
        ),
        pytest.param(lambda r: Reply(body={**_money(r, "done").body}), id="status-unknown"),
        pytest.param(
            lambda r: Reply(body={**_money(r, "failed", "Bad Code!").body}), id="code-shape"
        ),
        pytest.param(lambda r: Reply(body={**_money(r, "failed").body}), id="failed-no-code"),
        pytest.param(lambda r: Reply(body={"x": "y" * 9000}), id="too-large"),
        pytest.param(lambda r: Reply(reset=True), id="reset"),
        pytest.param(lambda r: Reply(body=_money(r, "succeeded").body, delay_s=2.5), id="timeout"),
    ],
)
def test_an_answer_that_cannot_be_trusted_is_unknown_never_final(
    bridge: tuple[FakeBridge, str], reply: Callable[[dict[str, Any]], Reply]
) -> None:
    fake, url = bridge
    fake.answer = reply
    bank = _bank(url)
    started = time.monotonic()
    assert bank.debit("topup:1", CARD, 100) == BankResult(BankOutcome.UNKNOWN)
    assert bank.credit("withdraw:1", CARD, 100).outcome is BankOutcome.UNKNOWN
    assert bank.query("topup:1") == BankResult(BankOutcome.UNKNOWN)
    assert time.monotonic() - started < 3 * (TIMEOUT_S + 0.5)  # three bounded calls
    assert all(seen.signature_ok for seen in fake.seen)


def test_a_bad_verification_answer_is_no_answer(bridge: tuple[FakeBridge, str]) -> None:
    fake, url = bridge
    fake.answer = lambda request: Reply(body={"status": "succeeded"}, forge=True)
    result = _bank(url).verify_card(CARD, "王小明", "110101199003071234", "13900000001")
    assert result == BankResult(BankOutcome.UNKNOWN, "bank_unavailable")


def test_a_refused_connection_is_unknown_too() -> None:
    """This attempt never left, but an earlier one with the same id may have (a card refund
    resends its id): only the bank's query can end the request."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bank = _bank(f"http://127.0.0.1:{port}")
    assert bank.debit("topup:1", CARD, 100) == BankResult(BankOutcome.UNKNOWN)
    assert bank.credit("cardrefund:1", CARD, 100) == BankResult(BankOutcome.UNKNOWN)
    assert bank.query("topup:1") == BankResult(BankOutcome.UNKNOWN)
    assert bank.verify_card(CARD, "王小明", "110101199003071234", "13900000001") == BankResult(
        BankOutcome.UNKNOWN, "bank_unavailable"
    )
    with pytest.raises(BankStatementUnavailable):
        bank.statement(date(2026, 11, 27))


def test_a_dripping_answer_is_cut_at_the_deadline(bridge: tuple[FakeBridge, str]) -> None:
    """Each byte comes within the read timeout; the whole answer would take 4 s."""
    fake, url = bridge
    fake.answer = lambda request: Reply(body=_money(request, "succeeded").body, drip_s=0.2)
    bank = _bank(url, timeout_s=0.6, connect_timeout_s=0.3)
    started = time.monotonic()
    assert bank.debit("topup:1", CARD, 100) == BankResult(BankOutcome.UNKNOWN)
    assert time.monotonic() - started < 1.5


def _lines(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "request_id": f"topup:{start + n}",
            "kind": "debit",
            "card_tail": "0128",
            "amount_fen": 100 + start + n,
            "status": "succeeded",
            "at_us": 1_795_000_000_000_000 + n,
        }
        for n in range(count)
    ]


def _page(lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {"day": "2026-11-27", "lines": lines, "next_cursor": None}


def test_the_statement_is_read_page_by_page(bridge: tuple[FakeBridge, str]) -> None:
    fake, url = bridge

    def pages(request: dict[str, Any]) -> Reply:
        if request["cursor"] is None:
            return Reply(body={"day": request["day"], "lines": _lines(2), "next_cursor": "p2"})
        assert request["cursor"] == "p2"
        return Reply(body={"day": request["day"], "lines": _lines(1, 2), "next_cursor": None})

    fake.answer = pages
    lines = _bank(url).statement(date(2026, 11, 27))
    assert [line.request_id for line in lines] == ["topup:0", "topup:1", "topup:2"]
    assert [line.amount_fen for line in lines] == [100, 101, 102]
    assert json.loads(fake.seen[0].body) == {"day": "2026-11-27", "cursor": None}


@pytest.mark.parametrize(
    "page",
    [
        pytest.param({"day": "2026-11-26", "lines": [], "next_cursor": None}, id="other-day"),
        pytest.param(
            {
                "day": "2026-11-27",
                "lines": [{**_lines(1)[0], "amount_fen": 1.5}],
                "next_cursor": None,
            },
            id="float-amount",
        ),
        pytest.param(
            {
                "day": "2026-11-27",
                "lines": [{**_lines(1)[0], "card_tail": CARD}],
                "next_cursor": None,
            },
            id="full-card",
        ),
        pytest.param(
            {"day": "2026-11-27", "lines": _lines(1001), "next_cursor": None}, id="page-too-long"
        ),
    ],
)
def test_a_bad_statement_page_makes_the_statement_unavailable(
    bridge: tuple[FakeBridge, str], page: dict[str, Any]
) -> None:
    fake, url = bridge
    fake.answer = lambda request: Reply(body=page)
    with pytest.raises(BankStatementUnavailable) as caught:
        _bank(url, answer_bytes_max=1_048_576).statement(date(2026, 11, 27))
    assert caught.value.code == "bank_statement_unavailable"
    assert CARD not in str(caught.value)


def test_a_statement_that_never_ends_is_refused(bridge: tuple[FakeBridge, str]) -> None:
    fake, url = bridge
    fake.answer = lambda request: Reply(
        body={"day": request["day"], "lines": [], "next_cursor": "again"}
    )
    # The production limit is the default; a lower one proves the same refusal without 200
    # signed round trips (9 s).
    assert inspect.signature(HttpBank).parameters["statement_pages_max"].default == 200
    with pytest.raises(BankStatementUnavailable, match="too many pages"):
        _bank(url, statement_pages_max=5).statement(date(2026, 11, 27))
    assert len(fake.seen) == 5


def test_no_card_number_reaches_the_logs(
    bridge: tuple[FakeBridge, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, url = bridge
    bank = _bank(url)
    caplog.set_level(logging.DEBUG)
    for reply in (
        lambda r: _money(r, "succeeded"),
        lambda r: _money(r, "failed", "bank_declined"),
        lambda r: Reply(body=_money(r, "succeeded").body, forge=True),
        lambda r: Reply(status=500, body={"error": CARD}),
        lambda r: Reply(reset=True),
        lambda r: Reply(body={"status": "failed", "failure_code": "card_info_mismatch"}),
    ):
        fake.answer = reply
        bank.debit("topup:1", CARD, 100)
        bank.credit("withdraw:1", CARD, 100, holder_name="王小明")
        bank.verify_card(CARD, "王小明", "110101199003071234", "13900000001")
    assert "****0128" in caplog.text  # the adapter did log the calls, masked
    assert CARD not in caplog.text
    assert CARD[:6] not in caplog.text
    assert SECRET not in caplog.text and SECRET not in repr(bank)
