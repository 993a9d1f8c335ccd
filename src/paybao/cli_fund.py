"""`paybao fund publish-rate` and `paybao fund rates`: the daily income per 10,000 CNY of
Yu'e Bao, as the platform publishes it (domain/fund.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from paybao.bootstrap import build_platform
from paybao.domain.errors import DomainError
from paybao.domain.fund import china_day, format_per_10k, parse_per_10k
from paybao.services.clock import datetime_from_us
from paybao.services.fund import RATES_LISTED_MAX, FundService
from paybao.settings import load_settings

fund_app = typer.Typer(help="Yu'e Bao, the money-market balance.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(fund_app, name="fund")


@fund_app.command("publish-rate")
def publish_rate(
    per_10k: Annotated[str, typer.Argument(help="Income per 10,000 CNY of the day, e.g. 0.6500")],
    day: Annotated[
        str, typer.Option("--date", help="China day yyyy-mm-dd (today or later); default today")
    ] = "",
    by: Annotated[str, typer.Option(help="Who publishes (the audit log names it)")] = "cli",
) -> None:
    """Publish a day's income per 10,000 CNY; publishing the same day again replaces it until
    the day ends. A day with no figure earns at PAYBAO_FUND_INCOME_PER_10K_DEFAULT_E4."""
    platform = build_platform(load_settings())
    try:
        fund: FundService = platform.services["fund"]
        on = date.fromisoformat(day) if day else china_day(platform.clock.now_us())
        rate = fund.publish_rate(on, parse_per_10k(per_10k), by=by)
    except DomainError as error:
        typer.echo(f"error: {error.code}: {error.message}", err=True)
        raise typer.Exit(2) from None
    except ValueError:
        typer.echo("error: invalid_date: the date is yyyy-mm-dd", err=True)
        raise typer.Exit(2) from None
    finally:
        platform.close()
    typer.echo(f"{rate.rate_date}: {format_per_10k(rate.per_10k_e4)} CNY per 10,000 CNY")


@fund_app.command("rates")
def rates(
    count: Annotated[int, typer.Option("-n", min=1, max=RATES_LISTED_MAX)] = 14,
) -> None:
    """The latest published figures, newest first."""
    platform = build_platform(load_settings())
    try:
        published = platform.services["fund"].rates(count)
    finally:
        platform.close()
    for rate in published:
        at = datetime_from_us(rate.published_at_us).isoformat()
        per_10k = format_per_10k(rate.per_10k_e4)
        typer.echo(f"{rate.rate_date}  {per_10k}  published {at} by {rate.published_by}")
