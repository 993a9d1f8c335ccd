"""Operations wiring: the audit trail every feature writes to.

Installed first: later features take "audit" from `platform.services`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.db.admin_store import SqlAdminStore
from paybao.services.audit import AuditTrail

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    platform.services["audit"] = AuditTrail(platform.db, SqlAdminStore(), platform.clock)
