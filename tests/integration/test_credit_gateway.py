"""A trade paid with Huabei names Alipay's PCREDIT channel (花呗) in fund_bill_list: snake case
in the JSON answers of query (and refund_detail_item_list of refund / refund query), camelCase in
the notification's JSON string; a gateway refund of it goes back to the credit line, and so does
a refund from the merchant portal, which says so."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.integration.credit_support import credit_buyer, pay_with_credit, reconcile_clean
from tests.integration.gateway_support import call, wallet_balance
from tests.integration.merchant_portal_support import portal_shop, post_form, sign_in
from tests.integration.test_fund_bills import notification_forms, refund_query

from paybao.bootstrap import Platform
from paybao.domain.trades import Funding

PCREDIT = "PCREDIT"


def test_a_huabei_payment_names_pcredit_in_answers_and_notifications(
    platform: Platform, client: TestClient
) -> None:
    user_id = credit_buyer(platform, balance_fen=5_00)
    trade = pay_with_credit(platform, user_id, "G-1", 66_60)
    assert trade.funding is Funding.CREDIT
    query = call(client, "alipay.trade.query", {"out_trade_no": "G-1"})
    assert (query["trade_status"], query["total_amount"]) == ("TRADE_SUCCESS", "66.60")
    assert query["fund_bill_list"] == [{"fund_channel": PCREDIT, "amount": "66.60"}]
    fields = platform.services["alipay_methods"]._paid_fields(trade)  # the pay answer's
    assert fields["fund_bill_list"] == [{"fund_channel": PCREDIT, "amount": "66.60"}]

    refund = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "G-1", "refund_amount": "6.60", "out_request_no": "r1"},
    )
    assert refund["refund_detail_item_list"] == [{"fund_channel": PCREDIT, "amount": "6.60"}]
    assert refund_query(client, trade.trade_no, "r1")["refund_detail_item_list"] == [
        {"fund_channel": PCREDIT, "amount": "6.60"}
    ]
    line = platform.services["credit"].line(user_id)
    assert (line.open_fen, line.outstanding_fen) == (60_00, 60_00)  # back to the line
    assert wallet_balance(platform, user_id) == 5_00  # not to the balance
    forms = notification_forms(platform)
    assert [(form["trade_status"], form.get("refund_fee")) for form in forms] == [
        ("TRADE_SUCCESS", None),
        ("TRADE_SUCCESS", "6.60"),
    ]
    for form in forms:  # a JSON string with camelCase keys, as Alipay sends it (§3)
        assert form["fund_bill_list"] == '[{"amount":"66.60","fundChannel":"PCREDIT"}]'
    assert reconcile_clean(platform) == []


def test_a_portal_refund_of_a_huabei_trade_goes_back_to_the_line_and_says_so(
    platform: Platform, client: TestClient
) -> None:
    shop = portal_shop(platform)
    user_id = credit_buyer(platform)
    trade = pay_with_credit(platform, user_id, "P-1", 20_00)
    assert sign_in(client, shop.merchant.id).status_code == 303
    client.headers["Accept-Language"] = "en"
    path = f"/merchant/trades/{trade.trade_no}"
    assert 'data-funding="credit"' in client.get(path).text
    done = post_form(client, path, f"{path}/refund", {"amount": "5.00"})
    assert done.status_code == 303, done.text
    page = client.get(done.headers["location"]).text
    assert '<td class="route" data-route="credit">Huabei (credit)</td>' in page
    assert platform.services["credit"].line(user_id).open_fen == 15_00
    assert reconcile_clean(platform) == []
