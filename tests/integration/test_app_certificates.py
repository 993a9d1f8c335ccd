"""Certificate mode on a real database: issuing, re-issuing and revoking app certificates, the
gateway's check of `app_cert_sn` / `alipay_root_cert_sn` and the `alipay_cert_sn` it answers
with, a platform key rotation, the portal's downloads and `paybao merchant cert`."""

from __future__ import annotations

import base64
import functools
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.integration.api_admin_support import audit_rows
from tests.integration.gateway_support import (
    APP_ID,
    Shop,
    app_keys,
    make_shop,
    now_text,
    other_keys,
    signed_params,
)
from tests.integration.merchant_portal_support import portal_shop, post_form, sign_in
from tests.integration.platform_key_support import new_generation
from typer.testing import CliRunner

from paybao.adapters.alipay import certificates, content_crypto, wire
from paybao.adapters.alipay.keys import generate_key_pair, public_key_to_pem
from paybao.adapters.alipay.platform_ca import CA_KEY_FILE, ROOT_BUNDLE_FILE, platform_cert_file
from paybao.adapters.alipay.signing import sign_request_params, verify_content
from paybao.bootstrap import Platform
from paybao.domain.app_certificates import CURRENT_CERTS_PER_APP_MAX
from paybao.domain.errors import DomainError
from paybao.services.app_certificates import PLATFORM_CERT_NAME, ROOT_CERT_NAME
from paybao.settings import Settings

OTHER_APP_ID = "2021000000000778"


@functools.cache
def _ca_key_text() -> str:
    return generate_key_pair().private_pem_pkcs1


@pytest.fixture(autouse=True)
def _ca_key(settings: Settings) -> None:
    """One CA key for the session (generating RSA-2048 per test is slow), placed as the
    platform would have made it; the root and every certificate are still made per test."""
    path = settings.data_dir / CA_KEY_FILE
    path.write_text(_ca_key_text())
    path.chmod(0o600)


def certs(platform: Platform) -> Any:
    return platform.services["app_certificates"]


def cert_call(
    client: TestClient,
    method: str,
    biz: dict[str, Any] | None,
    *,
    app_cert_sn: str | None,
    root_sn: str | None,
    **kwargs: Any,
) -> tuple[dict[str, Any], str]:
    """A signed call in certificate mode: (the answer's object, the raw body text)."""
    extra: dict[str, str] = {}
    if app_cert_sn is not None:
        extra["app_cert_sn"] = app_cert_sn
    if root_sn is not None:
        extra["alipay_root_cert_sn"] = root_sn
    params = signed_params(method, biz, **extra, **kwargs)
    response = client.post("/gateway.do", data=params)
    assert response.status_code == 200
    body = response.text
    return json.loads(body)[wire.response_key(method)], body


def verify_with_cert(body: str, method: str, cert_pem: str) -> bool:
    """The check DCAliPay makes: the object's bytes against the key in the platform cert."""
    key = wire.response_key(method)
    start = body.index("{", body.index(f'"{key}"'))
    end = body.rindex(',"sign":"')
    signature = json.loads(body)["sign"]
    public_pem = public_key_to_pem(certificates.public_key_of(certificates.load_cert(cert_pem)))
    return verify_content(body[start:end].encode(), signature, public_pem, "RSA2")


# The service ---------------------------------------------------------------------------------


def test_ensure_issues_once_for_the_registered_key_and_audits(platform: Platform) -> None:
    shop = make_shop(platform)
    assert certs(platform).current(APP_ID) is None

    first = certs(platform).ensure(APP_ID, actor="test")
    again = certs(platform).ensure(APP_ID, actor="test")

    assert again == first
    assert certs(platform).current(APP_ID) == first
    cert = certificates.load_cert(first.pem)
    assert public_key_to_pem(certificates.public_key_of(cert)) == shop.app.public_key
    assert certificates.cert_sn(cert) == first.sn and str(cert.serial_number) == first.serial
    root = certificates.load_bundle(certs(platform).files(APP_ID, actor="test").root_pem)[0]
    assert certificates.issued_by(cert, root)
    [row] = audit_rows(platform, "app_certificate.issue")
    assert (row.subject, row.actor, row.detail) == (f"app:{APP_ID}", "test", f"sn {first.sn}")


