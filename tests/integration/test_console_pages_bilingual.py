"""The console pages that were English-only speak Chinese and English (SQLite, or PostgreSQL by
URL): Yu'e Bao, risk control, disputes and a case, the sandbox clock, billers, coupons and
parking. Each page is read in both languages with rows on it; the Chinese page keeps none of
the English headings, its navigation label included, and a refusal reads in the page's language
(its code kept in `data-code`)."""

from __future__ import annotations

import html as html_text
import re

import pytest
from fastapi.testclient import TestClient
from tests.integration.admin_support import create_operator, csrf_of, sign_in
from tests.integration.risk_support import held_transfer
from tests.integration.test_escrow import PRICE_FEN, Market
from tests.integration.test_fund import china_now, fund_of
from tests.support.pages import visible_text

from paybao.bootstrap import Platform
from paybao.services.billpay_billers import NewBiller
from paybao.services.escrow import Evidence, Party

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


@pytest.fixture
def admin(platform: Platform, client: TestClient) -> TestClient:
    """An operator (the first one: an admin, who sees every form) signed in."""
    _, secret = create_operator(platform)
    assert sign_in(client, secret).status_code == 303  # type: ignore[attr-defined]
    return client


def both(client: TestClient, path: str) -> tuple[str, str]:
    """The page's readable text in Chinese and in English."""
    zh, en = client.get(path, headers=ZH), client.get(path, headers=EN)
    assert zh.status_code == en.status_code == 200, (path, zh.text)
    return visible_text(zh.text), visible_text(en.text)


def nav_label(client: TestClient, path: str, headers: dict[str, str]) -> str:
    html = client.get(path, headers=headers).text
    found = re.search(rf'<a href="{re.escape(path)}"[^>]*>([^<]*)</a>', html)
    assert found, f"no navigation link to {path}"
    return found.group(1)


def assert_words(page: str, words: list[str]) -> None:
    for said in words:
        assert said in page, said


def assert_no_english(page: str, headings: list[str]) -> None:
    for heading in headings:
        assert not re.search(rf"\b{re.escape(heading)}\b", page), heading


def refusal(client: TestClient, page: str, path: str, headers: dict[str, str], **data: str) -> str:
    """A form posted with a mistake: the error paragraph of the page that answers."""
    form = {"csrf_token": csrf_of(client.get(page).text), **data}
    answer = client.post(path, data=form, headers=headers)
    assert answer.status_code >= 400, answer.text
    found = re.search(
        r'<p class="error" role="alert" data-code="([a-z_]+)">([^<]*)</p>', answer.text
    )
    assert found, answer.text
    assert answer.text.count('class="error"') == 1  # said once, by the console's frame
    return f"{found.group(1)}: {found.group(2)}"


# The navigation ----------------------------------------------------------------------------


def test_the_navigation_labels_are_in_the_pages_language(admin: TestClient) -> None:
    labels = {
        "/admin/fund": ("余额宝", "Fund"),
        "/admin/risk": ("风控", "Risk"),
        "/admin/disputes": ("争议", "Disputes"),
        "/admin/clock": ("沙箱时钟", "Clock"),
        "/admin/billers": ("缴费机构", "Billers"),
        "/admin/coupons": ("优惠券", "Coupons"),
    }
    for path, (zh, en) in labels.items():
        assert nav_label(admin, path, ZH) == zh, path
        assert nav_label(admin, path, EN) == en, path


# Yu'e Bao ----------------------------------------------------------------------------------


def test_the_fund_page_with_a_published_rate(platform: Platform, admin: TestClient) -> None:
    fund_of(platform).publish_rate(china_now(platform).date(), 7000, by="ops.alice")
    zh, en = both(admin, "/admin/fund")
    assert "0.7000" in zh and "0.7000" in en and "ops.alice" in zh  # the row, either way
    assert_words(zh, ["余额宝", "持有人数", "已公布的万份收益", "公布人", "七日年化", "节假日"])
    assert_words(en, ["Yu'e Bao", "Holders", "Published income per 10,000 CNY", "Custody account"])
    assert_no_english(
        zh,
        ["Holders", "Confirmed shares", "Published income", "Published", "Day", "By", "Fund"],
    )


# Risk --------------------------------------------------------------------------------------


