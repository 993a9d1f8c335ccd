"""The operators' cash-partner pages on the test database: Chinese by default and English by
the language cookie, like the console's other pages; each partner's deposits newest first, a
page at a time; a wire recorded from the partner's page comes back to it; a viewer reads
without the forms; an unknown partner is 404."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.integration.admin_support import (
    OPERATOR_PASSWORD,
    create_operator,
    csrf_of,
    sign_in,
)
from tests.integration.topup_channel_support import partner

from paybao.bootstrap import Platform
from paybao.web.pages_cash_topup_admin import DEPOSITS_PAGE_SIZE


def deposit_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-deposit-id="(\d+)"', html)]


def test_the_partners_page_speaks_chinese_and_english(
    platform: Platform, client: TestClient
) -> None:
    _, secret = create_operator(platform, "ops-admin")
    sign_in(client, secret, name="ops-admin")
    counter = partner(platform, "邮政 西城", prefund_fen=500_00)
    zh = client.get("/admin/cash-partners")
    assert zh.status_code == 200
    for text in ("现金充值合作方", "备付金(元)", "登记合作方", "银行网点", "启用", "登记来款"):
        assert text in zh.text, text
    assert "Register a partner" not in zh.text and "Prefund (CNY)" not in zh.text
    assert f'href="/admin/cash-partners/{counter.partner.id}"' in zh.text
    client.cookies.set("lang", "en")
    en = client.get("/admin/cash-partners")
    for text in ("Cash partners", "Prefund (CNY)", "Register a partner", "Bank branch"):
        assert text in en.text, text
    assert "登记合作方" not in en.text
    made = client.post(
        "/admin/cash-partners",
        data={"csrf_token": csrf_of(en.text), "name": "Lakala 7", "kind": "lakala"},
    )
    assert "Its API key, shown this once" in made.text and 'id="new-key">pbc_' in made.text
    client.cookies.set("lang", "zh")
    disabled = client.post(
        f"/admin/cash-partners/{counter.partner.id}/status",
        data={"csrf_token": csrf_of(zh.text), "status": "disabled"},
    )
    assert "合作方已停用" in disabled.text and "拉卡拉终端" in disabled.text


def test_a_full_last_page_of_deposits_has_no_older_link(
    platform: Platform, client: TestClient
) -> None:
    operator_id, secret = create_operator(platform, "ops-admin")
    sign_in(client, secret, name="ops-admin")
    counter = partner(platform, prefund_fen=0)
    partners = platform.services["cash_partners"]
    for n in range(1, DEPOSITS_PAGE_SIZE + 1):
        partners.deposit(counter.partner.id, 100_00, f"W-{n}", operator_id=operator_id)
    page = client.get(f"/admin/cash-partners/{counter.partner.id}")
    assert len(deposit_ids(page.text)) == DEPOSITS_PAGE_SIZE
    assert 'id="older"' not in page.text  # an older page would be empty


def test_a_partners_deposits_are_listed_newest_first_page_by_page(
    platform: Platform, client: TestClient
) -> None:
    operator_id, secret = create_operator(platform, "ops-admin")
    sign_in(client, secret, name="ops-admin")
    counter = partner(platform, prefund_fen=0)
    partners = platform.services["cash_partners"]
    for n in range(1, DEPOSITS_PAGE_SIZE + 6):
        partners.deposit(counter.partner.id, n * 100_00, f"W-{n}", operator_id=operator_id)
    path = f"/admin/cash-partners/{counter.partner.id}"
    first = client.get(path)
    assert first.status_code == 200 and "来款记录" in first.text
    ids = deposit_ids(first.text)
    assert len(ids) == DEPOSITS_PAGE_SIZE and ids == sorted(ids, reverse=True)
    assert ">W-25<" in first.text and ">W-5<" not in first.text
    older = re.search(r'href="([^"]+)" id="older"', first.text)
    assert older and 'id="newest"' not in first.text
    rest = client.get(older.group(1))
    older_ids = deposit_ids(rest.text)
    assert len(older_ids) == 5 and older_ids == sorted(older_ids, reverse=True)
    assert max(older_ids) < min(ids)
    assert 'id="older"' not in rest.text and 'id="newest"' in rest.text
    assert "32,500.00" in first.text or "32500.00" in first.text  # the prefund: 1+...+25 hundred
    # A wire recorded on the partner's page comes back to it, at the top.
    wired = client.post(
        f"{path}/deposits",
        data={
            "csrf_token": csrf_of(first.text),
            "amount": "10",
            "reference": "W-NEW",
            "back": "partner",
        },
        follow_redirects=False,
    )
    assert (wired.status_code, wired.headers["location"]) == (303, f"{path}?done=deposited")
    again = client.get(wired.headers["location"])
    assert "来款已登记" in again.text
    assert re.search(
        r'class="deposit" data-deposit-id="\d+">\s*<td>[^<]*</td>\s*'
        r'<td class="num">10\.00</td>\s*<td>W-NEW<',
        again.text,
    )
    bad = client.post(
        f"{path}/deposits",
        data={
            "csrf_token": csrf_of(first.text),
            "amount": "x",
            "reference": "W-X",
            "back": "partner",
        },
    )
    assert bad.status_code == 400 and 'id="deposits"' in bad.text and 'role="alert"' in bad.text
    assert client.get("/admin/cash-partners/999").status_code == 404
    garbage = client.get(f"{path}?before=abc")  # not a cursor: the first page
    assert deposit_ids(garbage.text) == deposit_ids(again.text)


def test_a_viewer_reads_a_partners_deposits_without_the_form(
    platform: Platform, client: TestClient
) -> None:
    create_operator(platform, "ops-admin")
    secret = platform.services["operators"].create("ops-viewer", OPERATOR_PASSWORD, "viewer")
    sign_in(client, secret.totp_secret, name="ops-viewer")
    counter = partner(platform)
    page = client.get(f"/admin/cash-partners/{counter.partner.id}")
    assert page.status_code == 200 and 'id="deposits"' in page.text
    assert 'id="deposit-form"' not in page.text and 'data-role="viewer"' in page.text
    listing = client.get("/admin/cash-partners")
    assert "deposit-form" not in listing.text and 'id="register-partner"' not in listing.text
