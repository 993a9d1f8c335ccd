"""Hypothesis fuzzer for /gateway.do's newer common parameters: `encrypt_type` with AES content
(garbage that is valid base64 but does not decrypt, wrong padding, not whole blocks, the wrong
key, random JSON under the right key), certificate mode (`app_cert_sn`, `alipay_root_cert_sn`:
random, the app's own, the platform root's, mixed) and `app_auth_token` (random tokens).

Every request is properly signed by the merchant's app (the parameters are signed like every
other), so each reaches the checks behind the signature. Every answer: HTTP 200 with the
signed envelope, plain (`{"x_response":{…},"sign":…}`) or, once an encrypted biz_content has
opened, encrypted (`{"x_response":"<AES>","sign":…}`, signature over the quoted ciphertext),
and `"alipay_cert_sn"` after `sign` exactly when the request named certificates and the app
was known; a sub_code the Alipay adapter can raise, never one that means an escaped exception.
A refusal writes nothing; no ERROR is logged.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import urllib.parse
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, example, given, note, settings
from hypothesis import strategies as st

from paybao.adapters.alipay import certificates, content_crypto
from paybao.adapters.alipay.errors import GATEWAY_MESSAGES
from paybao.adapters.alipay.signing import sign_request_params, verify_content
from paybao.bootstrap import Platform
from tests.integration.gateway_support import APP_ID, now_text
from tests.reliability.hostile_support import snapshot
from tests.reliability.test_hostile_gateway import JSON_VALUE, shop_with_trades, signing_key
from tests.reliability.v3_hostile_support import BUG_CODES, known_gateway_sub_codes

EXAMPLES = 120
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],  # bounded: report the first failure unshrunk
)
METHODS = [
    "alipay.trade.query",
    "alipay.trade.pay",
    "alipay.trade.create",
    "alipay.trade.precreate",
    "alipay.trade.refund",
    "alipay.trade.close",
    "alipay.trade.cancel",
    "alipay.trade.fastpay.refund.query",
    "alipay.fund.trans.uni.transfer",
    "alipay.open.app.alipaycert.download",
    "alipay.open.auth.token.app.query",
]
__all__ = ["shop_with_trades"]  # the fixture, imported to be used here


@dataclass(frozen=True)
class Keys:
    """What the app really holds: its AES key, its certificate's SN, the platform root SN."""

    aes: bytes
    app_cert_sn: str
    root_sn: str
    platform_cert_sn: str


class Sent:
    """One signed request. Not a dataclass: Hypothesis would print every byte of it."""

    def __init__(self, params: dict[str, str], wire_charset: str) -> None:
        self.params = params
        self.wire_charset = wire_charset

    def __repr__(self) -> str:
        return f"Sent({ {k: v[:200] for k, v in self.params.items()} }, {self.wire_charset})"

    def send(self, client: TestClient) -> Any:
        body = urllib.parse.urlencode(self.params, encoding=self.wire_charset, errors="replace")
        content_type = f"application/x-www-form-urlencoded;charset={self.wire_charset}"
        return client.post("/gateway.do", content=body, headers={"Content-Type": content_type})

    @property
    def cert_mode(self) -> bool:
        return bool(self.params.get("app_cert_sn") or self.params.get("alipay_root_cert_sn"))


# Strategies --------------------------------------------------------------------------------

RANDOM_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " ", "AES", "aes", "AES ", "SM4", "RSA", "AES256", "null", "测试"]),
)
SN_TEXT = st.one_of(
    st.text(alphabet="0123456789abcdef", min_size=0, max_size=40),
    st.text(max_size=12),
    st.sampled_from(["0" * 32, "f" * 32, "_", "__", "x" * 600]),
)


def plain_biz(draw: Any) -> str:
    members = draw(
        st.dictionaries(
            st.sampled_from(
                ["out_trade_no", "total_amount", "subject", "refund_amount", "trans_amount"]
            ),
            st.one_of(st.sampled_from(["paid-1", "open-1", "1.00", "0.01", "s"]), JSON_VALUE),
            max_size=4,
        )
    )
    return json.dumps(members, ensure_ascii=False)


