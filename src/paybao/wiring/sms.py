"""SMS wiring: the sender every feature's texts go through, and the worker's delivery job.

PAYBAO_SMS_PROVIDER picks the gateway: `sandbox` (the default) keeps texts in the developer
inbox only; `http` and `aliyun` queue each text as an `sms.send` job the worker delivers
(services/sms_delivery.py). A gateway asked for but not fully configured stops the platform
from starting, naming the settings (never their values): quietly falling back to the inbox
would lose every code in production. In sandbox mode the inbox also gets a copy of what a
gateway sends, so the demo and the developer inbox keep working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.db.wallet_store import SandboxSmsSender
from paybao.adapters.sms_aliyun import AliyunSmsProvider
from paybao.adapters.sms_http import HttpSmsProvider
from paybao.services.sms_delivery import SmsDelivery, SmsOutbox, SmsProvider, config_problems
from paybao.settings import Settings

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


class SmsConfigError(ValueError):
    """The configured SMS gateway lacks settings (their names are in the message)."""


def install(platform: Platform) -> SmsOutbox:
    """Build the sender and register the delivery job; the wallet hands the sender on."""
    settings = platform.settings
    provider = build_provider(settings)
    sandbox_inbox = SandboxSmsSender(platform.clock)
    outbox = SmsOutbox(
        platform.jobs,
        platform.clock,
        provider_name=provider.name if provider is not None else "",
        inbox=sandbox_inbox if provider is None or settings.sandbox else None,
    )
    SmsDelivery(platform.jobs, provider, platform.services.get("audit")).install_jobs()
    return outbox


def build_provider(settings: Settings) -> SmsProvider | None:
    if settings.sms_provider == "sandbox":
        return None
    problems = config_problems(settings)
    if problems:
        raise SmsConfigError(f"PAYBAO_SMS_PROVIDER={settings.sms_provider}: " + "; ".join(problems))
    if settings.sms_provider == "http":
        return HttpSmsProvider(
            settings.sms_http_url,
            settings.sms_http_secret.get_secret_value(),
            settings.sms_timeout_s,
        )
    return AliyunSmsProvider(
        access_key_id=settings.sms_aliyun_access_key_id,
        access_key_secret=settings.sms_aliyun_access_key_secret.get_secret_value(),
        sign_name=settings.sms_aliyun_sign_name,
        default_template=settings.sms_aliyun_template_code,
        templates=settings.sms_aliyun_templates,
        region_id=settings.sms_aliyun_region_id,
        endpoint=settings.sms_aliyun_endpoint,
        timeout_s=settings.sms_timeout_s,
    )
