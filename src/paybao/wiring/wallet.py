"""Wallet feature wiring: users, registration, SMS, the sandbox bank, money movement, operators.

Services land in `platform.services`: "users", "registration", "sms", "bank", "wallet",
"operators", "idempotency" (generic, for every feature's REST calls).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from paybao.adapters.db.admin_store import SqlAdminStore, SqlIdempotencyStore
from paybao.adapters.db.device_store import SqlDeviceStore
from paybao.adapters.db.risk_store import SqlRiskStore
from paybao.adapters.db.user_store import SqlUserStore
from paybao.adapters.db.wallet_store import SqlCardStore, SqlSmsStore, SqlWalletStore
from paybao.adapters.device_signatures import verify_ed25519
from paybao.adapters.passwords import Argon2Hasher, load_or_create_pepper
from paybao.adapters.sandbox_faults import Faults
from paybao.domain.account_class import ClassPolicy
from paybao.domain.credentials import LockoutPolicy, SmsPolicy
from paybao.domain.devices import DevicePolicy
from paybao.domain.risk import RiskRules
from paybao.domain.withdrawal import WithdrawalFeePolicy
from paybao.services.devices import DeviceService
from paybao.services.idempotency import IdempotencyService
from paybao.services.operators import OperatorService
from paybao.services.registration import RegistrationService
from paybao.services.risk import RiskService
from paybao.services.sms import SmsService
from paybao.services.users import UserPolicy, UserService
from paybao.services.wallet import WalletService
from paybao.services.wallet_operations import Movement
from paybao.wiring import bank as bank_wiring
from paybao.wiring import sms as sms_wiring

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    settings = platform.settings
    hasher = Argon2Hasher(
        pepper=load_or_create_pepper(settings.data_dir),
        time_cost=settings.password_hash_time_cost,
        memory_kib=settings.password_hash_memory_kib,
        threads_max=settings.password_hash_threads_max,
    )
    users = UserService(platform.db, SqlUserStore(), platform.clock, hasher, _user_policy(platform))
    sms = SmsService(
        platform.db,
        SqlSmsStore(),
        # The developer inbox, or a real gateway (PAYBAO_SMS_PROVIDER; wiring/sms.py).
        sms_wiring.install(platform),
        platform.clock,
        SmsPolicy(
            valid_s=settings.sms_code_valid_s,
            tries_max=settings.sms_tries_max,
            resend_interval_s=settings.sms_resend_interval_s,
            sends_per_day_max=settings.sms_sends_per_day_max,
        ),
    )
    faults = Faults(
        settings.bank_latency_ms, settings.bank_timeout_rate, settings.bank_failure_rate
    )
    # The sandbox bank, or the operator's bank bridge (PAYBAO_BANK_PROVIDER; wiring/bank.py).
    bank = bank_wiring.build(platform, faults)
    cards = SqlCardStore()
    registration = RegistrationService(
        platform.db,
        users,
        cards,
        sms,
        bank,
        platform.ledger,
        platform.clock,
        accounts_per_id_number_max=settings.accounts_per_id_number_max,
    )
    wallet = WalletService(
        platform.db,
        SqlWalletStore(),
        cards,
        users,
        platform.ledger,
        platform.jobs,
        bank,
        platform.clock,
        fee_policy=WithdrawalFeePolicy(
            free_quota_fen=settings.withdraw_free_quota_fen,
            fee_min_fen=settings.withdraw_fee_min_fen,
        ),
        bank_query_delay_s=settings.bank_query_delay_s,
        statement_page_size_max=settings.statement_page_size_max,
    )
    wallet.operations.devices = DeviceService(
        platform.db,
        SqlDeviceStore(),
        users,
        platform.clock,
        verify_ed25519,
        DevicePolicy(
            devices_per_user_max=settings.devices_per_user_max,
            clock_skew_s=settings.device_signature_skew_s,
            amount_max_fen=settings.device_confirm_amount_max_fen,
        ),
    )
    risk = RiskService(
        platform.db,
        SqlRiskStore(),
        platform.clock,
        users,
        _risk_rules(platform),
        audit=platform.services.get("audit"),
        held=wallet.transfers,
    )
    if settings.risk_enabled:
        wallet.operations.risk = risk
    wallet.install_jobs()
    platform.sweeps.append(wallet.payouts.send_due)
    operators = OperatorService(
        platform.db,
        SqlAdminStore(),
        users,
        hasher,
        platform.clock,
        token_ttl_s=settings.api_token_ttl_s,
    )
    idempotency = IdempotencyService(platform.db, SqlIdempotencyStore(), platform.clock)
    wallet.operations.idempotency = idempotency
    for kind in ("topup", "withdrawal", "transfer"):
        idempotency.renderers[kind] = _movement_renderer(wallet)
    wallet.operations.answer_of = movement_answer
    platform.services.update(
        users=users,
        password_hasher=hasher,
        sms=sms,
        bank=bank,
        registration=registration,
        wallet=wallet,
        devices=wallet.operations.devices,
        operators=operators,
        idempotency=idempotency,
        risk=risk,
    )


def movement_answer(movement: Movement) -> tuple[int, str]:
    """The REST answer of a movement, as `web/api_wallet.py` renders it."""
    return 200, json.dumps(dataclasses.asdict(movement), ensure_ascii=False)


def _movement_renderer(wallet: WalletService) -> Callable[[str], tuple[int, str]]:
    """After a crash between commit and answer, a retry gets the movement as it is now,
    in the same JSON shape as the REST answer."""

    def render(reference: str) -> tuple[int, str]:
        kind, row_id = reference.split(":", 1)
        return movement_answer(wallet.movement(kind, int(row_id)))

    return render


def _risk_rules(platform: Platform) -> RiskRules:
    settings = platform.settings
    return RiskRules(
        ops_per_hour_max=settings.risk_ops_per_hour_max,
        new_payee_delay_fen=settings.risk_new_payee_delay_fen,
        device_new_payee_fen=settings.risk_device_new_payee_fen,
        anomaly_floor_fen=settings.risk_anomaly_floor_fen,
        anomaly_factor=settings.risk_anomaly_factor,
        code_pays_per_hour_max=settings.risk_code_pays_per_hour_max,
        code_pay_anomaly_floor_fen=settings.risk_code_pay_anomaly_floor_fen,
    )


def _user_policy(platform: Platform) -> UserPolicy:
    settings = platform.settings
    return UserPolicy(
        lockout=LockoutPolicy(
            failures_max=settings.payment_password_failures_max,
            lock_s=settings.payment_password_lock_s,
        ),
        classes=ClassPolicy(
            class_i_lifetime_fen=settings.class_i_lifetime_fen,
            class_ii_yearly_fen=settings.class_ii_yearly_fen,
            class_iii_yearly_fen=settings.class_iii_yearly_fen,
        ),
    )
