"""`HttpBank`: the `BankChannel` port over an operator's bank bridge (PAYBAO_BANK_PROVIDER=http).

One signed JSON POST per call (docs/bank-protocol.md; the wire format is http_protocol.py).
What paybao concludes from each exchange, the rule being that money may have moved unless the
bank said otherwise in an answer paybao can trust:

- a signed, well-formed 200 answer: its status (succeeded, failed; `processing` is UNKNOWN);
- the request provably never left this machine (the connection was refused, a DNS or TLS
  failure, no connection within the connect timeout): still UNKNOWN, not FAILED. This attempt
  did not reach the bank, but an earlier one with the same request id may have (card refunds
  send the same id again after an UNKNOWN), so only the bank can say how the request ended;
- anything after the request may have been sent (a read or write timeout, a reset, a 5xx or
  any non-200, an answer too large, unsigned, badly signed, stale, malformed, or about another
  request): UNKNOWN. The platform asks again later (the wallet's bank query job, settlement's
  next attempt, a card refund's resend of the same id), and only the bank's answer ends it.

Card numbers travel in the signed body only: logs and errors show `****<last 4>`. Exception
texts are never logged (a transport error may quote the request), only their class names.
"""

from __future__ import annotations

import logging
import secrets
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from paybao.adapters.banks.http_protocol import (
    MONEY_STATUSES,
    NONCE_HEADER,
    PATH_CREDIT,
    PATH_DEBIT,
    PATH_QUERY,
    PATH_STATEMENT,
    PATH_VERIFY,
    QUERY_STATUSES,
    REQUEST_ID_PATTERN,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BadAnswer,
    answer_material,
    encode,
    mask_card,
    money_result,
    request_material,
    sign,
    signature_ok,
    statement_page,
    timestamp_fresh,
    verify_result,
)
from paybao.adapters.banks.port import BankOutcome, BankResult, StatementLine
from paybao.domain.errors import Retryable

log = logging.getLogger(__name__)

USER_AGENT: Final = "paybao-bank/1"
STATEMENT_PAGES_MAX: Final = 200
STATEMENT_LINES_MAX: Final = 100_000
CONNECTIONS_MAX: Final = 16
# A card verification the bank did not answer: the user may try again.
FAILURE_UNAVAILABLE: Final = "bank_unavailable"


class BankStatementUnavailable(Retryable):
    """The bank's statement could not be read in full and trusted: reconcile that day later."""

    code = "bank_statement_unavailable"


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and what came back. `sent` is False only when the request provably never
    left this machine; `error` is a short code (an exception's class name, never its text)."""

    sent: bool
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""


_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class BankTransport:
    """POSTs with explicit timeouts, no redirects, no proxies from the environment, and at most
    `answer_bytes_max` of an answer read: a larger answer is not an answer."""

    def __init__(self, timeout_s: float, connect_timeout_s: float, answer_bytes_max: int) -> None:
        assert 0 < connect_timeout_s <= timeout_s <= 60
        assert 0 < answer_bytes_max <= 16 * 1_048_576
        self.timeout_s = timeout_s
        self.answer_bytes_max = answer_bytes_max
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s, pool=connect_timeout_s),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=CONNECTIONS_MAX, max_keepalive_connections=4),
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
            verify=ssl.create_default_context(),
        )

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Exchange:
        # httpx's read timeout bounds each read; the deadline bounds the whole answer, so a
        # bridge that drips bytes cannot hold a payment longer than about twice `timeout_s`.
        deadline = time.monotonic() + self.timeout_s
        try:
            with self._client.stream("POST", url, content=body, headers=dict(headers)) as answer:
                chunks: list[bytes] = []
                size = 0
                for chunk in answer.iter_bytes():
                    size += len(chunk)
                    if size > self.answer_bytes_max:
                        return Exchange(True, answer.status_code, error="answer_too_large")
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        return Exchange(True, answer.status_code, error="read_deadline")
                return Exchange(True, answer.status_code, dict(answer.headers), b"".join(chunks))
        except _NOT_SENT_ERRORS as error:
            return Exchange(False, error=type(error).__name__)
        except (httpx.HTTPError, OSError, ValueError) as error:
            return Exchange(True, error=type(error).__name__)

    def close(self) -> None:
        self._client.close()


