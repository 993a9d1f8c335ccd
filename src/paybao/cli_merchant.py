"""`paybao merchant ...`: merchant onboarding from the command line (and the registration of
`paybao keys ...`, in cli_keys.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from paybao.adapters.alipay.keys import generate_key_pair
from paybao.bootstrap import build_platform
from paybao.cli_keys import keys_app
from paybao.services.merchants import NewMerchant
from paybao.settings import load_settings

merchant_app = typer.Typer(help="Merchants and their open-API apps.", no_args_is_help=True)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(merchant_app, name="merchant")
    app.add_typer(keys_app, name="keys")

    @bench_app.command("gateway")
    def bench_gateway(
        database_url: Annotated[str, typer.Option(help="PostgreSQL (or SQLite) URL")] = "",
        seconds: Annotated[float, typer.Option(min=1, max=3600)] = 10.0,
        workers: Annotated[int, typer.Option(min=1, max=32)] = 2,
        connections: Annotated[int, typer.Option(min=1, max=512)] = 32,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Drive alipay.trade.pay (pre-signed) against `paybao serve`; payments/s, p50/p99."""
        from paybao.bench_gateway import format_table, run_benchmark

        url = database_url or load_settings().resolved_database_url()
        result = run_benchmark(url, seconds=seconds, workers=workers, connections=connections)
        typer.echo(json.dumps(result) if as_json else format_table(result))


@merchant_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="The merchant's display name")],
    notify_url: Annotated[str, typer.Option(help="Default notify_url for its trades")] = "",
    app_public_key: Annotated[
        Path | None, typer.Option(help="PEM file of the app's RSA public key")
    ] = None,
    fee_rate_ppm: Annotated[int, typer.Option(min=0, max=100_000)] = 6000,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Onboard a merchant with one app. Without --app-public-key a key pair is generated and
    its private key (PKCS#1 PEM) printed once: it is not stored anywhere."""
    platform = build_platform(load_settings())
    try:
        generated = None
        if app_public_key is not None:
            public_text = app_public_key.read_text()
        else:
            generated = generate_key_pair()
            public_text = generated.public_pem_spki
        new = NewMerchant(name=name, notify_url=notify_url or None, fee_rate_ppm=fee_rate_ppm)
        merchant, app = platform.services["merchants"].create(new, public_text)
        # The key of the app's generation: the newest, which new apps get.
        platform_public = platform.services["platform_keys"].keys_of(app).public_pem
    finally:
        platform.close()
    result: dict[str, object] = {
        "merchant_id": merchant.id,
        "app_id": app.app_id,
        "platform_public_key": platform_public,
    }
    if generated is not None:
        result["app_private_key"] = generated.private_pem_pkcs1
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"merchant {merchant.id} ({name}), app_id {app.app_id}")
    typer.echo("platform public key (configure as alipay_public_key):")
    typer.echo(platform_public)
    if generated is not None:
        typer.echo("app private key (shown once, keep it secret):")
        typer.echo(generated.private_pem_pkcs1)


@merchant_app.command("set-password")
def set_password(
    merchant_id: Annotated[int, typer.Option(min=1, help="The merchant's id")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="PAYBAO_MERCHANT_PASSWORD",
            help="Portal password (8+ characters, letters and digits); prompted if omitted",
        ),
    ],
) -> None:
    """Set the merchant's portal (/merchant) sign-in password; it signs in with its id."""
    platform = build_platform(load_settings())
    try:
        platform.services["merchant_accounts"].set_password(merchant_id, password)
    finally:
        platform.close()
    typer.echo(f"merchant {merchant_id}: portal password set")
