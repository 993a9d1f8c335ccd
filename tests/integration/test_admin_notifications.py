"""The admin console's merchant notifications: the list of every merchant's notifications
(filtered by delivery status and merchant, paged), one notification with its attempts and
who resent it, and the resend button (finance and admin), on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.integration.admin_support import csrf_of
from tests.integration.gateway_support import make_buyer, make_shop
from tests.integration.merchant_portal_support import paid_trade
from tests.integration.operator_access_support import DEAD_URL
from tests.integration.test_operator_roles import audit_rows, signed_in_as

from paybao.bootstrap import Platform
from paybao.domain.operator_roles import Role

OTHER_APP_ID = "2021000000000888"


def two_merchants_notifications(platform: Platform) -> tuple[str, str]:
    """One undelivered notification (its endpoint is dead) and one of another merchant."""
    shop = make_shop(platform, notify_url=DEAD_URL)
    other = make_shop(platform, notify_url=DEAD_URL, app_id=OTHER_APP_ID)
    buyer = make_buyer(platform)
    paid_trade(platform, shop, buyer, "ADM-1", notify_url=DEAD_URL)
    paid_trade(platform, other, buyer, "ADM-2", notify_url=DEAD_URL)
    platform.jobs.run_due()
    mine = platform.services["notify"].notifications_of(shop.merchant.id)[0]
    theirs = platform.services["notify"].notifications_of(other.merchant.id)[0]
    return mine.notify_id, theirs.notify_id


def test_finance_resends_any_merchants_notification_from_its_page(
    platform: Platform, client: TestClient
) -> None:
    mine, theirs = two_merchants_notifications(platform)
    _, finance_id = signed_in_as(platform, client, Role.FINANCE)
    listing = client.get("/admin/notifications")
    assert listing.status_code == 200
    assert f'data-notify-id="{mine}" data-status="pending"' in listing.text
    assert f'data-notify-id="{theirs}"' in listing.text
    assert listing.text.count('class="inline resend-form"') == 2
    page = client.get(f"/admin/notifications/{mine}")
    assert page.text.count('class="attempt" data-outcome="error"') == 1
    assert '<td title="error">连接失败</td>' in page.text  # words, the code as the title

    response = client.post(
        f"/admin/notifications/{mine}/resend",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/notifications/{mine}?done=resent"
    resent = audit_rows(platform)[-1]
    assert (resent.operator_id, resent.action, resent.subject, resent.outcome) == (
        finance_id,
        "notify.resend",
        f"notify:{mine}",
        "ok",
    )
    merchant_id = platform.services["notify"].notification(mine).merchant_id
    assert resent.detail == f"merchant {merchant_id} pay, was pending after 1 attempts"
    platform.jobs.run_due()  # the resend is due now: a second attempt
    page = client.get(response.headers["location"])
    assert page.text.count('class="attempt" data-outcome="error"') == 2
    assert 'role="status"' in page.text
    assert 'data-action="notify.resend"' in page.text  # who resent it, on the page


def test_the_list_filters_by_status_and_merchant_and_pages(
    platform: Platform, client: TestClient
) -> None:
    mine, theirs = two_merchants_notifications(platform)
    merchant_id = platform.services["notify"].notification(mine).merchant_id
    signed_in_as(platform, client, Role.VIEWER)
    by_merchant = client.get(f"/admin/notifications?merchant={merchant_id}").text
    assert mine in by_merchant and theirs not in by_merchant
    assert mine not in client.get("/admin/notifications?status=delivered").text
    assert 'id="no-notifications"' in client.get("/admin/notifications?status=failed").text
    # Nonsense filters are ignored, not errors.
    assert client.get("/admin/notifications?status=x&merchant=-1&before=y").status_code == 200
    assert client.get("/admin/notifications/0000").status_code == 404


def test_viewer_and_support_see_no_resend_button(platform: Platform, client: TestClient) -> None:
    mine, _ = two_merchants_notifications(platform)
    for role, name in ((Role.VIEWER, "ops.viewer"), (Role.SUPPORT, "ops.support")):
        viewer = TestClient(client.app)
        signed_in_as(platform, viewer, role, name=name)
        assert "resend-form" not in viewer.get("/admin/notifications").text
        assert 'id="resend-form"' not in viewer.get(f"/admin/notifications/{mine}").text


def test_the_merchants_own_resend_is_audited_as_the_merchant(platform: Platform) -> None:
    mine, _ = two_merchants_notifications(platform)
    notification = platform.services["notify"].notification(mine)
    assert platform.services["notify"].resend(notification.merchant_id, mine) is True
    row = audit_rows(platform)[-1]
    assert (row.operator_id, row.actor, row.action) == (
        None,
        f"merchant:{notification.merchant_id}",
        "notify.resend",
    )
