"""The reference bank bridge: the protocol of docs/bank-protocol.md served over HTTP.

`paybao bank-sim --port P --database FILE` (or `python -m paybao.adapters.banks.http_sim`)
answers paybao's HttpBank on top of the sandbox bank's tables (its card accounts and requests)
in a SQLite file of its own, with the same signing. Tests run it in a subprocess; an operator
writing a bridge to a real bank reads `BankSim.answer` for what each endpoint must do:

- check the signature, then the timestamp (300 s either way), then that the nonce is new;
- answer a repeated request id from its record (a retry never moves money twice), and a
  request id seen before with other fields with 409 `request_id_conflict`;
- `not_found` from a query is a promise: the id is closed at once (`bank_closed_requests`),
  and a debit or credit arriving with it later is refused with `request_closed`. Without this
  a request delayed in the network could land after paybao concluded it never arrived;
- sign every answer (errors too) over the request's nonce.

Like the sandbox bank, any Luhn-valid card of a known BIN "exists": its first verification
opens it in the given name with 10,000 CNY on it. With `--allow-script`, tests script what
the next debits and credits do (`POST /v1/sim/script {"steps": [...]}`, signed): `ok`, `fail`
(declined), `timeout` (the bank acts, then answers only after `--answer-delay-s`, too late),
`timeout_lost` (the bank never acts and never answers), `bad_signature` (acts, answers with a
forged signature).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from sqlalchemy import Column, Engine, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from paybao.adapters.banks.http_protocol import (
    AMOUNT_FEN_MAX,
    CLOCK_SKEW_S_MAX,
    NONCE_HEADER,
    NONCE_PATTERN,
    PATH_CREDIT,
    PATH_DEBIT,
    PATH_QUERY,
    PATH_STATEMENT,
    PATH_VERIFY,
    REQUEST_ID_PATTERN,
    SIGNATURE_HEADER,
    STATEMENT_PAGE_LINES_MAX,
    TIMESTAMP_HEADER,
    answer_material,
    encode,
    line_json,
    request_material,
    sign,
    signature_ok,
    timestamp_fresh,
)
from paybao.adapters.banks.port import BankOutcome, BankResult
from paybao.adapters.banks.sandbox import SandboxBank
from paybao.adapters.db.engine import make_engine
from paybao.adapters.db.tables.bank import bank_card_accounts, bank_requests
from paybao.adapters.sandbox_faults import Faults
from paybao.domain.bins import lookup_bin
from paybao.domain.errors import InvalidInput
from paybao.services.clock import SystemClock

log = logging.getLogger(__name__)

PATH_SCRIPT: Final = "/v1/sim/script"
REQUEST_BYTES_MAX: Final = 64 * 1024
NONCES_REMEMBERED_MAX: Final = 100_000
SCRIPT_STEPS: Final = frozenset({"ok", "fail", "timeout", "timeout_lost", "bad_signature"})
SCRIPT_STEPS_MAX: Final = 1000

# The bridge's own table: request ids a query answered `not_found` for (never to be acted on).
_sim_metadata = MetaData()
bank_closed_requests = Table(
    "bank_closed_requests",
    _sim_metadata,
    Column("request_id", String(64), primary_key=True),
)


@dataclass(frozen=True, slots=True)
class SimAnswer:
    status: int
    body: bytes
    headers: dict[str, str]
    delay_s: float = 0.0  # wait this long before answering
    drop: bool = False  # then close the connection without an answer


class Nonces:
    """Nonces seen within twice the allowed clock skew (older ones fail the timestamp check
    anyway), at most NONCES_REMEMBERED_MAX of them."""

    def __init__(self, now_s: Callable[[], float]) -> None:
        self._now_s = now_s
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, nonce: str) -> bool:
        now_s = self._now_s()
        with self._lock:
            while self._seen and (
                len(self._seen) >= NONCES_REMEMBERED_MAX
                or next(iter(self._seen.values())) < now_s - 2 * CLOCK_SKEW_S_MAX
            ):
                self._seen.popitem(last=False)
            if nonce in self._seen:
                return False
            self._seen[nonce] = now_s
            return True


class BankSim:
    def __init__(
        self,
        engine: Engine,
        secret: bytes,
        *,
        allow_script: bool = False,
        answer_delay_s: float = 15.0,
        page_lines: int = STATEMENT_PAGE_LINES_MAX,
        now_s: Callable[[], float] = time.time,
    ) -> None:
        assert len(secret) >= 32
        assert 0 < page_lines <= STATEMENT_PAGE_LINES_MAX
        bank_card_accounts.metadata.create_all(engine, tables=[bank_card_accounts, bank_requests])
        _sim_metadata.create_all(engine)
        self.engine = engine
        self.bank = SandboxBank(engine, SystemClock(), Faults())
        self.secret = secret
        self.allow_script = allow_script
        self.answer_delay_s = answer_delay_s
        self.page_lines = page_lines
        self.script: deque[str] = deque()
        self._now_s = now_s
        self._nonces = Nonces(now_s)
        # One money request or closing query at a time: "is the id closed?" and "act on it"
        # must not interleave with a query closing it. A bridge on a real database does both
        # in one transaction, holding the request id's row lock.
        self._money_lock = threading.Lock()

    # The protocol ------------------------------------------------------------------------

    def answer(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> SimAnswer:
        nonce = headers.get(NONCE_HEADER) or ""
        if not NONCE_PATTERN.fullmatch(nonce):
            return self._signed(400, {"error": "nonce_bad"}, "")
        timestamp = headers.get(TIMESTAMP_HEADER) or ""
        material = request_material(timestamp, nonce, method, path, body)
        if not signature_ok(self.secret, material, headers.get(SIGNATURE_HEADER)):
            return self._signed(401, {"error": "signature_bad"}, nonce)
        if not timestamp_fresh(timestamp, self._now_s()):
            return self._signed(401, {"error": "timestamp_stale"}, nonce)
        if not self._nonces.first_time(nonce):
            return self._signed(409, {"error": "nonce_replayed"}, nonce)
        if method != "POST":
            return self._signed(405, {"error": "method_not_allowed"}, nonce)
        try:
            request = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self._signed(400, {"error": "not_json"}, nonce)
        if not isinstance(request, dict):
            return self._signed(400, {"error": "not_an_object"}, nonce)
        return self._route(path, request, nonce)

    def _route(self, path: str, request: dict[str, Any], nonce: str) -> SimAnswer:
        try:
            if path == PATH_VERIFY:
                return self._signed(200, self._verify(request), nonce)
            if path in (PATH_DEBIT, PATH_CREDIT):
                return self._move("debit" if path == PATH_DEBIT else "credit", request, nonce)
            if path == PATH_QUERY:
                return self._signed(200, self._query(request), nonce)
            if path == PATH_STATEMENT:
                return self._signed(200, self._statement(request), nonce)
            if path == PATH_SCRIPT and self.allow_script:
                return self._signed(200, self._add_script(request), nonce)
        except _Refused as refused:
            return self._signed(refused.status, {"error": refused.code}, nonce)
        return self._signed(404, {"error": "no_such_endpoint"}, nonce)

    def _verify(self, request: dict[str, Any]) -> dict[str, Any]:
        fields = ("card_number", "holder_name", "id_number", "reserved_phone")
        values = [_text(request, name, 64) for name in fields]
        card_number = _card_number(request)
        if lookup_bin(card_number) is None:
            return {"status": "failed", "failure_code": "card_not_found"}
        try:
            result = self.bank.verify_card(card_number, values[1], values[2], values[3])
        except InvalidInput:
            result = BankResult(BankOutcome.FAILED, "card_info_mismatch")
        return _status_json(result)

    def _move(self, kind: str, request: dict[str, Any], nonce: str) -> SimAnswer:
        request_id = _request_id(request)
        card_number = _card_number(request)
        amount_fen = request.get("amount_fen")
        if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
            raise _Refused(400, "amount_fen_bad")
        if not 0 < amount_fen <= AMOUNT_FEN_MAX:
            raise _Refused(400, "amount_fen_bad")
        holder_name = request.get("holder_name") if kind == "credit" else None
        if holder_name is not None and not isinstance(holder_name, str):
            raise _Refused(400, "holder_name_bad")
        step = self.script.popleft() if self.script else "ok"
        if step == "timeout_lost":
            return SimAnswer(503, b"", {}, delay_s=self.answer_delay_s, drop=True)
        with self._money_lock:
            result = self._act(kind, request_id, card_number, amount_fen, holder_name, step)
        answer = self._signed(200, {"request_id": request_id, **_status_json(result)}, nonce)
        if step == "timeout":
            return SimAnswer(answer.status, answer.body, answer.headers, self.answer_delay_s)
        if step == "bad_signature":
            forged = {**answer.headers, SIGNATURE_HEADER: "sha256=" + "0" * 64}
            return SimAnswer(answer.status, answer.body, forged)
        return answer

    def _act(
        self,
        kind: str,
        request_id: str,
        card_number: str,
        amount_fen: int,
        holder_name: str | None,
        step: str,
    ) -> BankResult:
        with self.engine.connect() as connection:
            closed = connection.execute(
                select(bank_closed_requests).where(bank_closed_requests.c.request_id == request_id)
            ).first()
            earlier = connection.execute(
                select(bank_requests).where(bank_requests.c.request_id == request_id)
            ).first()
        if closed is not None:
            return BankResult(BankOutcome.FAILED, "request_closed")
        if earlier is not None and (
            earlier.kind != kind
            or earlier.card_number != card_number
            or int(earlier.amount_fen) != amount_fen
        ):
            raise _Refused(409, "request_id_conflict")
        if step == "fail":
            self.bank.script.append("fail")
        if kind == "debit":
            return self.bank.debit(request_id, card_number, amount_fen)
        return self.bank.credit(request_id, card_number, amount_fen, holder_name=holder_name)

    def _query(self, request: dict[str, Any]) -> dict[str, Any]:
        request_id = _request_id(request)
        with self._money_lock:
            result = self.bank.query(request_id)
            if result.outcome is BankOutcome.NOT_FOUND:
                try:
                    with self.engine.begin() as tx:
                        tx.execute(insert(bank_closed_requests).values(request_id=request_id))
                except IntegrityError:
                    pass  # closed by an earlier query
                return {"request_id": request_id, "status": "not_found", "failure_code": None}
        return {"request_id": request_id, **_status_json(result)}

    def _statement(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            day = date.fromisoformat(_text(request, "day", 10))
        except ValueError:
            raise _Refused(400, "day_bad") from None
        cursor = request.get("cursor")
        if cursor is not None and (not isinstance(cursor, str) or not cursor.isdigit()):
            raise _Refused(400, "cursor_bad")
        start = int(cursor or 0)
        lines = self.bank.statement(day)
        page = lines[start : start + self.page_lines]
        more = start + self.page_lines < len(lines)
        return {
            "day": day.isoformat(),
            "lines": [line_json(line) for line in page],
            "next_cursor": str(start + self.page_lines) if more else None,
        }

    def _add_script(self, request: dict[str, Any]) -> dict[str, Any]:
        steps = request.get("steps")
        if not isinstance(steps, list) or not all(step in SCRIPT_STEPS for step in steps):
            raise _Refused(400, "steps_bad")
        if len(self.script) + len(steps) > SCRIPT_STEPS_MAX:
            raise _Refused(400, "steps_too_many")
        self.script.extend(steps)
        return {"steps": len(self.script)}

    def _signed(self, status: int, value: dict[str, Any], nonce: str) -> SimAnswer:
        body = encode(value)
        timestamp = str(int(self._now_s()))
        material = answer_material(timestamp, nonce, status, body)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self.secret, material),
        }
        return SimAnswer(status, body, headers)


class _Refused(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


def _text(request: dict[str, Any], name: str, chars_max: int) -> str:
    value = request.get(name)
    if not isinstance(value, str) or len(value) > chars_max:
        raise _Refused(400, f"{name}_bad")
    return value


def _card_number(request: dict[str, Any]) -> str:
    number = _text(request, "card_number", 19)
    if not number.isdigit() or len(number) < 12:
        raise _Refused(400, "card_number_bad")
    return number


def _request_id(request: dict[str, Any]) -> str:
    request_id = _text(request, "request_id", 64)
    if not REQUEST_ID_PATTERN.fullmatch(request_id):
        raise _Refused(400, "request_id_bad")
    return request_id


def _status_json(result: BankResult) -> dict[str, Any]:
    assert result.outcome in (BankOutcome.SUCCEEDED, BankOutcome.FAILED), result
    return {"status": str(result.outcome), "failure_code": result.failure_code}


# The HTTP server ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sim: BankSim


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def _serve(self, method: str) -> None:
        length_text = self.headers.get("Content-Length") or "0"
        if not length_text.isdigit() or int(length_text) > REQUEST_BYTES_MAX:
            self.send_error(413)
            return
        body = self.rfile.read(int(length_text))
        headers = {name: value for name, value in self.headers.items()}
        answer = self.server.sim.answer(method, self.path, _case_folded(headers), body)
        if answer.delay_s:
            time.sleep(answer.delay_s)
        if answer.drop:
            self.close_connection = True
            return
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except OSError:
            self.close_connection = True  # the client gave up waiting: the answer is lost

    def log_message(self, format: str, *args: Any) -> None:
        # Paths and statuses only: the bodies (card numbers) are never logged.
        log.debug(format, *args)


def _case_folded(headers: dict[str, str]) -> dict[str, str]:
    """The protocol's header names in their documented case, however the client wrote them."""
    known = {name.lower(): name for name in (NONCE_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)}
    return {known.get(name.lower(), name): value for name, value in headers.items()}


