"""`paybao biller create|list|disable|enable`: the billers of city services (domain/billpay.py),
as an operator manages them from the command line (audited as actor `cli`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from paybao.bootstrap import build_platform
from paybao.domain.billpay import CITIES, Carrier, Category
from paybao.domain.errors import DomainError
from paybao.services.billpay_billers import BillerService, NewBiller
from paybao.services.billpay_records import Biller
from paybao.settings import load_settings

biller_app = typer.Typer(
    help="Billers of city services (bills, mobile top-up).", no_args_is_help=True
)
CLI_ACTOR = "cli"


def register(app: typer.Typer) -> None:
    app.add_typer(biller_app, name="biller")


def _line(biller: Biller) -> str:
    return (
        f"{biller.id}\t{biller.code}\t{biller.category}\t{biller.city}\t{biller.status}"
        f"\tmerchant {biller.merchant_id}\t{biller.name}"
    )


def _with_billers(work: Callable[[BillerService], Biller]) -> Biller:
    platform = build_platform(load_settings(), migrate=True)
    try:
        return work(platform.services["billers"])
    except DomainError as error:
        typer.echo(f"error: {error.code}: {error.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        platform.close()


@biller_app.command("create")
def create(
    code: Annotated[str, typer.Option(help="Short code, a-z 0-9 _ (a carrier: cmcc|cucc|ctcc)")],
    name: Annotated[str, typer.Option(help="The name users see, e.g. 上海城投水务")],
    category: Annotated[str, typer.Option(help=" | ".join(Category))],
    city: Annotated[str, typer.Option(help=" | ".join(CITIES) + " (carriers: none)")] = "",
    merchant_id: Annotated[
        int | None,
        typer.Option(help="The merchant that receives the money; default: a new one", min=1),
    ] = None,
) -> None:
    """Add a biller; it receives payments into its merchant's settlement account."""
    new = NewBiller(code=code, name=name, category=category, city=city, merchant_id=merchant_id)

    typer.echo(_line(_with_billers(lambda billers: billers.create(new, actor=CLI_ACTOR))))


@biller_app.command("list")
def list_billers() -> None:
    """Every biller, active or not."""
    platform = build_platform(load_settings(), migrate=True)
    try:
        billers = platform.services["billers"].all()
    finally:
        platform.close()
    for biller in billers:
        typer.echo(_line(biller))
    if not billers:
        typer.echo(f"no billers (carriers: {', '.join(Carrier)})")


@biller_app.command("disable")
def disable(biller_id: Annotated[int, typer.Argument(min=1)]) -> None:
    """Users no longer see it; payments already started finish."""
    typer.echo(_line(_with_billers(lambda b: b.set_active(biller_id, False, actor=CLI_ACTOR))))


@biller_app.command("enable")
def enable(biller_id: Annotated[int, typer.Argument(min=1)]) -> None:
    """Offer it to users again."""
    typer.echo(_line(_with_billers(lambda b: b.set_active(biller_id, True, actor=CLI_ACTOR))))