def test_the_risk_page_with_a_held_transfer_and_a_blacklisted_account(
    platform: Platform, admin: TestClient
) -> None:
    _, payee, movement = held_transfer(platform)
    platform.services["risk"].blacklist_add(payee.phone, "疑似诈骗", None)
    zh, en = both(admin, "/admin/risk")
    assert f"p2p:{movement.id}" in zh and "疑似诈骗" in zh  # the rows
    assert_words(
        zh,
        [
            "风控",
            "待审核的延迟到账转账",
            "收款方",
            "立即到账",
            "退回付款方",
            "最近的风控决策",
            "黑名单",
            "加入黑名单",
            "首次向该收款方付款 new_payee",
            "延迟到账 delay",
        ],
    )
    assert_words(
        en,
        [
            "Held transfers waiting for review",
            "Release now",
            "Recent decisions",
            "New payee new_payee",
            "Blacklist (nobody can pay these accounts)",
            "Held delay",
        ],
    )
    assert_no_english(
        zh,
        [
            "Held transfers",
            "Payee",
            "Reasons",
            "Release now",
            "Recent decisions",
            "Blacklist",
            "Phone",
            "Remove",
            "user",
            "Risk",
        ],
    )
    # A refusal in the page's language, its code kept.
    held = platform.services["risk"].decisions(unreviewed=True, limit=1)[0]
    review = f"/admin/risk/decisions/{held.id}/review"
    said = refusal(admin, "/admin/risk", review, ZH, review="maybe")
    assert said == "invalid_review: 未知的审核操作"
    assert refusal(admin, "/admin/risk", review, EN, review="maybe").endswith(": Unknown review")
    # Reviewed: the review reads as words too.
    csrf = csrf_of(admin.get("/admin/risk").text)
    admin.post(review, data={"csrf_token": csrf, "review": "cancelled"})
    zh, en = both(admin, "/admin/risk")
    assert "已退回付款方 cancelled" in zh and "Returned to the payer cancelled" in en
    assert "没有待审核的转账" in zh and "Nothing is waiting for review" in en


# Disputes, a case and the clock -------------------------------------------------------------


def test_the_disputes_queue_and_a_case_in_both_languages(
    platform: Platform, admin: TestClient
) -> None:
    zh, en = both(admin, "/admin/disputes")
    assert "没有待处理的争议" in zh and "No open disputes" in en
    market = Market(platform)
    no = market.shipped().escrow_no
    market.escrow.request_refund(no, market.buyer, PRICE_FEN, "镜头有划痕")
    market.escrow.refuse_refund(no, Party.seller(market.seller), "发货时完好")
    market.escrow.escalate(no, market.buyer, Evidence("见照片"))

    zh, en = both(admin, "/admin/disputes")
    assert no in zh and "二手自行车" in zh  # the row
    assert_words(zh, ["争议", "交易号", "商品", "申请退款", "发货时间"])
    assert_words(en, ["Disputes", "Title", "Asked back", "Since"])
    assert_no_english(zh, ["Disputes", "No.", "Title", "Amount", "Asked back", "Since"])

    case = f"/admin/disputes/{no}"
    zh, en = both(admin, case)
    assert "见照片" in zh and "卖家拒绝退款：发货时完好" in zh  # the history, in words
    assert "The seller refused the refund: 发货时完好" in en
    assert_words(
        zh,
        [
            f"争议 {no}",
            "平台介入中 DISPUTE",
            "担保金额",
            "留言与凭证",
            "买家",
            "卖家",
            "裁决",
            "全额退款给买家",
            "全部打款给卖家",
            "提交裁决",
        ],
    )
    assert_words(en, [f"Case {no}", "Amount held", "Messages and evidence", "Decide"])
    assert_no_english(
        zh,
        [
            "Case",
            "Title",
            "Status",
            "Amount held",
            "Messages",
            "Decision",
            "Note",
            "Decide",
            "buyer",
            "seller",
            "user",
            "escalated",
            "refund",
        ],
    )
    # A ruling refused in the page's language: more back than is held.
    rule = f"{case}/rule"
    over = {"decision": "part", "amount": "1000.00", "note": "划痕"}
    assert refusal(admin, case, rule, ZH, **over) == (
        "escrow_refund_exceeds_held: 退款金额不能超过担保金额"
    )
    assert refusal(admin, case, rule, EN, **over) == (
        "escrow_refund_exceeds_held: The refund may not exceed what is held"
    )
    csrf = csrf_of(admin.get(case).text)
    admin.post(rule, data={"csrf_token": csrf, "decision": "refund_all", "note": "划痕属实"})
    zh, en = both(admin, case)
    assert_words(zh, ["处理结果 平台裁决全额退款 rule_refund_all", "已退款 100.00"])
    assert_words(en, ["Outcome ruled: refund all rule_refund_all", "refunded 100.00"])


