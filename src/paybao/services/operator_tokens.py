"""Operators' personal admin API tokens: mint (shown once), list, revoke, and authenticate.

A token acts with its operator's role (read on every request, so a role change or a disable
takes effect at once) and is audited under the operator: the audit rows of what it does carry
the operator's id and the actor `token:<name>`. The rules and numbers are in
domain/operator_access.py; only the SHA-256 of a token is ever stored.

Who may mint or revoke is decided at the edge by the action table (domain/operator_roles.py):
every role for its own tokens (`own_token.*`), an admin for anyone's (`operator.token_*`);
the CLI acts as the platform (`by_operator_id` None).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from paybao.domain import operator_access as rules
from paybao.domain.errors import NotFound
from paybao.domain.operator_access import TokenState
from paybao.services.audit import AuditStore
from paybao.services.clock import datetime_from_us
from paybao.services.operators import Operator
from paybao.services.ports import Clock, Database, Tx


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A token as stored: its hash, never the token."""

    operator_id: int
    name: str
    token_sha256: str
    created_at_us: int
    created_by_operator_id: int | None
    expires_at_us: int | None


@dataclass(frozen=True, slots=True)
class NewToken:
    """What minting answers: the token itself appears here and nowhere else, once."""

    id: int
    operator_id: int
    name: str
    token: str
    expires_at_us: int | None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    name: str
    created_at_us: int
    created_by_operator_id: int | None
    expires_at_us: int | None
    last_used_at_us: int | None
    revoked_at_us: int | None
    state: TokenState


@dataclass(frozen=True, slots=True)
class TokenCaller:
    """Who an accepted token speaks for."""

    operator: Operator
    token_id: int
    token_name: str

    @property
    def actor(self) -> str:
        return f"token:{self.token_name}"[:64]


class OperatorTokenStore(AuditStore, Protocol):
    def operator_by_id(self, tx: Tx, operator_id: int, *, lock: bool = False) -> Any: ...

    def insert_operator_token(self, tx: Tx, row: TokenRow) -> int: ...

    def unrevoked_token_named(self, tx: Tx, operator_id: int, name: str) -> Any: ...

    def live_token_count(self, tx: Tx, operator_id: int, now_us: int) -> int: ...

    def operator_tokens(self, tx: Tx, operator_id: int, limit: int) -> list[Any]: ...

    def operator_token(self, tx: Tx, token_id: int) -> Any: ...

    def revoke_operator_token(self, tx: Tx, token_id: int, now_us: int) -> bool: ...

    def token_holder(self, tx: Tx, token_sha256: str) -> Any: ...

    def touch_operator_token(self, tx: Tx, token_id: int, now_us: int) -> None: ...


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    token = rules.TOKEN_PREFIX + secrets.token_urlsafe(rules.TOKEN_BYTES)
    assert rules.looks_like_token(token)
    return token


