"""Hypothesis fuzzer for Alipay's v3 protocol (`POST /v3/alipay/...`): hostile bytes in, a v3
answer out, nothing written.

Two fuzzers share one checker (v3_hostile_support.check_v3_answer). The first sends garbage:
Authorization headers random, truncated, oversized, duplicated, with wrong schemes, duplicate
or unknown fields, bad base64 signatures, stale and future timestamps, junk `expired_seconds`;
random paths under /v3 and other HTTP methods; wrong content types; bodies of random bytes,
truncated, deep or huge JSON and non-UTF-8 text; junk in the alipay-* headers. Some of its
requests carry a REAL signature over the exact bytes sent, with one thing spoiled after the
signature check (stale timestamp, junk expired_seconds, wrong content type, a body that is not
JSON, an encryption header), so the checks behind the signature are reached too. The second
signs random JSON bodies properly (fresh timestamp, new nonce) so they reach the gateway's
method handlers, sometimes with a random `alipay-app-auth-token`.

Every answer: never a 5xx (500 is v3's answer to `isp.unknow-error`: an escaped exception);
on a v3 route `{code, message}` with a code paybao's Alipay adapter can raise, signed with the
platform key once the app is known; elsewhere under /v3 the protocol's invalid-method. A
refusal writes nothing; a signed, fresh, readable request records its nonce (one row of
idempotency_keys) and nothing else unless the call succeeded. No ERROR is logged.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, example, given, note, settings
from hypothesis import strategies as st

from paybao.adapters.alipay import v3
from paybao.adapters.alipay.keys import load_private_key
from paybao.adapters.alipay.v3 import AUTH_SCHEME, V3_METHODS
from paybao.bootstrap import Platform
from tests.integration.gateway_support import APP_ID, other_keys
from tests.reliability.hostile_support import Snapshot, snapshot
from tests.reliability.test_hostile_gateway import JSON_VALUE, RAW_FRAGMENT, shop_with_trades
from tests.reliability.v3_hostile_support import (
    NONCE_TABLE,
    V3Answer,
    app_private_key,
    check_v3_answer,
    nonce_count,
    now_ms,
    signed_authorization,
)

EXAMPLES = 120
V3_PATHS = sorted(V3_METHODS)
WINDOW_S = 900  # Settings.gateway_timestamp_window_s's default, checked below
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],  # bounded: report the first failure unshrunk
)
__all__ = ["shop_with_trades"]  # the fixture, imported to be used here


class Sent:
    """One raw request. Not a dataclass: Hypothesis would print every byte of it."""

    def __init__(
        self,
        http_method: str,
        path: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        self.http_method = http_method
        self.path = path
        self.headers = headers
        self.body = body

    @property
    def routed(self) -> bool:
        return self.http_method == "POST" and self.path.partition("?")[0] in V3_METHODS

    def __repr__(self) -> str:
        def cut(data: bytes) -> str:
            return repr(data[:400]) + (f"...(+{len(data) - 400} bytes)" if len(data) > 400 else "")

        headers = [(k, cut(v)) for k, v in self.headers]
        return f"Sent({self.http_method} {self.path!r}, {headers}, {cut(self.body)})"

    def send(self, client: TestClient) -> Any:
        return client.request(
            self.http_method,
            self.path,
            content=self.body,
            headers=self.headers,
            follow_redirects=False,
        )


# Garbage ---------------------------------------------------------------------------------

HEADER_TEXT = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=24),
    st.sampled_from(
        [
            "",
            " ",
            "=",
            ",",
            ",sign=",
            "sign=",
            APP_ID,
            APP_ID + "0",
            "2088" + "0" * 12,
            str(uuid.uuid4()),
            "short",
            "n" * 65,
            "../../etc",
            "0",
            "-1",
            "1e3",
            "１２３",
            "99999999999999",
            "9" * 40,
            "A" * 344,
            "A" * 343 + "=",
            "!!!!",
            "====",
            "测试",
        ]
    ),
)
SCHEMES = [
    AUTH_SCHEME,
    AUTH_SCHEME.lower(),
    AUTH_SCHEME.upper(),
    AUTH_SCHEME + ",",
    "ALIPAY-SM2",
    "ALIPAY-SHA256withRSA2",
    "Bearer",
    "Basic",
    "",
]
AUTH_KEYS = ["app_id", "nonce", "timestamp", "expired_seconds", "app_cert_sn", "sign", "x", ""]
EXPIRED_JUNK = ["0", "-1", "86401", "1e3", "１", " 5", "abc", "9" * 30, "", "5.0", "+5"]


def spoiled_timestamp_ms() -> st.SearchStrategy[str]:
    """A timestamp no request may carry: outside the window either way, or not a number."""
    return st.one_of(
        st.integers(min_value=WINDOW_S + 5, max_value=10**9).map(
            lambda s: str(now_ms() - s * 1000)
        ),
        st.integers(min_value=WINDOW_S + 5, max_value=10**8).map(
            lambda s: str(now_ms() + s * 1000)
        ),
        st.sampled_from(["0", "-1", "1" * 14, "17e11", "", "now", "١٢٣"]),
    )


@st.composite
def random_authorization(draw: Any) -> str:
    """Fields in any order and count, some missing or doubled, values hostile."""
    scheme = draw(st.sampled_from(SCHEMES))
    fields = draw(
        st.lists(st.tuples(st.sampled_from(AUTH_KEYS), HEADER_TEXT), min_size=0, max_size=9)
    )
    text = ",".join(f"{k}={v}" if draw(st.integers(0, 9)) else k for k, v in fields)
    header = f"{scheme} {text}" if draw(st.integers(0, 9)) else scheme + text
    shape = draw(st.sampled_from(["as-is", "as-is", "truncated", "oversized"]))
    if shape == "truncated":
        header = header[: draw(st.integers(min_value=0, max_value=len(header)))]
    elif shape == "oversized":
        header += "," + "x=" + "y" * (v3.AUTHORIZATION_LENGTH_MAX + draw(st.integers(0, 9)))
    return header


BODIES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"",
            b"{",
            b'{"out_trade_no":',
            b"null",
            b"[]",
            b"{}",
            b"\xff\xfe{}",
            b'{"a":1}\x00',
            '{"subject":"测试"}'.encode("gbk"),
            '{"subject":"测试"}'.encode("utf-16"),
            b'{"out_trade_no":"paid-1","out_trade_no":"open-1"}',
            b"NaN",
            b'{"total_amount":1e999}',
        ]
    ),
    st.integers(min_value=1, max_value=20_000).map(lambda d: b"[" * d + b"]" * d),
    st.integers(min_value=1, max_value=20_000).map(lambda d: b'{"a":' * d + b"1" + b"}" * d),
    st.integers(min_value=1, max_value=3).map(
        lambda k: b'{"subject":"' + b"x" * (k * v3.BODY_SIZE_MAX_BYTES // 2 + 1) + b'"}'
    ),
    st.just(b'{"subject":"' + b"x" * v3.BODY_SIZE_MAX_BYTES + b'"}'),
)
CONTENT_TYPES = [
    "application/json",
    "application/json;charset=utf-8",
    "APPLICATION/JSON",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
    "application/json; charset=gbk",
]
PATH_CHARS = "abcdefghijklmnopqrstuvwxyz/._-%?=&0123456789测"
EXTRA_HEADERS = [
    "alipay-app-auth-token",
    "alipay-encrypt-type",
    "alipay-encryption-algm",
    "alipay-root-cert-sn",
    "alipay-request-id",
    "authorization",  # a second Authorization header
    "content-type",  # a second Content-Type
]


@st.composite
def v3_path(draw: Any) -> str:
    choice = draw(st.integers(0, 9))
    if choice < 7:
        return draw(st.sampled_from(V3_PATHS))
    if choice == 7:
        return draw(st.sampled_from(V3_PATHS)) + "?" + draw(st.text(PATH_CHARS, max_size=12))
    if choice == 8:
        return draw(
            st.sampled_from(
                ["/v3/", "/v3/alipay/trade/", "/v3/alipay/trade/pay/", "/v3/alipay/trade/PAY"]
            )
        )
    tail = draw(st.text(PATH_CHARS, max_size=30))
    return "/v3/" + urllib.parse.quote(tail, safe="/%?=&")


def header_bytes(value: str) -> bytes:
    """What a client can put in a header: any bytes but CR, LF and NUL (h11 refuses those);
    text beyond latin-1 goes as raw UTF-8, as a careless client sends it."""
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        raw = value.encode("utf-8")
    return raw.replace(b"\r", b" ").replace(b"\n", b" ").replace(b"\x00", b" ")


@st.composite
def garbage_request(draw: Any) -> Sent:
    path = draw(v3_path())
    body = draw(BODIES)
    http_method = draw(st.sampled_from(["POST"] * 8 + ["GET", "PUT"]))
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    style = draw(st.sampled_from(["random", "random", "signed-spoiled", "forged"]))
    if style == "random":
        authorization = draw(random_authorization())
    elif style == "forged":  # well-formed and current, but the signature is not the app's
        stamp = now_ms()
        signature = draw(st.sampled_from(["A" * 342 + "==", "!!!", "", "QUJD", "A" * 4000]))
        authorization = (
            f"{AUTH_SCHEME} app_id={APP_ID},nonce={uuid.uuid4()},timestamp={stamp},sign={signature}"
        )
    else:
        return draw(signed_spoiled())
    headers = [(b"authorization", header_bytes(authorization))] if draw(st.integers(0, 9)) else []
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    for name in draw(st.lists(st.sampled_from(EXTRA_HEADERS), max_size=3)):
        headers.append((name.encode(), header_bytes(draw(HEADER_TEXT))))
    return Sent(http_method, path, headers, body)


def forged(path: str) -> Sent:
    """Well-formed and current, signed by a key that is not the app's."""
    wrong = load_private_key(other_keys().private_pem_pkcs1)
    auth = f"app_id={APP_ID},nonce={uuid.uuid4()},timestamp={now_ms()}"
    signature = v3.sign_sha256_rsa(v3.request_sign_content(auth, "POST", path, b"{}"), wrong)
    headers = [
        (b"authorization", f"{AUTH_SCHEME} {auth},sign={signature}".encode()),
        (b"content-type", b"application/json"),
    ]
    return Sent("POST", path, headers, b"{}")