@st.composite
def biz_content(draw: Any, keys: Keys, charset: str) -> str:
    kind = draw(
        st.sampled_from(
            [
                "plain",
                "base64-not-decrypting",
                "not-whole-blocks",
                "not-base64",
                "wrong-key",
                "right-key-random-json",
                "right-key-not-json",
            ]
        )
    )
    if kind == "plain":
        return plain_biz(draw)
    if kind == "base64-not-decrypting":  # whole blocks, padding almost surely wrong
        blocks = draw(st.integers(min_value=1, max_value=4))
        return base64.b64encode(
            draw(st.binary(min_size=16 * blocks, max_size=16 * blocks))
        ).decode()
    if kind == "not-whole-blocks":
        return base64.b64encode(draw(st.binary(min_size=1, max_size=15))).decode()
    if kind == "not-base64":
        return draw(st.sampled_from(["!!!!", "A", "====", "QUJD\n", "测试", "{}"]))
    plain = plain_biz(draw).encode(charset, "replace")
    if kind == "wrong-key":
        return content_crypto.encrypt(plain, os.urandom(draw(st.sampled_from([16, 24, 32]))))
    if kind == "right-key-not-json":
        plain = draw(st.sampled_from([b"{", b"null", b"\xff\xfe", b"[]", b""]))
    return content_crypto.encrypt(plain, keys.aes)


@st.composite
def signed_request(draw: Any, keys: Keys) -> Sent:
    charset = draw(st.sampled_from(["utf-8", "utf-8", "gbk"]))
    params = {
        "app_id": APP_ID,
        "method": draw(st.sampled_from(METHODS)),
        "charset": charset,
        "sign_type": "RSA2",
        "timestamp": now_text(),
        "version": "1.0",
        "biz_content": draw(biz_content(keys, charset)),
    }
    if draw(st.integers(0, 3)):
        params["encrypt_type"] = draw(st.one_of(st.just("AES"), st.just("AES"), RANDOM_TEXT))
    cert = draw(st.sampled_from(["none", "none", "real", "random-app", "random-root", "random"]))
    if cert != "none":
        real = cert == "real"
        params["app_cert_sn"] = keys.app_cert_sn if real or cert == "random-root" else draw(SN_TEXT)
        root = keys.root_sn if real or cert == "random-app" else draw(SN_TEXT)
        if draw(st.booleans()):
            root = draw(SN_TEXT) + "_" + root
        params["alipay_root_cert_sn"] = root
        for name in ("app_cert_sn", "alipay_root_cert_sn"):
            if not params[name] and draw(st.booleans()):
                del params[name]
    if draw(st.integers(0, 3)) == 0:
        params["app_auth_token"] = draw(
            st.one_of(
                st.text(alphabet="0123456789abcdefABCDEF.", min_size=1, max_size=64),
                st.text(min_size=1, max_size=16),
                st.just("x" * 300),
            )
        )
    # What the declared charset can carry (a merchant's SDK could not sign anything else).
    params = {
        k: v.replace("\x00", "").encode(charset, "replace").decode(charset)
        for k, v in params.items()
    }
    params["sign"] = sign_request_params(params, signing_key(), "RSA2", charset)  # type: ignore[arg-type]
    return Sent(params, charset)


# Checking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    code: str
    sub_code: str
    encrypted: bool


