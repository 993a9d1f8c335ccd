"""Dashboard wiring: the operators' overview (services/dashboard.py) on its SQL reads.
Lands in `platform.services["dashboard"]`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.db.dashboard_queries import SqlDashboardQueries
from paybao.services.dashboard import DashboardService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    platform.services["dashboard"] = DashboardService(
        platform.db, SqlDashboardQueries(), platform.clock
    )
