"""The demo merchant for `paybao demo`: a fixed app id, its keys written to the data folder.

Idempotent: a second run finds the app and reuses the key files it wrote the first time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from paybao.adapters.alipay.keys import generate_key_pair
from paybao.bootstrap import Platform
from paybao.services.merchants import NewMerchant

DEMO_APP_ID = "2021000000000001"
PRIVATE_FILE = "demo_app_private_key.pem"
PUBLIC_FILE = "demo_app_public_key.pem"


def seed_demo_merchant(platform: Platform) -> Iterator[str]:
    folder = Path(platform.settings.data_dir)
    private_path, public_path = folder / PRIVATE_FILE, folder / PUBLIC_FILE
    if not private_path.exists():
        pair = generate_key_pair()
        folder.mkdir(parents=True, exist_ok=True)
        private_path.write_text(pair.private_pem_pkcs1)
        private_path.chmod(0o600)
        public_path.write_text(pair.public_pem_spki)
    merchants = platform.services["merchants"]
    new = NewMerchant(name="演示商户 Demo Shop", app_id=DEMO_APP_ID)
    merchant, app = merchants.create(new, public_path.read_text())
    if app.public_key.strip() != public_path.read_text().strip():
        merchants.replace_app_key(DEMO_APP_ID, public_path.read_text())
    yield f"demo merchant {merchant.id}: app_id {DEMO_APP_ID}"
    yield f"  app private key (PKCS#1): {private_path}"
    yield f"  platform public key: {platform.services['platform_key'].public_pem.strip()}"
