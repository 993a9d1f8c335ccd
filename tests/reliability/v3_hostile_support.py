"""What the v3 fuzzers share: the v3 codes paybao can answer, signing, and the answer checker.

The known codes are read from the code, not kept by hand (as hostile_support does for the REST
API): every Alipay-style code literal in adapters/alipay/ (`isv.…`, `aop.…`, `isp.…`, `ACQ.…`,
upper-case business codes), with the prefix v3 drops (`v3.v3_code`).
"""

from __future__ import annotations

import ast
import functools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from paybao.adapters.alipay.keys import load_private_key, load_public_key
from paybao.adapters.alipay.v3 import (
    AUTH_SCHEME,
    request_sign_content,
    response_sign_content,
    sign_sha256_rsa,
    v3_code,
    verify_sha256_rsa,
)
from paybao.adapters.db.tables.wallet import idempotency_keys
from paybao.adapters.db.v3_nonce_store import SCOPE
from paybao.bootstrap import Platform
from tests.integration.gateway_support import APP_ID, app_keys
from tests.reliability.hostile_support import SOURCE_ROOT

_CODE_PATTERN = re.compile(r"(?:isv|aop|isp)\.[a-z0-9-]+|[A-Z][A-Z0-9]*(?:[._][A-Z0-9]+)+")
# A refusal with one of these means an exception escaped a handler: never acceptable.
BUG_CODES = frozenset({"unknow-error", "isp.unknow-error", "ACQ.SYSTEM_ERROR"})
# Statuses a v3 refusal may carry (v3.py's table) minus 500, which only a bug answers.
V3_REFUSAL_STATUSES = frozenset({400, 401, 403, 404, 405, 413, 429})
# Codes that only come after the app is known: their answers must be signed.
SIGNED_CODES = frozenset(
    {
        "invalid-signature",
        "invalid-content-type",
        "illegal-json",
        "decryption-error-not-valid-encrypt-type",
        "decryption-error-not-valid-encrypt-key",
        "decryption-error-unknown",
    }
)


_parsing = threading.Lock()


def known_gateway_sub_codes() -> frozenset[str]:
    """Every Alipay-style code literal in adapters/alipay/, as the gateway answers it."""
    # Locked: the storms check answers in many threads, and CPython 3.11's ast.parse is not
    # safe to run in several at once ("AST constructor recursion depth mismatch").
    with _parsing:
        return _literal_codes()


@functools.cache
def _literal_codes() -> frozenset[str]:
    codes: set[str] = set()
    for path in sorted((SOURCE_ROOT / "adapters" / "alipay").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if _CODE_PATTERN.fullmatch(node.value):
                    codes.add(node.value)
    assert {"isv.invalid-signature", "ACQ.TRADE_NOT_EXIST", "isv.invalid-app-id"} <= codes
    return frozenset(codes)


@functools.cache
def known_v3_codes() -> frozenset[str]:
    """The same codes as v3 answers them (without isv./aop./isp.)."""
    return frozenset(v3_code(code) for code in known_gateway_sub_codes())


_keys: dict[str, Any] = {}


def app_private_key() -> Any:
    if "app" not in _keys:
        _keys["app"] = load_private_key(app_keys().private_pem_pkcs1)
    return _keys["app"]


def now_ms() -> int:
    return int(time.time() * 1000)


def signed_authorization(
    path_and_query: str,
    body: bytes,
    *,
    app_id: str = APP_ID,
    timestamp_ms: int | None = None,
    nonce: str | None = None,
    extra: str = "",
    token: str | None = None,
    http_method: str = "POST",
) -> str:
    """A real `ALIPAY-SHA256withRSA` header of the test app (a fresh nonce unless given)."""
    stamp = now_ms() if timestamp_ms is None else timestamp_ms
    auth = f"app_id={app_id},nonce={nonce or uuid.uuid4()},timestamp={stamp}{extra}"
    content = request_sign_content(auth, http_method, path_and_query, body, token)
    return f"{AUTH_SCHEME} {auth},sign={sign_sha256_rsa(content, app_private_key())}"


@dataclass(frozen=True)
class V3Answer:
    status: int
    code: str  # "" for a success; the v3 code or the REST API's code otherwise
    signed: bool
    body: Any


def check_v3_answer(response: Any, platform: Platform, *, routed: bool) -> V3Answer:
    """The v3 protocol's shape, whatever came in. `routed`: the path and method are a v3
    route; any other path or verb under /v3 is the protocol's `invalid-method` (web/v3.py's
    catch-all), never the REST API's 404/405 or a slash redirect."""
    status = response.status_code
    assert status < 500, (status, response.text[:300])
    if not routed:
        assert response.json()["code"] == "invalid-method", (status, response.text[:300])
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    assert response.headers.get("alipay-trace-id"), "every v3 answer names a trace id"
    body = json.loads(response.content.decode("utf-8"))
    assert isinstance(body, dict), body
    signature = response.headers.get("alipay-signature")
    if signature is not None:
        content = response_sign_content(
            response.headers["alipay-timestamp"], response.headers["alipay-nonce"], response.content
        )
        public_key = load_public_key(platform.services["platform_key"].public_pem)
        assert verify_sha256_rsa(content, signature, public_key), "the answer's signature"
    if status == 200:
        assert signature is not None, "a success is always signed"
        assert "code" not in body or "message" not in body, body
        return V3Answer(status, "", True, body)
    assert status in V3_REFUSAL_STATUSES, (status, body)
    assert set(body) == {"code", "message"}, body
    assert isinstance(body["code"], str) and isinstance(body["message"], str), body
    assert body["code"] not in BUG_CODES, body
    assert body["code"] in known_v3_codes(), f"unknown v3 code {body['code']!r}"
    if body["code"] in SIGNED_CODES:
        assert signature is not None, f"{body['code']} comes after the app is known: signed"
    if body["code"] == "invalid-app-id":
        assert signature is None, "an unknown app's answer goes unsigned"
    return V3Answer(status, str(body["code"]), signature is not None, body)


NONCE_TABLE = idempotency_keys.name


def nonce_count(platform: Platform) -> int:
    """The v3 nonces recorded (rows of idempotency_keys in the nonce scope)."""
    with platform.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(idempotency_keys)
                .where(idempotency_keys.c.scope == SCOPE)
            ).scalar_one()
        )
