"""The SMS gateway adapters and the delivery job, without a network or a database.

Aliyun's signature is checked against the worked example of Alibaba Cloud's SMS documentation
("HTTP protocol and signature": AccessKeyId testId, secret testSecret, GET, signature
zJDF+Lrzhj/ThnlvIToysFRq6t4=) and, for the POST we send, against an independent
re-implementation (tests/integration/sms_fakes.py, the docs' Java recipe).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr
from tests.integration.sms_fakes import aliyun_signature

from paybao.adapters.sms_aliyun import (
    AliyunSmsProvider,
    percent_encode,
    signature,
    string_to_sign,
)
from paybao.adapters.sms_aliyun import classify as aliyun_classify
from paybao.adapters.sms_http import Answer, HttpSmsProvider, sign
from paybao.adapters.sms_http import classify as http_classify
from paybao.services.jobs import Job, JobGaveUp
from paybao.services.sms import code_kind, message_text
from paybao.services.sms_delivery import (
    REFUSED,
    RETRY,
    SENT,
    SmsDelivery,
    SmsRequest,
    SmsResult,
    SmsRetry,
    config_problems,
    safe_reason,
)
from paybao.settings import Settings

DOC_PARAMS = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}


def test_aliyun_signature_matches_the_worked_example_of_the_docs() -> None:
    assert signature("testSecret", "GET", DOC_PARAMS) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert string_to_sign("GET", DOC_PARAMS).startswith(
        "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123"
        "%26PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF"
    )


def test_aliyun_percent_encoding_follows_rfc_3986() -> None:
    assert percent_encode("a b*c~d+e/f:") == "a%20b%2Ac~d%2Be%2Ff%3A"
    assert percent_encode("-_.~AZaz09") == "-_.~AZaz09"
    assert percent_encode("验") == "%E9%AA%8C"


def test_aliyun_post_signature_agrees_with_an_independent_implementation() -> None:
    provider = AliyunSmsProvider(
        access_key_id="LTAIkey",
        access_key_secret="s3cr*t ~+",
        sign_name="支付宝 paybao",
        default_template="SMS_1",
        now=lambda: datetime(2026, 11, 27, 6, 0, 1, tzinfo=UTC),
        nonce=lambda: "nonce-1",
    )
    request = SmsRequest("sms_1", "13912345678", "text", "code_register", {"code": "012345"})
    params = provider.params_of(request, "SMS_1")
    assert params["Timestamp"] == "2026-11-27T06:00:01Z"
    assert params["TemplateParam"] == '{"code":"012345"}'
    assert params["OutId"] == "sms_1" and params["SignatureNonce"] == "nonce-1"
    assert signature("s3cr*t ~+", "POST", params) == aliyun_signature("s3cr*t ~+", "POST", params)


def test_aliyun_maps_kinds_to_templates() -> None:
    provider = AliyunSmsProvider(
        access_key_id="LTAIkey",
        access_key_secret="top-secret",
        sign_name="n",
        default_template="SMS_CODE",
        templates={"code_bind_card": "SMS_BIND", "notice": "SMS_NOTICE"},
    )
    assert provider.template_of("code_register") == "SMS_CODE"
    assert provider.template_of("code_bind_card") == "SMS_BIND"
    assert provider.template_of("notice") == "SMS_NOTICE"
    assert provider.template_of("code_reset_login") == "SMS_CODE"
    assert provider.template_of("other") == ""
    assert "top-secret" not in repr(provider)


def test_a_code_s_kind_and_text_follow_its_purpose() -> None:
    assert code_kind("register") == "code_register"
    assert code_kind("bind:42") == "code_bind_card"
    assert code_kind("reset_login") == "code_reset_login"
    assert code_kind("reset_payment") == "code_reset_payment"
    assert code_kind("Odd purpose!") == "code_odd_purpose_"
    assert "用于重置登录密码" in message_text("123456", "reset_login", 5)
    assert "用于绑定银行卡" in message_text("123456", "bind:42", 5)
    assert "用于注册" in message_text("123456", "register", 5)


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


@pytest.mark.parametrize(
    ("answer", "outcome", "reason"),
    [
        (Answer(200, _json({"Code": "OK"})), SENT, ""),
        (Answer(200, _json({"Code": "isv.BUSINESS_LIMIT_CONTROL"})), RETRY, ""),
        (Answer(400, _json({"Code": "Throttling.User"})), RETRY, "Throttling.User"),
        (Answer(503, b"<html>busy</html>"), RETRY, "http_503"),
        (Answer(None, b"", "ConnectError"), RETRY, "ConnectError"),
        (Answer(200, _json({"Code": "isv.MOBILE_NUMBER_ILLEGAL"})), REFUSED, ""),
        (Answer(400, _json({"Code": "SignatureDoesNotMatch"})), REFUSED, ""),
        (Answer(200, _json({"Code": "isv.SMS_TEMPLATE_ILLEGAL"})), REFUSED, ""),
        (Answer(404, b"not json"), REFUSED, "http_404"),
        (Answer(200, _json({"Code": "13912345678 <script>"})), REFUSED, "unknown"),
    ],
)
def test_aliyun_answers_are_sent_retried_or_refused(
    answer: Answer, outcome: str, reason: str
) -> None:
    result = aliyun_classify(answer)
    assert result.outcome == outcome
    if reason:
        assert result.reason == reason


@pytest.mark.parametrize(
    ("status", "body", "outcome", "reason"),
    [
        (200, b"", SENT, ""),
        (204, b"", SENT, ""),
        (429, b"", RETRY, "http_429"),
        (408, b"", RETRY, "http_408"),
        (500, _json({"error": "down"}), RETRY, "http_500:down"),
        (400, _json({"error": "bad_number"}), REFUSED, "http_400:bad_number"),
        (302, b"", REFUSED, "http_302"),
        (422, _json({"error": "the text 123456 is bad"}), REFUSED, "http_422:unknown"),
    ],
)
def test_webhook_answers_are_sent_retried_or_refused(
    status: int, body: bytes, outcome: str, reason: str
) -> None:
    assert http_classify(Answer(status, body)) == SmsResult(outcome, reason)


def test_webhook_signature_covers_the_timestamp_and_the_raw_body() -> None:
    secret = b"k" * 32
    body = b'{"phone":"13912345678"}'
    expected = hmac.new(secret, b"1764223200." + body, hashlib.sha256).hexdigest()
    assert sign(secret, "1764223200", body) == f"sha256={expected}"
    assert sign(secret, "1764223201", body) != sign(secret, "1764223200", body)


def test_webhook_refuses_plain_http_to_another_machine() -> None:
    with pytest.raises(AssertionError):
        HttpSmsProvider("http://sms.example.com/", "k" * 32, 1.0)
    provider = HttpSmsProvider("https://sms.example.com/send?token=x", "k" * 32, 1.0)
    assert repr(provider) == "HttpSmsProvider(sms.example.com)"
    provider.close()


def test_config_problems_name_the_missing_settings_never_their_values() -> None:
    assert config_problems(Settings(sms_provider="sandbox")) == []
    assert (
        config_problems(
            Settings(
                sms_provider="http",
                sms_http_url="https://sms.example.com/",
                sms_http_secret=SecretStr("k" * 32),
            )
        )
        == []
    )
    assert config_problems(Settings(sms_provider="http")) == [
        "PAYBAO_SMS_HTTP_URL is not set",
        "PAYBAO_SMS_HTTP_SECRET needs at least 32 characters",
    ]
    problems = config_problems(
        Settings(
            sms_provider="aliyun",
            sms_aliyun_access_key_secret=SecretStr("the-secret"),
            sms_aliyun_endpoint="http://dysmsapi.example.com/",
            sms_aliyun_templates={"Bad Kind": "SMS_1"},
        )
    )
    assert problems == [
        "PAYBAO_SMS_ALIYUN_ACCESS_KEY_ID is not set",
        "PAYBAO_SMS_ALIYUN_SIGN_NAME is not set",
        "PAYBAO_SMS_ALIYUN_TEMPLATE_CODE is not set",
        "PAYBAO_SMS_ALIYUN_ENDPOINT must be https://",
        "PAYBAO_SMS_ALIYUN_TEMPLATES maps kinds to template codes",
    ]
    assert "the-secret" not in repr(Settings(sms_aliyun_access_key_secret=SecretStr("the-secret")))


# The delivery job, on a fake provider ------------------------------------------------------


class FakeProvider:
    name = "fake"

    def __init__(self, result: SmsResult | Exception) -> None:
        self.result = result
        self.sent: list[SmsRequest] = []

    def send(self, request: SmsRequest) -> SmsResult:
        self.sent.append(request)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


class FakeAudit:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def record(self, action: str, subject: str, *, detail: str = "", outcome: str = "ok") -> None:
        self.rows.append((action, subject, detail, outcome))


TEXT = "【paybao】验证码 654321,用于注册"


def _job(**payload: Any) -> Job:
    values = {
        "message_id": "sms_abc",
        "phone": "13912345678",
        "text": TEXT,
        "kind": "code_register",
        "params": {"code": "654321"},
    }
    return Job(1, "sms.send", "sms_abc", values | payload, 0, 0)


def _delivery(provider: FakeProvider | None) -> tuple[SmsDelivery, FakeAudit]:
    audit = FakeAudit()
    return SmsDelivery(None, provider, audit), audit  # type: ignore[arg-type]


def test_delivery_sends_once_and_is_done() -> None:
    provider = FakeProvider(SmsResult(SENT))
    delivery, audit = _delivery(provider)
    assert delivery.deliver(_job()) is None
    [request] = provider.sent
    assert request == SmsRequest(
        "sms_abc", "13912345678", TEXT, "code_register", {"code": "654321"}
    )
    assert audit.rows == []


def test_delivery_retries_with_a_reason_that_never_holds_the_text() -> None:
    delivery, _ = _delivery(FakeProvider(SmsResult(RETRY, "http_503")))
    with pytest.raises(SmsRetry) as caught:
        delivery.deliver(_job())
    assert str(caught.value) == "fake http_503"
    # An adapter that raises (a bug) may quote the request: only the error's type is kept.
    delivery, _ = _delivery(FakeProvider(ValueError(f"cannot send {TEXT}")))
    with pytest.raises(SmsRetry) as caught:
        delivery.deliver(_job())
    assert str(caught.value) == "fake ValueError"


def test_delivery_audits_a_refusal_and_stops() -> None:
    delivery, audit = _delivery(FakeProvider(SmsResult(REFUSED, "isv.MOBILE_NUMBER_ILLEGAL")))
    with pytest.raises(JobGaveUp, match=r"^fake isv\.MOBILE_NUMBER_ILLEGAL$"):
        delivery.deliver(_job())
    assert audit.rows == [
        (
            "sms.refused",
            "sms:sms_abc",
            "fake code_register to 139****5678: isv.MOBILE_NUMBER_ILLEGAL",
            "isv.MOBILE_NUMBER_ILLEGAL",
        )
    ]


def test_delivery_refuses_bad_payloads_and_jobs_left_without_a_gateway() -> None:
    delivery, audit = _delivery(FakeProvider(SmsResult(SENT)))
    with pytest.raises(JobGaveUp):
        delivery.deliver(_job(phone="not a phone"))
    assert audit.rows[-1][3] == "sms_bad_payload"
    delivery, audit = _delivery(None)
    with pytest.raises(JobGaveUp):
        delivery.deliver(_job())
    assert audit.rows[-1][3] == "sms_provider_off"


def test_safe_reason_keeps_codes_only() -> None:
    assert safe_reason("isv.MOBILE_NUMBER_ILLEGAL") == "isv.MOBILE_NUMBER_ILLEGAL"
    assert safe_reason("验证码 123456") == "unknown"
    assert safe_reason("x" * 65) == "unknown"
