"""The audit trail: who did what to which object, when, and what came of it.

Rows go to the one `audit_log` table the admin console lists (`/admin/audit`). An action that
changes something writes its row with `record_in`, in the same transaction as the change, so
there is never a change without its row nor a row without its change. A refused attempt
changes nothing, so its row is written alone with `record` (outcome = the refusal's code).

Who: an operator by id, or an `actor` text for everyone else (`merchant:<id>`); neither means
the platform itself (`system`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from paybao.services.ports import Clock, Database, Tx

ACTION_LENGTH_MAX = 64
SUBJECT_LENGTH_MAX = 128
DETAIL_LENGTH_MAX = 500
ACTOR_LENGTH_MAX = 64
OUTCOME_LENGTH_MAX = 64
OUTCOME_OK = "ok"


class AuditStore(Protocol):
    def audit(
        self,
        tx: Tx,
        operator_id: int | None,
        action: str,
        subject: str,
        detail: str,
        now_us: int,
        *,
        actor: str | None = None,
        outcome: str = OUTCOME_OK,
    ) -> None: ...


@dataclass
class AuditTrail:
    db: Database
    store: AuditStore
    clock: Clock

    def record_in(
        self,
        tx: Tx,
        action: str,
        subject: str,
        *,
        operator_id: int | None = None,
        actor: str | None = None,
        detail: str = "",
        outcome: str = OUTCOME_OK,
    ) -> None:
        """One row in the caller's transaction (it commits with the change it describes)."""
        assert action and len(action) <= ACTION_LENGTH_MAX
        self.store.audit(
            tx,
            operator_id,
            action,
            subject[:SUBJECT_LENGTH_MAX],
            detail[:DETAIL_LENGTH_MAX],
            self.clock.now_us(),
            actor=actor[:ACTOR_LENGTH_MAX] if actor else None,
            outcome=(outcome or OUTCOME_OK)[:OUTCOME_LENGTH_MAX],
        )

    def record(
        self,
        action: str,
        subject: str,
        *,
        operator_id: int | None = None,
        actor: str | None = None,
        detail: str = "",
        outcome: str = OUTCOME_OK,
    ) -> None:
        """One row in a transaction of its own: for attempts that were refused or failed."""
        self.db.run(
            lambda tx: self.record_in(
                tx,
                action,
                subject,
                operator_id=operator_id,
                actor=actor,
                detail=detail,
                outcome=outcome,
            )
        )