def make_server(host: str, port: int, sim: BankSim) -> ThreadingHTTPServer:
    server = _Server((host, port), _Handler)
    server.sim = sim
    return server


def run(
    host: str,
    port: int,
    database: str,
    secret: bytes,
    *,
    allow_script: bool = False,
    answer_delay_s: float = 15.0,
    page_lines: int = STATEMENT_PAGE_LINES_MAX,
) -> None:
    """Serve until killed. Prints `bank-sim listening on http://HOST:PORT` once bound (port 0
    picks a free one), so a parent process knows where to find it."""
    engine = make_engine(f"sqlite:///{database}", sqlite_synchronous="NORMAL")
    sim = BankSim(
        engine,
        secret,
        allow_script=allow_script,
        answer_delay_s=answer_delay_s,
        page_lines=page_lines,
    )
    server = make_server(host, port, sim)
    bound_port = server.server_address[1]
    print(f"bank-sim listening on http://{host}:{bound_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        engine.dispose()


def secret_from_environment() -> bytes:
    """PAYBAO_BANK_SECRET_FILE or PAYBAO_BANK_SECRET, as paybao reads them."""
    path = os.environ.get("PAYBAO_BANK_SECRET_FILE", "")
    if path:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip().encode("utf-8")
    return os.environ.get("PAYBAO_BANK_SECRET", "").encode("utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="paybao's reference bank bridge")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--database", default="./var/bank-sim.sqlite3")
    parser.add_argument("--allow-script", action="store_true")
    parser.add_argument("--answer-delay-s", type=float, default=15.0)
    parser.add_argument("--page-lines", type=int, default=STATEMENT_PAGE_LINES_MAX)
    options = parser.parse_args(argv)
    secret = secret_from_environment()
    if len(secret) < 32:
        sys.exit("set PAYBAO_BANK_SECRET or PAYBAO_BANK_SECRET_FILE (at least 32 characters)")
    logging.basicConfig(level=logging.INFO)
    run(
        options.host,
        options.port,
        options.database,
        secret,
        allow_script=options.allow_script,
        answer_delay_s=options.answer_delay_s,
        page_lines=options.page_lines,
    )


if __name__ == "__main__":
    main()
