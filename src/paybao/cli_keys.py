"""`paybao keys new|show|list|switch|retire`: the platform's RSA key generations.

Rotation with an overlap (services/platform_keys.py): `new` adds a generation that new apps
get while existing apps stay on theirs; each app moves when its merchant is ready (portal keys
page) or an operator runs `switch`; `retire` stops a generation no app uses. The CLI acts as
the platform: changes are audited with the actor `cli`. Errors print `error: <code>: <message>`
and exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer

from paybao.bootstrap import Platform, build_platform
from paybao.domain.errors import DomainError
from paybao.domain.platform_keys import GENERATION_MAX, KeyGeneration
from paybao.services.clock import datetime_from_us
from paybao.services.platform_keys import PlatformKeyService
from paybao.settings import load_settings

T = TypeVar("T")
CLI_ACTOR = "cli"

keys_app = typer.Typer(
    help="The platform's RSA key pairs (generations; each app is signed with one).",
    no_args_is_help=True,
)
Generation = Annotated[int, typer.Option(min=1, max=GENERATION_MAX, help="A key generation.")]
AppId = Annotated[str, typer.Option(help="A merchant app id (16 digits).")]
Json = Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")]


@contextmanager
def _platform() -> Iterator[Platform]:
    platform = build_platform(load_settings(), migrate=True)
    try:
        yield platform
    finally:
        platform.close()


def _run(work: Callable[[PlatformKeyService, Platform], T]) -> T:
    """Run `work` on the key service; a domain error prints its code and exits 1."""
    try:
        with _platform() as platform:
            return work(platform.services["platform_keys"], platform)
    except DomainError as error:
        typer.echo(f"error: {error.code}: {error.message}", err=True)
        raise typer.Exit(1) from None


def _created(key: KeyGeneration) -> str:
    if not key.created_at_us:
        return "-"
    return datetime_from_us(key.created_at_us).strftime("%Y-%m-%dT%H:%M:%SZ")


@keys_app.command("new")
def new(as_json: Json = False) -> None:
    """Create the next generation and print its public key. New apps get it; existing apps
    stay on theirs until they switch."""

    def work(keys: PlatformKeyService, _platform: Platform) -> tuple[KeyGeneration, str]:
        key = keys.create(actor=CLI_ACTOR)
        return key, keys.public_pem(key.generation)

    key, public_pem = _run(work)
    if as_json:
        typer.echo(json.dumps({"generation": key.generation, "public_key": public_pem}))
        return
    typer.echo(f"platform key generation {key.generation} created (new apps get it;")
    typer.echo("existing apps stay on theirs: `paybao keys switch` or the merchant portal)")
    typer.echo(public_pem, nl=False)


@keys_app.command("show")
def show(
    generation: Annotated[
        int | None,
        typer.Option(min=1, max=GENERATION_MAX, help="This generation's key (default: newest)."),
    ] = None,
    app_id: Annotated[str | None, typer.Option(help="The key this app verifies with.")] = None,
) -> None:
    """Print a platform public key (SPKI PEM) that merchants configure as alipay_public_key:
    the newest generation's (what new apps get), a given generation's, or an app's."""
    if generation is not None and app_id is not None:
        typer.echo("error: invalid_input: give --generation or --app-id, not both", err=True)
        raise typer.Exit(1)

    def work(keys: PlatformKeyService, platform: Platform) -> str:
        if app_id is not None:
            return keys.keys_of(platform.services["merchants"].app(app_id)).public_pem
        return keys.public_pem(generation if generation is not None else keys.newest())

    typer.echo(_run(work), nl=False)


@keys_app.command("list")
def list_generations(as_json: Json = False) -> None:
    """Every generation: its state and how many apps it signs for."""
    found = _run(lambda keys, _platform: keys.generations())
    if as_json:
        typer.echo(json.dumps({"generations": [key.to_json() for key in found]}))
        return
    typer.echo(f"{'generation':>10}  {'state':<8}  {'apps':>6}  created")
    for key in found:
        line = f"{key.generation:>10}  {key.state:<8}  {key.apps:>6}  {_created(key)}"
        typer.echo(line)


@keys_app.command("switch")
def switch(app_id: AppId, generation: Generation) -> None:
    """Sign an app's answers and notifications with another (active) generation from now on.
    Its merchant must verify with that generation's public key (`keys show --app-id`)."""

    def work(keys: PlatformKeyService, platform: Platform) -> tuple[int, int]:
        before = platform.services["merchants"].app(app_id).platform_key_generation
        after = keys.switch(app_id, generation, actor=CLI_ACTOR).platform_key_generation
        return before, after

    before, after = _run(work)
    typer.echo(f"app {app_id}: platform key generation {before} -> {after}")


@keys_app.command("retire")
def retire(
    generation: Annotated[int, typer.Argument(min=1, max=GENERATION_MAX, help="The generation.")],
) -> None:
    """Never sign with a generation again (refused while an app uses it, and for the newest).
    Its files stay in the data folder, so backups and restores stay whole."""
    key = _run(lambda keys, _platform: keys.retire(generation, actor=CLI_ACTOR))
    typer.echo(f"platform key generation {key.generation} retired")
