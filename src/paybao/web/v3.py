"""`/v3/alipay/...`: Alipay's v3 REST protocol in front of the gateway's method handlers (POST,
or GET/DELETE with the fields in the query string, as Alipay documents each path).

The routes only move bytes, as /gateway.do's does: the request target exactly as sent (it is
signed), the headers and at most one byte more than the body limit go to `AlipayV3.handle` in a
worker thread (RSA and the database block), under the gateway's concurrency limit.
"""

from __future__ import annotations

import anyio
import anyio.to_thread
from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import Response

from paybao.adapters.alipay.v3 import BODY_SIZE_MAX_BYTES, V3_ROUTES, AlipayV3, V3Request
from paybao.adapters.db.v3_nonce_store import SqlV3Nonces
from paybao.bootstrap import Platform
from paybao.web.body_limit import read_capped

OTHER_VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def router_for(v3: AlipayV3, concurrency_max: int) -> APIRouter:
    limiter = anyio.CapacityLimiter(concurrency_max)
    router = APIRouter()

    async def endpoint(request: Request) -> Response:
        body = await read_capped(request, BODY_SIZE_MAX_BYTES)
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        query: bytes = request.scope.get("query_string", b"")
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        v3_request = V3Request(
            http_method=request.method,
            path_and_query=target,
            path=request.url.path,
            headers={name: request.headers[name] for name in request.headers},
            body=body,
        )
        reply = await anyio.to_thread.run_sync(v3.handle, v3_request, limiter=limiter)
        return Response(reply.body, status_code=reply.status, headers=dict(reply.headers))

    for path, route in V3_ROUTES.items():
        router.add_api_route(path, endpoint, methods=[route.verb], include_in_schema=False)
    # Any other path or verb under /v3 is answered in the protocol too (invalid-method, signed
    # once the app is known), not with the REST API's 404/405 or a slash redirect.
    router.add_api_route(
        "/v3/{rest:path}", endpoint, methods=list(OTHER_VERBS), include_in_schema=False
    )
    return router


def install(app: FastAPI, platform: Platform) -> None:
    gateway = platform.services["alipay_gateway"]
    nonces = SqlV3Nonces(platform.db, timestamp_window_s=gateway.timestamp_window_s)
    concurrency_max = max(1, platform.settings.db_pool_size)
    app.include_router(router_for(AlipayV3(gateway, nonces), concurrency_max))
