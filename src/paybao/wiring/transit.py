"""Transit ride codes wiring: the service (over the agreements, withholding and trades) with its
limits from the settings (PAYBAO_TRANSIT_*), the close job, the sweep that recovers rides a
crash left PENDING, the offline-transport gateway methods, reconcile checks.

Needs the wallet, the gateway and the agreements (`agreements`, `withholding`) installed first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.alipay.transit_methods import TransitMethods
from paybao.adapters.db.transit_checks import TRANSIT_CHECKS
from paybao.adapters.db.transit_store import SqlTransitStore
from paybao.adapters.transit_crypto import IssuerVault, verify
from paybao.domain.transit import TransitLimits
from paybao.services.jobs import Job
from paybao.services.transit import JOB_CLOSE, TransitService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform
    from paybao.settings import Settings

CLOSE_RETRY_S = 600


def install(platform: Platform) -> None:
    services = platform.services
    transit = TransitService(
        db=platform.db,
        store=SqlTransitStore(platform.db.dialect),
        clock=platform.clock,
        issuer=IssuerVault.in_dir(platform.settings.data_dir),
        check=verify,
        users=services["users"],
        agreements=services["agreements"],
        withholding=services["withholding"],
        trades=services["trades"],
        merchants=services["merchants"],
        jobs=platform.jobs,
        limits=transit_limits(platform.settings),
    )

    def close_job(job: Job) -> int | None:
        # Outside a transaction: closing ends the agreement, which runs its own.
        done = transit.finish_close(int(job.key.partition(":")[0]))
        return None if done else platform.clock.now_us() + CLOSE_RETRY_S * 1_000_000

    platform.jobs.register_outside_tx(JOB_CLOSE, close_job)
    platform.sweeps.append(transit.recover_pending)
    platform.reconcile.checks.extend(TRANSIT_CHECKS)
    TransitMethods(transit=transit, methods=services["alipay_methods"]).install()
    services["transit"] = transit


def transit_limits(settings: Settings) -> TransitLimits:
    """The limits an operator may tune (the rest are protocol constants)."""
    return TransitLimits(
        ride_fare_fen_max=settings.transit_ride_fare_fen_max,
        credit_fen_max=settings.transit_credit_fen_max,
        certificate_valid_s=settings.transit_certificate_valid_s,
        code_valid_s=settings.transit_code_valid_s,
        clock_skew_s=settings.transit_clock_skew_s,
    )
