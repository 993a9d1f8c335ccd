"""The platform's certificate authority, kept in the data folder beside the platform keys.

Files (made on first use, each exactly once even when several processes start together):
- `platform_ca_private.pem` (0600): the root's RSA-2048 key; it signs certificates only.
- `platform_root_certs.crt`: what merchants download as alipayRootCert.crt: the self-signed
  RSA root first, then an ECDSA root that signs nothing (certificates.make_ecc_root).
- `platform_cert.<N>.crt`: the certificate of platform key generation N
  (alipayCertPublicKey_RSA2.crt), issued the first time anyone asks for it, so a rotation
  (services/platform_keys.py `create`) needs no step of its own.

Every file is written under a temporary name and linked into place (`os.link` fails when the
name exists): a reader never sees half a file and the first writer wins. Back these files up
with the platform keys: a new CA key would mean a new root SN for every merchant.
Certificate dates come from the wall clock, not the platform clock: merchants' verifiers
compare them with theirs, and the sandbox clock may run ahead.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from paybao.adapters.alipay import certificates
from paybao.adapters.alipay.keys import (
    generate_key_pair,
    load_private_key,
    load_public_key,
    public_key_to_pem,
)
from paybao.adapters.alipay.platform_keys import PlatformKeyring
from paybao.services.app_certificates import IssuedAppCert

CA_KEY_FILE: Final = "platform_ca_private.pem"
ROOT_BUNDLE_FILE: Final = "platform_root_certs.crt"


def platform_cert_file(generation: int) -> str:
    return f"platform_cert.{generation}.crt"


class PlatformCertificateAuthority:
    """Implements services' CertificateAuthority; parsed files are kept for the process."""

    def __init__(self, data_dir: Path, keyring: PlatformKeyring) -> None:
        self.data_dir = data_dir
        self.keyring = keyring
        self._lock = threading.Lock()
        self._key: rsa.RSAPrivateKey | None = None
        self._bundle: tuple[str, x509.Certificate, str] | None = None
        self._platform: dict[int, tuple[str, str]] = {}

    # Roots ---------------------------------------------------------------------------------

    def root_bundle_pem(self) -> str:
        return self._root()[0]

    def root_sn(self) -> str:
        """The RSA root's own SN: what a merchant's alipay_root_cert_sn must contain."""
        return self._root()[2]

    # Certificates --------------------------------------------------------------------------

    def platform_cert_pem(self, generation: int) -> str:
        return self._platform_cert(generation)[0]

    def platform_cert_sn(self, generation: int) -> str:
        return self._platform_cert(generation)[1]

    def platform_cert_by_sn(self, sn: str) -> str | None:
        """The platform certificate (any generation issued so far) with that SN."""
        for path in sorted(self.data_dir.glob("platform_cert.*.crt")):
            number = path.name.split(".")[1]
            if number.isdigit() and self._platform_cert(int(number))[1] == sn:
                return self._platform_cert(int(number))[0]
        return None

    def issue_app_cert(self, app_id: str, merchant_id: int, public_key_pem: str) -> IssuedAppCert:
        _bundle, root, _sn = self._root()
        subject = certificates.ca_name(f"{certificates.APP_UNIT} {merchant_id}", app_id)
        issued = certificates.issue(
            self._ca_key(),
            root,
            load_public_key(public_key_pem),
            subject,
            _now(),
            certificates.APP_CERT_VALIDITY,
        )
        expires_at_us = int(issued.not_after.timestamp()) * 1_000_000
        return IssuedAppCert(str(issued.serial), issued.sn, issued.pem, expires_at_us)

    # Files ---------------------------------------------------------------------------------

    def _ca_key(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._key is None:
                path = self.data_dir / CA_KEY_FILE
                if not path.exists():
                    _write_once(path, generate_key_pair().private_pem_pkcs1, 0o600)
                self._key = load_private_key(path.read_text())
            return self._key

    def _root(self) -> tuple[str, x509.Certificate, str]:
        key = self._ca_key()
        with self._lock:
            if self._bundle is None:
                path = self.data_dir / ROOT_BUNDLE_FILE
                if not path.exists():
                    now = _now()
                    roots = [certificates.make_root(key, now), certificates.make_ecc_root(now)]
                    _write_once(path, certificates.bundle_pem(roots), 0o644)
                text = path.read_text()
                root = certificates.load_bundle(text)[0]
                if root.public_key() != key.public_key():
                    raise RuntimeError(f"{path} was not made with {CA_KEY_FILE}")
                self._bundle = (text, root, certificates.cert_sn(root))
            return self._bundle

    def _platform_cert(self, generation: int) -> tuple[str, str]:
        found = self._platform.get(generation)
        if found is not None:
            return found
        _bundle, root, _sn = self._root()
        public_pem = self.keyring.public_pem(generation)
        path = self.data_dir / platform_cert_file(generation)
        if not path.exists():
            name = f"paybao platform key {generation}"
            subject = certificates.ca_name(certificates.PLATFORM_UNIT, name)
            issued = certificates.issue(
                self._ca_key(),
                root,
                load_public_key(public_pem),
                subject,
                _now(),
                certificates.PLATFORM_CERT_VALIDITY,
            )
            _write_once(path, issued.pem, 0o644)
        text = path.read_text()
        cert = certificates.load_cert(text)
        if public_key_to_pem(certificates.public_key_of(cert)) != public_pem:
            raise RuntimeError(f"{path} does not certify platform key generation {generation}")
        found = self._platform[generation] = (text, certificates.cert_sn(cert))
        return found


def _now() -> datetime:
    return datetime.now(UTC)


def _write_once(path: Path, text: str, mode: int) -> None:
    """Create `path` holding `text` unless it exists; never a partly written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        with contextlib.suppress(FileExistsError):  # another process won: all read its file
            os.link(candidate, path)
    finally:
        candidate.unlink()
