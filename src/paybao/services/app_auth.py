"""Third-party app authorisation: a merchant lets an ISV's app act for one of its apps
(`domain/app_auth.py` has the rules).

One use case per method, each its own transaction:
- `check_request`: the authorisation page's parameters (the ISV app, redirect_uri, state),
  checked before the merchant sees anything;
- `apps_to_authorise` / `authorize`: the signed-in merchant picks one of its apps and agrees:
  the authorisation row is created (or switched back on) and a one-time code issued;
- `exchange_code` / `refresh`: the ISV's server trades a code, or a refresh token, for a new
  token pair (alipay.open.auth.token.app); an authorisation holds one pair, so either replaces
  the pair it had and the old token stops working;
- `holder`: which merchant app a token lets its ISV act for (every gateway call that carries
  `app_auth_token`); `status`: alipay.open.auth.token.app.query's answer;
- `authorisations_of` / `revoke`: the merchant's list, and taking one back, which deletes its
  codes and its token pair.

Codes and tokens leave this service once, in plain text, and are stored hashed (SHA-256, as user
OAuth's are). A code or token that is unknown, used, revoked, replaced or another ISV's is
refused with the same code (`app_auth_code_invalid`, `app_refresh_token_invalid`,
`app_auth_token_invalid`), so an ISV learns nothing about another's secrets; only one that is
known but past its time says so (`app_auth_token_expired`, `app_refresh_token_expired`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from paybao.domain.app_auth import (
    CODE_TTL_S,
    REFRESH_TOKEN_TTL_S,
    TOKEN_TTL_S,
    check_apps,
    new_code,
    new_token,
    usable_secret,
)
from paybao.domain.errors import DomainError, Forbidden, InvalidInput, NotFound
from paybao.domain.user_oauth import check_redirect_uri, check_state, secret_hash
from paybao.services.audit import AuditTrail
from paybao.services.clock import datetime_from_us
from paybao.services.merchants import App, MerchantService
from paybao.services.ports import Clock, Database, Tx

US_PER_S = 1_000_000
AUTHORISATIONS_LISTED_MAX = 200
ACTIVE = "active"
REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """What the authorisation page shows: which ISV app asks, and where the code goes."""

    isv_app_id: str
    isv_merchant_id: int
    isv_name: str
    redirect_uri: str
    state: str


@dataclass(frozen=True, slots=True)
class AppAuth:
    """One merchant app's authorisation of one ISV app."""

    id: int
    isv_app_id: str
    auth_app_id: str
    merchant_id: int  # the merchant whose app it is
    status: str
    granted_at_us: int
    changed_at_us: int


@dataclass(frozen=True, slots=True)
class AppAuthView:
    auth: AppAuth
    isv_name: str


@dataclass(frozen=True, slots=True)
class CodeRecord:
    auth_id: int
    isv_app_id: str
    expires_at_us: int
    used_at_us: int | None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    auth_id: int
    isv_app_id: str
    issued_at_us: int
    expires_at_us: int
    refresh_expires_at_us: int


@dataclass(frozen=True, slots=True)
class IssuedAppTokens:
    """A new token pair: the only time the plain secrets exist outside the ISV."""

    auth_app_id: str
    merchant_id: int
    app_auth_token: str
    app_refresh_token: str
    expires_in_s: int
    re_expires_in_s: int
    issued_at_us: int


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """What a live token lets its ISV do: act as `auth_app_id`, an app of `merchant_id`."""

    isv_app_id: str
    auth_app_id: str
    merchant_id: int


@dataclass(frozen=True, slots=True)
class TokenStatus:
    auth_app_id: str
    merchant_id: int
    valid: bool
    issued_at_us: int
    expires_at_us: int


class AppAuthStore(Protocol):
    def auth(
        self, tx: Tx, isv_app_id: str, auth_app_id: str, *, for_update: bool = False
    ) -> AppAuth | None: ...

    def auth_by_id(self, tx: Tx, auth_id: int, *, for_update: bool = False) -> AppAuth | None: ...

    def save_auth(
        self, tx: Tx, isv_app_id: str, auth_app_id: str, merchant_id: int, now_us: int
    ) -> AppAuth:
        """Insert the (ISV app, merchant app) row, or switch it back on."""
        ...

    def active_auths(self, tx: Tx, merchant_id: int, limit: int) -> list[AppAuth]: ...

    def revoke_auth(self, tx: Tx, auth_id: int, now_us: int) -> None:
        """Mark it revoked and delete its codes and its token pair."""
        ...

    def insert_code(
        self, tx: Tx, code_hash: str, auth_id: int, isv_app_id: str, now_us: int, expires_at_us: int
    ) -> None: ...

    def purge_codes(self, tx: Tx, auth_id: int, now_us: int) -> None:
        """Delete the authorisation's used and expired codes."""
        ...

    def code(self, tx: Tx, code_hash: str) -> CodeRecord | None: ...

    def use_code(self, tx: Tx, code_hash: str, now_us: int) -> bool:
        """Mark it used if it was not: True for the one caller that did."""
        ...

    def save_tokens(
        self,
        tx: Tx,
        auth_id: int,
        isv_app_id: str,
        token_hash: str,
        refresh_hash: str,
        now_us: int,
        expires_at_us: int,
        refresh_expires_at_us: int,
    ) -> None:
        """Insert the authorisation's pair, or replace the one it had."""
        ...

    def token(self, tx: Tx, token_hash: str) -> TokenRecord | None: ...

    def token_by_refresh(self, tx: Tx, refresh_hash: str) -> TokenRecord | None: ...

    def rotate(
        self,
        tx: Tx,
        auth_id: int,
        old_refresh_hash: str,
        token_hash: str,
        refresh_hash: str,
        now_us: int,
        expires_at_us: int,
        refresh_expires_at_us: int,
    ) -> bool:
        """Replace the pair if its refresh hash is still `old_refresh_hash`: True if it was."""
        ...


