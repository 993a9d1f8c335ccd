"""Real SMS delivery (services/sms_delivery.py) against fake gateways on 127.0.0.1, on SQLite
and PostgreSQL: a text is an `sms.send` job written in the business transaction (a rolled-back
registration sends nothing), delivered by the worker through the webhook or Aliyun adapter,
signed as each gateway checks; a refusal for good is not retried and is audited with the
gateway's code; a transient failure (5xx, throttling, a timeout) is retried with backoff until
the job runner gives up and the job is dead; nothing written down holds the code."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from tests.integration.sms_fakes import (
    ALIYUN_KEY_ID,
    ALIYUN_SECRET,
    WEBHOOK_SECRET,
    FakeAliyun,
    FakeWebhook,
    Reply,
    serving,
)

from paybao.adapters.db.tables.platform import jobs
from paybao.adapters.db.tables.wallet import audit_log, sms_outbox, users
from paybao.bootstrap import Platform, build_platform
from paybao.services.job_admin import JobAdmin
from paybao.services.registration import RegistrationService
from paybao.services.sms_delivery import JOB_SMS_SEND, SMS_ATTEMPTS_MAX
from paybao.settings import Settings
from paybao.wiring.sms import SmsConfigError

PHONE = "13912345678"
PASSWORD = "abc12345"
ALIYUN_OK = {"Code": "OK", "Message": "OK", "RequestId": "r-1", "BizId": "b-1"}


def _platform(settings: Settings, **overrides: Any) -> Platform:
    built = build_platform(settings.model_copy(update=overrides))
    built.ledger.open_platform_accounts()
    return built


@pytest.fixture
def built() -> Iterator[list[Platform]]:
    platforms: list[Platform] = []
    yield platforms
    for platform in platforms:
        platform.close()


def webhook_platform(
    settings: Settings, built: list[Platform], url: str, **overrides: Any
) -> Platform:
    values: dict[str, Any] = {
        "sandbox": False,
        "sms_provider": "http",
        "sms_http_url": url,
        "sms_http_secret": SecretStr(WEBHOOK_SECRET),
        "sms_timeout_s": 2.0,
    }
    platform = _platform(settings, **(values | overrides))
    built.append(platform)
    return platform


def aliyun_platform(
    settings: Settings, built: list[Platform], url: str, **overrides: Any
) -> Platform:
    values: dict[str, Any] = {
        "sandbox": False,
        "sms_provider": "aliyun",
        "sms_aliyun_endpoint": url,
        "sms_aliyun_access_key_id": ALIYUN_KEY_ID,
        "sms_aliyun_access_key_secret": SecretStr(ALIYUN_SECRET),
        "sms_aliyun_sign_name": "paybao",
        "sms_aliyun_template_code": "SMS_100001",
        "sms_aliyun_templates": {"code_bind_card": "SMS_100002"},
        "sms_timeout_s": 2.0,
    }
    platform = _platform(settings, **(values | overrides))
    built.append(platform)
    return platform


def registration(platform: Platform) -> RegistrationService:
    service: RegistrationService = platform.services["registration"]
    return service


def sms_jobs(platform: Platform) -> list[Any]:
    with platform.engine.connect() as connection:
        return list(
            connection.execute(select(jobs).where(jobs.c.kind == JOB_SMS_SEND).order_by(jobs.c.id))
        )


def due_now(platform: Platform) -> None:
    """Skip a retry's backoff (the runner set it in platform time)."""
    with platform.engine.begin() as connection:
        connection.execute(
            update(jobs)
            .where(jobs.c.kind == JOB_SMS_SEND, jobs.c.status == "pending")
            .values(due_at_us=platform.clock.now_us())
        )


def refusals(platform: Platform) -> list[Any]:
    with platform.engine.connect() as connection:
        return list(
            connection.execute(select(audit_log).where(audit_log.c.action == "sms.refused"))
        )


def inbox(platform: Platform) -> list[str]:
    with platform.engine.connect() as connection:
        return list(connection.execute(select(sms_outbox.c.text)).scalars())


def code_of(platform: Platform) -> str:
    """The code the platform expects: verify it by using it (the registration's next step)."""
    payload = sms_jobs(platform)[-1].payload
    params: dict[str, str] = json.loads(payload)["params"]
    return params["code"]


# The webhook -------------------------------------------------------------------------------


def test_a_registration_code_arrives_at_the_webhook_after_the_worker_runs(
    settings: Settings, built: list[Platform]
) -> None:
    with serving(FakeWebhook([Reply(200, {"ok": True})])) as fake:
        platform = webhook_platform(settings, built, fake.url)
        user_id = registration(platform).start(PHONE, PASSWORD)
        # Committed with the registration, not sent yet: the worker sends.
        [job] = sms_jobs(platform)
        assert job.status == "pending" and fake.received == []
        assert platform.jobs.run_due() == 1
        [request] = fake.received
        assert request.signature_ok
        body = request.json()
        assert body["phone"] == PHONE and body["message_id"] == job.key
        assert body["kind"] == "code_register"
        code = body["params"]["code"]
        assert f"验证码 {code}" in body["text"]
        assert sms_jobs(platform)[0].status == "done"
        # Production mode: no developer inbox copy; the code works.
        assert inbox(platform) == []
        registration(platform).verify_phone(user_id, code)


