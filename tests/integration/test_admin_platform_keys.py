"""The console's health page shows the platform key generations (state, created, apps on each)
and each app with the generation that signs its answers, read-only (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from tests.integration.admin_support import create_operator, sign_in
from tests.integration.gateway_support import APP_ID, make_shop
from tests.integration.platform_key_support import new_generation

from paybao.bootstrap import Platform

MOVED_APP_ID = "2021000000000099"
NEW_APP_ID = "2021000000000098"


@pytest.fixture
def admin(platform: Platform, client: TestClient) -> TestClient:
    _, secret = create_operator(platform)
    assert sign_in(client, secret).status_code == 303  # type: ignore[attr-defined]
    return client


def _rows(page: str, css_class: str) -> dict[str, str]:
    """data-* attributes of each row of a class, by its first data attribute's value."""
    found: dict[str, str] = {}
    for row in re.findall(rf'<tr class="{css_class}"([^>]*)>', page):
        attrs = dict(re.findall(r'data-([\w-]+)="([^"]*)"', row))
        key = next(iter(attrs.values()))
        found[key] = " ".join(f"{k}={v}" for k, v in attrs.items())
    return found


def test_health_lists_generations_and_the_generation_of_each_app(
    platform: Platform, admin: TestClient
) -> None:
    make_shop(platform)  # on generation 1
    make_shop(platform, app_id=MOVED_APP_ID)
    keys = platform.services["platform_keys"]
    new_generation(platform)
    keys.switch(MOVED_APP_ID, 2, actor="cli")
    make_shop(platform, app_id=NEW_APP_ID)  # made after generation 2: gets it
    new_generation(platform)
    new_generation(platform)  # 4: the newest may not be retired
    keys.retire(3, actor="cli")  # no app on it

    page = admin.get("/admin/health")

    assert page.status_code == 200
    assert 'id="health-platform-keys"' in page.text
    assert _rows(page.text, "key-generation") == {
        "1": "generation=1 state=active apps=1",
        "2": "generation=2 state=active apps=2",
        "3": "generation=3 state=retired apps=0",
        "4": "generation=4 state=active apps=0",
    }
    apps = _rows(page.text, "key-app")
    assert apps[APP_ID] == f"app={APP_ID} generation=1"
    assert apps[MOVED_APP_ID] == f"app={MOVED_APP_ID} generation=2"
    assert apps[NEW_APP_ID] == f"app={NEW_APP_ID} generation=2"
    # Oldest generation first: the apps still to move lead the list.
    assert page.text.index(f'data-app="{APP_ID}"') < page.text.index(f'data-app="{NEW_APP_ID}"')
    assert "平台密钥版本" in page.text and "已停用" in page.text
    assert "<form" not in page.text.split('id="health-platform-keys"')[1]  # read-only
    admin.headers["Accept-Language"] = "en"
    english = admin.get("/admin/health").text
    assert "Platform key generations" in english and "Retired" in english


def test_a_fresh_installation_shows_generation_one(admin: TestClient) -> None:
    page = admin.get("/admin/health").text

    assert _rows(page, "key-generation") == {"1": "generation=1 state=active apps=0"}
    assert 'class="key-app"' not in page