def _code_invalid() -> DomainError:
    return InvalidInput("app_auth_code is invalid", code="app_auth_code_invalid")


def _refresh_invalid() -> DomainError:
    return InvalidInput("app_refresh_token is invalid", code="app_refresh_token_invalid")


def _token_invalid() -> DomainError:
    return Forbidden("app_auth_token is invalid", code="app_auth_token_invalid")


def _app_invalid() -> DomainError:
    return NotFound("no such app", code="app_auth_app_invalid")


@dataclass
class AppAuthService:
    db: Database
    store: AppAuthStore
    clock: Clock
    merchants: MerchantService
    audit: AuditTrail

    # The authorisation page -------------------------------------------------------------------

    def check_request(self, isv_app_id: str, redirect_uri: str, state: str) -> AuthRequest:
        app = self.merchants.find_app(isv_app_id[:32])
        if app is None or not app.active:
            raise _app_invalid()
        merchant = self.merchants.merchant(app.merchant_id)
        if merchant.status != ACTIVE:
            raise _app_invalid()
        return AuthRequest(
            isv_app_id=app.app_id,
            isv_merchant_id=merchant.id,
            isv_name=merchant.name,
            redirect_uri=check_redirect_uri(redirect_uri, merchant.notify_url),
            state=check_state(state),
        )

    def apps_to_authorise(self, merchant_id: int, request: AuthRequest) -> list[App]:
        """The merchant's apps it may authorise the ISV app for (not the ISV app itself)."""
        return [
            app
            for app in self.merchants.apps_of(merchant_id)
            if app.active and app.app_id != request.isv_app_id
        ]

    def authorize(self, merchant_id: int, request: AuthRequest, auth_app_id: str) -> str:
        """The one-time app_auth_code for the redirect: the signed-in merchant agreed to let
        the ISV app act for its app `auth_app_id`."""
        merchant = self.merchants.merchant(merchant_id)
        if merchant.status != ACTIVE:
            raise Forbidden("the merchant is frozen", code="merchant_frozen")
        app = self.merchants.find_app(auth_app_id[:32])
        if app is None or app.merchant_id != merchant_id or not app.active:
            raise _app_invalid()  # another merchant's app is nobody's here
        check_apps(request.isv_app_id, app.app_id)
        code = new_code()

        def work(tx: Tx) -> None:
            now_us = self.clock.now_us()
            auth = self.store.auth(tx, request.isv_app_id, app.app_id, for_update=True)
            if auth is None or auth.status != ACTIVE:
                auth = self.store.save_auth(tx, request.isv_app_id, app.app_id, merchant_id, now_us)
                self.audit.record_in(
                    tx,
                    "app_auth.granted",
                    f"merchant:{merchant_id}",
                    actor=f"merchant:{merchant_id}",
                    detail=f"app {app.app_id} to ISV app {request.isv_app_id}",
                )
            self.store.purge_codes(tx, auth.id, now_us)
            self.store.insert_code(
                tx,
                secret_hash(code),
                auth.id,
                request.isv_app_id,
                now_us,
                now_us + CODE_TTL_S * US_PER_S,
            )

        self.db.run(work)
        return code

    # alipay.open.auth.token.app ---------------------------------------------------------------

    def exchange_code(self, isv_app_id: str, code: str) -> IssuedAppTokens:
        if not usable_secret(code):
            raise _code_invalid()

        def work(tx: Tx) -> IssuedAppTokens:
            now_us = self.clock.now_us()
            code_hash = secret_hash(code)
            record = self.store.code(tx, code_hash)
            # Another ISV's code is refused like an unknown one and stays usable by its ISV.
            if record is None or record.isv_app_id != isv_app_id or record.used_at_us is not None:
                raise _code_invalid()
            if record.expires_at_us <= now_us:
                raise _code_invalid()
            auth = self.store.auth_by_id(tx, record.auth_id, for_update=True)
            if auth is None or auth.status != ACTIVE:
                raise _code_invalid()
            if not self.store.use_code(tx, code_hash, now_us):
                raise _code_invalid()  # a concurrent exchange of the same code won
            token, refresh = self._new_pair(now_us)
            self.store.save_tokens(
                tx,
                auth.id,
                isv_app_id,
                secret_hash(token),
                secret_hash(refresh),
                now_us,
                now_us + TOKEN_TTL_S * US_PER_S,
                now_us + REFRESH_TOKEN_TTL_S * US_PER_S,
            )
            return _issued(auth, token, refresh, now_us)

        return self.db.run(work)

    def refresh(self, isv_app_id: str, refresh_token: str) -> IssuedAppTokens:
        if not usable_secret(refresh_token):
            raise _refresh_invalid()

        def work(tx: Tx) -> IssuedAppTokens:
            now_us = self.clock.now_us()
            old_hash = secret_hash(refresh_token)
            record = self.store.token_by_refresh(tx, old_hash)
            if record is None or record.isv_app_id != isv_app_id:
                raise _refresh_invalid()
            if record.refresh_expires_at_us <= now_us:
                raise InvalidInput(
                    "app_refresh_token has expired", code="app_refresh_token_expired"
                )
            auth = self.store.auth_by_id(tx, record.auth_id)
            if auth is None or auth.status != ACTIVE:
                raise _refresh_invalid()
            token, refresh = self._new_pair(now_us)
            rotated = self.store.rotate(
                tx,
                auth.id,
                old_hash,
                secret_hash(token),
                secret_hash(refresh),
                now_us,
                now_us + TOKEN_TTL_S * US_PER_S,
                now_us + REFRESH_TOKEN_TTL_S * US_PER_S,
            )
            if not rotated:
                raise _refresh_invalid()  # a concurrent refresh of the same token won
            return _issued(auth, token, refresh, now_us)

        return self.db.run(work)

    def _new_pair(self, now_us: int) -> tuple[str, str]:
        month = datetime_from_us(now_us).strftime("%Y%m")
        return new_token(month), new_token(month)

    # Calls with app_auth_token ----------------------------------------------------------------

    def holder(self, isv_app_id: str, token: str) -> TokenHolder:
        """The merchant app a live token of `isv_app_id` acts for; refused otherwise."""
        if not usable_secret(token):
            raise _token_invalid()
        with self.db.read() as tx:
            record = self.store.token(tx, secret_hash(token))
            if record is None or record.isv_app_id != isv_app_id:
                raise _token_invalid()
            auth = self.store.auth_by_id(tx, record.auth_id)
        if auth is None or auth.status != ACTIVE:
            raise _token_invalid()
        if record.expires_at_us <= self.clock.now_us():
            raise Forbidden("app_auth_token has expired", code="app_auth_token_expired")
        return TokenHolder(isv_app_id, auth.auth_app_id, auth.merchant_id)

    def status(self, isv_app_id: str, token: str) -> TokenStatus:
        """alipay.open.auth.token.app.query: a token of this ISV, live or past its time."""
        if not usable_secret(token):
            raise _token_invalid()
        with self.db.read() as tx:
            record = self.store.token(tx, secret_hash(token))
            if record is None or record.isv_app_id != isv_app_id:
                raise _token_invalid()
            auth = self.store.auth_by_id(tx, record.auth_id)
        if auth is None:
            raise _token_invalid()
        live = auth.status == ACTIVE and record.expires_at_us > self.clock.now_us()
        return TokenStatus(
            auth_app_id=auth.auth_app_id,
            merchant_id=auth.merchant_id,
            valid=live,
            issued_at_us=record.issued_at_us,
            expires_at_us=record.expires_at_us,
        )

    # The merchant's list ----------------------------------------------------------------------

    def authorisations_of(self, merchant_id: int) -> Sequence[AppAuthView]:
        with self.db.read() as tx:
            auths = self.store.active_auths(tx, merchant_id, AUTHORISATIONS_LISTED_MAX)
        return [AppAuthView(auth, self._isv_name(auth.isv_app_id)) for auth in auths]

    def revoke(self, merchant_id: int, auth_id: int) -> None:
        def work(tx: Tx) -> None:
            auth = self.store.auth_by_id(tx, auth_id, for_update=True)
            if auth is None or auth.merchant_id != merchant_id or auth.status != ACTIVE:
                raise NotFound("no such authorisation", code="app_auth_not_found")
            self.store.revoke_auth(tx, auth.id, self.clock.now_us())
            self.audit.record_in(
                tx,
                "app_auth.revoked",
                f"merchant:{merchant_id}",
                actor=f"merchant:{merchant_id}",
                detail=f"app {auth.auth_app_id} from ISV app {auth.isv_app_id}",
            )

        self.db.run(work)

    def _isv_name(self, isv_app_id: str) -> str:
        app = self.merchants.find_app(isv_app_id)
        if app is None:
            return ""
        try:
            return self.merchants.merchant(app.merchant_id).name
        except NotFound:
            return ""


def _issued(auth: AppAuth, token: str, refresh: str, now_us: int) -> IssuedAppTokens:
    return IssuedAppTokens(
        auth_app_id=auth.auth_app_id,
        merchant_id=auth.merchant_id,
        app_auth_token=token,
        app_refresh_token=refresh,
        expires_in_s=TOKEN_TTL_S,
        re_expires_in_s=REFRESH_TOKEN_TTL_S,
        issued_at_us=now_us,
    )
