"""Every Nth response of a process closes its connection; the others keep it."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from paybao.web.connection_recycle import ConnectionRecycle


def _app(every: int) -> Starlette:
    def hello(_request: object) -> PlainTextResponse:
        return PlainTextResponse("hi", headers={"Connection": "keep-alive"})

    app = Starlette(routes=[Route("/", hello)])
    app.add_middleware(ConnectionRecycle, every_responses=every)
    return app


def test_every_third_response_closes_its_connection() -> None:
    client = TestClient(_app(3))
    seen = [client.get("/").headers.get_list("connection") for _ in range(9)]
    closing = [n for n, values in enumerate(seen, 1) if values == ["close"]]
    assert closing == [3, 6, 9]
    # The others keep the app's own header, untouched; a closing one carries only "close".
    assert all(values == ["keep-alive"] for n, values in enumerate(seen, 1) if n not in closing)


def test_the_answer_itself_is_unchanged() -> None:
    client = TestClient(_app(1))
    response = client.get("/")
    assert (response.status_code, response.text) == (200, "hi")
    assert response.headers["connection"] == "close"
