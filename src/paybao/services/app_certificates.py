"""Certificate mode (公钥证书模式): issuing, listing and revoking app certificates, and the
look-ups the gateway makes for requests that name one.

The platform already holds each app's public key, so a certificate is issued for that key on
request (no CSR round trip). `ensure` gives the app's current certificate, issuing one when
there is none; `issue` always makes a new one (a re-issue); `revoke` ends one for good. Each
change is audited in its own transaction; the app's row is locked while a certificate is
added, so two concurrent `ensure` calls leave one certificate, not two.

The gateway asks `is_current(app, sn)` on every certificate-mode call: answers are cached per
process for APP_CACHE_TTL_S (as apps are), and a revocation made in this process is seen at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

from paybao.domain.app_certificates import (
    CERTS_LISTED_MAX,
    SN_LENGTH,
    AppCertificate,
    AppCertificateNotFound,
    check_room,
    check_sn,
)
from paybao.domain.errors import Conflict, NotFound
from paybao.services.audit import AuditTrail
from paybao.services.merchants import APP_CACHE_SIZE_MAX, APP_CACHE_TTL_S, App
from paybao.services.ports import Clock, Database, Tx


@dataclass(frozen=True, slots=True)
class IssuedAppCert:
    serial: str
    sn: str
    pem: str
    expires_at_us: int


@dataclass(frozen=True, slots=True)
class CertFiles:
    """The three files a DCAliPay / CertAlipayRequest configuration reads, by Alipay's names."""

    app_cert_name: str
    app_cert_sn: str
    app_cert_pem: str
    platform_cert_pem: str
    root_pem: str

    def by_name(self) -> dict[str, str]:
        return {
            self.app_cert_name: self.app_cert_pem,
            PLATFORM_CERT_NAME: self.platform_cert_pem,
            ROOT_CERT_NAME: self.root_pem,
        }


PLATFORM_CERT_NAME = "alipayCertPublicKey_RSA2.crt"
ROOT_CERT_NAME = "alipayRootCert.crt"


def app_cert_name(app_id: str) -> str:
    return f"appCertPublicKey_{app_id}.crt"


class CertificateAuthority(Protocol):
    def issue_app_cert(
        self, app_id: str, merchant_id: int, public_key_pem: str
    ) -> IssuedAppCert: ...

    def root_bundle_pem(self) -> str: ...

    def root_sn(self) -> str: ...

    def platform_cert_pem(self, generation: int) -> str: ...

    def platform_cert_sn(self, generation: int) -> str: ...

    def platform_cert_by_sn(self, sn: str) -> str | None: ...


class AppCertificateStore(Protocol):
    def lock_app_key_in(self, tx: Tx, app_id: str) -> str | None:
        """The app's public key, its row locked until the transaction ends."""
        ...

    def insert_in(self, tx: Tx, cert: AppCertificate) -> None: ...

    def find_in(self, tx: Tx, app_id: str, sn: str) -> AppCertificate | None: ...

    def list_in(self, tx: Tx, app_id: str, limit: int) -> list[AppCertificate]:
        """Newest first."""
        ...

    def revoke_in(self, tx: Tx, app_id: str, sn: str, now_us: int) -> None: ...


class Apps(Protocol):
    def app(self, app_id: str) -> App: ...

    def forget(self, app_id: str) -> None: ...


