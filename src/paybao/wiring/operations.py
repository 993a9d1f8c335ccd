"""Operations wiring: the audit trail every feature writes to, worker heartbeats, and the
operators' personal admin API tokens.

Installed first: later features take "audit" from `platform.services`. Services land in
`platform.services`: "audit", "heartbeats", "operator_tokens".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.db.admin_store import SqlAdminStore
from paybao.adapters.db.heartbeat_store import SqlHeartbeatStore
from paybao.adapters.db.operator_token_store import SqlOperatorTokenStore
from paybao.services.audit import AuditTrail
from paybao.services.heartbeats import HeartbeatPolicy, Heartbeats
from paybao.services.operator_tokens import OperatorTokenService

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
        operator_tokens=OperatorTokenService(platform.db, SqlOperatorTokenStore(), platform.clock),
    )
