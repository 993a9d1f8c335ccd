"""Certificate mode, pure parts: SNs exactly as python-alipay-sdk's DCAliPay computes them, the
certificates the platform CA writes, the bundle's shape, what makes an app certificate current,
and the envelope's `alipay_cert_sn` after `sign` as both SDKs cut it."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from alipay import DCAliPay
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from paybao.adapters.alipay import certificates
from paybao.adapters.alipay.cert_mode import with_cert_sn
from paybao.adapters.alipay.envelope import build_response
from paybao.adapters.alipay.keys import private_key_to_pem, public_key_to_pem
from paybao.adapters.alipay.signing import verify_content
from paybao.domain.app_certificates import (
    CURRENT_CERTS_PER_APP_MAX,
    AppCertificate,
    AppCertificateLimit,
    AppCertificateNotFound,
    check_room,
    check_sn,
)

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@functools.cache
def _key(name: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _root() -> x509.Certificate:
    return certificates.make_root(_key("ca"), NOW)


def _app_cert(root: x509.Certificate) -> certificates.IssuedCert:
    subject = certificates.ca_name(f"{certificates.APP_UNIT} 7", "2021000000000777")
    return certificates.issue(
        _key("ca"), root, _key("app").public_key(), subject, NOW, certificates.APP_CERT_VALIDITY
    )


def test_app_cert_sn_is_dcalipays() -> None:
    issued = _app_cert(_root())

    assert issued.sn == DCAliPay.get_cert_sn(issued.pem)
    assert re.fullmatch(r"[0-9a-f]{32}", issued.sn)
    # Alipay's documented recipe, by hand: md5("CN=…,OU=…,O=…,C=…" + decimal serial).
    text = f"CN=paybao Root CA,OU=paybao Certification Authority,O=paybao,C=CN{issued.serial}"
    assert issued.sn == hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def test_an_issuer_without_ou_is_written_none_as_dcalipay_does() -> None:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Other CA"),
        ]
    )
    key = _key("other")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(12345678901234567890)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = certificates.to_pem(cert)

    assert certificates.cert_sn(cert) == DCAliPay.get_cert_sn(pem)


def test_root_sn_counts_only_the_rsa_signed_roots_like_dcalipay() -> None:
    rsa_root = _root()
    other_rsa_root = certificates.make_root(_key("ca2"), NOW)
    ecc_root = certificates.make_ecc_root(NOW)
    bundle = [rsa_root, ecc_root, other_rsa_root]
    text = certificates.bundle_pem(bundle)

    expected = DCAliPay.get_root_cert_sn(text)
    assert certificates.root_cert_sn(certificates.load_bundle(text)) == expected
    assert expected == f"{certificates.cert_sn(rsa_root)}_{certificates.cert_sn(other_rsa_root)}"
    # DCAliPay cuts the file at blank lines: every piece must be one whole certificate.
    assert len(DCAliPay.read_pem_cert_chain(text)) == 3
    only_ecc = certificates.bundle_pem([ecc_root])
    assert certificates.root_cert_sn([ecc_root]) == ""
    assert DCAliPay.get_root_cert_sn(only_ecc) is None


def test_the_root_is_a_long_lived_self_signed_sha256_rsa_ca() -> None:
    root = _root()

    assert root.issuer == root.subject
    assert root.signature_hash_algorithm is not None
    assert root.signature_hash_algorithm.name == "sha256"
    assert isinstance(root.public_key(), rsa.RSAPublicKey)
    assert root.public_key().key_size == 2048  # type: ignore[union-attr]
    assert root.not_valid_after_utc - NOW >= timedelta(days=29 * 365)
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is True
    root.verify_directly_issued_by(root)
    # C, O, OU, CN once each: Java's RFC 2253 name is then DCAliPay's string.
    assert root.issuer.rfc4514_string() == (
        "CN=paybao Root CA,OU=paybao Certification Authority,O=paybao,C=CN"
    )


def test_an_issued_certificate_holds_the_key_and_chains_to_the_root() -> None:
    root = _root()
    issued = _app_cert(root)
    cert = certificates.load_cert(issued.pem)

    assert certificates.issued_by(cert, root)
    assert not certificates.issued_by(cert, certificates.make_root(_key("ca2"), NOW))
    assert public_key_to_pem(certificates.public_key_of(cert)) == public_key_to_pem(
        _key("app").public_key()
    )
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.not_valid_before_utc < NOW < cert.not_valid_after_utc
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "2021000000000777"
    # Random serials: two certificates for the same key differ.
    assert _app_cert(root).sn != issued.sn
    # DCAliPay takes the key it verifies answers with from the certificate.
    client = DCAliPay(
        appid="2021000000000777",
        app_private_key_string=private_key_to_pem(_key("app")),
        app_public_key_cert_string=issued.pem,
        alipay_public_key_cert_string=issued.pem,
        alipay_root_cert_string=certificates.bundle_pem([root]),
    )
    assert client.alipay_public_key.n == _key("app").public_key().public_numbers().n
    assert (client.app_cert_sn, client.alipay_root_cert_sn) == (
        issued.sn,
        certificates.cert_sn(root),
    )


def test_garbage_is_not_a_certificate() -> None:
    for text in ("", "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"):
        with pytest.raises(Exception) as raised:
            certificates.load_bundle(text)
        assert getattr(raised.value, "code", None) == "invalid_certificate"


def _stored(**changes: object) -> AppCertificate:
    base: dict[str, object] = {
        "app_id": "2021000000000777",
        "sn": "0" * 32,
        "serial": "1",
        "public_key": "KEY",
        "pem": "",
        "issued_at_us": 1,
        "expires_at_us": 100,
        "revoked_at_us": None,
    }
    base.update(changes)
    return AppCertificate(**base)  # type: ignore[arg-type]


def test_a_certificate_is_current_for_its_key_until_revoked_or_expired() -> None:
    assert _stored().current_for("KEY", 50)
    assert not _stored().current_for("NEW KEY", 50)  # the app replaced its key
    assert not _stored(revoked_at_us=40).current_for("KEY", 50)
    assert not _stored().current_for("KEY", 100)


def test_sn_shape_and_room() -> None:
    assert check_sn("a" * 32) == "a" * 32
    for bad in ("A" * 32, "a" * 31, "g" * 32, ""):
        with pytest.raises(AppCertificateNotFound):
            check_sn(bad)
    check_room(CURRENT_CERTS_PER_APP_MAX - 1)
    with pytest.raises(AppCertificateLimit):
        check_room(CURRENT_CERTS_PER_APP_MAX)


def test_alipay_cert_sn_follows_sign_and_both_sdks_still_cut_the_signed_object() -> None:
    platform_key = _key("platform")
    body = build_response(
        "alipay.trade.query", {"code": "10000", "msg": "Success", "x": "a}b{"}, platform_key
    )
    sn = "f" * 32
    answer = with_cert_sn(body, sn).decode()

    assert answer.endswith(f'","alipay_cert_sn":"{sn}"}}')
    parsed = json.loads(answer)
    assert list(parsed) == ["alipay_trade_query_response", "sign", "alipay_cert_sn"]
    # python-alipay-sdk: the braces-counting cut after the response key.
    client = DCAliPay.__new__(DCAliPay)
    signed = client._get_string_to_be_signed(answer, "alipay_trade_query_response")
    # The official SDK: from the first `"x_response":{` to the last `},"sign":"`.
    start = re.search(r'"[a-zA-z_]+_response"\s*:\s*{', answer)
    ends = list(re.finditer(r'}\s*,\s*"sign"\s*:\s*"', answer))
    assert start is not None and ends
    official = answer[start.end() - 1 : ends[-1].start() + 1]
    assert signed == official
    public_pem = public_key_to_pem(platform_key.public_key())
    assert verify_content(signed.encode(), parsed["sign"], public_pem, "RSA2")