def test_reissue_keeps_both_current_until_revoked_and_is_limited(platform: Platform) -> None:
    make_shop(platform)
    first = certs(platform).ensure(APP_ID, actor="test")
    second = certs(platform).issue(APP_ID, actor="test")

    assert second.sn != first.sn
    assert certs(platform).current(APP_ID) == second  # the newest
    app = platform.services["merchants"].app(APP_ID)
    assert certs(platform).is_current(app, first.sn) and certs(platform).is_current(app, second.sn)

    revoked = certs(platform).revoke(APP_ID, first.sn, actor="test")
    assert revoked.revoked_at_us is not None
    assert not certs(platform).is_current(app, first.sn)
    assert certs(platform).revoke(APP_ID, first.sn, actor="test") == revoked  # no second write
    assert len(audit_rows(platform, "app_certificate.revoke")) == 1

    for _ in range(CURRENT_CERTS_PER_APP_MAX - 1):
        certs(platform).issue(APP_ID, actor="test")
    with pytest.raises(DomainError) as raised:
        certs(platform).issue(APP_ID, actor="test")
    assert raised.value.code == "app_cert_limit"
    listed = certs(platform).certificates_of(APP_ID)
    assert len(listed) == CURRENT_CERTS_PER_APP_MAX + 1 and listed[-1].sn == first.sn


def test_unknown_apps_and_certificates_are_refused(platform: Platform) -> None:
    make_shop(platform)
    make_shop(platform, app_id=OTHER_APP_ID)
    other = certs(platform).ensure(OTHER_APP_ID, actor="test")
    for work, code in (
        (lambda: certs(platform).ensure("2021999999999999", actor="t"), "app_not_found"),
        (lambda: certs(platform).revoke(APP_ID, other.sn, actor="t"), "app_cert_not_found"),
        (lambda: certs(platform).revoke(APP_ID, "x" * 32, actor="t"), "app_cert_not_found"),
    ):
        with pytest.raises(DomainError) as raised:
            work()
        assert raised.value.code == code
    app = platform.services["merchants"].app(APP_ID)
    assert not certs(platform).is_current(app, other.sn)  # another app's certificate


def test_replacing_the_app_key_leaves_its_certificates_behind(platform: Platform) -> None:
    make_shop(platform)
    old = certs(platform).ensure(APP_ID, actor="test")
    new_key = other_keys()
    platform.services["merchants"].replace_app_key(APP_ID, new_key.public_pem_spki)
    app = platform.services["merchants"].app(APP_ID)

    assert not certs(platform).is_current(app, old.sn)
    fresh = certs(platform).ensure(APP_ID, actor="test")
    assert fresh.sn != old.sn
    held = certificates.public_key_of(certificates.load_cert(fresh.pem))
    assert public_key_to_pem(held) == app.public_key


# The gateway ---------------------------------------------------------------------------------


def test_a_certificate_mode_call_answers_with_alipay_cert_sn_after_sign(
    client: TestClient, platform: Platform
) -> None:
    make_shop(platform)
    files = certs(platform).files(APP_ID, actor="test")
    root_sn = certificates.root_cert_sn(certificates.load_bundle(files.root_pem))
    platform_sn = certificates.cert_sn(certificates.load_cert(files.platform_cert_pem))
    method = "alipay.trade.precreate"
    biz = {"out_trade_no": "cert-1", "total_amount": "1.00", "subject": "证书"}

    answer, body = cert_call(client, method, biz, app_cert_sn=files.app_cert_sn, root_sn=root_sn)

    assert answer["code"] == "10000" and answer["qr_code"]
    assert body.endswith(f'"alipay_cert_sn":"{platform_sn}"}}')
    assert list(json.loads(body)) == [wire.response_key(method), "sign", "alipay_cert_sn"]
    assert verify_with_cert(body, method, files.platform_cert_pem)
    # Alipay's root SN lists several roots: naming ours among others is enough.
    listed = f"{'1' * 32}_{root_sn}"
    answer, _ = cert_call(
        client,
        "alipay.trade.query",
        {"out_trade_no": "cert-1"},
        app_cert_sn=files.app_cert_sn,
        root_sn=listed,
    )
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")
    # An ordinary call is what it always was.
    plain = client.post(
        "/gateway.do", data=signed_params("alipay.trade.query", {"out_trade_no": "x"})
    )
    assert "alipay_cert_sn" not in plain.text and plain.text.endswith('"}')


