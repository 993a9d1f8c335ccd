"""Alipay's content encryption (接口内容加密): apps' AES keys and the gateway's use of them.

Needs the gateway (wiring/gateway.py) and operations (the audit trail) installed first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.app_aes_vault import AppAesKeyVault
from paybao.adapters.db.app_aes_key_store import SqlAppAesKeyStore
from paybao.services.app_aes_keys import AppAesKeyService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    services = platform.services
    keys = AppAesKeyService(
        platform.db,
        SqlAppAesKeyStore(),
        AppAesKeyVault.in_folder(platform.settings.data_dir),
        platform.clock,
        services["audit"],
    )
    services["alipay_gateway"].content_keys = keys
    services["app_aes_keys"] = keys
