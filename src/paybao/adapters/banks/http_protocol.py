"""The bank bridge protocol's wire format (docs/bank-protocol.md): signing, and reading answers.

Shared by paybao's client (adapters/banks/http.py) and the reference bridge
(adapters/banks/http_sim.py), so the two cannot drift apart. Pure functions over bytes: no
sockets here.

Every request and every answer is signed with HMAC-SHA256 under the shared secret, over a
prefix that says which direction it travels (a request can never be replayed as an answer),
the sender's unix time, the request's nonce, and then the method and path (requests) or the
HTTP status (answers), and the raw body. The answer's signature covers the request's nonce,
so an answer recorded for one request does not verify for another.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from paybao.adapters.banks.port import BankOutcome, BankResult, StatementLine

TIMESTAMP_HEADER: Final = "X-Paybao-Timestamp"
NONCE_HEADER: Final = "X-Paybao-Nonce"
SIGNATURE_HEADER: Final = "X-Paybao-Signature"
REQUEST_PREFIX: Final = b"PAYBAO-BANK-REQUEST-1"
ANSWER_PREFIX: Final = b"PAYBAO-BANK-ANSWER-1"
# Either side refuses a timestamp further than this from its own wall clock.
CLOCK_SKEW_S_MAX: Final = 300

PATH_VERIFY: Final = "/v1/cards/verify"
PATH_DEBIT: Final = "/v1/debits"
PATH_CREDIT: Final = "/v1/credits"
PATH_QUERY: Final = "/v1/requests/query"
PATH_STATEMENT: Final = "/v1/statements"

NONCE_PATTERN: Final = re.compile(r"[0-9a-f]{32}")
REQUEST_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9:_.-]{0,63}")
# A bank's failure code is written into rows and may become a user-facing error code: only
# this shape is believed; anything else makes the answer a bad one.
FAILURE_CODE_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,47}")
CURSOR_PATTERN: Final = re.compile(r"[A-Za-z0-9_.:=-]{1,200}")
CARD_TAIL_PATTERN: Final = re.compile(r"[0-9]{4}")
STATEMENT_PAGE_LINES_MAX: Final = 1000
AMOUNT_FEN_MAX: Final = 100_000_000_00

MONEY_STATUSES: Final = {
    "succeeded": BankOutcome.SUCCEEDED,
    "failed": BankOutcome.FAILED,
    "processing": BankOutcome.UNKNOWN,  # the bank took it and will finish it: ask again
}
QUERY_STATUSES: Final = {**MONEY_STATUSES, "not_found": BankOutcome.NOT_FOUND}


class BadAnswer(ValueError):
    """An answer that is not what the protocol says; its message is a short stable code."""


# Signing ---------------------------------------------------------------------------------


def request_material(timestamp: str, nonce: str, method: str, path: str, body: bytes) -> bytes:
    head = "\n".join((timestamp, nonce, method.upper(), path)).encode("ascii")
    return REQUEST_PREFIX + b"\n" + head + b"\n" + body


def answer_material(timestamp: str, nonce: str, status: int, body: bytes) -> bytes:
    head = "\n".join((timestamp, nonce, str(status))).encode("ascii")
    return ANSWER_PREFIX + b"\n" + head + b"\n" + body


def sign(secret: bytes, material: bytes) -> str:
    """The value of X-Paybao-Signature."""
    return "sha256=" + hmac.new(secret, material, hashlib.sha256).hexdigest()


def signature_ok(secret: bytes, material: bytes, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(sign(secret, material), given)


def timestamp_fresh(timestamp: str | None, now_s: float) -> bool:
    if timestamp is None or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(int(timestamp) - now_s) <= CLOCK_SKEW_S_MAX


def encode(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadAnswer("not_json") from None
    if not isinstance(value, dict):
        raise BadAnswer("not_an_object")
    return value


# Reading answers ---------------------------------------------------------------------------


def money_result(body: bytes, request_id: str, statuses: dict[str, BankOutcome]) -> BankResult:
    """A debit's, credit's or query's answer: `{"request_id", "status", "failure_code"}`."""
    value = decode_object(body)
    if value.get("request_id") != request_id:
        raise BadAnswer("request_id_differs")
    return _result(value, statuses)


def verify_result(body: bytes) -> BankResult:
    """A card verification's answer: `{"status": "succeeded"|"failed", "failure_code"}`."""
    statuses = {"succeeded": BankOutcome.SUCCEEDED, "failed": BankOutcome.FAILED}
    return _result(decode_object(body), statuses)


def _result(value: dict[str, Any], statuses: dict[str, BankOutcome]) -> BankResult:
    status = value.get("status")
    if not isinstance(status, str) or status not in statuses:
        raise BadAnswer("status_unknown")
    outcome = statuses[status]
    code = value.get("failure_code")
    if outcome is BankOutcome.FAILED:
        if not isinstance(code, str) or not FAILURE_CODE_PATTERN.fullmatch(code):
            raise BadAnswer("failure_code_bad")
        return BankResult(outcome, code)
    if code is not None:
        raise BadAnswer("failure_code_unexpected")
    return BankResult(outcome)


@dataclass(frozen=True, slots=True)
class StatementPage:
    lines: list[StatementLine]
    next_cursor: str | None


def statement_page(body: bytes, day: date) -> StatementPage:
    """One page of a day's statement: `{"day", "lines": [...], "next_cursor"}`."""
    value = decode_object(body)
    if value.get("day") != day.isoformat():
        raise BadAnswer("day_differs")
    lines = value.get("lines")
    if not isinstance(lines, list) or len(lines) > STATEMENT_PAGE_LINES_MAX:
        raise BadAnswer("lines_bad")
    cursor = value.get("next_cursor")
    if cursor is not None and (not isinstance(cursor, str) or not CURSOR_PATTERN.fullmatch(cursor)):
        raise BadAnswer("cursor_bad")
    return StatementPage([statement_line(line) for line in lines], cursor)


def statement_line(value: object) -> StatementLine:
    if not isinstance(value, dict):
        raise BadAnswer("line_bad")
    request_id, kind = value.get("request_id"), value.get("kind")
    tail, amount_fen = value.get("card_tail"), value.get("amount_fen")
    status, at_us = value.get("status"), value.get("at_us")
    ok = (
        isinstance(request_id, str)
        and REQUEST_ID_PATTERN.fullmatch(request_id) is not None
        and kind in ("debit", "credit")
        and isinstance(tail, str)
        and CARD_TAIL_PATTERN.fullmatch(tail) is not None
        and _whole(amount_fen, 1, AMOUNT_FEN_MAX)
        and status in ("succeeded", "failed")
        and _whole(at_us, 0, 2**62)
    )
    if not ok:
        raise BadAnswer("line_bad")
    return StatementLine(
        request_id=str(request_id),
        kind=str(kind),
        card_tail=str(tail),
        amount_fen=int(str(amount_fen)),
        status=str(status),
        at_us=int(str(at_us)),
    )


def line_json(line: StatementLine) -> dict[str, Any]:
    return {
        "request_id": line.request_id,
        "kind": line.kind,
        "card_tail": line.card_tail,
        "amount_fen": line.amount_fen,
        "status": line.status,
        "at_us": line.at_us,
    }


def _whole(value: object, low: int, high: int) -> bool:
    # bool is an int in Python; JSON true is not an amount.
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def mask_card(card_number: str) -> str:
    """What logs and errors may show of a card: its last four digits."""
    return "****" + card_number[-4:] if len(card_number) >= 8 else "****"
