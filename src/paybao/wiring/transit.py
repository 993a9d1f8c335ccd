"""Transit ride codes wiring: the service (over the agreements, withholding and trades), the
close job, the offline-transport gateway methods.

Needs the wallet, the gateway and the agreements (`agreements`, `withholding`) installed first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.alipay.transit_methods import TransitMethods
from paybao.adapters.db.transit_store import SqlTransitStore
from paybao.adapters.transit_crypto import IssuerVault, verify
from paybao.domain.transit import TransitLimits
from paybao.services.jobs import Job
from paybao.services.transit import JOB_CLOSE, TransitService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform

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
        limits=TransitLimits(),
    )

    def close_job(job: Job) -> int | None:
        # Outside a transaction: closing ends the agreement, which runs its own.
        done = transit.finish_close(int(job.key.partition(":")[0]))
        return None if done else platform.clock.now_us() + CLOSE_RETRY_S * 1_000_000

    platform.jobs.register_outside_tx(JOB_CLOSE, close_job)
    TransitMethods(transit=transit, methods=services["alipay_methods"]).install()
    services["transit"] = transit
