"""Operators (password + TOTP) and their roles, the admin view of users, freeze/unfreeze, the
audit log, and users' API bearer tokens.

Every operator action writes an `audit_log` row in the same transaction as its change. What an
operator may do is decided by `authorize` against the one table in domain/operator_roles.py;
a refusal changes nothing and is audited on its own (outcome `operator_role_forbidden`).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any, Protocol

from paybao.domain import operator_roles
from paybao.domain.errors import Conflict, InvalidInput, NotFound, RateLimited, Unauthenticated
from paybao.domain.operator_roles import LastAdmin, OperatorRoleForbidden, Role
from paybao.domain.totp import matching_step, new_secret, provisioning_uri
from paybao.services.audit import AuditStore
from paybao.services.clock import US_PER_S
from paybao.services.ports import Clock, Database, Tx
from paybao.services.users import PasswordHasher, UserService

OPERATOR_FAILURES_MAX = 5
OPERATOR_LOCK_S = 15 * 60
LIST_LIMIT_MAX = 200
OPERATORS_LISTED_MAX = 500


class AdminStore(AuditStore, Protocol):
    def operator_by_name(self, tx: Tx, name: str) -> Any: ...

    def operator_by_id(self, tx: Tx, operator_id: int, *, lock: bool = False) -> Any: ...

    def operators_list(self, tx: Tx, limit: int) -> list[Any]: ...

    def operator_count(self, tx: Tx) -> int: ...

    def admin_ids_locked(self, tx: Tx) -> list[int]: ...

    def insert_operator(
        self, tx: Tx, name: str, password_hash: str, secret: str, now_us: int, role: str
    ) -> int: ...

    def update_operator(self, tx: Tx, operator_id: int, **values: Any) -> None: ...

    def audit_tail(self, tx: Tx, limit: int) -> list[Any]: ...

    def users_page(self, tx: Tx, query: str, limit: int) -> list[Any]: ...

    def cards_of(self, tx: Tx, user_ids: list[int]) -> list[Any]: ...

    def insert_token(
        self, tx: Tx, user_id: int, sha256: str, now_us: int, expires_us: int
    ) -> None: ...

    def token_user(self, tx: Tx, sha256: str, now_us: int) -> int | None: ...

    def revoke_token(self, tx: Tx, sha256: str, now_us: int) -> None: ...


@dataclass(frozen=True, slots=True)
class NewOperator:
    id: int
    name: str
    totp_secret: str
    provisioning_uri: str
    role: str


@dataclass(frozen=True, slots=True)
class Operator:
    """A signed-in operator as the console needs it: who, and what the role allows."""

    id: int
    name: str
    role: str

    def may(self, action: str) -> bool:
        return operator_roles.permits(self.role, action)


@dataclass
class OperatorService:
    db: Database
    store: AdminStore
    users: UserService
    hasher: PasswordHasher
    clock: Clock
    token_ttl_s: int = 30 * 86_400

    def create(
        self,
        name: str,
        password: str,
        role: str | None = None,
        *,
        by_operator_id: int | None = None,
    ) -> NewOperator:
        """A new operator. `role` None: the first operator is an admin, later ones viewers
        (domain/operator_roles.default_role). `by_operator_id`: who created it (None: the CLI)."""
        name = name.strip()
        if not 2 <= len(name) <= 64:
            raise InvalidInput("operator name is 2-64 characters", code="invalid_operator_name")
        if len(password) < 10:
            raise InvalidInput(
                "operator password is at least 10 characters", code="invalid_operator_password"
            )
        chosen = operator_roles.parse_role(role) if role is not None else None
        secret = new_secret()
        password_hash = self.hasher.hash(password)

        def work(tx: Tx) -> tuple[int, Role]:
            if self.store.operator_by_name(tx, name) is not None:
                raise Conflict("an operator with this name exists", code="operator_exists")
            given = chosen or operator_roles.default_role(self.store.operator_count(tx))
            now_us = self.clock.now_us()
            operator_id = self.store.insert_operator(
                tx, name, password_hash, secret, now_us, given.value
            )
            self.store.audit(
                tx,
                by_operator_id,
                "operator.create",
                f"operator:{operator_id}",
                f"{name} role={given.value}",
                now_us,
            )
            return operator_id, given

        operator_id, given = self.db.run(work)
        return NewOperator(operator_id, name, secret, provisioning_uri(secret, name), given.value)

    def get(self, operator_id: int) -> Operator | None:
        with self.db.read() as tx:
            row = self.store.operator_by_id(tx, operator_id)
        return Operator(int(row.id), str(row.name), str(row.role)) if row is not None else None

    def operators(self) -> list[Any]:
        with self.db.read() as tx:
            return self.store.operators_list(tx, OPERATORS_LISTED_MAX)

    # Roles -----------------------------------------------------------------------------

    def authorize(self, operator_id: int, action: str, subject: str) -> Operator:
        """The operator, if its role permits `action` (domain/operator_roles.ACTIONS); else
        an audit row (outcome operator_role_forbidden) and `OperatorRoleForbidden`. An
        operator that no longer exists raises Unauthenticated."""
        operator = self.get(operator_id)
        if operator is None:
            raise Unauthenticated("no such operator", code="operator_sign_in_required")
        self._check(operator.role, action, subject, operator_id=operator.id, actor=None)
        return operator

    def authorize_role(self, role: str, action: str, subject: str, *, actor: str) -> None:
        """The same check for a caller that is not an operator row (the admin REST token,
        whose role is a setting); `actor` names it in the audit row."""
        self._check(role, action, subject, operator_id=None, actor=actor)

    def _check(
        self, role: str, action: str, subject: str, *, operator_id: int | None, actor: str | None
    ) -> None:
        try:
            operator_roles.check(role, action)
        except OperatorRoleForbidden as refused:
            self._refused(operator_id, actor, action, subject, f"role={role}", refused.code)
            raise

    def _refused(
        self,
        operator_id: int | None,
        actor: str | None,
        action: str,
        subject: str,
        detail: str,
        outcome: str,
    ) -> None:
        """A refused attempt changes nothing: its audit row is written alone."""
        self.db.run(
            lambda tx: self.store.audit(
                tx,
                operator_id,
                action[:64],
                subject[:128],
                detail[:500],
                self.clock.now_us(),
                actor=actor,
                outcome=outcome,
            )
        )

    def set_role(self, by_operator_id: int | None, operator_id: int, role: str) -> str:
        """Give `operator_id` the role; returns the role it had. The last admin cannot lose
        the role (`operator_last_admin`, audited as refused): someone must be able to manage
        operators. `by_operator_id` None: the CLI."""
        new_role = operator_roles.parse_role(role)
        subject = f"operator:{operator_id}"

        def work(tx: Tx) -> str:
            # Admins first (locked), then the target: the same order for every caller.
            admins = self.store.admin_ids_locked(tx)
            target = self.store.operator_by_id(tx, operator_id, lock=True)
            if target is None:
                raise NotFound("no such operator", code="operator_not_found")
            old_role = str(target.role)
            if not operator_roles.leaves_an_admin(old_role, new_role, len(admins)):
                raise LastAdmin("the last admin cannot lose the admin role")
            if old_role != new_role:
                self.store.update_operator(tx, operator_id, role=new_role.value)
                self.store.audit(
                    tx,
                    by_operator_id,
                    "operator.set_role",
                    subject,
                    f"{target.name}: {old_role} -> {new_role.value}",
                    self.clock.now_us(),
                )
            return old_role

        try:
            return self.db.run(work)
        except LastAdmin as refused:
            detail = f"-> {new_role.value}"
            self._refused(by_operator_id, None, "operator.set_role", subject, detail, refused.code)
            raise

    def authenticate(self, name: str, password: str, totp_code: str) -> int:
        with self.db.read() as tx:
            operator = self.store.operator_by_name(tx, name.strip())
        now_us = self.clock.now_us()
        if operator is not None and (operator.locked_until_us or 0) > now_us:
            raise RateLimited("too many failed sign-ins; wait", code="login_locked")
        password_ok = self.hasher.verify(operator.password_hash if operator else None, password)
        if operator is None:
            raise Unauthenticated("wrong name, password or code", code="bad_credentials")
        # TOTP runs on wall time through the platform clock's base; sandbox offsets would break
        # authenticator apps, so only the real seconds count.
        step = matching_step(
            operator.totp_secret, totp_code, int(time.time()), operator.totp_last_step
        )
        if not (password_ok and step is not None):
            self.db.run(lambda tx: self._failed_in(tx, operator))
            raise Unauthenticated("wrong name, password or code", code="bad_credentials")

        def work(tx: Tx) -> None:
            self.store.update_operator(tx, operator.id, totp_last_step=step, failures=0)
            self.store.audit(
                tx,
                operator.id,
                "operator.sign_in",
                f"operator:{operator.id}",
                "",
                self.clock.now_us(),
            )

        self.db.run(work)
        return int(operator.id)

    def _failed_in(self, tx: Tx, operator: Any) -> None:
        failures = operator.failures + 1
        values: dict[str, Any] = {"failures": failures}
        if failures >= OPERATOR_FAILURES_MAX:
            values = {
                "failures": 0,
                "locked_until_us": self.clock.now_us() + OPERATOR_LOCK_S * US_PER_S,
            }
        self.store.update_operator(tx, operator.id, **values)

    def set_user_status(self, operator_id: int, user_id: int, status: str, reason: str) -> None:
        def work(tx: Tx) -> None:
            self.users.set_status_in(tx, user_id, status)
            action = "user.freeze" if status == "frozen" else "user.unfreeze"
            self.store.audit(
                tx, operator_id, action, f"user:{user_id}", reason[:500], self.clock.now_us()
            )

        self.db.run(work)

    def users_page(self, query: str = "", limit: int = 50) -> tuple[list[Any], list[Any]]:
        with self.db.read() as tx:
            rows = self.store.users_page(tx, query.strip()[:32], min(limit, LIST_LIMIT_MAX))
            cards = self.store.cards_of(tx, [row.id for row in rows])
        return rows, cards

    def audit_tail(self, limit: int = 100) -> list[Any]:
        with self.db.read() as tx:
            return self.store.audit_tail(tx, min(limit, LIST_LIMIT_MAX))

    # Users' API tokens -----------------------------------------------------------------

    def issue_token(self, user_id: int) -> str:
        token = "pbt_" + secrets.token_urlsafe(32)
        now_us = self.clock.now_us()
        expires_us = now_us + self.token_ttl_s * US_PER_S
        self.db.run(
            lambda tx: self.store.insert_token(tx, user_id, _sha(token), now_us, expires_us)
        )
        return token

    def user_of_token(self, token: str) -> int | None:
        with self.db.read() as tx:
            return self.store.token_user(tx, _sha(token), self.clock.now_us())

    def revoke_token(self, token: str) -> None:
        self.db.run(lambda tx: self.store.revoke_token(tx, _sha(token), self.clock.now_us()))


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
