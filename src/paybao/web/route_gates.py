"""A gate on each included router: a request whose path none of its routes can match skips it.

FastAPI (since 0.137) keeps each `include_router` as a node of its own (`_IncludedRouter`), and
the app's router tries its ~90 top-level entries in order for every request. An entry that holds
a router walks all of that router's routes, with scope bookkeeping per route, before it says "no
match": measured 1.6-2.8 ms of CPU per request to reach a router late in the list (the wallet
REST API, the v3 paths), a fifth of a wallet transfer's server CPU.

Every route's path starts with a literal part (what comes before its first `{parameter}`): the
wallet's `/api/v1/wallet/transfers`, a page's `/merchant/trades/`, a mount's `/static`. A path
that starts with none of an included router's literal parts cannot match any of its routes, fully
or partly (a partial match is the path matching with another method), so the gate answers "no
match" at once, which is what the walk would have answered. The gate keeps its literal parts
without a trailing slash, so the router's redirect between `/x` and `/x/` still finds its route.
What matches, and in which order entries are tried, is unchanged; only the misses are cheaper.

`gate_included_routers` runs once, after every route is installed (`create_app` calls it last).
A gate re-reads its router's routes when that router's own route list changed since; routes
added later to a router nested inside it are not seen (paybao adds none after start-up).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import _IncludedRouter
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope


class GatedIncludedRouter(_IncludedRouter):
    """An `_IncludedRouter` that first checks the request path against its routes' literal
    starts. A subclass, not a wrapper: FastAPI tells included routers apart by isinstance."""

    gate: tuple[str, ...] = ("",)
    gate_version: int = -1

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self.gate_version != self.original_router._routes_version:
            self.refresh_gate()
        if scope["type"] == "http" and not get_route_path(scope).startswith(self.gate):
            return Match.NONE, {}
        return super().matches(scope)

    def refresh_gate(self) -> None:
        self.gate_version = self.original_router._routes_version
        self.gate = literal_starts(self)


def literal_starts(entry: _IncludedRouter) -> tuple[str, ...]:
    """The literal starts of every path `entry` can match; ("",), which every path starts with,
    when some route has no path (a Host route) or begins with a parameter."""
    starts: set[str] = set()
    for path in _full_paths(entry.original_router, entry.include_context.prefix):
        if path is None:
            return ("",)
        literal = path.split("{", 1)[0].rstrip("/")
        if not literal:
            return ("",)
        starts.add(literal)
    return tuple(sorted(starts)) or ("",)


def _full_paths(router: Any, prefix: str) -> Iterator[str | None]:
    """Each route's path with its include prefixes (what FastAPI's effective route contexts
    hold), None for a route without one. Read from the routes, not from `iter_route_contexts`:
    that builds every route's dependants, 0.3-0.5 s of CPU per app, which FastAPI otherwise
    builds for a router only when a request reaches it (a test's app reaches a few)."""
    for route in router.routes:
        if isinstance(route, _IncludedRouter):
            yield from _full_paths(route.original_router, prefix + route.include_context.prefix)
            continue
        path = getattr(route, "path", None)
        yield prefix + path if isinstance(path, str) else None


def gate_included_routers(app: FastAPI) -> int:
    """Replaces each top-level included router of `app` by a gated one; returns how many."""
    routes: list[Any] = app.router.routes
    gated = 0
    for index, entry in enumerate(routes):
        if type(entry) is not _IncludedRouter:
            continue
        replacement = GatedIncludedRouter(
            original_router=entry.original_router, include_context=entry.include_context
        )
        replacement.refresh_gate()
        routes[index] = replacement
        gated += 1
    return gated