def check_answer(response: Any, sent: Sent, platform: Platform, keys: Keys) -> Answer:
    assert response.status_code == 200, (response.status_code, response.text[:300])
    charset = response.headers["content-type"].partition("charset=")[2] or "utf-8"
    text = response.content.decode(charset)
    envelope = json.loads(text)
    names = list(envelope)
    key = names[0]
    assert key.endswith("_response"), envelope
    public_pem = platform.services["platform_key"].public_pem
    if sent.cert_mode:
        assert names == [key, "sign", "alipay_cert_sn"], names
        assert envelope["alipay_cert_sn"] == keys.platform_cert_sn
        text = text[: text.rindex(',"alipay_cert_sn":"')] + "}"
    else:
        assert names == [key, "sign"], names
    head = "{" + json.dumps(key) + ":"
    signed_text = text[len(head) : text.rindex(',"sign":"')]
    assert verify_content(signed_text.encode(charset), envelope["sign"], public_pem, "RSA2")
    encrypted = isinstance(envelope[key], str)
    if encrypted:  # only an opened request is answered so: the app's key, and the right text
        assert sent.params.get("encrypt_type") == "AES", sent
        fields = json.loads(content_crypto.decrypt(envelope[key], keys.aes).decode(charset))
    else:
        fields = envelope[key]
    assert fields["code"] in GATEWAY_MESSAGES and fields["msg"] == GATEWAY_MESSAGES[fields["code"]]
    sub_code = str(fields.get("sub_code", ""))
    assert sub_code not in BUG_CODES, fields
    if fields["code"] != "10000":
        assert sub_code in known_gateway_sub_codes(), f"unknown sub_code {sub_code!r}"
    return Answer(str(fields["code"]), sub_code, encrypted)


@pytest.fixture
def keys(platform: Platform, shop_with_trades: Any) -> Keys:
    aes = base64.b64decode(platform.services["app_aes_keys"].set(APP_ID))
    files = platform.services["app_certificates"].files(APP_ID, actor="test")
    root_sn = certificates.root_cert_sn(certificates.load_bundle(files.root_pem))
    platform_sn = certificates.cert_sn(certificates.load_cert(files.platform_cert_pem))
    return Keys(aes, files.app_cert_sn, root_sn, platform_sn)


def test_new_common_params_are_answered_signed_and_write_nothing(
    platform: Platform, client: TestClient, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    answers: list[Answer] = []

    def explicit(**extra: str) -> Sent:
        params = {
            "app_id": APP_ID,
            "method": "alipay.trade.query",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": now_text(),
            "version": "1.0",
            **extra,
        }
        params["sign"] = sign_request_params(params, signing_key(), "RSA2", "utf-8")  # type: ignore[arg-type]
        return Sent(params, "utf-8")

    garbage = base64.b64encode(bytes(32)).decode()

    @FUZZ_SETTINGS
    @given(sent=signed_request(keys))
    # Each refusal once for sure (random draws reach each most times).
    @example(sent=explicit(encrypt_type="AES", biz_content=garbage))
    @example(sent=explicit(encrypt_type="SM4", biz_content=garbage))
    @example(sent=explicit(app_cert_sn="0" * 32, alipay_root_cert_sn=keys.root_sn))
    @example(sent=explicit(alipay_root_cert_sn=keys.root_sn))
    @example(sent=explicit(app_cert_sn=keys.app_cert_sn, alipay_root_cert_sn="1" * 32))
    @example(sent=explicit(app_auth_token="201909BB" + "0" * 32, biz_content="{}"))
    @example(
        sent=explicit(
            encrypt_type="AES",
            biz_content=content_crypto.encrypt(b'{"out_trade_no":"paid-1"}', keys.aes),
            app_cert_sn=keys.app_cert_sn,
            alipay_root_cert_sn=keys.root_sn,
        )
    )
    def run(sent: Sent) -> None:
        note(repr(sent))
        before = snapshot(platform)
        answer = check_answer(sent.send(client), sent, platform, keys)
        answers.append(answer)
        if answer.code != "10000":
            assert before.differences(snapshot(platform)) == [], (answer, sent)

    run()

    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    sub_codes = {answer.sub_code for answer in answers}
    expected = {
        "isv.decryption-error-unknown",
        "isv.decryption-error-not-valid-encrypt-type",
        "isv.app-cert-not-exist",
        "isv.missing-app-cert-sn",
        "isv.invalid-alipay-root-cert-sn",
        "aop.invalid-app-auth-token",
    }
    assert expected <= sub_codes, expected - sub_codes
    assert any(answer.encrypted for answer in answers), "no encrypted request opened"
    assert platform.reconcile.run().clean
