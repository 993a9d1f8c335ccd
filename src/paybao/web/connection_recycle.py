"""Kept-alive connections are recycled: every Nth response of a server process carries
`Connection: close`, and its client reconnects (`PAYBAO_HTTP_RECYCLE_EVERY_RESPONSES`).

Why: the processes of `paybao serve --workers N` share one listening socket, and a process that
wakes accepts every connection then pending. Clients that keep their connections (a reverse
proxy's upstream pool, a merchant's HTTP client, the load generator) stay for good on whichever
process accepted them first: measured under the sustained mix (bench/load.py), one of two
processes at 81-93 % of a core beside the other at 17-36 %. A busy process answers more
responses, so it closes more connections; and it is the slower of the two to accept, so the
reconnects land mostly on the idle one, and the load evens out. nginx's `keepalive_requests`
serves the same end. A reconnect costs a TCP handshake every N responses.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CLOSE = (b"connection", b"close")


class ConnectionRecycle:
    def __init__(self, app: ASGIApp, every_responses: int) -> None:
        assert every_responses >= 1
        self.app = app
        self.every_responses = every_responses
        self.responses = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.responses += 1
        if self.responses < self.every_responses:
            await self.app(scope, receive, send)
            return
        self.responses = 0

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [h for h in message.get("headers", ()) if h[0].lower() != CLOSE[0]]
                message = {**message, "headers": [*kept, CLOSE]}
            await send(message)

        await self.app(scope, receive, send_closing)
