"""The demo merchant for `paybao demo`: a fixed app id, its keys written to the data folder.

Idempotent: a second run finds the app and reuses the key files it wrote the first time.
"""

from __future__ import annotations

from collections.abc import Iterator

from paybao.bootstrap import Platform
from paybao.wiring.demo_apps import demo_app

DEMO_APP_ID = "2021000000000001"
KEY_STEM = "demo_app"  # the key files: demo_app_private.pem, demo_app_public.pem


def seed_demo_merchant(platform: Platform) -> Iterator[str]:
    made = demo_app(platform, "演示商户 Demo Shop", DEMO_APP_ID, KEY_STEM)
    merchant, private_path = made.merchant, made.private_key_path
    yield f"demo merchant {merchant.id}: app_id {DEMO_APP_ID}"
    yield f"  app private key (PKCS#1): {private_path}"
    platform_public = platform.services["platform_keys"].keys_of(made.app).public_pem
    yield f"  platform public key: {platform_public.strip()}"
