"""`/gateway.do`: a lean Starlette route in front of the Alipay gateway pipeline.

The route only moves bytes: it reads the query string and at most one byte more than the body
limit, and hands them to `AlipayGateway.handle` in a worker thread (RSA signing and the
database are blocking). The official SDK sends absolute-form request targets
(`POST http://host/gateway.do?...`); `AbsoluteFormPaths` makes them route like `/gateway.do`.
"""

from __future__ import annotations

import urllib.parse

import anyio
import anyio.to_thread
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.gateway import AlipayGateway
from paybao.bootstrap import Platform
from paybao.web.body_limit import read_capped

GATEWAY_PATH = "/gateway.do"


class AbsoluteFormPaths:
    """ASGI middleware: `http://host/p` as a request path becomes `/p` (h11 keeps the form)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(("http://", "https://")):
            path = urllib.parse.urlsplit(scope["path"]).path or "/"
            scope = {**scope, "path": path, "raw_path": path.encode("latin-1")}
        await self.app(scope, receive, send)


def gateway_endpoint(gateway: AlipayGateway, concurrency_max: int) -> Route:
    # A call holds a database connection and may briefly need a second (the platform clock
    # refreshes its offset): more calls in flight than half the pool could deadlock on it,
    # and more than the pool serves would only queue inside it anyway.
    limiter = anyio.CapacityLimiter(concurrency_max)

    async def endpoint(request: Request) -> Response:
        limit = wire.REQUEST_BODY_SIZE_MAX_BYTES
        body = await read_capped(request, limit) if request.method == "POST" else b""
        query: bytes = request.scope.get("query_string", b"")
        content_type = request.headers.get("content-type")
        reply = await anyio.to_thread.run_sync(
            gateway.handle, query, body, content_type, limiter=limiter
        )
        if reply.redirect_to is not None:
            return RedirectResponse(reply.redirect_to, status_code=302)
        return Response(reply.body, headers={"Content-Type": reply.content_type})

    return Route(GATEWAY_PATH, endpoint, methods=["GET", "POST"], include_in_schema=False)


def install(app: FastAPI, platform: Platform) -> None:
    """Mount the gateway, the cashier and the merchant portal."""
    from paybao.web import cashier, pages_merchant

    gateway: AlipayGateway = platform.services["alipay_gateway"]
    concurrency_max = max(1, platform.settings.db_pool_size)
    app.router.routes.insert(0, gateway_endpoint(gateway, concurrency_max))
    app.add_middleware(AbsoluteFormPaths)
    app.include_router(cashier.router)
    app.include_router(pages_merchant.router)