class HttpBank:
    """Implements BankChannel (services/banking.py)."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout_s: float,
        connect_timeout_s: float,
        answer_bytes_max: int,
        now_s: Callable[[], float] = time.time,
        statement_pages_max: int = STATEMENT_PAGES_MAX,
    ) -> None:
        parts = urlsplit(url)
        assert parts.scheme in ("http", "https") and parts.hostname, "the bank needs a URL"
        assert not parts.query and not parts.fragment, "the bank's URL takes no query"
        assert len(secret) >= 32
        self.url = url.rstrip("/")
        self._secret = secret.encode("utf-8")
        # The wall clock, not the platform's (a sandbox clock may be days ahead): the bridge
        # compares our timestamps with its own clock.
        self._now_s = now_s
        # A parameter so a test proves the refusal with a few pages instead of 200 signed ones.
        self._statement_pages_max = statement_pages_max
        self.transport = BankTransport(timeout_s, connect_timeout_s, answer_bytes_max)

    def __repr__(self) -> str:  # never the secret
        return f"HttpBank({urlsplit(self.url).hostname})"

    # BankChannel -------------------------------------------------------------------------

    def verify_card(
        self, card_number: str, holder_name: str, id_number: str, reserved_phone: str
    ) -> BankResult:
        payload = {
            "card_number": card_number,
            "holder_name": holder_name,
            "id_number": id_number,
            "reserved_phone": reserved_phone,
        }
        try:
            result = verify_result(self._trusted(PATH_VERIFY, payload))
        except BadAnswer as problem:
            result = BankResult(BankOutcome.UNKNOWN, FAILURE_UNAVAILABLE)
            log.warning("bank verify card %s: no answer (%s)", mask_card(card_number), problem)
        log.info("bank verify card %s: %s", mask_card(card_number), _said(result))
        return result

    def debit(self, request_id: str, card_number: str, amount_fen: int) -> BankResult:
        payload = {"request_id": request_id, "card_number": card_number, "amount_fen": amount_fen}
        return self._move("debit", PATH_DEBIT, payload, card_number)

    def credit(
        self, request_id: str, card_number: str, amount_fen: int, *, holder_name: str | None = None
    ) -> BankResult:
        payload = {
            "request_id": request_id,
            "card_number": card_number,
            "amount_fen": amount_fen,
            "holder_name": holder_name,
        }
        return self._move("credit", PATH_CREDIT, payload, card_number)

    def query(self, request_id: str) -> BankResult:
        assert REQUEST_ID_PATTERN.fullmatch(request_id), "request ids are the protocol's shape"
        try:
            body = self._trusted(PATH_QUERY, {"request_id": request_id})
            result = money_result(body, request_id, QUERY_STATUSES)
        except BadAnswer as problem:
            log.warning("bank query %s: no answer (%s)", request_id, problem)
            return BankResult(BankOutcome.UNKNOWN)
        log.info("bank query %s: %s", request_id, _said(result))
        return result

    def statement(self, day: date) -> list[StatementLine]:
        """Every page of the day's statement, or BankStatementUnavailable: a statement read in
        part would report every request on the missing pages as missing at the bank."""
        lines: list[StatementLine] = []
        cursor: str | None = None
        for _ in range(self._statement_pages_max):
            payload = {"day": day.isoformat(), "cursor": cursor}
            try:
                page = statement_page(self._trusted(PATH_STATEMENT, payload), day)
            except BadAnswer as problem:
                log.warning("bank statement %s: no answer (%s)", day, problem)
                raise BankStatementUnavailable(
                    f"the bank's statement of {day}: {problem}"
                ) from None
            lines.extend(page.lines)
            if len(lines) > STATEMENT_LINES_MAX:
                raise BankStatementUnavailable(f"the bank's statement of {day} is too long")
            if page.next_cursor is None:
                return lines
            cursor = page.next_cursor
        raise BankStatementUnavailable(f"the bank's statement of {day} has too many pages")

    def close(self) -> None:
        self.transport.close()

    # Inside ------------------------------------------------------------------------------

    def _move(self, kind: str, path: str, payload: dict[str, Any], card_number: str) -> BankResult:
        request_id = payload["request_id"]
        assert REQUEST_ID_PATTERN.fullmatch(request_id), "request ids are the protocol's shape"
        assert isinstance(payload["amount_fen"], int) and payload["amount_fen"] > 0
        exchange, nonce = self._exchange(path, payload)
        card = mask_card(card_number)
        if not exchange.sent:
            # Not FAILED: an earlier attempt with this id may have reached the bank (see the
            # module's docstring). The query job asks once the bridge is back.
            log.warning("bank %s %s card %s: not sent (%s)", kind, request_id, card, exchange.error)
            return BankResult(BankOutcome.UNKNOWN)
        try:
            result = money_result(self._body_of(exchange, nonce), request_id, MONEY_STATUSES)
        except BadAnswer as problem:
            # The bank may have acted: only its answer to `query` ends this request.
            log.warning("bank %s %s card %s: unknown (%s)", kind, request_id, card, problem)
            return BankResult(BankOutcome.UNKNOWN)
        log.info(
            "bank %s %s card %s %d fen: %s",
            kind,
            request_id,
            card,
            payload["amount_fen"],
            _said(result),
        )
        return result

    def _trusted(self, path: str, payload: dict[str, Any]) -> bytes:
        """The body of a trusted answer, or BadAnswer (not sent is no answer either)."""
        exchange, nonce = self._exchange(path, payload)
        if not exchange.sent:
            raise BadAnswer(f"not_sent:{exchange.error}")
        return self._body_of(exchange, nonce)

    def _exchange(self, path: str, payload: dict[str, Any]) -> tuple[Exchange, str]:
        url = self.url + path
        body = encode(payload)
        timestamp = str(int(self._now_s()))
        nonce = secrets.token_hex(16)
        material = request_material(timestamp, nonce, "POST", urlsplit(url).path, body)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: timestamp,
            NONCE_HEADER: nonce,
            SIGNATURE_HEADER: sign(self._secret, material),
        }
        return self.transport.post(url, body, headers), nonce

    def _body_of(self, exchange: Exchange, nonce: str) -> bytes:
        """The answer's body if it is a signed, fresh 200 answer to this request."""
        if exchange.status is None or exchange.error:
            raise BadAnswer(exchange.error or "no_answer")
        timestamp = _header(exchange.headers, TIMESTAMP_HEADER)
        given = _header(exchange.headers, SIGNATURE_HEADER)
        material = answer_material(timestamp or "", nonce, exchange.status, exchange.body)
        if not signature_ok(self._secret, material, given):
            raise BadAnswer(f"signature_bad:http_{exchange.status}")
        if not timestamp_fresh(timestamp, self._now_s()):
            raise BadAnswer("timestamp_stale")
        if exchange.status != 200:
            raise BadAnswer(f"http_{exchange.status}")
        return exchange.body


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # httpx's headers are case-insensitive; a plain dict of them is not.
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _said(result: BankResult) -> str:
    return f"{result.outcome}" + (f" {result.failure_code}" if result.failure_code else "")
