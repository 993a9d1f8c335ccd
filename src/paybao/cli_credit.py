"""`paybao credit grant|show`: an operator's Huabei credit lines from the command line."""

from __future__ import annotations

from typing import Annotated

import typer

from paybao.bootstrap import build_platform
from paybao.domain.credit import CreditNotOpened
from paybao.domain.errors import DomainError
from paybao.domain.money import format_yuan
from paybao.settings import load_settings

credit_app = typer.Typer(help="Huabei credit lines.", no_args_is_help=True)
# The audit log's actor for actions taken at the command line (no operator signs in there).
CLI_ACTOR = "cli"


def register(app: typer.Typer) -> None:
    app.add_typer(credit_app, name="credit")


@credit_app.command("grant")
def credit_grant(
    user: Annotated[int, typer.Option(help="The user's id (admin console: Users).", min=1)],
    limit_fen: Annotated[int, typer.Option(help="The limit in fen: 50000..5000000 by default.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "",
) -> None:
    """Open a user's credit line, or change its limit (audited as actor `cli`)."""
    platform = build_platform(load_settings(), migrate=True)
    try:
        line = platform.services["credit"].grant(
            user, limit_fen, reason=reason or "paybao credit grant", actor=CLI_ACTOR
        )
    except DomainError as error:
        typer.echo(f"error: {error.code}: {error.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        platform.close()
    typer.echo(
        f"user {line.user_id} credit limit {format_yuan(line.limit_fen)}"
        f" available {format_yuan(line.available_fen)}"
    )


@credit_app.command("show")
def credit_show(user: Annotated[int, typer.Option(min=1)]) -> None:
    """A user's line, bills and installment plans."""
    platform = build_platform(load_settings(), migrate=True)
    try:
        summary = platform.services["credit"].summary(user)
        plans = platform.services["credit_installments"].plans_of(user)
    except CreditNotOpened:
        typer.echo(f"user {user} has no credit line")
        raise typer.Exit(1) from None
    finally:
        platform.close()
    line = summary.line
    typer.echo(
        f"limit {format_yuan(line.limit_fen)} available {format_yuan(line.available_fen)}"
        f" open {format_yuan(line.open_fen)} owed {format_yuan(line.outstanding_fen)}"
        f" repayment day {line.repayment_day}{' FROZEN (overdue)' if line.overdue else ''}"
    )
    for bill in summary.bills:
        typer.echo(
            f"{bill.period}\t{bill.status.value}\tdue {bill.due_date.isoformat()}"
            f"\tunpaid {format_yuan(bill.unpaid_fen)}"
        )
    for plan in plans:
        typer.echo(
            f"installments {plan.id}\t{plan.status.value}\t{format_yuan(plan.principal_fen)}"
            f" in {plan.count}, billed {plan.billed_count}"
            f"\tnot billed {format_yuan(plan.unbilled_principal_fen)}"
        )
