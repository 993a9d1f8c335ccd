"""`paybao merchant cert --app-id ID --out DIR [--reissue]`: an app's certificate-mode files
(公钥证书模式, services/app_certificates.py), written under Alipay's names so merchant code
configured for Alipay reads them unchanged:

- `appCertPublicKey_<app_id>.crt`: the app's current certificate (issued for the public key the
  app registered when it has none; `--reissue` always issues a new one);
- `alipayCertPublicKey_RSA2.crt`: the certificate of the platform key that signs the app's answers;
- `alipayRootCert.crt`: the platform's root certificates.

`paybao merchant cert-list --app-id ID` lists an app's certificates; `paybao merchant
cert-revoke --app-id ID --sn SN` revokes one (requests naming it are refused from then on).
The CLI acts as the platform: changes are audited with the actor `cli`. Errors print
`error: <code>: <message>` and exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from paybao.bootstrap import build_platform
from paybao.domain.app_certificates import AppCertificate
from paybao.domain.errors import DomainError
from paybao.services.app_certificates import AppCertificateService
from paybao.services.clock import datetime_from_us
from paybao.settings import load_settings

T = TypeVar("T")
CLI_ACTOR = "cli"
AppId = Annotated[str, typer.Option(help="A merchant app id (16 digits).")]
Json = Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")]


def register() -> None:
    from paybao.cli_merchant import merchant_app

    merchant_app.command("cert")(cert)
    merchant_app.command("cert-list")(cert_list)
    merchant_app.command("cert-revoke")(cert_revoke)


def _run(work: Callable[[AppCertificateService], T]) -> T:
    try:
        platform = build_platform(load_settings(), migrate=True)
        try:
            return work(platform.services["app_certificates"])
        finally:
            platform.close()
    except DomainError as error:
        typer.echo(f"error: {error.code}: {error.message}", err=True)
        raise typer.Exit(1) from None


def cert(
    app_id: AppId,
    out: Annotated[Path, typer.Option(help="Folder to write the three .crt files into.")],
    reissue: Annotated[bool, typer.Option(help="Issue a new app certificate.")] = False,
    as_json: Json = False,
) -> None:
    """Write the app's certificate, the platform's and the root certificates into --out."""

    def work(certificates: AppCertificateService) -> tuple[str, dict[str, str]]:
        if reissue:
            certificates.issue(app_id, actor=CLI_ACTOR)
        files = certificates.files(app_id, actor=CLI_ACTOR)
        return files.app_cert_sn, files.by_name()

    sn, files = _run(work)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)
    paths = {name: str(out / name) for name in files}
    if as_json:
        typer.echo(json.dumps({"app_id": app_id, "app_cert_sn": sn, "files": paths}))
        return
    typer.echo(f"app {app_id}: app_cert_sn {sn}")
    for path in paths.values():
        typer.echo(path)


def cert_list(app_id: AppId, as_json: Json = False) -> None:
    """The app's certificates, newest first."""
    found = _run(lambda certificates: certificates.certificates_of(app_id))
    if as_json:
        typer.echo(json.dumps({"certificates": [c.to_json() for c in found]}))
        return
    for item in found:
        typer.echo(_line(item))


def cert_revoke(
    app_id: AppId,
    sn: Annotated[str, typer.Option(help="The certificate's SN.")],
    as_json: Json = False,
) -> None:
    """Revoke one of the app's certificates: requests naming it are refused from then on."""
    revoked = _run(lambda certificates: certificates.revoke(app_id, sn, actor=CLI_ACTOR))
    typer.echo(json.dumps(revoked.to_json()) if as_json else _line(revoked))


def _line(item: AppCertificate) -> str:
    issued = datetime_from_us(item.issued_at_us).strftime("%Y-%m-%dT%H:%M:%SZ")
    state = "revoked" if item.revoked_at_us is not None else "issued"
    return f"{item.sn}  {state}  issued {issued}  serial {item.serial}"