def signed_sent(
    path: str,
    body: bytes,
    *,
    stamp: int | str | None = None,
    fields: str = "",
    content_type: str = "application/json",
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> Sent:
    """A POST with a real signature over exactly what is sent."""
    auth = f"app_id={APP_ID},nonce={uuid.uuid4()},timestamp={now_ms() if stamp is None else stamp}"
    content = v3.request_sign_content(auth + fields, "POST", path, body)
    signature = v3.sign_sha256_rsa(content, app_private_key())
    headers = [
        (b"authorization", f"{AUTH_SCHEME} {auth}{fields},sign={signature}".encode()),
        (b"content-type", content_type.encode()),
        *extra,
    ]
    return Sent("POST", path, headers, body)


@st.composite
def signed_spoiled(draw: Any) -> Sent:
    """Signed for real, on a route, and one thing wrong that is checked after the signature."""
    path = draw(st.sampled_from(V3_PATHS))
    body = draw(st.sampled_from([b"{}", b'{"out_trade_no":"paid-1"}', b""]))
    spoil = draw(
        st.sampled_from(
            ["timestamp", "expired", "content-type", "body", "encrypt", "replayed-expiry"]
        )
    )
    if spoil == "timestamp":
        return signed_sent(path, body, stamp=draw(spoiled_timestamp_ms()))
    if spoil == "expired":
        return signed_sent(
            path, body, fields=",expired_seconds=" + draw(st.sampled_from(EXPIRED_JUNK))
        )
    if spoil == "replayed-expiry":  # inside the window, past its own expiry
        stamp = now_ms() - draw(st.integers(min_value=5, max_value=WINDOW_S - 5)) * 1000
        fields = ",expired_seconds=" + str(draw(st.integers(min_value=1, max_value=2)))
        return signed_sent(path, body, stamp=stamp, fields=fields)
    if spoil == "content-type":
        content_type = draw(st.sampled_from(["text/plain", "application/xml", "x/json"]))
        return signed_sent(path, body or b"{}", content_type=content_type)
    if spoil == "body":
        bad = [b"{", b"[]", b"\xff{}", b"null", b"1", b'"s"', b"{'a':1}"]
        return signed_sent(path, draw(st.sampled_from(bad)))
    name = draw(st.sampled_from([b"alipay-encrypt-type", b"alipay-encryption-algm"]))
    value = draw(st.sampled_from([b"AES", b"SM4", b"x"]))
    return signed_sent(path, body, extra=((name, value),))


# Signed random bodies -----------------------------------------------------------------------

BIZ_KEYS = (
    "out_trade_no",
    "trade_no",
    "total_amount",
    "subject",
    "auth_code",
    "scene",
    "refund_amount",
    "out_request_no",
    "buyer_id",
    "notify_url",
    "trans_amount",
    "out_biz_no",
    "biz_scene",
    "product_code",
    "payee_info",
    "query_options",
)
KNOWN_VALUES = st.sampled_from(
    ["paid-1", "open-1", "0.01", "10.00", "5.00", "99999999999.99", "bar_code", "r1", "-1"]
)


@st.composite
def signed_body(draw: Any) -> bytes:
    shape = draw(st.sampled_from(["object", "object", "object", "empty", "not-object"]))
    if shape == "empty":
        return b""
    if shape == "not-object":
        return json.dumps(draw(JSON_VALUE)).encode()
    members = draw(
        st.lists(
            st.tuples(
                st.one_of(st.sampled_from(BIZ_KEYS), st.text(max_size=6)),
                st.one_of(JSON_VALUE.map(json.dumps), RAW_FRAGMENT, KNOWN_VALUES.map(json.dumps)),
            ),
            max_size=8,
        )
    )
    text = "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in members) + "}"
    return text.encode("utf-8")