@pytest.mark.parametrize(
    ("case", "code", "sub_code"),
    [
        ("unknown", "40002", "isv.app-cert-not-exist"),
        ("other_app", "40002", "isv.app-cert-not-exist"),
        ("revoked", "40002", "isv.app-cert-not-exist"),
        ("malformed", "40002", "isv.app-cert-not-exist"),
        ("wrong_root", "40002", "isv.invalid-alipay-root-cert-sn"),
        ("no_root", "40002", "isv.invalid-alipay-root-cert-sn"),
        ("no_app_cert", "40001", "isv.missing-app-cert-sn"),
    ],
)
def test_a_request_naming_certificates_that_are_not_the_apps_is_refused_signed(
    client: TestClient, platform: Platform, case: str, code: str, sub_code: str
) -> None:
    make_shop(platform)
    make_shop(platform, app_id=OTHER_APP_ID)
    files = certs(platform).files(APP_ID, actor="test")
    root_sn = certs(platform).root_sn()
    app_sn: str | None = files.app_cert_sn
    sent_root: str | None = root_sn
    if case == "unknown":
        app_sn = "0123456789abcdef0123456789abcdef"
    elif case == "other_app":
        app_sn = certs(platform).ensure(OTHER_APP_ID, actor="test").sn
    elif case == "revoked":
        certs(platform).revoke(APP_ID, files.app_cert_sn, actor="test")
    elif case == "malformed":
        app_sn = "'; DROP TABLE app_certificates; --"
    elif case == "wrong_root":
        sent_root = "0123456789abcdef0123456789abcdef"
    elif case == "no_root":
        sent_root = None
    elif case == "no_app_cert":
        app_sn = None
    method = "alipay.trade.precreate"
    biz = {"out_trade_no": f"cert-{case}", "total_amount": "1.00", "subject": "s"}

    answer, body = cert_call(client, method, biz, app_cert_sn=app_sn, root_sn=sent_root)

    assert (answer["code"], answer["sub_code"]) == (code, sub_code)
    assert verify_with_cert(body, method, files.platform_cert_pem)  # signed all the same
    assert json.loads(body)["alipay_cert_sn"] == certs(platform).platform_cert_sn(1)
    assert certs(platform).is_current(
        platform.services["merchants"].app(APP_ID), files.app_cert_sn
    ) is (case != "revoked")


def test_the_certificate_check_comes_before_the_signature_is_trusted(
    client: TestClient, platform: Platform
) -> None:
    """A request signed with another key fails the signature even with a good certificate SN."""
    make_shop(platform)
    files = certs(platform).files(APP_ID, actor="test")
    answer, _ = cert_call(
        client,
        "alipay.trade.query",
        {"out_trade_no": "x"},
        app_cert_sn=files.app_cert_sn,
        root_sn=certs(platform).root_sn(),
        keys=other_keys(),
    )
    assert answer["sub_code"] == "isv.invalid-signature"


