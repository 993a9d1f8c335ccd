"""Red packets under hostile input and between users: the schemathesis fuzzer reaches every red
packet route (signed in, on real packets as well as made-up ids) and never gets a 5xx or an
undocumented error; a single packet is private to its sender and recipient (another user reads
404 and claims 403); a packet's id, the key in its share link, is unguessable."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from paybao.bootstrap import Platform
from tests.integration.red_packet_support import (
    PAYMENT_PASSWORD,
    START_FEN,
    assert_clean,
    pool_fen,
    sender,
    user,
    wallet_balance,
)
from tests.reliability.test_hostile_openapi import BASE_URL, problem_with, send

PATH = "/api/v1/red-packets"
EXAMPLES_PER_OPERATION_AND_MODE = 15
# 12 random bytes (96 bits) in URL-safe base64: 16 characters of [A-Za-z0-9_-].
PACKET_ID = re.compile(r"[A-Za-z0-9_-]{16}")


def auth(platform: Platform, user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.services['operators'].issue_token(user_id)}"}


def post(client: TestClient, path: str, headers: dict[str, str], body: Any = None) -> Any:
    return client.post(path, json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})


def code_of(response: Any) -> str:
    return str(response.json()["error"]["code"])


def sent_id(response: Any) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def lucky(total_fen: int = 3_00, count: int = 3) -> dict[str, Any]:
    return {
        "kind": "lucky",
        "total_fen": total_fen,
        "count": count,
        "payment_password": PAYMENT_PASSWORD,
    }


def test_a_single_packet_is_private_to_its_sender_and_recipient(
    platform: Platform, client: TestClient
) -> None:
    alice, bob, mallory = sender(platform), user(platform, 1), user(platform, 2)
    body = {
        "kind": "single",
        "total_fen": 8_88,
        "to_phone": "13900000001",
        "payment_password": PAYMENT_PASSWORD,
    }
    packet_id = sent_id(post(client, PATH, auth(platform, alice), body))
    thief = auth(platform, mallory)

    read = client.get(f"{PATH}/{packet_id}", headers=thief)
    assert (read.status_code, code_of(read)) == (404, "red_packet_not_found")
    claimed = post(client, f"{PATH}/{packet_id}/claim", thief)
    assert (claimed.status_code, code_of(claimed)) == (403, "red_packet_not_for_you")
    # The sender cannot open it either, nor does it wait for anyone but the recipient.
    own = post(client, f"{PATH}/{packet_id}/claim", auth(platform, alice))
    assert (own.status_code, code_of(own)) == (403, "red_packet_not_for_you")
    waiting = client.get(PATH, params={"role": "waiting"}, headers=thief).json()["waiting"]
    assert waiting == []
    assert wallet_balance(platform, mallory) == 0 and pool_fen(platform) == 8_88

    # The recipient reads and opens it: the refusals above changed nothing.
    mine = client.get(f"{PATH}/{packet_id}", headers=auth(platform, bob))
    assert mine.status_code == 200 and mine.json()["claimable"] is True, mine.text
    opened = post(client, f"{PATH}/{packet_id}/claim", auth(platform, bob))
    assert opened.status_code == 200 and opened.json()["amount_fen"] == 8_88, opened.text
    assert wallet_balance(platform, bob) == 8_88 and wallet_balance(platform, alice) == (
        START_FEN - 8_88
    )
    assert_clean(platform)


def test_packet_ids_are_unguessable(platform: Platform, client: TestClient) -> None:
    alice = auth(platform, sender(platform))
    ids = [sent_id(post(client, PATH, alice, lucky(1_00, 1))) for _ in range(12)]
    assert all(PACKET_ID.fullmatch(packet_id) for packet_id in ids), ids
    assert len(set(ids)) == len(ids)
    # Random, not a counter in disguise: the ids share no common prefix, and all of the
    # alphabet's kinds of characters show up across a dozen.
    assert len({packet_id[:3] for packet_id in ids}) == len(ids)
    alphabet = set("".join(ids))
    assert alphabet & set("abcdefghijklmnopqrstuvwxyz") and alphabet & set("0123456789")
    assert alphabet & set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    # One character off is another packet nobody sent, and a share link shows the id whole.
    near = ids[0][:-1] + ("A" if ids[0][-1] != "A" else "B")
    bob = auth(platform, user(platform, 1))
    missed = post(client, f"{PATH}/{near}/claim", bob)
    assert (missed.status_code, code_of(missed)) == (404, "red_packet_not_found")
    read = client.get(f"{PATH}/{ids[0]}", headers=bob).json()
    assert read["share_url"].endswith(f"/red-packets/{ids[0]}")


def test_the_fuzzer_reaches_every_red_packet_route_without_a_5xx(
    platform: Platform, client: TestClient
) -> None:
    alice_id = sender(platform)
    alice = auth(platform, alice_id)
    bob = auth(platform, user(platform, 1, balance_fen=500_00))
    real_ids = [sent_id(post(client, PATH, alice, lucky(50_00, 30))) for _ in range(2)]
    statuses: Counter[tuple[str, str, int]] = Counter()

    def count(response: Any) -> None:
        request = response.request
        if request.url.path.startswith(PATH):
            route = re.sub(r"^/api/v1/red-packets/[^/]+", f"{PATH}/{{id}}", request.url.path)
            statuses[(request.method, route, response.status_code)] += 1

    client.event_hooks["response"].append(count)
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    operations = [
        result.ok() for result in schema.get_all_operations() if result.ok().path.startswith(PATH)
    ]
    assert {(op.method.upper(), op.path) for op in operations} == {
        ("POST", PATH),
        ("GET", PATH),
        ("POST", f"{PATH}/{{packet_id}}/claim"),
        ("GET", f"{PATH}/{{packet_id}}"),
    }
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(client, operation, mode, [alice, bob], real_ids)
            except Unsatisfiable:
                pass  # nothing to break in this operation's schema
            except Exception as error:  # every operation's failure, then fail once
                failures.append(f"{operation.label} {mode}: {error}")
    assert not failures, "\n\n".join(failures)

    answered = Counter((method, route) for method, route, status in statuses.elements())
    for route in (("POST", PATH), ("GET", PATH), ("POST", f"{PATH}/{{id}}/claim")):
        assert answered[route] >= 10, statuses
    assert answered[("GET", f"{PATH}/{{id}}")] >= 10, statuses
    # The real handlers were reached, not only the validation and auth checks.
    succeeded = {(method, route) for method, route, status in statuses if status == 200}
    assert {("POST", PATH), ("GET", PATH), ("GET", f"{PATH}/{{id}}")} <= succeeded, statuses
    assert ("POST", f"{PATH}/{{id}}/claim") in succeeded, statuses
    assert all(status < 500 for _, _, status in statuses), statuses
    assert_clean(platform)


def fuzz(
    client: TestClient,
    operation: Any,
    mode: GenerationMode,
    users: list[dict[str, str]],
    real_ids: list[str],
) -> None:
    """Fuzz one operation, signed in as either user or nobody, on a real packet's id most of
    the time (a made-up id only meets the 404), with the right payment password half the
    time (a wrong one, or an amount out of the rules, only meets the first check)."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases each run: what the routes reached is asserted
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # bounded: report the first, unshrunk
    )
    @given(
        case=operation.as_strategy(generation_mode=mode),
        signed_in_as=st.sampled_from([None, 0, 1]),
        real_id=st.sampled_from([None, *real_ids]),
        with_key=st.booleans(),
        with_password=st.booleans(),
    )
    def run(
        case: Any,
        signed_in_as: int | None,
        real_id: str | None,
        with_key: bool,
        with_password: bool,
    ) -> None:
        headers: dict[str, str] = {}
        if signed_in_as is not None:
            headers.update(users[signed_in_as])
        if with_key and case.method.upper() == "POST":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        if real_id is not None and "packet_id" in (case.path_parameters or {}):
            case.path_parameters["packet_id"] = real_id
        if with_password and isinstance(case.body, dict):  # a send that may go through:
            # the fuzzer's greeting, phone and the rest, on a packet the rules allow
            case.body |= {"kind": "lucky", "count": 2, "total_fen": 2_00}
            case.body["payment_password"] = PAYMENT_PASSWORD
            # and no device headers (made up, they fail the device check before the password)
            case.headers = {
                name: value
                for name, value in (case.headers or {}).items()
                if not name.lower().startswith("x-paybao-device")
            }
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
        response = send(client, kwargs)
        problem = problem_with(response)
        assert problem is None, f"{kwargs['method']} {kwargs['url']} -> {problem}"

    run()