class AppCertificateService:
    def __init__(
        self,
        db: Database,
        store: AppCertificateStore,
        ca: CertificateAuthority,
        apps: Apps,
        clock: Clock,
        audit: AuditTrail,
    ) -> None:
        self.db = db
        self.store = store
        self.ca = ca
        self.apps = apps
        self.clock = clock
        self.audit = audit
        self._seen: dict[tuple[str, str], tuple[float, AppCertificate | None]] = {}
        self._lock = threading.Lock()

    # Reading -------------------------------------------------------------------------------

    def certificates_of(self, app_id: str) -> list[AppCertificate]:
        """The app's certificates, newest first (revoked and superseded ones too)."""
        self.apps.app(app_id)  # app_not_found
        with self.db.read() as tx:
            return self.store.list_in(tx, app_id, CERTS_LISTED_MAX)

    def current(self, app_id: str) -> AppCertificate | None:
        """The newest current certificate of the app, if it has one."""
        app = self.apps.app(app_id)
        now_us = self.clock.now_us()
        found = [c for c in self.certificates_of(app_id) if c.current_for(app.public_key, now_us)]
        return found[0] if found else None

    def files(self, app_id: str, *, actor: str) -> CertFiles:
        """The app's current certificate (issued if it has none), its platform key
        generation's certificate and the root bundle."""
        app = self.apps.app(app_id)
        cert = self.ensure(app_id, actor=actor)
        return CertFiles(
            app_cert_name(app_id),
            cert.sn,
            cert.pem,
            self.ca.platform_cert_pem(app.platform_key_generation),
            self.ca.root_bundle_pem(),
        )

    # The gateway's questions ---------------------------------------------------------------

    def is_current(self, app: App, sn: str) -> bool:
        """Does `sn` name a current certificate of this app (for its key as cached)?"""
        key = (app.app_id, sn)
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(key)
        if seen is None or seen[0] <= now:
            with self.db.read() as tx:
                cert = self.store.find_in(tx, app.app_id, sn)
            with self._lock:
                if len(self._seen) >= APP_CACHE_SIZE_MAX:
                    self._seen.clear()
                self._seen[key] = (now + APP_CACHE_TTL_S, cert)
            seen = (0.0, cert)
        cert = seen[1]
        return cert is not None and cert.current_for(app.public_key, self.clock.now_us())

    def root_sn(self) -> str:
        return self.ca.root_sn()

    def platform_cert_sn(self, generation: int) -> str:
        return self.ca.platform_cert_sn(generation)

    def platform_cert_by_sn(self, sn: str) -> str | None:
        """A platform certificate by its SN, for a merchant whose answers name one it lacks
        (after a platform key rotation): the Java SDK downloads it by itself."""
        if len(sn) != SN_LENGTH:
            return None
        return self.ca.platform_cert_by_sn(sn)

    # Changing ------------------------------------------------------------------------------

    def ensure(self, app_id: str, *, actor: str) -> AppCertificate:
        """The app's current certificate; a new one when it has none."""
        return self._issue(app_id, actor=actor, reuse=True)

    def issue(self, app_id: str, *, actor: str) -> AppCertificate:
        """A new certificate beside the current ones (at most CURRENT_CERTS_PER_APP_MAX)."""
        return self._issue(app_id, actor=actor, reuse=False)

    def revoke(self, app_id: str, sn: str, *, actor: str) -> AppCertificate:
        """Never accept this certificate again. Revoking a revoked one changes nothing."""
        check_sn(sn)

        def work(tx: Tx) -> AppCertificate:
            if self.store.lock_app_key_in(tx, app_id) is None:
                raise NotFound(f"app {app_id} not found", code="app_not_found")
            cert = self.store.find_in(tx, app_id, sn)
            if cert is None:
                raise AppCertificateNotFound(f"app {app_id} has no certificate {sn}")
            if cert.revoked_at_us is not None:
                return cert
            now_us = self.clock.now_us()
            self.store.revoke_in(tx, app_id, sn, now_us)
            self.audit.record_in(
                tx, "app_certificate.revoke", f"app:{app_id}", actor=actor, detail=f"sn {sn}"
            )
            return AppCertificate(
                cert.app_id,
                cert.sn,
                cert.serial,
                cert.public_key,
                cert.pem,
                cert.issued_at_us,
                cert.expires_at_us,
                now_us,
            )

        revoked = self.db.run(work)
        self._forget(app_id)
        return revoked

    def _issue(self, app_id: str, *, actor: str, reuse: bool) -> AppCertificate:
        try:
            return self._issue_for_cached_key(app_id, actor=actor, reuse=reuse)
        except _KeyChanged:
            # The merchant replaced its key a moment ago and the app cache has not seen it.
            self.apps.forget(app_id)
        try:
            return self._issue_for_cached_key(app_id, actor=actor, reuse=reuse)
        except _KeyChanged:
            raise Conflict(
                f"the public key of app {app_id} changed meanwhile", code="app_key_changed"
            ) from None

    def _issue_for_cached_key(self, app_id: str, *, actor: str, reuse: bool) -> AppCertificate:
        app = self.apps.app(app_id)
        if reuse:
            current = self.current(app_id)
            if current is not None:
                return current
        # Signing (about a millisecond) happens outside the transaction; a certificate made
        # twice by a race is simply not stored the second time.
        issued = self.ca.issue_app_cert(app_id, app.merchant_id, app.public_key)

        def work(tx: Tx) -> AppCertificate:
            key = self.store.lock_app_key_in(tx, app_id)
            if key is None:
                raise NotFound(f"app {app_id} not found", code="app_not_found")
            if key != app.public_key:
                raise _KeyChanged
            now_us = self.clock.now_us()
            held = self.store.list_in(tx, app_id, CERTS_LISTED_MAX)
            current = [cert for cert in held if cert.current_for(key, now_us)]
            if reuse and current:
                return current[0]
            check_room(len(current))
            cert = AppCertificate(
                app_id, issued.sn, issued.serial, key, issued.pem, now_us, issued.expires_at_us
            )
            self.store.insert_in(tx, cert)
            self.audit.record_in(
                tx,
                "app_certificate.issue",
                f"app:{app_id}",
                actor=actor,
                detail=f"sn {issued.sn}",
            )
            return cert

        cert: AppCertificate = self.db.run(work)
        self._forget(app_id)
        return cert

    def _forget(self, app_id: str) -> None:
        with self._lock:
            for key in [key for key in self._seen if key[0] == app_id]:
                del self._seen[key]


class _KeyChanged(Exception):
    """The app's key in the database differs from the one a certificate was made for."""
