"""Every request's body is bounded (`PAYBAO_REQUEST_BODY_BYTES_MAX`): a client cannot make a
server process buffer a body of any size. One announced too large (Content-Length) is refused
before the app runs; one that grows past the limit while it is read (chunked) stops the read
with `RequestTooLarge`, which the handler's transaction never sees commit. Both answer 413 with
the API's error body, code `request_too_large`. The gateway keeps its own, smaller limit
(adapters/alipay/wire.py) and answers in Alipay's envelope below this one.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paybao.domain.errors import InvalidInput
from paybao.web.errors import error_response


class RequestTooLarge(InvalidInput):
    code = "request_too_large"


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        assert max_bytes > 0
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = _content_length(scope)
        if announced is not None and announced > self.max_bytes:
            response = error_response(413, RequestTooLarge.code, self._message())
            await response(scope, receive, send)
            return
        read_bytes = 0

        async def limited() -> Message:
            nonlocal read_bytes
            message = await receive()
            if message["type"] == "http.request":
                read_bytes += len(message.get("body", b""))
                if read_bytes > self.max_bytes:
                    raise RequestTooLarge(self._message())
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_capped(request: Request, limit_bytes: int) -> bytes:
    """The body, cut one byte past `limit_bytes`: enough for a protocol's own parser to refuse
    it in its own envelope (the gateway's, v3's), without buffering more."""
    limit = limit_bytes + 1
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]