def test_a_rotation_certifies_the_new_generation_and_answers_name_it(
    client: TestClient, platform: Platform
) -> None:
    make_shop(platform)
    before = certs(platform).files(APP_ID, actor="test")
    created = new_generation(platform)
    platform.services["platform_keys"].switch(APP_ID, created.generation, actor="test")

    after = certs(platform).files(APP_ID, actor="test")
    new_cert = certificates.load_cert(after.platform_cert_pem)
    new_public = platform.services["platform_keys"].public_pem(created.generation)
    assert public_key_to_pem(certificates.public_key_of(new_cert)) == new_public
    assert after.platform_cert_pem != before.platform_cert_pem
    assert after.root_pem == before.root_pem and after.app_cert_sn == before.app_cert_sn
    assert (platform.settings.data_dir / platform_cert_file(created.generation)).is_file()

    method = "alipay.trade.query"
    answer, body = cert_call(
        client,
        method,
        {"out_trade_no": "none"},
        app_cert_sn=after.app_cert_sn,
        root_sn=certs(platform).root_sn(),
    )
    assert answer["code"] == "40004"
    assert json.loads(body)["alipay_cert_sn"] == certificates.cert_sn(new_cert)
    assert verify_with_cert(body, method, after.platform_cert_pem)
    assert not verify_with_cert(body, method, before.platform_cert_pem)

    # A merchant still holding the old certificate fetches the one the answer names (what
    # Alipay's Java SDK does by itself), and an older one stays downloadable too.
    for sn, pem in (
        (certificates.cert_sn(new_cert), after.platform_cert_pem),
        (certs(platform).platform_cert_sn(1), before.platform_cert_pem),
    ):
        answer, body = cert_call(
            client,
            "alipay.open.app.alipaycert.download",
            {"alipay_cert_sn": sn},
            app_cert_sn=after.app_cert_sn,
            root_sn=certs(platform).root_sn(),
        )
        assert answer["code"] == "10000"
        assert base64.b64decode(answer["alipay_cert_content"]).decode() == pem
    answer, _ = cert_call(
        client,
        "alipay.open.app.alipaycert.download",
        {"alipay_cert_sn": "0" * 32},
        app_cert_sn=after.app_cert_sn,
        root_sn=certs(platform).root_sn(),
    )
    assert (answer["code"], answer["sub_code"]) == ("40004", "CERT_NOT_EXIST")


def test_the_ca_files_are_made_once_and_kept(platform: Platform) -> None:
    make_shop(platform)
    first = certs(platform).files(APP_ID, actor="test")
    data_dir = platform.settings.data_dir
    assert (data_dir / ROOT_BUNDLE_FILE).read_text() == first.root_pem
    assert oct((data_dir / CA_KEY_FILE).stat().st_mode & 0o777) == "0o600"
    # Another process on the same folder reads the same root and platform certificate.
    from paybao.adapters.alipay.platform_ca import PlatformCertificateAuthority

    other = PlatformCertificateAuthority(data_dir, platform.services["app_signing_keys"].keyring)
    assert other.root_bundle_pem() == first.root_pem
    assert other.platform_cert_pem(1) == first.platform_cert_pem
    assert len(certificates.load_bundle(first.root_pem)) == 2  # the RSA root and the ECC one


# The portal ----------------------------------------------------------------------------------


def test_the_portal_downloads_the_three_files_and_revokes(
    client: TestClient, platform: Platform
) -> None:
    shop: Shop = portal_shop(platform)
    assert sign_in(client, shop.merchant.id).status_code == 303
    keys_page = client.get("/merchant/keys")
    assert keys_page.status_code == 200
    names = [f"appCertPublicKey_{APP_ID}.crt", PLATFORM_CERT_NAME, ROOT_CERT_NAME]
    for name in names:
        assert f"/merchant/keys/{APP_ID}/certs/{name}" in keys_page.text

    downloaded = {}
    for name in names:
        response = client.get(f"/merchant/keys/{APP_ID}/certs/{name}")
        assert response.status_code == 200, response.text
        assert name in response.headers["content-disposition"]
        downloaded[name] = response.text
    current = certs(platform).current(APP_ID)
    assert current is not None and downloaded[names[0]] == current.pem
    assert client.get(f"/merchant/keys/{APP_ID}/certs/secret.pem").status_code == 404

    page = client.get(f"/merchant/keys/{APP_ID}/certs")
    assert current.sn in page.text and 'data-state="current"' in page.text
    revoked = post_form(
        client,
        f"/merchant/keys/{APP_ID}/certs",
        f"/merchant/keys/{APP_ID}/certs/{current.sn}/revoke",
        {},
    )
    assert revoked.status_code == 303
    assert 'data-state="revoked"' in client.get(f"/merchant/keys/{APP_ID}/certs").text
    reissued = post_form(
        client, f"/merchant/keys/{APP_ID}/certs", f"/merchant/keys/{APP_ID}/certs/reissue", {}
    )
    assert reissued.status_code == 303
    fresh = certs(platform).current(APP_ID)
    assert fresh is not None and fresh.sn != current.sn
    [row] = audit_rows(platform, "app_certificate.revoke")
    assert row.actor == f"merchant:{shop.merchant.id}"