@dataclass
class OperatorTokenService:
    db: Database
    store: OperatorTokenStore
    clock: Clock

    def create(
        self,
        by_operator_id: int | None,
        operator_id: int,
        name: str,
        expires_days: int | None = None,
    ) -> NewToken:
        """Mint a token for `operator_id` (by itself, by an admin, or by the CLI: None)."""
        name = rules.parse_token_name(name)
        token = new_token()

        def work(tx: Tx) -> NewToken:
            # The operator's row lock orders concurrent mints: the count and the name check
            # below cannot both pass for two of them (the unique index backs the name).
            operator = self._enabled_operator(tx, operator_id)
            now_us = self.clock.now_us()
            if self.store.unrevoked_token_named(tx, operator_id, name) is not None:
                raise rules.TokenNameTaken(f"{operator.name} has an unrevoked token named {name}")
            if self.store.live_token_count(tx, operator_id, now_us) >= (
                rules.TOKENS_LIVE_PER_OPERATOR_MAX
            ):
                raise rules.TokenLimitReached(
                    f"at most {rules.TOKENS_LIVE_PER_OPERATOR_MAX} live tokens per operator"
                )
            expires_at_us = rules.expiry_us(now_us, expires_days)
            row = TokenRow(
                operator_id, name, token_sha256(token), now_us, by_operator_id, expires_at_us
            )
            token_id = self.store.insert_operator_token(tx, row)
            detail = f"token {token_id} '{name}', expires {_day(expires_at_us)}"
            self._audit(tx, by_operator_id, operator_id, "token_create", detail)
            return NewToken(token_id, operator_id, name, token, expires_at_us)

        return self.db.run(work)

    def revoke(self, by_operator_id: int | None, operator_id: int, token_id: int) -> bool:
        """Revoke one token of `operator_id`; False if it was revoked already. A token of
        another operator is `operator_token_not_found`, as one that does not exist."""

        def work(tx: Tx) -> bool:
            row = self.store.operator_token(tx, token_id)
            if row is None or int(row.operator_id) != operator_id:
                raise rules.TokenNotFound("no such token")
            if not self.store.revoke_operator_token(tx, token_id, self.clock.now_us()):
                return False
            detail = f"token {token_id} '{row.name}'"
            self._audit(tx, by_operator_id, operator_id, "token_revoke", detail)
            return True

        return self.db.run(work)

    def tokens_of(self, operator_id: int) -> list[TokenInfo]:
        with self.db.read() as tx:
            rows = self.store.operator_tokens(tx, operator_id, rules.TOKENS_LISTED_MAX)
        now_us = self.clock.now_us()
        return [_info(row, now_us) for row in rows]

    def authenticate(self, token: str) -> TokenCaller:
        """The operator a token speaks for, or `admin_token_invalid` (unknown, revoked,
        expired, or its operator disabled: one answer, so a caller learns nothing more)."""
        if not rules.looks_like_token(token):
            raise rules.TokenRefused("admin bearer token required")
        with self.db.read() as tx:
            row = self.store.token_holder(tx, token_sha256(token))
        now_us = self.clock.now_us()
        if row is None or row.disabled_at_us is not None:
            raise rules.TokenRefused("admin bearer token required")
        if rules.token_state(row.revoked_at_us, row.expires_at_us, now_us) is not TokenState.LIVE:
            raise rules.TokenRefused("admin bearer token required")
        if rules.last_used_due(row.last_used_at_us, now_us):
            self.db.run(lambda tx: self.store.touch_operator_token(tx, int(row.id), now_us))
        operator = Operator(int(row.operator_id), str(row.operator_name), str(row.role))
        return TokenCaller(operator, int(row.id), str(row.name))

    def _enabled_operator(self, tx: Tx, operator_id: int) -> Any:
        operator = self.store.operator_by_id(tx, operator_id, lock=True)
        if operator is None:
            raise NotFound("no such operator", code="operator_not_found")
        if operator.disabled_at_us is not None:
            raise rules.OperatorDisabled(f"{operator.name} is disabled")
        return operator

    def _audit(
        self, tx: Tx, by_operator_id: int | None, operator_id: int, what: str, detail: str
    ) -> None:
        # One's own token: `own_token.*`; someone else's (an admin, or the CLI): `operator.*`.
        action = f"own_{what.replace('_', '.')}" if by_operator_id == operator_id else None
        self.store.audit(
            tx,
            by_operator_id,
            action or f"operator.{what}",
            f"operator:{operator_id}",
            detail[:500],
            self.clock.now_us(),
        )


def _info(row: Any, now_us: int) -> TokenInfo:
    return TokenInfo(
        id=int(row.id),
        name=str(row.name),
        created_at_us=int(row.created_at_us),
        created_by_operator_id=row.created_by_operator_id,
        expires_at_us=row.expires_at_us,
        last_used_at_us=row.last_used_at_us,
        revoked_at_us=row.revoked_at_us,
        state=rules.token_state(row.revoked_at_us, row.expires_at_us, now_us),
    )


def _day(at_us: int | None) -> str:
    return "never" if at_us is None else datetime_from_us(at_us).strftime("%Y-%m-%d %H:%M UTC")
