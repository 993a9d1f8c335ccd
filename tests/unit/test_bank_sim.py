"""The reference bank bridge (adapters/banks/http_sim.py) follows the protocol it documents: it
refuses unsigned, stale and replayed requests (and signs the refusal), answers a repeated
request id from its record, refuses a request id reused with other fields, and closes an id a
query answered `not_found` for, so a late arrival of it never moves money."""

from __future__ import annotations

import json
import random
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from paybao.adapters.banks.http_protocol import answer_material, request_material, sign
from paybao.adapters.banks.http_sim import BankSim, SimAnswer
from paybao.adapters.db.engine import make_engine
from paybao.domain.cards import generate_card_number

SECRET = b"s" * 40
CARD = generate_card_number(random.Random(5), "ICBC")


@pytest.fixture
def sim(tmp_path: Path) -> BankSim:
    return BankSim(make_engine(f"sqlite:///{tmp_path / 'bank.sqlite3'}"), SECRET)


def _call(
    sim: BankSim,
    path: str,
    payload: dict[str, Any],
    *,
    secret: bytes = SECRET,
    shift_s: int = 0,
    nonce: str | None = None,
) -> tuple[SimAnswer, dict[str, Any]]:
    nonce = nonce or secrets.token_hex(16)
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()) + shift_s)
    headers = {
        "X-Paybao-Timestamp": timestamp,
        "X-Paybao-Nonce": nonce,
        "X-Paybao-Signature": sign(secret, request_material(timestamp, nonce, "POST", path, body)),
    }
    answer = sim.answer("POST", path, headers, body)
    stamp = answer.headers["X-Paybao-Timestamp"]
    material = answer_material(stamp, nonce, answer.status, answer.body)
    assert answer.headers["X-Paybao-Signature"] == sign(SECRET, material), "answers are signed"
    return answer, json.loads(answer.body)


def _open_card(sim: BankSim) -> None:
    verified = {
        "card_number": CARD,
        "holder_name": "王小明",
        "id_number": "110101199003071234",
        "reserved_phone": "13900000001",
    }
    answer, value = _call(sim, "/v1/cards/verify", verified)
    assert (answer.status, value["status"]) == (200, "succeeded")


def test_unsigned_stale_and_replayed_requests_are_refused(sim: BankSim) -> None:
    payload = {"request_id": "topup:1", "card_number": CARD, "amount_fen": 100}
    answer, value = _call(sim, "/v1/debits", payload, secret=b"x" * 40)
    assert (answer.status, value) == (401, {"error": "signature_bad"})
    answer, value = _call(sim, "/v1/debits", payload, shift_s=-301)
    assert (answer.status, value) == (401, {"error": "timestamp_stale"})
    nonce = secrets.token_hex(16)
    _call(sim, "/v1/requests/query", {"request_id": "topup:9"}, nonce=nonce)
    answer, value = _call(sim, "/v1/requests/query", {"request_id": "topup:9"}, nonce=nonce)
    assert (answer.status, value) == (409, {"error": "nonce_replayed"})
    assert sim.bank.card_balance_fen(CARD) is None  # nothing was opened or moved


def test_a_repeat_is_answered_from_the_record_and_a_changed_one_refused(sim: BankSim) -> None:
    _open_card(sim)
    payload = {"request_id": "topup:1", "card_number": CARD, "amount_fen": 100}
    first = _call(sim, "/v1/debits", payload)[1]
    again = _call(sim, "/v1/debits", payload)[1]
    assert first == again == {"request_id": "topup:1", "status": "succeeded", "failure_code": None}
    assert sim.bank.card_balance_fen(CARD) == 10_000_00 - 100
    answer, value = _call(sim, "/v1/debits", {**payload, "amount_fen": 200})
    assert (answer.status, value) == (409, {"error": "request_id_conflict"})
    assert sim.bank.card_balance_fen(CARD) == 10_000_00 - 100


def test_not_found_closes_the_request_id_for_good(sim: BankSim) -> None:
    _open_card(sim)
    query = _call(sim, "/v1/requests/query", {"request_id": "withdraw:4"})[1]
    assert query["status"] == "not_found"
    late = {"request_id": "withdraw:4", "card_number": CARD, "amount_fen": 500}
    assert _call(sim, "/v1/credits", late)[1] == {
        "request_id": "withdraw:4",
        "status": "failed",
        "failure_code": "request_closed",
    }
    assert sim.bank.card_balance_fen(CARD) == 10_000_00
    assert _call(sim, "/v1/requests/query", {"request_id": "withdraw:4"})[1]["status"] == (
        "not_found"
    )


def test_the_script_needs_the_flag(sim: BankSim) -> None:
    answer, value = _call(sim, "/v1/sim/script", {"steps": ["fail"]})
    assert (answer.status, value) == (404, {"error": "no_such_endpoint"})
    assert not sim.script