def test_the_sandbox_clock_in_both_languages(admin: TestClient) -> None:
    zh, en = both(admin, "/admin/clock")
    assert_words(zh, ["沙箱时钟", "平台时间", "快进时长", "快进并执行到期的定时任务"])
    assert_words(en, ["Sandbox clock", "Platform time", "Advance and run due timers"])
    assert_no_english(zh, ["Sandbox clock", "Platform time", "Advance", "Clock"])
    csrf = csrf_of(admin.get("/admin/clock").text)
    moved = admin.post(
        "/admin/clock/advance", data={"csrf_token": csrf, "duration": "1h"}, headers=ZH
    )
    assert moved.status_code == 200 and "已快进,执行了" in moved.text
    said = refusal(admin, "/admin/clock", "/admin/clock/advance", ZH, duration="soon")
    assert said.startswith("invalid_duration: 时长格式如")
    said = refusal(admin, "/admin/clock", "/admin/clock/advance", EN, duration="soon")
    assert said.startswith("invalid_duration: Durations look like")


# Billers -----------------------------------------------------------------------------------


def test_the_billers_page_with_a_biller(platform: Platform, admin: TestClient) -> None:
    zh, en = both(admin, "/admin/billers")
    assert "还没有缴费机构" in zh and "No billers yet" in en
    platform.services["billers"].create(NewBiller("hz_water", "杭州水务", "water", "hangzhou"))
    zh, en = both(admin, "/admin/billers")
    assert "hz_water" in zh and "杭州水务" in zh  # the row
    assert_words(
        zh,
        [
            "缴费机构",
            "编码",
            "类别",
            "城市",
            "已收款未结算",
            "水费 water",
            "杭州 hangzhou",
            "启用 active",
            "停用",
            "新增缴费机构",
            "创建",
        ],
    )
    assert_words(
        en,
        [
            "Billers",
            "Received, unsettled",
            "Water water",
            "Hangzhou hangzhou",
            "Active active",
            "Disable",
            "New biller",
        ],
    )
    assert_no_english(
        zh,
        [
            "Billers",
            "Code",
            "Name",
            "Category",
            "City",
            "Merchant",
            "Status",
            "Disable",
            "New biller",
            "Create",
            "City services",
        ],
    )
    taken = {"code": "hz_water", "name": "x", "category": "water", "city": "hangzhou"}
    assert refusal(admin, "/admin/billers", "/admin/billers", ZH, **taken) == (
        "biller_code_taken: 该编码已被使用"
    )
    assert refusal(admin, "/admin/billers", "/admin/billers", EN, **taken) == (
        "biller_code_taken: This biller code is taken"
    )
    csrf = csrf_of(admin.get("/admin/billers").text)
    created = admin.post("/admin/billers", data={"csrf_token": csrf, **taken, "code": "sz_gas"})
    assert created.status_code == 200 and "缴费机构已创建" in created.text
    assert "Biller created" in admin.get("/admin/billers?done=created", headers=EN).text


# Coupons and parking ------------------------------------------------------------------------


def test_the_coupons_and_parking_pages_in_both_languages(admin: TestClient) -> None:
    zh, en = both(admin, "/admin/coupons")
    # "No campaigns", not the cash partners' "No partners" (their keys once collided).
    assert_words(zh, ["优惠券", "新建活动", "还没有活动"])
    assert_words(en, ["Coupons", "New campaign", "No campaigns yet"])
    assert_no_english(zh, ["Coupons", "New campaign"])
    holder = {}
    for lang, headers in (("zh", ZH), ("en", EN)):
        html = admin.get("/admin/parking", headers=headers).text
        found = re.search(r'<p class="muted" id="holder"[^>]*>([^<]*)</p>', html)
        assert found, html
        holder[lang] = html_text.unescape(found.group(1))
    assert holder["zh"].startswith("平台停车服务商户") and " 应用 " in holder["zh"]
    assert "app" not in holder["zh"]
    assert holder["en"].startswith("The platform's") and " app " in holder["en"]


def test_the_browser_tab_names_the_console_in_the_pages_language(admin: TestClient) -> None:
    for headers, brand in ((ZH, "paybao 运营后台"), (EN, "paybao admin")):
        html = admin.get("/admin/fund", headers=headers).text
        title = re.search(r"<title>([^<]*)</title>", html)
        assert title and title.group(1).endswith(f" · {brand}"), title
