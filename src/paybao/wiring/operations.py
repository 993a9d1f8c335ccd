"""Operations wiring: the audit trail every feature writes to, and worker heartbeats.

Installed first: later features take "audit" from `platform.services`. Services land in
`platform.services`: "audit", "heartbeats".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.db.admin_store import SqlAdminStore
from paybao.adapters.db.heartbeat_store import SqlHeartbeatStore
from paybao.services.audit import AuditTrail
from paybao.services.heartbeats import HeartbeatPolicy, Heartbeats

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    settings = platform.settings
    policy = HeartbeatPolicy(
        interval_s=settings.worker_heartbeat_interval_s,
        stale_s=settings.worker_heartbeat_stale_s,
        shown_s=settings.worker_heartbeat_shown_s,
        keep_s=settings.worker_heartbeat_keep_s,
    )
    platform.services.update(
        audit=AuditTrail(platform.db, SqlAdminStore(), platform.clock),
        heartbeats=Heartbeats(platform.db, SqlHeartbeatStore(), platform.clock, policy),
    )
