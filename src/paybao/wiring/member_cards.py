"""Merchant membership cards (会员卡) wiring: the service, and alipay.marketing.card.* on the
gateway.

Needs the wallet (`users`), the gateway (`merchants`, `alipay_methods`) and user OAuth
(`user_oauth`: a merchant opens a card only for a user who authorised its app) installed
first. The service lands in `platform.services["member_cards"]`, the dynamic write-off codes'
in `platform.services["member_card_codes"]`; the pages are web/pages_member_cards.py and
web/pages_member_card_portal.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from paybao.adapters.alipay.member_card_methods import MemberCardMethods
from paybao.adapters.db.member_card_code_store import SqlCardCodeStore
from paybao.adapters.db.member_card_store import SqlMemberCardStore
from paybao.adapters.db.user_oauth_store import SqlUserOAuthStore
from paybao.services.member_card_codes import MemberCardCodes
from paybao.services.member_cards import MemberCardService
from paybao.services.ports import Database
from paybao.services.user_oauth import ACTIVE

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


@dataclass(frozen=True)
class OAuthGrants:
    """A user authorised an app when they hold a live OAuth grant of it (any scope)."""

    db: Database
    store: SqlUserOAuthStore

    def authorized(self, user_id: int, app_id: str) -> bool:
        with self.db.read() as tx:
            grant = self.store.grant(tx, user_id, app_id)
        return grant is not None and grant.status == ACTIVE


def install(platform: Platform) -> None:
    services = platform.services
    store = SqlMemberCardStore(platform.db.dialect)
    cards = MemberCardService(
        db=platform.db,
        store=store,
        clock=platform.clock,
        users=services["users"],
        merchants=services["merchants"],
        grants=OAuthGrants(platform.db, SqlUserOAuthStore(platform.db.dialect)),
    )
    codes = MemberCardCodes(platform.db, store, SqlCardCodeStore(), platform.clock)
    methods = services.get("alipay_methods")
    if methods is not None:
        MemberCardMethods(
            cards, services.get("user_oauth"), platform.settings.base_url, codes
        ).install(methods)
    services["member_cards"] = cards
    services["member_card_codes"] = codes