def test_a_rolled_back_registration_sends_nothing(
    settings: Settings, built: list[Platform], monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(FakeWebhook([Reply(200)])) as fake:
        platform = webhook_platform(settings, built, fake.url)
        service = registration(platform)
        send_code_in = service.sms.send_code_in

        def send_then_fail(tx: Any, phone: str, purpose: str) -> None:
            send_code_in(tx, phone, purpose)  # the job is written in this transaction...
            raise RuntimeError("the registration fails after queuing its text")

        monkeypatch.setattr(service.sms, "send_code_in", send_then_fail)
        with pytest.raises(RuntimeError):
            service.start(PHONE, PASSWORD)
        # ...and rolled back with it: no user, no job, nothing sent.
        with platform.engine.connect() as connection:
            assert connection.execute(select(users).where(users.c.phone == PHONE)).first() is None
        assert sms_jobs(platform) == []
        assert platform.jobs.run_due() == 0
        assert fake.received == []


def test_a_permanent_refusal_is_not_retried_and_its_reason_is_audited(
    settings: Settings, built: list[Platform]
) -> None:
    with serving(FakeWebhook([Reply(400, {"error": "bad_number"})])) as fake:
        platform = webhook_platform(settings, built, fake.url)
        registration(platform).start(PHONE, PASSWORD)
        code = code_of(platform)
        platform.jobs.run_due()
        [job] = sms_jobs(platform)
        # Dead at once: operators see it beside the gateways that stayed down.
        assert job.status == "dead" and job.attempts == 1
        assert job.last_error == "JobGaveUp: http http_400:bad_number"
        due_now(platform)
        assert platform.jobs.run_due() == 0
        assert len(fake.received) == 1
        [row] = refusals(platform)
        assert row.subject == f"sms:{job.key}"
        assert row.outcome == "http_400:bad_number"
        assert "139****5678" in row.detail and PHONE not in row.detail
        assert code not in row.detail


def test_a_server_error_is_retried_with_backoff_then_sent(
    settings: Settings, built: list[Platform]
) -> None:
    with serving(FakeWebhook([Reply(503), Reply(200)])) as fake:
        platform = webhook_platform(settings, built, fake.url)
        registration(platform).start(PHONE, PASSWORD)
        code = code_of(platform)
        before_us = platform.clock.now_us()
        platform.jobs.run_due()
        [job] = sms_jobs(platform)
        assert job.status == "pending" and job.attempts == 1
        assert job.due_at_us > before_us  # backed off
        assert job.last_error == "SmsRetry: http http_503"
        assert platform.jobs.run_due() == 0  # not before its time
        due_now(platform)
        assert platform.jobs.run_due() == 1
        assert sms_jobs(platform)[0].status == "done"
        first, second = fake.received
        assert first.json()["message_id"] == second.json()["message_id"]  # idempotent key
        assert second.signature_ok and code in second.json()["text"]
        assert refusals(platform) == []


def test_a_slow_webhook_times_out_without_holding_the_worker(
    settings: Settings, built: list[Platform]
) -> None:
    with serving(FakeWebhook([Reply(200, sleep_s=3.0)])) as fake:
        platform = webhook_platform(settings, built, fake.url, sms_timeout_s=0.5)
        registration(platform).start(PHONE, PASSWORD)
        started = time.monotonic()
        platform.jobs.run_due()
        assert time.monotonic() - started < 2.0
        [job] = sms_jobs(platform)
        assert job.status == "pending" and job.attempts == 1
        assert job.last_error == "SmsRetry: http ReadTimeout"


def test_a_gateway_down_for_good_leaves_a_dead_job_for_operators(
    settings: Settings, built: list[Platform]
) -> None:
    with serving(FakeWebhook([Reply(502)])) as fake:
        platform = webhook_platform(settings, built, fake.url)
        registration(platform).start(PHONE, PASSWORD)
        code = code_of(platform)
        for _ in range(SMS_ATTEMPTS_MAX):
            due_now(platform)
            platform.jobs.run_due()
        assert len(fake.received) == SMS_ATTEMPTS_MAX  # a code's worth of tries, not 25
        [job] = sms_jobs(platform)
        assert job.status == "dead" and job.attempts == SMS_ATTEMPTS_MAX
        dead = JobAdmin.of(platform.jobs, platform.services["audit"]).dead_page(JOB_SMS_SEND)
        [row] = dead.jobs
        assert row.id == job.id and row.last_error == "SmsRetry: http http_502"
        assert code not in (row.last_error or "")


def test_sandbox_mode_with_a_gateway_sends_and_keeps_the_inbox_copy(
    settings: Settings, built: list[Platform]
) -> None:
    with serving(FakeWebhook([Reply(204)])) as fake:
        platform = webhook_platform(settings, built, fake.url, sandbox=True)
        registration(platform).start(PHONE, PASSWORD)
        platform.jobs.run_due()
        [request] = fake.received
        assert inbox(platform) == [request.json()["text"]]
        assert sms_jobs(platform)[0].status == "done"


def test_the_sandbox_provider_keeps_texts_in_the_inbox_only(settings: Settings) -> None:
    platform = _platform(settings)
    try:
        registration(platform).start(PHONE, PASSWORD)
        assert len(inbox(platform)) == 1
        assert sms_jobs(platform) == []
    finally:
        platform.close()


def test_a_gateway_without_its_settings_stops_the_platform_naming_them(
    settings: Settings,
) -> None:
    with pytest.raises(SmsConfigError) as caught:
        build_platform(
            settings.model_copy(
                update={
                    "sms_provider": "http",
                    "sms_http_url": "http://sms.example.com/send",
                    "sms_http_secret": SecretStr("short-secret"),
                }
            )
        )
    message = str(caught.value)
    assert "PAYBAO_SMS_HTTP_URL must be https://" in message
    assert "PAYBAO_SMS_HTTP_SECRET needs at least 32 characters" in message
    assert "short-secret" not in message


# Aliyun ------------------------------------------------------------------------------------


def test_aliyun_sends_a_code_by_its_template_signed_as_aliyun_checks(
    settings: Settings, built: list[Platform]
) -> None:
    with serving(FakeAliyun([Reply(200, ALIYUN_OK)])) as fake:
        platform = aliyun_platform(settings, built, fake.url)
        user_id = registration(platform).start(PHONE, PASSWORD)
        platform.jobs.run_due()
        [request] = fake.received
        assert request.signature_ok
        form = request.form()
        [job] = sms_jobs(platform)
        assert job.status == "done"
        assert form["PhoneNumbers"] == PHONE and form["SignName"] == "paybao"
        assert form["TemplateCode"] == "SMS_100001" and form["OutId"] == job.key
        assert form["Format"] == "JSON" and form["RegionId"] == "cn-hangzhou"
        assert form["Timestamp"].endswith("Z")
        code = code_of(platform)
        assert form["TemplateParam"] == f'{{"code":"{code}"}}'
        registration(platform).verify_phone(user_id, code)


def test_aliyun_refuses_a_bad_number_for_good(settings: Settings, built: list[Platform]) -> None:
    refused = {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": f"bad {PHONE}", "RequestId": "r"}
    with serving(FakeAliyun([Reply(200, refused)])) as fake:
        platform = aliyun_platform(settings, built, fake.url)
        registration(platform).start(PHONE, PASSWORD)
        platform.jobs.run_due()
        due_now(platform)
        platform.jobs.run_due()
        assert len(fake.received) == 1
        assert sms_jobs(platform)[0].status == "dead"
        assert sms_jobs(platform)[0].last_error == "JobGaveUp: aliyun isv.MOBILE_NUMBER_ILLEGAL"
        [row] = refusals(platform)
        assert row.outcome == "isv.MOBILE_NUMBER_ILLEGAL"
        assert PHONE not in row.detail  # Aliyun's Message is never kept


def test_aliyun_throttling_is_retried_then_sent(settings: Settings, built: list[Platform]) -> None:
    limited = {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "limited", "RequestId": "r"}
    with serving(FakeAliyun([Reply(200, limited), Reply(200, ALIYUN_OK)])) as fake:
        platform = aliyun_platform(settings, built, fake.url)
        registration(platform).start(PHONE, PASSWORD)
        platform.jobs.run_due()
        [job] = sms_jobs(platform)
        assert job.status == "pending" and job.attempts == 1
        assert job.last_error == "SmsRetry: aliyun isv.BUSINESS_LIMIT_CONTROL"
        due_now(platform)
        platform.jobs.run_due()
        assert sms_jobs(platform)[0].status == "done"
        first, second = fake.received
        assert first.form()["SignatureNonce"] != second.form()["SignatureNonce"]
        assert second.signature_ok


def test_aliyun_times_out_without_holding_the_worker(
    settings: Settings, built: list[Platform]
) -> None:
    with serving(FakeAliyun([Reply(200, ALIYUN_OK, sleep_s=3.0)])) as fake:
        platform = aliyun_platform(settings, built, fake.url, sms_timeout_s=0.5)
        registration(platform).start(PHONE, PASSWORD)
        started = time.monotonic()
        platform.jobs.run_due()
        assert time.monotonic() - started < 2.0
        [job] = sms_jobs(platform)
        assert job.status == "pending" and job.last_error == "SmsRetry: aliyun ReadTimeout"


def test_aliyun_refuses_a_kind_without_a_template_without_calling_aliyun(
    settings: Settings, built: list[Platform]
) -> None:
    with serving(FakeAliyun([Reply(200, ALIYUN_OK)])) as fake:
        platform = aliyun_platform(settings, built, fake.url)
        sender = platform.services["sms"].sender
        platform.db.run(lambda tx: sender.send_in(tx, PHONE, "【paybao】reminder"))
        platform.jobs.run_due()
        assert fake.received == []
        [row] = refusals(platform)
        assert row.outcome == "sms_no_template"
