"""Operators (password + TOTP), their roles, disabling and enabling them, the admin view of
users, freeze/unfreeze, the audit log, and users' API bearer tokens.

Every operator action writes an `audit_log` row in the same transaction as its change. What an
operator may do is decided by `authorize` against the one table in domain/operator_roles.py;
a refusal changes nothing and is audited on its own (outcome `operator_role_forbidden`).
A disabled operator (domain/operator_access.py) cannot sign in, `authorize` refuses its live
sessions at their next request, and disabling revokes its personal API tokens
(services/operator_tokens.py).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from paybao.domain import operator_roles
from paybao.domain.errors import Conflict, InvalidInput, NotFound, RateLimited, Unauthenticated
from paybao.domain.operator_access import (
    OperatorDisabled,
    OperatorSelfDisable,
    disabling_leaves_an_admin,
)
from paybao.domain.operator_roles import LastAdmin, OperatorRoleForbidden, Role
from paybao.domain.totp import matching_step, new_secret, provisioning_uri
from paybao.services.audit import AuditStore
from paybao.services.clock import US_PER_S
from paybao.services.ports import Clock, Database, Tx
from paybao.services.users import PasswordHasher, UserService

OPERATOR_FAILURES_MAX = 5
OPERATOR_LOCK_S = 15 * 60
LIST_LIMIT_MAX = 200
USERS_PAGE_MAX = 100
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

    def revoke_tokens_of(self, tx: Tx, operator_id: int, now_us: int) -> int: ...

    def audit_tail(self, tx: Tx, limit: int) -> list[Any]: ...

    def users_page(self, tx: Tx, query: str, limit: int, before_id: int | None = None) -> list[Any]:
        """Users whose phone starts with `query` or whose id it is, newest (highest id) first;
        with `before_id`, those below that id."""
        ...

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
class UserPage:
    """A page of users (the store's rows) newest first, their cards, and the next cursor."""

    users: list[Any]
    cards: list[Any]  # every card of these users, any status
    next_before_id: int | None  # the next (older) page starts below this id; None: the end


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
    # Wall-clock seconds, the time base of console sessions (tests move it).
    wall_clock_s: Callable[[], float] = time.time

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

    def get(self, operator_id: int, *, session_issued_s: int | None = None) -> Operator | None:
        """The operator, if it exists and is enabled (a disabled one: OperatorDisabled). With
        `session_issued_s` (when the session asking was signed in, wall-clock seconds): a
        session from before the operator's last disable is refused too, even once enabled
        again, so that disabling signs the operator out everywhere."""
        with self.db.read() as tx:
            row = self.store.operator_by_id(tx, operator_id)
        if row is None:
            return None
        if row.disabled_at_us is not None:
            raise OperatorDisabled("this operator is disabled")
        cut_off_s = row.sessions_valid_from_s
        if session_issued_s is not None and cut_off_s is not None and session_issued_s < cut_off_s:
            raise OperatorDisabled("this session ended when the operator was disabled")
        return Operator(int(row.id), str(row.name), str(row.role))

    def row(self, operator_id: int) -> Any:
        """The operator's row (enabled or not), or `operator_not_found`."""
        with self.db.read() as tx:
            found = self.store.operator_by_id(tx, operator_id)
        if found is None:
            raise NotFound("no such operator", code="operator_not_found")
        return found

    def by_name(self, name: str) -> Any:
        """The operator's row (enabled or not), or `operator_not_found`."""
        with self.db.read() as tx:
            row = self.store.operator_by_name(tx, name.strip())
        if row is None:
            raise NotFound(f"no operator named {name.strip()}", code="operator_not_found")
        return row

    def operators(self) -> list[Any]:
        with self.db.read() as tx:
            return self.store.operators_list(tx, OPERATORS_LISTED_MAX)

    # Roles -----------------------------------------------------------------------------

    def authorize(
        self, operator_id: int, action: str, subject: str, *, session_issued_s: int | None = None
    ) -> Operator:
        """The operator, if its role permits `action` (domain/operator_roles.ACTIONS); else
        an audit row (outcome operator_role_forbidden) and `OperatorRoleForbidden`. An
        operator that no longer exists raises Unauthenticated, a disabled one
        OperatorDisabled (an Unauthenticated): its session ends at this request, as does a
        session signed in before the operator's last disable."""
        operator = self.get(operator_id, session_issued_s=session_issued_s)
        if operator is None:
            raise Unauthenticated("no such operator", code="operator_sign_in_required")
        self._check(operator.role, action, subject, operator_id=operator.id, actor=None)
        return operator

    def authorize_role(
        self, role: str, action: str, subject: str, *, actor: str, operator_id: int | None = None
    ) -> None:
        """The same check for an API caller: the shared admin REST token (its role is a
        setting; no operator) or an operator's personal token (its operator's role, already
        read by the token look-up). `actor` names the token in the audit row."""
        self._check(role, action, subject, operator_id=operator_id, actor=actor)

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
            # A disabled admin is not among the enabled admins counted: demoting it takes no
            # power away from anyone.
            enabled = target.disabled_at_us is None
            if enabled and not operator_roles.leaves_an_admin(old_role, new_role, len(admins)):
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

    # Disabling ------------------------------------------------------------------------------

    def disable(self, by_operator_id: int | None, operator_id: int, reason: str = "") -> bool:
        """Disable an operator (someone left): no sign-in, its sessions refused at their next
        request, its personal API tokens revoked. False if it was disabled already. Refused,
        and audited: disabling oneself (`operator_self_disable`), or the last enabled admin
        (`operator_last_admin`). `by_operator_id` None: the CLI."""
        if by_operator_id is not None and by_operator_id == operator_id:
            refused = OperatorSelfDisable("ask another admin to disable you")
            self._refused(
                by_operator_id,
                None,
                "operator.disable",
                f"operator:{operator_id}",
                "",
                refused.code,
            )
            raise refused

        def work(tx: Tx) -> bool:
            # Admins first (locked), then the target: the same order as set_role.
            admins = self.store.admin_ids_locked(tx)
            target = self._target(tx, operator_id)
            if target.disabled_at_us is not None:
                return False
            if not disabling_leaves_an_admin(str(target.role), len(admins)):
                raise LastAdmin("the last enabled admin cannot be disabled")
            now_us = self.clock.now_us()
            # Sessions are signed in wall-clock seconds (web/session.py), so their cut-off is
            # too (not the sandbox clock, which may run days ahead).
            self.store.update_operator(
                tx,
                operator_id,
                disabled_at_us=now_us,
                sessions_valid_from_s=int(self.wall_clock_s()),
            )
            revoked = self.store.revoke_tokens_of(tx, operator_id, now_us)
            detail = f"{target.name} role={target.role} tokens_revoked={revoked}"
            if reason.strip():
                detail += f": {reason.strip()}"
            self.store.audit(
                tx, by_operator_id, "operator.disable", f"operator:{operator_id}", detail, now_us
            )
            return True

        try:
            return self.db.run(work)
        except LastAdmin as refused:
            subject = f"operator:{operator_id}"
            self._refused(by_operator_id, None, "operator.disable", subject, "", refused.code)
            raise

    def enable(self, by_operator_id: int | None, operator_id: int) -> bool:
        """Let a disabled operator sign in again (with its old password and TOTP secret; its
        revoked tokens stay revoked). False if it was enabled already."""

        def work(tx: Tx) -> bool:
            target = self._target(tx, operator_id)
            if target.disabled_at_us is None:
                return False
            now_us = self.clock.now_us()
            # A fresh start: the failed sign-ins from before do not count.
            self.store.update_operator(
                tx, operator_id, disabled_at_us=None, failures=0, locked_until_us=None
            )
            detail = f"{target.name} role={target.role}"
            self.store.audit(
                tx, by_operator_id, "operator.enable", f"operator:{operator_id}", detail, now_us
            )
            return True

        return self.db.run(work)

    def _target(self, tx: Tx, operator_id: int) -> Any:
        target = self.store.operator_by_id(tx, operator_id, lock=True)
        if target is None:
            raise NotFound("no such operator", code="operator_not_found")
        return target

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
        if operator.disabled_at_us is not None:
            # Said only to whoever knows the password and the code: a guesser learns nothing.
            subject = f"operator:{operator.id}"
            self._refused(operator.id, None, "operator.sign_in", subject, "", "operator_disabled")
            raise OperatorDisabled("this operator is disabled; ask an admin")

        values: dict[str, Any] = {"totp_last_step": step, "failures": 0}
        if operator.password_hash and self.hasher.needs_rehash(operator.password_hash):
            values["password_hash"] = self.hasher.hash(password)  # made before the pepper

        def work(tx: Tx) -> None:
            self.store.update_operator(tx, operator.id, **values)
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

    def set_user_status(
        self,
        operator_id: int | None,
        user_id: int,
        status: str,
        reason: str,
        *,
        actor: str | None = None,
    ) -> None:
        """`actor`: the API token that acted (audited with the operator, or alone for the
        shared admin token, which has no operator)."""

        def work(tx: Tx) -> None:
            self.users.set_status_in(tx, user_id, status)
            action = "user.freeze" if status == "frozen" else "user.unfreeze"
            self.store.audit(
                tx,
                operator_id,
                action,
                f"user:{user_id}",
                reason[:500],
                self.clock.now_us(),
                actor=actor,
            )

        self.db.run(work)

    def users_page(self, query: str = "", limit: int = 50) -> tuple[list[Any], list[Any]]:
        with self.db.read() as tx:
            rows = self.store.users_page(tx, query.strip()[:32], min(limit, LIST_LIMIT_MAX))
            cards = self.store.cards_of(tx, [row.id for row in rows])
        return rows, cards

    def find_users(
        self, query: str = "", *, before_id: int | None = None, limit: int = 50
    ) -> UserPage:
        """`users_page` with a cursor: a page of at most `limit` users below `before_id`."""
        if not 1 <= limit <= USERS_PAGE_MAX:
            raise InvalidInput(f"page size must be 1..{USERS_PAGE_MAX}", code="page_size_invalid")
        with self.db.read() as tx:
            rows = self.store.users_page(tx, query.strip()[:32], limit + 1, before_id)
            more = len(rows) > limit
            rows = rows[:limit]
            cards = self.store.cards_of(tx, [row.id for row in rows])
        return UserPage(rows, cards, int(rows[-1].id) if more else None)

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
