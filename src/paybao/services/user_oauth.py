"""User OAuth: a wallet user lets a merchant's app know who they are (`domain/user_oauth.py`).

One use case per method, each its own transaction:
- `check_request`: the authorize page's parameters (app, scope, redirect_uri, state), checked
  before the user sees anything;
- `authorize`: the signed-in user agrees (or, for auth_base, goes through silently): the
  authorisation row is created or widened and a one-time code issued;
- `exchange_code` / `refresh`: the app's server trades a code, or a refresh token, for a new
  token pair (alipay.system.oauth.token);
- `holder`: who an access token speaks for, and with which scopes (alipay.user.info.share);
- `grants_of` / `revoke`: the user's list of authorised apps, and taking one back, which
  deletes its codes and tokens.

Codes and tokens leave this service once, in plain text, and are stored hashed. A code or token
that is unknown, used, expired, revoked or another app's is refused with the same code
(`oauth_code_invalid`, `oauth_refresh_token_invalid`, `oauth_token_invalid`), so an app learns
nothing about other apps' secrets; only a token that is known but past its time says so
(`oauth_token_expired`, `oauth_refresh_token_expired`), as Alipay does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from paybao.domain.errors import DomainError, Forbidden, InvalidInput, NotFound
from paybao.domain.user_oauth import (
    ACCESS_TOKEN_TTL_S,
    CODE_TTL_S,
    REFRESH_TOKEN_TTL_S,
    SECRET_LENGTH_MAX,
    Scope,
    check_redirect_uri,
    check_state,
    new_code,
    new_token,
    parse_scopes,
    scopes_text,
    secret_hash,
)
from paybao.services.audit import AuditTrail
from paybao.services.merchants import MerchantService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.users import UserService

US_PER_S = 1_000_000
GRANTS_LISTED_MAX = 100
# Token pairs one authorisation keeps (each code exchange makes one): older pairs are dropped
# when a new one is issued, so an app that logs a user in daily does not grow a table forever.
TOKENS_PER_GRANT_MAX = 20
ACTIVE = "active"
REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    app_id: str
    merchant_id: int
    merchant_name: str
    scopes: frozenset[Scope]
    redirect_uri: str
    state: str

    @property
    def scope(self) -> str:
        return scopes_text(self.scopes)


@dataclass(frozen=True, slots=True)
class Grant:
    id: int
    user_id: int
    app_id: str
    merchant_id: int
    scopes: frozenset[Scope]
    status: str
    granted_at_us: int
    changed_at_us: int


@dataclass(frozen=True, slots=True)
class GrantView:
    grant: Grant
    merchant_name: str


@dataclass(frozen=True, slots=True)
class CodeRecord:
    grant_id: int
    app_id: str
    scopes: frozenset[Scope]
    expires_at_us: int
    used_at_us: int | None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    grant_id: int
    app_id: str
    scopes: frozenset[Scope]
    issued_at_us: int
    access_expires_at_us: int
    refresh_expires_at_us: int


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """A new token pair: the only time the plain secrets exist outside the app."""

    user_id: int
    access_token: str
    refresh_token: str
    expires_in_s: int
    re_expires_in_s: int
    issued_at_us: int
    scopes: frozenset[Scope]


@dataclass(frozen=True, slots=True)
class TokenHolder:
    user_id: int
    app_id: str
    scopes: frozenset[Scope]


class UserOAuthStore(Protocol):
    def grant(
        self, tx: Tx, user_id: int, app_id: str, *, for_update: bool = False
    ) -> Grant | None: ...

    def grant_by_id(self, tx: Tx, grant_id: int, *, for_update: bool = False) -> Grant | None: ...

    def save_grant(
        self, tx: Tx, user_id: int, app_id: str, merchant_id: int, scopes: str, now_us: int
    ) -> Grant:
        """Insert the (user, app) row, or set its scopes and switch it back on."""
        ...

    def active_grants(self, tx: Tx, user_id: int, limit: int) -> list[Grant]: ...

    def revoke_grant(self, tx: Tx, grant_id: int, now_us: int) -> None:
        """Mark it revoked and delete its codes and tokens."""
        ...

    def insert_code(
        self,
        tx: Tx,
        code_hash: str,
        grant_id: int,
        app_id: str,
        scopes: str,
        now_us: int,
        expires_at_us: int,
    ) -> None: ...

    def purge_codes(self, tx: Tx, grant_id: int, now_us: int) -> None:
        """Delete the grant's used and expired codes."""
        ...

    def code(self, tx: Tx, code_hash: str) -> CodeRecord | None: ...

    def use_code(self, tx: Tx, code_hash: str, now_us: int) -> bool:
        """Mark it used if it was not: True for the one caller that did."""
        ...

    def insert_tokens(
        self,
        tx: Tx,
        grant_id: int,
        app_id: str,
        scopes: str,
        access_hash: str,
        refresh_hash: str,
        now_us: int,
        access_expires_at_us: int,
        refresh_expires_at_us: int,
    ) -> None: ...

    def purge_tokens(self, tx: Tx, grant_id: int, now_us: int, keep: int) -> None:
        """Delete the grant's pairs whose refresh token expired, then all but `keep` newest."""
        ...

    def token_by_access(self, tx: Tx, access_hash: str) -> TokenRecord | None: ...

    def token_by_refresh(self, tx: Tx, refresh_hash: str) -> TokenRecord | None: ...

    def rotate(
        self,
        tx: Tx,
        token_id: int,
        old_refresh_hash: str,
        access_hash: str,
        refresh_hash: str,
        now_us: int,
        access_expires_at_us: int,
        refresh_expires_at_us: int,
    ) -> bool:
        """Replace the pair if its refresh hash is still `old_refresh_hash`: True if it was."""
        ...


