"""A demo merchant with a fixed app id for `paybao demo`, its key pair in the data folder.

Idempotent: a second run finds the merchant and reuses the key files the first run wrote (and
puts the file's public key back on the app if it was replaced meanwhile). The private key is
what a developer points an Alipay SDK at.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paybao.adapters.alipay.keys import generate_key_pair
from paybao.services.merchants import NewMerchant

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


@dataclass(frozen=True, slots=True)
class DemoApp:
    merchant: Any
    app: Any
    private_key_path: Path


def demo_app(platform: Platform, name: str, app_id: str, key_stem: str) -> DemoApp:
    """The merchant `name` with app `app_id`; its keys in `<data_dir>/<key_stem>_{private,
    public}.pem` (PKCS#1 private, SPKI public)."""
    folder = Path(platform.settings.data_dir)
    private_path = folder / f"{key_stem}_private.pem"
    public_path = folder / f"{key_stem}_public.pem"
    if not private_path.exists():
        pair = generate_key_pair()
        folder.mkdir(parents=True, exist_ok=True)
        private_path.write_text(pair.private_pem_pkcs1)
        private_path.chmod(0o600)
        public_path.write_text(pair.public_pem_spki)
    merchants = platform.services["merchants"]
    public_pem = public_path.read_text()
    merchant, app = merchants.create(NewMerchant(name=name, app_id=app_id), public_pem)
    if app.public_key.strip() != public_pem.strip():
        merchants.replace_app_key(app_id, public_pem)
    return DemoApp(merchant, app, private_path)
