"""The composition root: settings in, a `Platform` with real adapters out.

Every entry point (server, worker, CLI) and every integration test builds the platform here, so
they all run the same wiring. Unit tests build services directly on fakes instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from paybao.adapters.clock import AdjustableOffsetClock
from paybao.adapters.db.database import SqlDatabase
from paybao.adapters.db.engine import make_engine
from paybao.adapters.db.job_store import SqlJobStore
from paybao.adapters.db.ledger_checks import LEDGER_CHECKS
from paybao.adapters.db.ledger_store import ledger_store_for
from paybao.adapters.db.migrate import upgrade
from paybao.services.jobs import JobRunner
from paybao.services.ledger import LedgerService
from paybao.services.poster import Poster
from paybao.services.reconcile import ReconcileService
from paybao.services.sandbox_clock import SandboxClockService, Sweep
from paybao.settings import Settings
from paybao.wiring import agreements as agreements_wiring
from paybao.wiring import app_auth as app_auth_wiring
from paybao.wiring import app_certificates as app_certificates_wiring
from paybao.wiring import billpay as billpay_wiring
from paybao.wiring import card_payouts as card_payouts_wiring
from paybao.wiring import checkout_installments as checkout_installments_wiring
from paybao.wiring import content_encryption as content_encryption_wiring
from paybao.wiring import credit as credit_wiring
from paybao.wiring import dashboard as dashboard_wiring
from paybao.wiring import escrow as escrow_wiring
from paybao.wiring import fund as fund_wiring
from paybao.wiring import gateway as gateway_wiring
from paybao.wiring import ledger_seals as ledger_seals_wiring
from paybao.wiring import marketing as marketing_wiring
from paybao.wiring import member_cards as member_cards_wiring
from paybao.wiring import merchant_portal as merchant_portal_wiring
from paybao.wiring import operations as operations_wiring
from paybao.wiring import parking as parking_wiring
from paybao.wiring import password_resets as password_resets_wiring
from paybao.wiring import paycode as paycode_wiring
from paybao.wiring import preauth as preauth_wiring
from paybao.wiring import red_packets as red_packets_wiring
from paybao.wiring import royalty as royalty_wiring
from paybao.wiring import score as score_wiring
from paybao.wiring import settlement as settlement_wiring
from paybao.wiring import statements as statements_wiring
from paybao.wiring import topup_channels as topup_channels_wiring
from paybao.wiring import transit as transit_wiring
from paybao.wiring import user_oauth as user_oauth_wiring
from paybao.wiring import wallet as wallet_wiring


@dataclass
class Platform:
    settings: Settings
    engine: Engine
    db: SqlDatabase
    clock: AdjustableOffsetClock
    ledger: LedgerService
    jobs: JobRunner
    reconcile: ReconcileService
    sandbox_clock: SandboxClockService
    sweeps: list[Sweep]
    # Feature services register themselves here by name (wallet, gateway, escrow, ...).
    services: dict[str, Any] = field(default_factory=dict)
    _poster: Poster | None = None

    def poster(self) -> Poster:
        """The group-commit poster, started on first use (one per process)."""
        if self._poster is None:
            self._poster = Poster(
                self.ledger,
                batch_size_max=self.settings.poster_batch_size_max,
                queue_size_max=self.settings.poster_queue_size_max,
            ).start()
        return self._poster

    def close(self) -> None:
        """Idempotent: the app's lifespan and a test fixture may both call it."""
        if self._poster is not None:
            self._poster.stop()
            self._poster = None
        self.clock.close()
        self.engine.dispose()


def build_platform(settings: Settings, *, migrate: bool = False) -> Platform:
    engine = make_engine(
        settings.resolved_database_url(),
        pool_size=settings.db_pool_size,
        sqlite_synchronous=settings.sqlite_synchronous,
        statement_timeout_ms=settings.db_statement_timeout_ms,
    )
    if migrate:
        upgrade(engine)
    db = SqlDatabase(engine)
    clock = AdjustableOffsetClock(engine, sandbox=settings.sandbox)
    ledger = LedgerService(db, ledger_store_for(db.dialect), clock)
    jobs = JobRunner(db, SqlJobStore(db.dialect), clock)
    reconcile = ReconcileService(db, clock, LEDGER_CHECKS)
    # Sweeps are periodic passes the worker makes; features append theirs in place.
    sweeps: list[Sweep] = [ledger.expire_due]
    sandbox_clock = SandboxClockService(clock, jobs, sweeps, sandbox=settings.sandbox)
    platform = Platform(
        settings=settings,
        engine=engine,
        db=db,
        clock=clock,
        ledger=ledger,
        jobs=jobs,
        reconcile=reconcile,
        sandbox_clock=sandbox_clock,
        sweeps=sweeps,
    )
    for install in FEATURES:
        install(platform)
    return platform


# Each feature's `paybao.wiring.<feature>.install(platform)`, in order: a feature may use the
# services of those before it.
FEATURES: list[Callable[[Platform], None]] = [
    operations_wiring.install,
    wallet_wiring.install,
    password_resets_wiring.install,  # 忘记密码: on the wallet's users and SMS codes
    gateway_wiring.install,
    content_encryption_wiring.install,  # AES content encryption (接口内容加密) on the gateway
    marketing_wiring.install,  # coupons: plugs into the trade payment path
    settlement_wiring.install,
    paycode_wiring.install,
    escrow_wiring.install,
    merchant_portal_wiring.install,
    fund_wiring.install,
    credit_wiring.install,
    checkout_installments_wiring.install,  # Huabei installments at the cashier
    agreements_wiring.install,
    preauth_wiring.install,  # after the agreements: its trade.pay branch comes first
    billpay_wiring.install,
    card_payouts_wiring.install,
    score_wiring.install,
    parking_wiring.install,  # plate-bound parking: on the agreements and the gateway
    royalty_wiring.install,  # profit sharing (分账): on the wallet and the gateway
    topup_channels_wiring.install,  # online banking and cash codes: on the wallet
    transit_wiring.install,  # ride codes: on the agreements and withholding
    statements_wiring.install,  # monthly/annual statements and search: reads the wallet
    red_packets_wiring.install,  # 红包: on the wallet's operations
    user_oauth_wiring.install,  # 用户授权 (log in with paybao): on the wallet and the gateway
    app_auth_wiring.install,  # 第三方应用授权 (ISVs with app_auth_token): on the gateway
    member_cards_wiring.install,  # 会员卡: on the gateway and user OAuth
    app_certificates_wiring.install,  # 公钥证书模式: the platform CA, on the gateway
    dashboard_wiring.install,  # the operators' overview: reads every feature's tables
    ledger_seals_wiring.install,  # the journal's hash chain: its seal sweep runs last
]
