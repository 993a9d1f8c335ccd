"""`paybao merchant aes-key --app-id ID [--reset] [--bits 256]`: an app's AES key for Alipay's
content encryption (接口内容加密方式, services/app_aes_keys.py), printed as the base64 text the
SDKs take as `encrypt_key`.

Without `--reset` it prints the app's key, making one (128-bit, as Alipay's console does) when the
app has none; `--reset` makes a new one at once (requests encrypted under the old key are refused
from then on). The CLI acts as the platform: a new key is audited with the actor `cli`. Errors
print `error: <code>: <message>` and exit 1.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from paybao.bootstrap import build_platform
from paybao.domain.errors import DomainError
from paybao.settings import load_settings

CLI_ACTOR = "cli"


def register() -> None:
    from paybao.cli_merchant import merchant_app

    merchant_app.command("aes-key")(aes_key)


def aes_key(
    app_id: Annotated[str, typer.Option(help="A merchant app id (16 digits).")],
    reset: Annotated[bool, typer.Option(help="Replace the key with a new one.")] = False,
    bits: Annotated[int, typer.Option(help="Size of a new key: 128 (Alipay's) or 256.")] = 128,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Print the app's AES key (encrypt_key), made now if it has none or with --reset."""
    try:
        platform = build_platform(load_settings(), migrate=True)
        try:
            key = platform.services["app_aes_keys"].set(
                app_id, reset=reset, size_bytes=_size_bytes(bits), actor=CLI_ACTOR
            )
        finally:
            platform.close()
    except DomainError as error:
        typer.echo(f"error: {error.code}: {error.message}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps({"app_id": app_id, "encrypt_type": "AES", "encrypt_key": key}))
        return
    typer.echo(key)


def _size_bytes(bits: int) -> int:
    # 0 for any other size: the service refuses it with invalid_aes_key_size.
    return bits // 8 if bits in (128, 256) else 0
