"""X.509 for Alipay's public key certificate mode (公钥证书模式, alipay-protocol.md §5.3).

A certificate's SN is what the SDKs send and compare: md5 hex of the issuer written
`CN=…,OU=…,O=…,C=…` followed by the serial number in decimal. That is python-alipay-sdk's
`DCAliPay.get_cert_sn` literally, and equals Java's `getIssuerX500Principal().getName()` (RFC
2253, last attribute first) as long as the issuer holds exactly C, O, OU and CN once each, in
that order: every issuer paybao writes does (`ca_name`). The root bundle's SN joins the SNs of
its RSA-signed certificates with `_`, in file order; certificates signed otherwise (Alipay's
bundle holds SM2/ECC roots) are skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from paybao.domain.errors import InvalidInput

COUNTRY: Final = "CN"
ORGANIZATION: Final = "paybao"
CA_UNIT: Final = "paybao Certification Authority"
ROOT_COMMON_NAME: Final = "paybao Root CA"
ECC_ROOT_COMMON_NAME: Final = "paybao Root CA ECC"
PLATFORM_UNIT: Final = "paybao open platform"
APP_UNIT: Final = "paybao merchant apps"
ROOT_VALIDITY: Final = timedelta(days=30 * 365)
PLATFORM_CERT_VALIDITY: Final = timedelta(days=10 * 365)
APP_CERT_VALIDITY: Final = timedelta(days=5 * 365)
# Issued certificates start a little in the past: a verifier whose clock lags ours must not
# see a certificate that is not valid yet.
BACKDATE: Final = timedelta(hours=1)
SN_HEX_CHARS: Final = 32
PEM_BYTES_MAX: Final = 64 << 10
BUNDLE_CERTS_MAX: Final = 16
# The signature algorithms DCAliPay counts in a root SN (its CryptoAlgSet), by OID:
# rsaEncryption and md2/md5/sha1/sha256/sha384/sha512 with RSA.
_RSA_SIGNATURE_OIDS: Final = frozenset(f"1.2.840.113549.1.1.{n}" for n in (1, 2, 4, 5, 11, 12, 13))


@dataclass(frozen=True, slots=True)
class IssuedCert:
    serial: int
    sn: str
    pem: str
    not_after: datetime


def ca_name(unit: str, common_name: str) -> x509.Name:
    """C, O, OU, CN once each, in that order (see the module docstring)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, COUNTRY),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def cert_sn(cert: x509.Certificate) -> str:
    """DCAliPay.get_cert_sn: a missing attribute is written `None`, as pyOpenSSL gives it."""
    issuer = cert.issuer

    def first(oid: x509.ObjectIdentifier) -> str:
        found = issuer.get_attributes_for_oid(oid)
        return str(found[0].value) if found else "None"

    name = (
        f"CN={first(NameOID.COMMON_NAME)},OU={first(NameOID.ORGANIZATIONAL_UNIT_NAME)},"
        f"O={first(NameOID.ORGANIZATION_NAME)},C={first(NameOID.COUNTRY_NAME)}"
    )
    text = name + str(cert.serial_number)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def root_cert_sn(certs: Sequence[x509.Certificate]) -> str:
    """DCAliPay.get_root_cert_sn over a bundle: the RSA-signed certificates' SNs joined by `_`."""
    return "_".join(
        cert_sn(cert)
        for cert in certs
        if cert.signature_algorithm_oid.dotted_string in _RSA_SIGNATURE_OIDS
    )


def load_cert(pem: str) -> x509.Certificate:
    return load_bundle(pem)[0]


def load_bundle(pem: str) -> list[x509.Certificate]:
    """Every certificate of a PEM text (InvalidInput when there is none or it is too big)."""
    data = pem.encode("ascii", errors="replace")
    if len(data) > PEM_BYTES_MAX:
        raise InvalidInput("certificate text too long", code="invalid_certificate")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise InvalidInput("not a PEM certificate", code="invalid_certificate") from None
    if not 1 <= len(certs) <= BUNDLE_CERTS_MAX:
        raise InvalidInput("no certificate, or too many", code="invalid_certificate")
    return certs


def to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def bundle_pem(certs: Sequence[x509.Certificate]) -> str:
    """Certificates separated by an empty line, as alipayRootCert.crt is: DCAliPay splits the
    file on blank lines, so the separator is not decoration."""
    return "\n".join(to_pem(cert) for cert in certs)


def make_root(key: rsa.RSAPrivateKey, now: datetime) -> x509.Certificate:
    """The self-signed RSA root (sha256WithRSAEncryption) that issues every paybao cert."""
    name = ca_name(CA_UNIT, ROOT_COMMON_NAME)
    return _ca_builder(name, key.public_key(), now).sign(key, hashes.SHA256())


def make_ecc_root(now: datetime) -> x509.Certificate:
    """A self-signed ECDSA root that signs nothing. Alipay's root bundle mixes RSA and non-RSA
    roots and SDKs must skip the latter in the root SN; ours has the same shape so merchant
    code meets that case here first. Its key is thrown away."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = ca_name(CA_UNIT, ECC_ROOT_COMMON_NAME)
    return _ca_builder(name, key.public_key(), now).sign(key, hashes.SHA256())


def issue(
    ca_key: rsa.RSAPrivateKey,
    root: x509.Certificate,
    public_key: rsa.RSAPublicKey,
    subject: x509.Name,
    now: datetime,
    validity: timedelta,
) -> IssuedCert:
    """An end-entity certificate for `public_key`, signed by the root (sha256WithRSA)."""
    not_after = min(now + validity, root.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(_rsa_key_of(root)), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return IssuedCert(cert.serial_number, cert_sn(cert), to_pem(cert), not_after)


def issued_by(cert: x509.Certificate, root: x509.Certificate) -> bool:
    """The root's key made this certificate's signature (and the names chain)."""
    if cert.issuer != root.subject:
        return False
    try:
        cert.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def public_key_of(cert: x509.Certificate) -> rsa.RSAPublicKey:
    return _rsa_key_of(cert)


def _rsa_key_of(cert: x509.Certificate) -> rsa.RSAPublicKey:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidInput("the certificate does not hold an RSA key", code="invalid_certificate")
    return key


def _ca_builder(
    name: x509.Name, public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey, now: datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, signing: bool) -> x509.KeyUsage:
    """End entities sign (digital_signature); the roots sign certificates and CRLs."""
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signing,
        crl_sign=not signing,
        encipher_only=False,
        decipher_only=False,
    )
