"""schemathesis against /openapi.json: no 5xx, and every 4xx is a documented error body.

The schema is read from the running app; every operation is fuzzed with valid (positive) and
schema-breaking (negative) requests, signed in as a fully registered user with a balance (or
as the operator, for the admin API) so the fuzzer reaches the real handlers, not just the
auth check. Requests go through the test client of the `client` fixture, in process.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from paybao.bootstrap import Platform
from tests.reliability.hostile_support import (
    error_body_problem,
    register_user,
    top_up,
)

EXAMPLES_PER_OPERATION_AND_MODE = 8
BASE_URL = "http://testserver"


def send(client: TestClient, kwargs: dict[str, Any]) -> Any:
    """A schemathesis request (requests-style keyword arguments) through the httpx client."""
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, bytes | str):
        body["content"] = data
    elif data is not None:
        body["data"] = data
    if kwargs.get("files"):
        body["files"] = kwargs["files"]
    if kwargs.get("cookies"):
        client.cookies.clear()
        for name, value in kwargs["cookies"].items():
            client.cookies.set(name, value)
    try:
        return client.request(
            kwargs["method"],
            kwargs["url"],
            params=kwargs.get("params"),
            headers=kwargs.get("headers"),
            **body,
        )
    finally:
        client.cookies.clear()


def problem_with(response: Any) -> str | None:
    if response.status_code >= 500:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except ValueError:
            return f"HTTP {response.status_code} body is not JSON: {response.text[:300]}"
        return error_body_problem(body)
    return None


def fuzz_operation(
    client: TestClient,
    operation: Any,
    mode: GenerationMode,
    auth_headers: dict[str, str],
) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # bounded: report the first, unshrunk
    )
    @given(
        case=operation.as_strategy(generation_mode=mode),
        signed_in=st.booleans(),
        with_key=st.booleans(),
    )
    def run(case: Any, signed_in: bool, with_key: bool) -> None:
        headers: dict[str, str] = {}
        if signed_in:
            headers.update(auth_headers)
        if with_key and case.method.upper() == "POST":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
        response = send(client, kwargs)
        problem = problem_with(response)
        assert problem is None, f"{kwargs['method']} {kwargs['url']} -> {problem}"

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_openapi_operations_answer_documented_errors_never_5xx(
    client: TestClient,
    platform: Platform,
    admin_headers: dict[str, str],
    mode: GenerationMode,
) -> None:
    user = register_user(client, platform, "13911112222", "王小明")
    assert top_up(client, user, 500_00).status_code == 200
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # the wallet, ledger and platform routes are all there

    for operation in operations:
        is_admin = operation.path.startswith("/api/v1/admin/")
        auth = admin_headers if is_admin else user.headers
        try:
            fuzz_operation(client, operation, mode, auth)
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing to break in a parameterless call
        except Exception as error:  # collect every operation's failure, then fail once
            failures.append(f"{operation.label}: {error}")

    assert not failures, "\n\n".join(failures)
    assert platform.reconcile.run().clean