def _code_invalid() -> DomainError:
    return InvalidInput("auth code is invalid", code="oauth_code_invalid")


def _refresh_invalid() -> DomainError:
    return InvalidInput("refresh token is invalid", code="oauth_refresh_token_invalid")


def _token_invalid() -> DomainError:
    return Forbidden("auth token is invalid", code="oauth_token_invalid")


def _usable_secret(secret: str) -> bool:
    return 0 < len(secret) <= SECRET_LENGTH_MAX


@dataclass
class UserOAuthService:
    db: Database
    store: UserOAuthStore
    clock: Clock
    merchants: MerchantService
    users: UserService
    audit: AuditTrail

    # The authorize page ------------------------------------------------------------------------

    def check_request(
        self, app_id: str, scope: str, redirect_uri: str, state: str
    ) -> AuthorizeRequest:
        app = self.merchants.find_app(app_id[:32])
        if app is None or not app.active:
            raise NotFound("no such app", code="oauth_app_invalid")
        merchant = self.merchants.merchant(app.merchant_id)
        if merchant.status != ACTIVE:
            raise NotFound("no such app", code="oauth_app_invalid")
        return AuthorizeRequest(
            app_id=app.app_id,
            merchant_id=merchant.id,
            merchant_name=merchant.name,
            scopes=parse_scopes(scope),
            redirect_uri=check_redirect_uri(redirect_uri, merchant.notify_url),
            state=check_state(state),
        )

    def needs_consent(self, user_id: int, request: AuthorizeRequest) -> bool:
        """auth_user asks the user once; an authorisation that already covers the scopes (and
        auth_base alone) goes through without a page, as Alipay's does."""
        if Scope.AUTH_USER not in request.scopes:
            return False
        with self.db.read() as tx:
            grant = self.store.grant(tx, user_id, request.app_id)
        return grant is None or grant.status != ACTIVE or not request.scopes <= grant.scopes

    def authorize(self, user_id: int, request: AuthorizeRequest, *, consented: bool) -> str:
        """The one-time code for the redirect. `consented`: the user pressed agree on the
        consent page (required when `needs_consent`)."""
        user = self.users.get(user_id)
        if user.status != ACTIVE:
            raise Forbidden("the account is frozen", code="account_frozen")
        code = new_code()

        def work(tx: Tx) -> None:
            now_us = self.clock.now_us()
            grant = self.store.grant(tx, user_id, request.app_id, for_update=True)
            covered = grant is not None and grant.status == ACTIVE
            held = grant.scopes if grant is not None and covered else frozenset()
            if Scope.AUTH_USER in request.scopes - held and not consented:
                raise Forbidden("the user has not agreed", code="oauth_consent_required")
            wanted = held | request.scopes
            if grant is None or not covered or wanted != held:
                grant = self.store.save_grant(
                    tx, user_id, request.app_id, request.merchant_id, scopes_text(wanted), now_us
                )
                self.audit.record_in(
                    tx,
                    "oauth.granted",
                    f"user:{user_id}",
                    actor=f"user:{user_id}",
                    detail=f"app {request.app_id} scopes {scopes_text(wanted)}",
                )
            self.store.purge_codes(tx, grant.id, now_us)
            self.store.insert_code(
                tx,
                secret_hash(code),
                grant.id,
                request.app_id,
                request.scope,
                now_us,
                now_us + CODE_TTL_S * US_PER_S,
            )

        self.db.run(work)
        return code

    # alipay.system.oauth.token ----------------------------------------------------------------

    def exchange_code(self, app_id: str, code: str) -> IssuedTokens:
        if not _usable_secret(code):
            raise _code_invalid()
        access, refresh = new_token(), new_token()

        def work(tx: Tx) -> IssuedTokens:
            now_us = self.clock.now_us()
            code_hash = secret_hash(code)
            record = self.store.code(tx, code_hash)
            # Another app's code is refused like an unknown one and stays usable by its app.
            if record is None or record.app_id != app_id or record.used_at_us is not None:
                raise _code_invalid()
            if record.expires_at_us <= now_us:
                raise _code_invalid()
            grant = self.store.grant_by_id(tx, record.grant_id)
            if grant is None or grant.status != ACTIVE:
                raise _code_invalid()
            if not self.store.use_code(tx, code_hash, now_us):
                raise _code_invalid()  # a concurrent exchange of the same code won
            self.store.purge_tokens(tx, grant.id, now_us, TOKENS_PER_GRANT_MAX - 1)
            self.store.insert_tokens(
                tx,
                grant.id,
                app_id,
                scopes_text(record.scopes),
                secret_hash(access),
                secret_hash(refresh),
                now_us,
                now_us + ACCESS_TOKEN_TTL_S * US_PER_S,
                now_us + REFRESH_TOKEN_TTL_S * US_PER_S,
            )
            return self._issued(grant.user_id, access, refresh, now_us, record.scopes)

        return self.db.run(work)

    def refresh(self, app_id: str, refresh_token: str) -> IssuedTokens:
        if not _usable_secret(refresh_token):
            raise _refresh_invalid()
        access, refresh = new_token(), new_token()

        def work(tx: Tx) -> IssuedTokens:
            now_us = self.clock.now_us()
            old_hash = secret_hash(refresh_token)
            token = self.store.token_by_refresh(tx, old_hash)
            if token is None or token.app_id != app_id:
                raise _refresh_invalid()
            if token.refresh_expires_at_us <= now_us:
                raise InvalidInput("refresh token has expired", code="oauth_refresh_token_expired")
            grant = self.store.grant_by_id(tx, token.grant_id)
            if grant is None or grant.status != ACTIVE:
                raise _refresh_invalid()
            rotated = self.store.rotate(
                tx,
                token.id,
                old_hash,
                secret_hash(access),
                secret_hash(refresh),
                now_us,
                now_us + ACCESS_TOKEN_TTL_S * US_PER_S,
                now_us + REFRESH_TOKEN_TTL_S * US_PER_S,
            )
            if not rotated:
                raise _refresh_invalid()  # a concurrent refresh of the same token won
            return self._issued(grant.user_id, access, refresh, now_us, token.scopes)

        return self.db.run(work)

    @staticmethod
    def _issued(
        user_id: int, access: str, refresh: str, now_us: int, scopes: frozenset[Scope]
    ) -> IssuedTokens:
        return IssuedTokens(
            user_id=user_id,
            access_token=access,
            refresh_token=refresh,
            expires_in_s=ACCESS_TOKEN_TTL_S,
            re_expires_in_s=REFRESH_TOKEN_TTL_S,
            issued_at_us=now_us,
            scopes=scopes,
        )

    # alipay.user.info.share -------------------------------------------------------------------

    def holder(self, app_id: str, access_token: str) -> TokenHolder:
        if not _usable_secret(access_token):
            raise _token_invalid()
        with self.db.read() as tx:
            token = self.store.token_by_access(tx, secret_hash(access_token))
            if token is None or token.app_id != app_id:
                raise _token_invalid()
            grant = self.store.grant_by_id(tx, token.grant_id)
        if grant is None or grant.status != ACTIVE:
            raise _token_invalid()
        if token.access_expires_at_us <= self.clock.now_us():
            raise Forbidden("auth token has expired", code="oauth_token_expired")
        return TokenHolder(user_id=grant.user_id, app_id=app_id, scopes=token.scopes)

    # The user's list ---------------------------------------------------------------------------

    def grants_of(self, user_id: int) -> Sequence[GrantView]:
        with self.db.read() as tx:
            grants = self.store.active_grants(tx, user_id, GRANTS_LISTED_MAX)
        return [GrantView(grant, self._merchant_name(grant.merchant_id)) for grant in grants]

    def revoke(self, user_id: int, grant_id: int) -> None:
        def work(tx: Tx) -> None:
            grant = self.store.grant_by_id(tx, grant_id, for_update=True)
            if grant is None or grant.user_id != user_id or grant.status != ACTIVE:
                raise NotFound("no such authorisation", code="oauth_grant_not_found")
            self.store.revoke_grant(tx, grant.id, self.clock.now_us())
            self.audit.record_in(
                tx,
                "oauth.revoked",
                f"user:{user_id}",
                actor=f"user:{user_id}",
                detail=f"app {grant.app_id}",
            )

        self.db.run(work)

    def _merchant_name(self, merchant_id: int) -> str:
        try:
            return self.merchants.merchant(merchant_id).name
        except NotFound:
            return ""