@st.composite
def signed_request(draw: Any) -> Sent:
    path = draw(st.sampled_from(V3_PATHS))
    if draw(st.integers(0, 5)) == 0:
        path += "?" + draw(st.text(PATH_CHARS[:-1], max_size=10))
    body = draw(signed_body())
    token = draw(st.one_of(st.none(), st.none(), st.none(), HEADER_TEXT.filter(bool)))
    token_bytes = header_bytes(token) if token else b""
    token_sent = token_bytes.decode("latin-1").strip() if token_bytes else None
    extra = ""
    if draw(st.integers(0, 5)) == 0:
        extra = ",expired_seconds=" + str(draw(st.integers(min_value=1, max_value=86_400)))
    authorization = signed_authorization(path, body, extra=extra, token=token_sent or None)
    headers = [(b"authorization", authorization.encode()), (b"content-type", b"application/json")]
    if token_sent:
        headers.append((b"alipay-app-auth-token", token_sent.encode("latin-1")))
    return Sent("POST", path, headers, body)


# Checking ----------------------------------------------------------------------------------


def writes(before: Snapshot, after: Snapshot, *, nonce_rows: int) -> list[str]:
    """What changed besides `nonce_rows` new v3 nonces."""
    rows = dict(after.rows)
    rows[NONCE_TABLE] = rows.get(NONCE_TABLE, 0) - nonce_rows
    return before.differences(Snapshot(rows, after.accounts))


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_wire_limits_are_what_the_fuzzer_assumes(platform: Platform) -> None:
    assert platform.settings.gateway_timestamp_window_s == WINDOW_S
    assert platform.services["alipay_gateway"].timestamp_window_s == WINDOW_S
    assert v3.BODY_SIZE_MAX_BYTES == 64 * 1024
    assert v3.AUTHORIZATION_LENGTH_MAX == 4096


