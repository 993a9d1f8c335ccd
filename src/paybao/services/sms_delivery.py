"""Delivering texts through a real SMS gateway: an outbox job per text, sent by the worker.

`SmsOutbox.send_in` runs inside the business transaction (registration, card binding, a
reminder): it schedules one `sms.send` job (services/jobs.py), so a text exists iff its
transaction commits, and a rolled-back registration sends nothing. In sandbox mode it also
writes the developer inbox (/dev/sms), as the sandbox sender alone does when no gateway is
configured.

The worker runs `SmsDelivery.deliver` with no transaction open (a slow gateway holds no locks)
and asks the provider adapter (adapters/sms_http.py, adapters/sms_aliyun.py) once:
- sent: the job is done;
- retry (transport error, timeout, HTTP 5xx, the gateway's throttling): the handler raises
  `SmsRetry`, so the job runner backs off (2 s, 4 s, ... 256 s) and, after `SMS_ATTEMPTS_MAX`
  attempts (about 8.5 minutes: a code is valid for 5), marks the job dead, where /admin/jobs
  and `paybao jobs dead` show it with its last error;
- refused for good (a bad number, a template the gateway does not know, no template for the
  kind): not retried; the refusal is an `sms.refused` row in the audit log (/admin/audit) with
  the gateway's code, and the job is dead at once (`JobGaveUp`) with the same code.

What is written down about a text (job errors, logs, audit rows) never holds its text or code,
only the message id, its kind, the masked number and the gateway's answer code. The job's
payload holds the text until it is sent, in the database like the code's own challenge row.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

from paybao.services.audit import AuditTrail
from paybao.services.jobs import Job, JobGaveUp, JobRunner
from paybao.services.ports import Clock, Tx
from paybao.services.sms import KIND_NOTICE

if TYPE_CHECKING:
    from paybao.settings import Settings

log = logging.getLogger(__name__)

JOB_SMS_SEND: Final = "sms.send"
AUDIT_SMS_REFUSED: Final = "sms.refused"
TEXT_CHARS_MAX: Final = 500
PARAMS_MAX: Final = 8
PARAM_CHARS_MAX: Final = 64
KIND_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
PHONE_PATTERN: Final = re.compile(r"\+?[0-9]{5,20}")
# A gateway's answer code as it may be written down: anything else becomes "unknown".
REASON_PATTERN: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")

SECRET_CHARS_MIN: Final = 32
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})

SENT: Final = "sent"
RETRY: Final = "retry"
REFUSED: Final = "refused"


@dataclass(frozen=True, slots=True)
class SmsRequest:
    """One text for a provider. `message_id` is the same on every try (the gateway's
    idempotency key: the webhook's `message_id`, Aliyun's `OutId`)."""

    message_id: str
    phone: str
    text: str
    kind: str
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SmsResult:
    outcome: str  # sent | retry | refused
    # A stable code, never the text: "http_503", "ReadTimeout", "isv.MOBILE_NUMBER_ILLEGAL".
    reason: str = ""

    def __post_init__(self) -> None:
        assert self.outcome in (SENT, RETRY, REFUSED), self.outcome


class SmsProvider(Protocol):
    """A gateway adapter. `send` never raises for what the gateway or the network does: it
    answers with an `SmsResult`."""

    name: str

    def send(self, request: SmsRequest) -> SmsResult: ...


class InboxWriter(Protocol):
    """The developer inbox (adapters/db/wallet_store.SandboxSmsSender)."""

    def send_in(self, tx: Tx, phone: str, text: str) -> None: ...


# Backoff 2, 4, ... 256 s: about 8.5 minutes of tries for a code valid 5 minutes; later a
# text only confuses.
SMS_ATTEMPTS_MAX = 8


class SmsRetry(Exception):
    """A try that may succeed later; its message (kept as the job's last error) names the
    provider and the reason only."""


def safe_reason(value: object) -> str:
    text = str(value)
    return text if REASON_PATTERN.fullmatch(text) else "unknown"


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def new_message_id() -> str:
    return "sms_" + secrets.token_hex(12)


@dataclass
class SmsOutbox:
    """Implements SmsSender (services/sms.py). With no provider it is the sandbox's sender:
    the inbox only. With one, each text is a job; in sandbox mode the inbox gets a copy too."""

    jobs: JobRunner
    clock: Clock
    provider_name: str = ""  # "" = no gateway: the developer inbox only
    inbox: InboxWriter | None = None

    @property
    def adapter_name(self) -> str:
        """What `paybao preflight` reports (a name starting with Sandbox is the sandbox's)."""
        return f"SmsGateway:{self.provider_name}" if self.provider_name else "SandboxSmsSender"

    def send_in(
        self,
        tx: Tx,
        phone: str,
        text: str,
        *,
        kind: str = KIND_NOTICE,
        params: Mapping[str, str] | None = None,
    ) -> None:
        assert PHONE_PATTERN.fullmatch(phone), "not a phone number"
        assert KIND_PATTERN.fullmatch(kind), kind
        variables = dict(params or {})
        assert len(variables) <= PARAMS_MAX
        assert all(len(str(value)) <= PARAM_CHARS_MAX for value in variables.values())
        text = text[:TEXT_CHARS_MAX]
        if self.inbox is not None:
            self.inbox.send_in(tx, phone, text)
        if not self.provider_name:
            return
        message_id = new_message_id()
        payload = {
            "message_id": message_id,
            "phone": phone,
            "text": text,
            "kind": kind,
            "params": {str(name): str(value) for name, value in variables.items()},
        }
        self.jobs.schedule_in(tx, JOB_SMS_SEND, message_id, self.clock.now_us(), payload)


class SmsDelivery:
    """The worker's side: one try per job run, outside any transaction."""

    def __init__(
        self, jobs: JobRunner, provider: SmsProvider | None, audit: AuditTrail | None = None
    ) -> None:
        self.jobs = jobs
        self.provider = provider
        self.audit = audit

    def install_jobs(self) -> None:
        # Registered even with no gateway configured: jobs queued while one was (the operator
        # switched back to the sandbox) are then refused with a reason instead of dying of
        # "no handler".
        self.jobs.register_outside_tx(JOB_SMS_SEND, self.deliver, attempts_max=SMS_ATTEMPTS_MAX)

    def deliver(self, job: Job) -> int | None:
        """None: sent. Raises `SmsRetry` for a try that may succeed later (the job runner
        backs off and counts the attempts), `JobGaveUp` for a refusal for good (audited)."""
        request = request_of(job)
        if request is None:
            raise self._refused(job, "", "sms_bad_payload")
        if self.provider is None:
            raise self._refused(job, request.phone, "sms_provider_off")
        try:
            result = self.provider.send(request)
        except Exception as error:  # an adapter bug: its text might hold the message
            raise SmsRetry(f"{self.provider.name} {type(error).__name__}") from None
        if result.outcome == SENT:
            return None
        reason = safe_reason(result.reason)
        if result.outcome == RETRY:
            raise SmsRetry(f"{self.provider.name} {reason}")
        raise self._refused(job, request.phone, reason)

    def _refused(self, job: Job, phone: str, reason: str) -> JobGaveUp:
        """Log and audit a refusal for good; the error that makes its job dead at once."""
        provider = self.provider.name if self.provider is not None else "none"
        kind = safe_reason(job.payload.get("kind", ""))
        log.warning(
            "sms %s (%s to %s) refused by %s: %s",
            job.key,
            kind,
            mask_phone(phone),
            provider,
            reason,
        )
        if self.audit is not None:
            self.audit.record(
                AUDIT_SMS_REFUSED,
                f"sms:{job.key}",
                detail=f"{provider} {kind} to {mask_phone(phone)}: {reason}",
                outcome=reason,
            )
        return JobGaveUp(f"{provider} {reason}")


def request_of(job: Job) -> SmsRequest | None:
    payload: Mapping[str, Any] = job.payload
    phone, text, kind = payload.get("phone"), payload.get("text"), payload.get("kind")
    params = payload.get("params") or {}
    if not isinstance(phone, str) or not PHONE_PATTERN.fullmatch(phone):
        return None
    if not isinstance(text, str) or not isinstance(kind, str) or not isinstance(params, dict):
        return None
    return SmsRequest(
        message_id=str(payload.get("message_id") or job.key),
        phone=phone,
        text=text,
        kind=kind,
        params={str(name): str(value) for name, value in params.items()},
    )


def config_problems(settings: Settings) -> list[str]:
    """What keeps the configured gateway from working, one line per setting (names, never
    values); empty when it can send. The wiring refuses to start on any (a gateway asked for
    must not quietly become the sandbox); `paybao preflight` lists them (sms_provider_config)."""
    problems: list[str] = []
    if settings.sms_provider == "http":
        if not settings.sms_http_url:
            problems.append("PAYBAO_SMS_HTTP_URL is not set")
        elif not url_allowed(settings.sms_http_url):
            problems.append("PAYBAO_SMS_HTTP_URL must be https:// (http:// only to this machine)")
        if len(settings.sms_http_secret.get_secret_value()) < SECRET_CHARS_MIN:
            problems.append(f"PAYBAO_SMS_HTTP_SECRET needs at least {SECRET_CHARS_MIN} characters")
    elif settings.sms_provider == "aliyun":
        required = (
            ("PAYBAO_SMS_ALIYUN_ACCESS_KEY_ID", settings.sms_aliyun_access_key_id),
            (
                "PAYBAO_SMS_ALIYUN_ACCESS_KEY_SECRET",
                settings.sms_aliyun_access_key_secret.get_secret_value(),
            ),
            ("PAYBAO_SMS_ALIYUN_SIGN_NAME", settings.sms_aliyun_sign_name),
            ("PAYBAO_SMS_ALIYUN_TEMPLATE_CODE", settings.sms_aliyun_template_code),
        )
        problems.extend(f"{name} is not set" for name, value in required if not value)
        if not url_allowed(settings.sms_aliyun_endpoint):
            problems.append("PAYBAO_SMS_ALIYUN_ENDPOINT must be https://")
        for kind, template in settings.sms_aliyun_templates.items():
            if not KIND_PATTERN.fullmatch(kind) or not REASON_PATTERN.fullmatch(template):
                problems.append("PAYBAO_SMS_ALIYUN_TEMPLATES maps kinds to template codes")
                break
    return problems


def url_allowed(url: str) -> bool:
    """https anywhere; plain http only to this machine (a local relay, the tests)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if not host or parts.username or parts.password:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS)
