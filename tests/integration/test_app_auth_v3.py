"""An ISV on Alipay's v3 protocol (REST) with a merchant's token in the `alipay-app-auth-token`
header (signed as the last line of the string to sign): the pay runs as the merchant's app, as
on the classic gateway (the same hook, adapters/alipay/on_behalf.py); another ISV's use of the
token is refused (401 invalid-app-auth-token) before anything is written. SQLite and
PostgreSQL."""

from __future__ import annotations

from app_auth_support import OTHER_ISV_APP, SHOP_APP, code_for, exchange, make_isv, make_merchant
from fastapi.testclient import TestClient
from gateway_support import count_rows, make_buyer, wallet_balance
from test_alipay_v3 import post, verified

from paybao.bootstrap import Platform
from paybao.services.trades import TradeRef

PAY = "/v3/alipay/trade/pay"


def _biz(platform: Platform, out: str, phone: str) -> dict[str, str]:
    buyer = make_buyer(platform, phone=phone, balance_fen=50_00)
    return {
        "out_trade_no": out,
        "scene": "bar_code",
        "auth_code": platform.services["trades"].issue_auth_code(buyer),
        "subject": "v3 拿铁",
        "total_amount": "8.00",
    }


def test_a_v3_pay_with_a_merchants_token_is_the_merchants(
    platform: Platform, client: TestClient
) -> None:
    isv = make_isv(platform)
    other = make_isv(platform, OTHER_ISV_APP, name="另一家服务商")
    shop = make_merchant(platform)
    answer = exchange(client, isv, code_for(platform, shop.merchant.id, SHOP_APP))
    token = answer["app_auth_token"]

    stolen = _biz(platform, "v3-stolen", "13800000801")
    before = count_rows(platform, "trades"), count_rows(platform, "ledger_transfers")
    refused = post(
        client,
        PAY,
        stolen,
        keys=other.keys,
        app_id=other.app_id,
        token=token,
        headers={"alipay-app-auth-token": token},
    )
    assert refused.status_code == 401, refused.text
    assert verified(platform, refused)["code"] == "invalid-app-auth-token"
    assert (count_rows(platform, "trades"), count_rows(platform, "ledger_transfers")) == before

    biz = _biz(platform, "v3-isv", "13800000802")
    paid = post(
        client,
        PAY,
        biz,
        keys=isv.keys,
        app_id=isv.app_id,
        token=token,
        headers={"alipay-app-auth-token": token},
    )
    assert paid.status_code == 200, paid.text
    assert verified(platform, paid)["total_amount"] == "8.00"
    trade = platform.services["trades"].find(SHOP_APP, TradeRef(out_trade_no="v3-isv"))
    assert trade.merchant_id == shop.merchant.id and trade.buyer_user_id is not None
    assert wallet_balance(platform, trade.buyer_user_id) == 42_00
    for merchant_id, settled_fen in ((shop.merchant.id, 8_00 - 5), (isv.shop.merchant.id, 0)):
        account = platform.services["merchants"].merchant(merchant_id).settlement_account_id
        assert platform.ledger.balance(account).balance_fen == settled_fen
