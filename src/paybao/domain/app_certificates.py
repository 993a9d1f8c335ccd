"""App public key certificates (应用公钥证书): which certificate of an app a request may name.

In Alipay's certificate mode a request names the app's certificate by its SN (`app_cert_sn`).
A certificate is current while it is not revoked, has not expired, and certifies the key the
app has now: replacing the app's public key leaves its older certificates behind without a
write. An app may hold a few current certificates at once (a re-issue overlaps the old one
until the merchant revokes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from paybao.domain.errors import LimitExceeded, NotFound

CURRENT_CERTS_PER_APP_MAX: Final = 5
CERTS_LISTED_MAX: Final = 50
SN_LENGTH: Final = 32


@dataclass(frozen=True, slots=True)
class AppCertificate:
    app_id: str
    sn: str  # md5 hex of issuer + serial: what requests name (adapters/alipay/certificates.py)
    serial: str  # decimal
    public_key: str  # the SPKI PEM it certifies, in the form merchant_apps keeps
    pem: str
    issued_at_us: int
    expires_at_us: int
    revoked_at_us: int | None = None

    def current_for(self, public_key: str, now_us: int) -> bool:
        return (
            self.revoked_at_us is None
            and self.public_key == public_key
            and now_us < self.expires_at_us
        )

    def to_json(self) -> dict[str, object]:
        return {
            "app_id": self.app_id,
            "sn": self.sn,
            "serial": self.serial,
            "issued_at_us": self.issued_at_us,
            "expires_at_us": self.expires_at_us,
            "revoked_at_us": self.revoked_at_us,
        }


class AppCertificateNotFound(NotFound):
    code = "app_cert_not_found"


class AppCertificateLimit(LimitExceeded):
    code = "app_cert_limit"


def check_sn(sn: str) -> str:
    """A well-formed SN (lower-case md5 hex), or AppCertificateNotFound: nothing else exists."""
    if len(sn) != SN_LENGTH or any(c not in "0123456789abcdef" for c in sn):
        raise AppCertificateNotFound(f"no certificate with SN {sn[:64]!r}")
    return sn


def check_room(current: int) -> None:
    if current >= CURRENT_CERTS_PER_APP_MAX:
        raise AppCertificateLimit(
            f"the app already has {current} current certificates; revoke one first"
        )
