"""`paybao operator create|set-role|list|disable|enable` and `paybao operator token
create|list|revoke`: operators of the admin console, run by whoever runs the server.

The CLI acts as the platform: its changes are audited with no operator (shown as `system`).
Errors print `error: <code>: <message>` and exit 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer

from paybao.bootstrap import Platform, build_platform
from paybao.domain.errors import DomainError
from paybao.domain.operator_access import TOKEN_EXPIRY_DAYS_MAX, TokenNotFound, TokenState
from paybao.services.clock import datetime_from_us
from paybao.services.operator_tokens import NewToken, OperatorTokenService, TokenInfo
from paybao.settings import load_settings

T = TypeVar("T")

operator_app = typer.Typer(help="Operator accounts of the admin console.", no_args_is_help=True)
token_app = typer.Typer(
    help="Personal admin API tokens (preferred over the shared PAYBAO_ADMIN_TOKEN).",
    no_args_is_help=True,
)
operator_app.add_typer(token_app, name="token")

# `--username` as in the operators' own words; `--name` kept for the first commands' scripts.
Username = Annotated[str, typer.Option("--username", "--name", help="The operator's name.")]


def register(app: typer.Typer) -> None:
    app.add_typer(operator_app, name="operator")


@contextmanager
def _platform() -> Iterator[Platform]:
    platform = build_platform(load_settings(), migrate=True)
    try:
        yield platform
    finally:
        platform.close()


def _run(work: Callable[[Platform], T]) -> T:
    """Run `work` on a platform; a domain error prints its code and exits 1."""
    try:
        with _platform() as platform:
            return work(platform)
    except DomainError as error:
        typer.echo(f"error: {error.code}: {error.message}", err=True)
        raise typer.Exit(1) from None


def _operator_id(platform: Platform, username: str) -> int:
    return int(platform.services["operators"].by_name(username).id)


def _when(at_us: int | None) -> str:
    return "-" if at_us is None else datetime_from_us(at_us).strftime("%Y-%m-%dT%H:%M:%SZ")


# Operators ----------------------------------------------------------------------------------


@operator_app.command("create")
def operator_create(
    name: Username,
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
    created = _run(lambda platform: platform.services["operators"].create(name, password, role))
    typer.echo(f"operator {created.id} {created.name} role={created.role}")
    typer.echo(f"TOTP secret: {created.totp_secret}")
    typer.echo(f"otpauth URI: {created.provisioning_uri}")


@operator_app.command("set-role")
def operator_set_role(
    name: Username,
    role: Annotated[str, typer.Option(help="viewer | support | finance | admin")],
) -> None:
    """Change an operator's role (audited; the last enabled admin cannot lose the role)."""

    def work(platform: Platform) -> tuple[int, str]:
        operator_id = _operator_id(platform, name)
        return operator_id, platform.services["operators"].set_role(None, operator_id, role)

    operator_id, old_role = _run(work)
    typer.echo(f"operator {operator_id} {name.strip()} role {old_role} -> {role.strip().lower()}")


@operator_app.command("list")
def operator_list() -> None:
    """Every operator: id, name, role, and `disabled` for a disabled one."""
    rows = _run(lambda platform: platform.services["operators"].operators())
    for row in rows:
        state = "\tdisabled" if row.disabled_at_us is not None else ""
        typer.echo(f"{row.id}\t{row.name}\t{row.role}{state}")


@operator_app.command("disable")
def operator_disable(
    name: Username,
    reason: Annotated[str, typer.Option(help="Why, for the audit log.")] = "",
) -> None:
    """Disable an operator (someone left): no sign-in, sessions end at their next request,
    every API token of theirs is revoked. The last enabled admin cannot be disabled."""

    def work(platform: Platform) -> bool:
        operator_id = _operator_id(platform, name)
        changed: bool = platform.services["operators"].disable(None, operator_id, reason[:200])
        return changed

    changed = _run(work)
    typer.echo(f"operator {name.strip()} {'disabled' if changed else 'was already disabled'}")


@operator_app.command("enable")
def operator_enable(name: Username) -> None:
    """Let a disabled operator sign in again (its revoked tokens stay revoked)."""

    def work(platform: Platform) -> bool:
        changed: bool = platform.services["operators"].enable(None, _operator_id(platform, name))
        return changed

    changed = _run(work)
    typer.echo(f"operator {name.strip()} {'enabled' if changed else 'was already enabled'}")


# Tokens -------------------------------------------------------------------------------------


@token_app.command("create")
def token_create(
    username: Annotated[str, typer.Option("--username", help="The operator it acts for.")],
    name: Annotated[str, typer.Option("--name", help="What uses it, e.g. monitoring.")],
    expires_days: Annotated[
        int | None,
        typer.Option(
            min=1, max=TOKEN_EXPIRY_DAYS_MAX, help="Days until it expires (default: never)."
        ),
    ] = None,
) -> None:
    """Mint a token for an operator; it is printed once (only its hash is stored)."""

    def work(platform: Platform) -> NewToken:
        tokens: OperatorTokenService = platform.services["operator_tokens"]
        return tokens.create(None, _operator_id(platform, username), name, expires_days)

    created = _run(work)
    typer.echo(f"token {created.id} {created.name} expires {_when(created.expires_at_us)}")
    typer.echo(created.token)


@token_app.command("list")
def token_list(
    username: Annotated[str, typer.Option("--username", help="The operator.")],
) -> None:
    """id, name, state, created, last used, expires (UTC; '-' for none), newest first."""

    def work(platform: Platform) -> list[TokenInfo]:
        tokens: OperatorTokenService = platform.services["operator_tokens"]
        return tokens.tokens_of(_operator_id(platform, username))

    for token in _run(work):
        times = [token.created_at_us, token.last_used_at_us, token.expires_at_us]
        fields = [str(token.id), token.name, token.state.value, *map(_when, times)]
        typer.echo("\t".join(fields))


@token_app.command("revoke")
def token_revoke(
    username: Annotated[str, typer.Option("--username", help="The operator.")],
    token_id: Annotated[
        int | None, typer.Option("--id", min=1, help="The token's id (token list).")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Or its name (an unrevoked one).")] = "",
) -> None:
    """Revoke one token at once (audited), by id or by name."""
    if (token_id is None) == (not name.strip()):
        typer.echo("error: give --id or --name", err=True)
        raise typer.Exit(2)

    def work(platform: Platform) -> tuple[int, bool]:
        tokens: OperatorTokenService = platform.services["operator_tokens"]
        operator_id = _operator_id(platform, username)
        chosen = token_id if token_id is not None else _unrevoked_named(tokens, operator_id, name)
        return chosen, tokens.revoke(None, operator_id, chosen)

    chosen, revoked = _run(work)
    typer.echo(f"token {chosen} {'revoked' if revoked else 'was already revoked'}")


def _unrevoked_named(tokens: OperatorTokenService, operator_id: int, name: str) -> int:
    for token in tokens.tokens_of(operator_id):
        if token.name == name.strip() and token.state is not TokenState.REVOKED:
            return token.id
    raise TokenNotFound(f"no unrevoked token named {name.strip()}")
