"""The admin REST API's paged lists of users, cash partners and the blacklist (SQLite, or
PostgreSQL by URL): walked page by page with `before` / `next_before`, every row comes once, in
order (highest id first), the last page says so (null), a row added mid-walk never repeats one,
and a bad cursor or a page size out of bounds is refused as every admin page refuses it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.integration.api_admin_support import error_code, token_operator
from tests.integration.risk_support import funded_user

from paybao.adapters.db.tables.wallet import users
from paybao.bootstrap import Platform
from paybao.domain.cards import mask_card_number
from paybao.web.deps import ROW_ID_MAX

USERS = "/api/v1/admin/users"
PARTNERS = "/api/v1/admin/cash-partners"
BLACKLIST = "/api/v1/admin/risk/blacklist"
PREFIX = "1390077"
PAGES_MAX = 50  # a walk longer than this is a cursor that never ends

# path -> (the list's key, its rows' id, the largest page, the default page)
LISTS = {
    USERS: ("users", "user_id", 50, 50),
    PARTNERS: ("partners", "partner_id", 50, 50),
    BLACKLIST: ("entries", "user_id", 200, 50),
}


def started_users(platform: Platform, count: int, first: int = 0) -> list[int]:
    """Users past the first registration step only: a phone, no name, no card."""
    registration = platform.services["registration"]
    return [registration.start(f"{PREFIX}{n:04d}", "abc12345") for n in range(first, first + count)]


def walk(
    client: TestClient, path: str, headers: dict[str, str], limit: int, **params: Any
) -> list[list[dict[str, Any]]]:
    """Every page of a list, following `next_before` until it is null."""
    key = LISTS[path][0]
    pages: list[list[dict[str, Any]]] = []
    before = None
    while len(pages) < PAGES_MAX:
        query = {**params, "limit": limit, **({} if before is None else {"before": before})}
        answer = client.get(path, params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append(body[key])
        before = body["next_before"]
        if before is None:
            return pages
        assert before == body[key][-1][LISTS[path][1]]  # the cursor is the page's last id
    raise AssertionError(f"{path}: no last page after {PAGES_MAX} pages")


def ids(pages: list[list[dict[str, Any]]], field: str) -> list[list[int]]:
    return [[row[field] for row in page] for page in pages]


def test_users_walked_page_by_page_come_once_each_newest_first(
    platform: Platform, client: TestClient
) -> None:
    carded = funded_user(platform, f"{PREFIX}9999", "王小明")
    made = [*started_users(platform, 6), carded.user_id]
    viewer = token_operator(platform, "viewer")
    newest_first = sorted(made, reverse=True)

    pages = walk(client, USERS, viewer.headers, 3, q=PREFIX)

    assert ids(pages, "user_id") == [newest_first[0:3], newest_first[3:6], newest_first[6:]]
    rows = [row for page in pages for row in page]
    assert {r["user_id"]: r["cards_masked"] != [] for r in rows} == {
        user_id: user_id == carded.user_id for user_id in made
    }
    (card,) = [r["cards_masked"] for r in rows if r["user_id"] == carded.user_id]
    assert card[0] == mask_card_number(_card_number(platform, carded.user_id))
    # A full last page is the last: the cursor is null, not a page that comes back empty.
    (whole,) = walk(client, USERS, viewer.headers, len(made), q=PREFIX)
    assert [r["user_id"] for r in whole] == newest_first
    # No `q`: every user of the platform, as the table holds them.
    everyone = [r["user_id"] for page in walk(client, USERS, viewer.headers, 4) for r in page]
    with platform.engine.connect() as connection:
        in_table = list(connection.execute(select(users.c.id).order_by(users.c.id.desc())))
    assert everyone == [row.id for row in in_table]


def test_a_user_registering_mid_walk_repeats_and_skips_nobody(
    platform: Platform, client: TestClient
) -> None:
    made = started_users(platform, 5)
    viewer = token_operator(platform, "viewer")
    first = client.get(USERS, params={"q": PREFIX, "limit": 2}, headers=viewer.headers).json()

    (late,) = started_users(platform, 1, first=5)
    rest = client.get(
        USERS,
        params={"q": PREFIX, "limit": 10, "before": first["next_before"]},
        headers=viewer.headers,
    ).json()

    walked = [r["user_id"] for r in first["users"] + rest["users"]]
    assert walked == sorted(made, reverse=True)  # the late one is newer than the cursor
    assert late not in walked and rest["next_before"] is None


def test_cash_partners_walked_page_by_page_come_once_each_newest_first(
    platform: Platform, client: TestClient
) -> None:
    service = platform.services["cash_partners"]
    made = [service.register(f"网点 {n}", "post_office").partner.id for n in range(5)]
    viewer = token_operator(platform, "viewer")
    newest_first = sorted(made, reverse=True)

    pages = walk(client, PARTNERS, viewer.headers, 2)

    assert ids(pages, "partner_id") == [newest_first[0:2], newest_first[2:4], newest_first[4:]]
    rows = [row for page in pages for row in page]
    assert [(r["name"], r["prefund_fen"]) for r in rows] == [
        (f"网点 {n}", 0) for n in reversed(range(5))
    ]
    (whole,) = walk(client, PARTNERS, viewer.headers, 5)
    assert [r["partner_id"] for r in whole] == newest_first


def test_the_blacklist_walked_page_by_page_comes_by_user_id_once_each(
    platform: Platform, client: TestClient
) -> None:
    made = started_users(platform, 5)
    support = token_operator(platform, "support")
    risk = platform.services["risk"]
    # Listed in another order than their ids: the pages follow the ids, not the listing.
    for n in (2, 0, 4, 1, 3):
        risk.blacklist_add(f"{PREFIX}{n:04d}", f"通报 {n}", support.operator_id)
    by_id = sorted(made, reverse=True)

    pages = walk(client, BLACKLIST, support.headers, 2)

    assert ids(pages, "user_id") == [by_id[0:2], by_id[2:4], by_id[4:]]
    rows = [row for page in pages for row in page]
    assert [r["reason"] for r in rows] == [f"通报 {n}" for n in (4, 3, 2, 1, 0)]
    assert all(r["phone_masked"].startswith("139****") for r in rows)
    (whole,) = walk(client, BLACKLIST, support.headers, 5)
    assert [r["user_id"] for r in whole] == by_id


@pytest.mark.parametrize("path", list(LISTS))
def test_a_bad_cursor_or_page_size_is_refused_and_past_the_end_is_empty(
    platform: Platform, client: TestClient, path: str
) -> None:
    key, _, largest, default = LISTS[path]
    viewer = token_operator(platform, "viewer")

    for before in ("0", "-3", "abc", "1.5", str(ROW_ID_MAX + 1)):
        bad = client.get(path, params={"before": before}, headers=viewer.headers)
        assert (bad.status_code, error_code(bad)) == (422, "invalid_request"), before
    for limit in ("0", str(largest + 1), "x"):
        bad = client.get(path, params={"limit": limit}, headers=viewer.headers)
        assert (bad.status_code, error_code(bad)) == (422, "invalid_request"), limit
    largest_page = client.get(path, params={"limit": largest}, headers=viewer.headers)
    assert largest_page.status_code == 200, largest_page.text
    past_the_end = client.get(path, params={"before": 1}, headers=viewer.headers)
    assert past_the_end.json() == {key: [], "next_before": None}
    documented = client.get("/openapi.json").json()["paths"][path]["get"]["parameters"]
    (limit,) = [p["schema"] for p in documented if p["name"] == "limit"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, largest, default)
    assert "before" in {p["name"] for p in documented}


def _card_number(platform: Platform, user_id: int) -> str:
    with platform.db.read() as tx:
        (card,) = platform.services["wallet"].cards.of_user(tx, user_id)
    return str(card.card_number)
