"""The included-router gates (web/route_gates.py) change which requests are cheap, never which
route answers: every path of the real app resolves to the same route with and without them."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import _IncludedRouter, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Match

from paybao.web.route_gates import GatedIncludedRouter, gate_included_routers, literal_starts

PARAMETER = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")


def _sample_path(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        return {"path": "a/b.txt", "int": "7", "float": "1.5"}.get(match.group(2) or "", "x1")

    return PARAMETER.sub(value, path)


def _first_match(routes: list[Any], scope: dict[str, Any]) -> tuple[int, Match] | None:
    partial = None
    for index, route in enumerate(routes):
        match, _ = route.matches(dict(scope))
        if match == Match.FULL:
            return index, match
        if match == Match.PARTIAL and partial is None:
            partial = (index, match)
    return partial


def _ungated(routes: list[Any]) -> list[Any]:
    return [
        _IncludedRouter(original_router=r.original_router, include_context=r.include_context)
        if isinstance(r, GatedIncludedRouter)
        else r
        for r in routes
    ]


def test_every_route_of_the_app_resolves_as_without_gates(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    gated = list(app.router.routes)
    assert sum(isinstance(r, GatedIncludedRouter) for r in gated) > 50
    plain = _ungated(gated)
    checked = 0
    for context in iter_route_contexts(gated):
        path = context.path
        if not isinstance(path, str):
            continue
        for method in [*sorted(context.methods or {"GET"}), "PATCH"]:
            for candidate in (_sample_path(path), _sample_path(path).rstrip("/") + "/"):
                scope = {"type": "http", "method": method, "path": candidate, "root_path": ""}
                scope.update(headers=[], query_string=b"", app=app)
                assert _first_match(gated, scope) == _first_match(plain, scope), (method, candidate)
                checked += 1
    for path in ("/", "/nothing/here", "/api/v1/nothing", "/wallet/nothing/x", "/static/x.js"):
        scope = {"type": "http", "method": "GET", "path": path, "root_path": ""}
        scope.update(headers=[], query_string=b"", app=app)
        assert _first_match(gated, scope) == _first_match(plain, scope), path
    assert checked > 1000


def test_a_gate_skips_paths_its_routes_cannot_match_and_serves_the_rest() -> None:
    app = FastAPI()
    wallet = APIRouter(prefix="/api/v1/wallet")
    wallet.add_api_route("/transfers", lambda: {"ok": "transfer"}, methods=["POST"])
    wallet.add_api_route("/topups/{topup_id}", lambda topup_id: {"ok": topup_id})
    anything = APIRouter()
    anything.add_api_route("/{name}", lambda name: {"any": name})
    app.include_router(wallet)
    app.include_router(anything)
    assert gate_included_routers(app) == 2
    first, second = app.router.routes[-2:]
    assert isinstance(first, GatedIncludedRouter) and isinstance(second, GatedIncludedRouter)
    assert first.gate == ("/api/v1/wallet/topups", "/api/v1/wallet/transfers")
    assert second.gate == ("",)  # a route that starts with a parameter: every path may match
    scope = {"type": "http", "method": "GET", "path": "/merchant", "root_path": ""}
    assert first.matches(scope) == (Match.NONE, {})
    client = TestClient(app)
    assert client.post("/api/v1/wallet/transfers").json() == {"ok": "transfer"}
    assert client.get("/api/v1/wallet/topups/t9").json() == {"ok": "t9"}
    assert client.get("/api/v1/wallet/transfers").status_code == 405  # the partial match kept
    assert client.get("/merchant").json() == {"any": "merchant"}


def test_a_gate_sees_routes_added_to_its_router_later() -> None:
    app = FastAPI()
    router = APIRouter(prefix="/late")
    router.add_api_route("/one", lambda: 1)
    app.include_router(router)
    gate_included_routers(app)
    router.add_api_route("/two", lambda: 2)
    assert TestClient(app).get("/late/two").json() == 2
    assert literal_starts(app.router.routes[-1]) == ("/late/one", "/late/two")