def test_garbage_is_refused_in_the_v3_protocol_and_writes_nothing(
    platform: Platform,
    client: TestClient,
    shop_with_trades: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers: list[V3Answer] = []

    @FUZZ_SETTINGS
    @given(sent=garbage_request())
    # A header of the scheme alone, and one field with the sign cut off: the parser's edges.
    @example(sent=Sent("POST", V3_PATHS[0], [(b"authorization", AUTH_SCHEME.encode())], b""))
    @example(
        sent=Sent(
            "POST",
            "/v3/alipay/trade/pay",
            [(b"authorization", f"{AUTH_SCHEME} app_id={APP_ID},sign=".encode())],
            b"{}",
        )
    )
    # Each check behind the signature once for sure (random draws reach each most times).
    @example(sent=signed_sent(V3_PATHS[0], b"{}", stamp=now_ms() - (WINDOW_S + 60) * 1000))
    @example(sent=forged(V3_PATHS[0]))
    @example(sent=signed_sent(V3_PATHS[0], b"{}", content_type="text/plain"))
    @example(sent=signed_sent(V3_PATHS[0], b"{"))
    @example(sent=signed_sent(V3_PATHS[0], b"{}", fields=",expired_seconds=0"))
    @example(sent=signed_sent(V3_PATHS[0], b"{}", extra=((b"alipay-encrypt-type", b"AES"),)))
    # Found by this fuzzer: a cipher named over an empty body was taken as plain, its nonce spent.
    @example(sent=signed_sent(V3_PATHS[0], b"", extra=((b"alipay-encrypt-type", b"SM4"),)))
    def run(sent: Sent) -> None:
        note(repr(sent))
        before = snapshot(platform)
        answer = check_v3_answer(sent.send(client), platform, routed=sent.routed)
        answers.append(answer)
        assert answer.status != 200, f"a spoiled request was accepted: {sent}"
        assert before.differences(snapshot(platform)) == [], sent

    run()

    assert no_errors_logged(caplog) == []
    codes = {answer.code for answer in answers}
    # The fuzzer reached the checks behind the signature, not only the header parser.
    behind = {"invalid-signature", "invalid-timestamp", "illegal-json", "invalid-content-type"}
    assert behind <= codes and len(codes) >= 8, codes
    assert platform.reconcile.run().clean


def test_signed_random_bodies_reach_the_handlers_safely(
    platform: Platform,
    client: TestClient,
    shop_with_trades: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers: list[V3Answer] = []

    @FUZZ_SETTINGS
    @given(sent=signed_request())
    def run(sent: Sent) -> None:
        note(repr(sent))
        before, nonces_before = snapshot(platform), nonce_count(platform)
        answer = check_v3_answer(sent.send(client), platform, routed=True)
        answers.append(answer)
        assert answer.signed, answer
        recorded = nonce_count(platform) - nonces_before
        assert recorded in (0, 1), recorded
        if answer.status != 200:
            assert writes(before, snapshot(platform), nonce_rows=recorded) == [], (answer, sent)

    run()

    assert no_errors_logged(caplog) == []
    # Past the signature and the nonce: the handlers' own refusals were reached.
    handler_codes = {a.code for a in answers if a.code.startswith("ACQ.") or a.code.isupper()}
    assert handler_codes, [a.code for a in answers]
    assert platform.reconcile.run().clean
