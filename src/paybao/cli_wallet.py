"""`paybao sms tail` (sandbox inbox); the `paybao operator ...` commands live in cli_operator."""

from __future__ import annotations

from typing import Annotated

import typer

from paybao import cli_operator
from paybao.adapters.db.wallet_store import sms_outbox_tail
from paybao.bootstrap import build_platform
from paybao.services.clock import datetime_from_us
from paybao.settings import load_settings

sms_app = typer.Typer(help="The sandbox SMS outbox.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(sms_app, name="sms")
    cli_operator.register(app)


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
