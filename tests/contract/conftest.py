"""Contract fixtures: key pairs and the mini gateway (alipay_harness.py) on real sockets."""

from __future__ import annotations

import http.server
import random
from collections.abc import Iterator

import pytest
from alipay.aop.api.util import WebUtils
from alipay_harness import (
    MiniGateway,
    RunningGateway,
    handler_class,
    port_honouring_connection,
    serve,
)

from paybao.adapters.alipay.keys import KeyPair, generate_key_pair


@pytest.fixture(scope="session")
def app_keys() -> KeyPair:
    return generate_key_pair()


@pytest.fixture(scope="session")
def platform_keys() -> KeyPair:
    return generate_key_pair()


@pytest.fixture(scope="session")
def other_keys() -> KeyPair:
    return generate_key_pair()


@pytest.fixture
def mini_gateway(app_keys: KeyPair, platform_keys: KeyPair) -> MiniGateway:
    return MiniGateway(
        app_public_key=app_keys.public_pem_spki,
        platform_private_key=platform_keys.private_pem_pkcs1,
    )


@pytest.fixture
def gateway_on_random_port(mini_gateway: MiniGateway) -> Iterator[RunningGateway]:
    yield from serve(mini_gateway, "127.0.0.1", 0)


@pytest.fixture
def official_gateway(
    mini_gateway: MiniGateway, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunningGateway]:
    """A gateway the unmodified official SDK can reach: it only connects to port 80 (§1.3).

    We listen on port 80 of a random 127.x.y.z so parallel runs do not collide. Without the
    privilege to bind port 80, fall back to the documented test-only shortcut: a patched
    `get_http_connection` that honours the URL's port.
    """
    host = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    try:
        server = http.server.ThreadingHTTPServer((host, 80), handler_class(mini_gateway))
    except PermissionError:
        monkeypatch.setattr(WebUtils, "get_http_connection", port_honouring_connection)
        yield from serve(mini_gateway, "127.0.0.1", 0)
        return
    server.server_close()
    yield from serve(mini_gateway, host, 80)