def test_the_portal_keeps_other_merchants_apps_out(client: TestClient, platform: Platform) -> None:
    make_shop(platform, app_id=OTHER_APP_ID)
    shop = portal_shop(platform)
    sign_in(client, shop.merchant.id)
    response = client.get(f"/merchant/keys/{OTHER_APP_ID}/certs/{ROOT_CERT_NAME}")
    assert response.status_code == 404
    assert client.get(f"/merchant/keys/{OTHER_APP_ID}/certs").status_code == 404
    assert certs(platform).current(OTHER_APP_ID) is None


# The command ---------------------------------------------------------------------------------


def test_paybao_merchant_cert_writes_the_three_files(
    platform: Platform, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from paybao.cli import app

    monkeypatch.setenv("PAYBAO_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("PAYBAO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PAYBAO_SANDBOX", "1")
    make_shop(platform)
    runner = CliRunner()
    out = tmp_path / "certs"

    done = runner.invoke(app, ["merchant", "cert", "--app-id", APP_ID, "--out", str(out), "--json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    written = sorted(path.name for path in out.iterdir())
    assert written == sorted([f"appCertPublicKey_{APP_ID}.crt", PLATFORM_CERT_NAME, ROOT_CERT_NAME])
    app_cert = certificates.load_cert((out / f"appCertPublicKey_{APP_ID}.crt").read_text())
    assert certificates.cert_sn(app_cert) == result["app_cert_sn"]
    assert (out / ROOT_CERT_NAME).read_text() == (settings.data_dir / ROOT_BUNDLE_FILE).read_text()

    same = runner.invoke(app, ["merchant", "cert", "--app-id", APP_ID, "--out", str(out), "--json"])
    assert json.loads(same.output)["app_cert_sn"] == result["app_cert_sn"]
    new = runner.invoke(
        app, ["merchant", "cert", "--app-id", APP_ID, "--out", str(out), "--reissue", "--json"]
    )
    assert json.loads(new.output)["app_cert_sn"] != result["app_cert_sn"]
    listed = runner.invoke(app, ["merchant", "cert-list", "--app-id", APP_ID, "--json"])
    assert len(json.loads(listed.output)["certificates"]) == 2
    revoked = runner.invoke(
        app, ["merchant", "cert-revoke", "--app-id", APP_ID, "--sn", result["app_cert_sn"]]
    )
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    missing = runner.invoke(
        app, ["merchant", "cert", "--app-id", "2021999999999999", "--out", str(out)]
    )
    assert missing.exit_code == 1 and "app_not_found" in missing.output


def test_an_encrypted_certificate_mode_call_is_answered_encrypted_with_alipay_cert_sn(
    client: TestClient, platform: Platform
) -> None:
    """Java's SDK may use both at once: AES content encryption and certificate mode."""
    make_shop(platform)
    files = certs(platform).files(APP_ID, actor="test")
    aes_key = base64.b64decode(platform.services["app_aes_keys"].set(APP_ID))
    method = "alipay.trade.query"
    plain = json.dumps({"out_trade_no": "none"}, separators=(",", ":"))
    params = {
        "app_id": APP_ID,
        "method": method,
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": now_text(),
        "version": "1.0",
        "encrypt_type": "AES",
        "biz_content": content_crypto.encrypt(plain.encode(), aes_key),
        "app_cert_sn": files.app_cert_sn,
        "alipay_root_cert_sn": certs(platform).root_sn(),
    }
    params["sign"] = sign_request_params(params, app_keys().private_pem_pkcs1, "RSA2", "utf-8")

    body = client.post("/gateway.do", data=params).text

    platform_sn = certs(platform).platform_cert_sn(1)
    assert body.endswith(f'","alipay_cert_sn":"{platform_sn}"}}')
    head = f'{{"{wire.response_key(method)}":"'
    end = body.index('","sign":"')
    quoted = body[len(head) - 1 : end + 1]
    signature = json.loads(body)["sign"]
    public_pem = public_key_to_pem(
        certificates.public_key_of(certificates.load_cert(files.platform_cert_pem))
    )
    assert verify_content(quoted.encode(), signature, public_pem, "RSA2")
    answer = json.loads(content_crypto.decrypt(quoted[1:-1], aes_key))
    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")
