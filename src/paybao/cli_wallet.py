"""`paybao sms tail` (sandbox inbox) and `paybao operator create|set-role|list`."""

from __future__ import annotations

from typing import Annotated

import typer

from paybao.adapters.db.wallet_store import sms_outbox_tail
from paybao.bootstrap import build_platform
from paybao.domain.errors import DomainError
from paybao.services.clock import datetime_from_us
from paybao.settings import load_settings

sms_app = typer.Typer(help="The sandbox SMS outbox.", no_args_is_help=True)
operator_app = typer.Typer(help="Operator accounts of the admin console.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(sms_app, name="sms")
    app.add_typer(operator_app, name="operator")


@sms_app.command("tail")
def sms_tail(
    count: Annotated[int, typer.Option("-n", min=1, max=500)] = 20,
    phone: Annotated[str, typer.Option()] = "",
) -> None:
    """Print the newest texts the sandbox SMS adapter kept (oldest first)."""
    platform = build_platform(load_settings())
    try:
        with platform.db.read() as tx:
            rows = sms_outbox_tail(tx, count, phone or None)
    finally:
        platform.close()
    for row in reversed(rows):
        typer.echo(f"{datetime_from_us(row.created_at_us).isoformat()}  {row.phone}  {row.text}")


@operator_app.command("create")
def operator_create(
    name: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    role: Annotated[
        str | None,
        typer.Option(
            help="viewer | support | finance | admin. Default: admin for the first operator "
            "(someone must manage the others), viewer for every later one."
        ),
    ] = None,
) -> None:
    """Create an operator; prints its role and the TOTP secret to enter in an authenticator app."""
    platform = build_platform(load_settings(), migrate=True)
    try:
        created = platform.services["operators"].create(name, password, role)
    except DomainError as error:
        typer.echo(f"error: {error.code}: {error.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        platform.close()
    typer.echo(f"operator {created.id} {created.name} role={created.role}")
    typer.echo(f"TOTP secret: {created.totp_secret}")
    typer.echo(f"otpauth URI: {created.provisioning_uri}")


@operator_app.command("set-role")
def operator_set_role(
    name: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="viewer | support | finance | admin")],
) -> None:
    """Change an operator's role (audited; the last admin cannot lose the role)."""
    platform = build_platform(load_settings(), migrate=True)
    try:
        operators = platform.services["operators"]
        found = next((o for o in operators.operators() if o.name == name.strip()), None)
        if found is None:
            typer.echo(f"error: operator_not_found: no operator named {name}", err=True)
            raise typer.Exit(1)
        old_role = operators.set_role(None, int(found.id), role)
    except DomainError as error:
        typer.echo(f"error: {error.code}: {error.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        platform.close()
    typer.echo(f"operator {found.id} {found.name} role {old_role} -> {role.strip().lower()}")


@operator_app.command("list")
def operator_list() -> None:
    """Every operator with its role."""
    platform = build_platform(load_settings(), migrate=True)
    try:
        rows = platform.services["operators"].operators()
    finally:
        platform.close()
    for row in rows:
        typer.echo(f"{row.id}\t{row.name}\t{row.role}")
