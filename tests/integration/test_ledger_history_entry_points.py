"""An account's posted balance at an instant and its transfers through the entry points: the
admin REST API (a viewer may read; refusals carry their codes; documented in /openapi.json),
`paybao ledger balance|transfers` and the console's ledger explorer with its "as of" field."""

from __future__ import annotations

import json

import pytest
from api_admin_support import error_code, token_operator
from fastapi.testclient import TestClient
from ledger_history_support import Pair, hold, later, open_pair, resolve, top_up
from tests.integration.admin_support import create_operator, sign_in
from tests.integration.test_cli import env  # noqa: F401 (a fixture)
from typer.testing import CliRunner

from paybao.bootstrap import Platform
from paybao.cli import app
from paybao.domain.account_class import CHINA_TZ
from paybao.services.clock import US_PER_S, datetime_from_us
from paybao.settings import Settings

API = "/api/v1/admin/ledger/accounts"
runner = CliRunner()


@pytest.fixture
def story(platform: Platform) -> tuple[Pair, int]:
    """10,000 fen in, then (10 s later) a hold of 3,000 posted in full: the instant between
    the two (whole seconds) is returned; the wallet held 10,000 then and 7,000 now."""
    pair = open_pair(platform)
    funded = top_up(platform, pair, "fund", 10_000)
    later(platform)
    hold(platform, pair, "h1", 3_000)
    resolve(platform, "c1", "h1", post=True)
    later(platform)
    return pair, (funded.created_at_us // US_PER_S + 1) * US_PER_S


def test_a_viewer_reads_the_balance_at_an_instant_and_the_transfers(
    platform: Platform, client: TestClient, story: tuple[Pair, int]
) -> None:
    pair, between_us = story
    viewer = token_operator(platform, "viewer").headers
    then = client.get(f"{API}/{pair.wallet}/balance", params={"at_us": between_us}, headers=viewer)
    assert then.status_code == 200, then.text
    assert then.json()["balance_fen"] == 10_000 and then.json()["balance_now_fen"] == 7_000
    now = client.get(f"{API}/{pair.wallet}/balance", headers=viewer).json()
    assert now["balance_fen"] == 7_000
    # The same balance_fen as the account read (credits_posted - debits_posted), on both sides.
    for account_id in (pair.wallet, pair.bank):
        counters = client.get(f"{API}/{account_id}", headers=viewer).json()
        at_now = client.get(f"{API}/{account_id}/balance", headers=viewer).json()
        assert at_now["balance_fen"] == counters["balance_fen"], account_id
    page = client.get(f"{API}/{pair.wallet}/transfers", params={"limit": 2}, headers=viewer)
    assert page.status_code == 200, page.text
    body = page.json()
    assert [t["id"] for t in body["transfers"]] == ["c1", "h1"]
    posted, held = body["transfers"]
    assert (posted["flags"], posted["pending_id"], posted["posted_change_fen"]) == (
        ["post_pending"],
        "h1",
        -3_000,
    )
    assert (held["pending_status"], held["posted_change_fen"], held["direction"]) == (
        "posted",
        0,
        "debit",
    )
    rest = client.get(
        f"{API}/{pair.wallet}/transfers",
        params={"before_seq": body["next_before_seq"]},
        headers=viewer,
    ).json()
    assert [t["id"] for t in rest["transfers"]] == ["fund"] and rest["next_before_seq"] is None
    window = {"from_us": between_us, "to_us": platform.clock.now_us()}
    in_window = client.get(f"{API}/{pair.bank}/transfers", params=window, headers=viewer).json()
    assert [t["direction"] for t in in_window["transfers"]] == ["credit", "credit"]


def test_rest_refusals_carry_their_codes(
    platform: Platform, client: TestClient, admin_headers: dict[str, str], story: tuple[Pair, int]
) -> None:
    pair, _ = story
    future_us = platform.clock.now_us() + 3600 * US_PER_S
    cases = [
        (f"{API}/999999/balance", {}, 404, "account_not_found"),
        (f"{API}/999999/transfers", {}, 404, "account_not_found"),
        (f"{API}/{pair.wallet}/balance", {"at_us": future_us}, 400, "balance_at_in_future"),
        (
            f"{API}/{pair.wallet}/transfers",
            {"from_us": 5, "to_us": 5},
            400,
            "transfer_range_invalid",
        ),
        (f"{API}/{pair.wallet}/transfers", {"limit": 101}, 422, "invalid_request"),
        (f"{API}/{pair.wallet}/balance", {"at_us": -1}, 422, "invalid_request"),
    ]
    for url, params, status, code in cases:
        response = client.get(url, params=params, headers=admin_headers)
        assert (response.status_code, error_code(response)) == (status, code), url
    unauthenticated = client.get(f"{API}/{pair.wallet}/balance")
    assert unauthenticated.status_code == 401


def test_both_routes_are_documented_with_their_errors(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for name in ("balance", "transfers"):
        operation = paths[f"{API}/{{account_id}}/{name}"]["get"]
        assert {"200", "400", "401", "403", "404", "422"} <= set(operation["responses"]), name
    balance = paths[f"{API}/{{account_id}}/balance"]["get"]
    assert "balance_at_in_future" in balance["responses"]["400"]["description"]
    assert "at or after" in balance["description"]


def test_the_cli_prints_the_balance_then_and_the_transfers(
    platform: Platform,
    story: tuple[Pair, int],
    env: Settings,  # noqa: F811 (the fixture imported above)
) -> None:
    pair, between_us = story
    at = datetime_from_us(between_us).astimezone(CHINA_TZ).isoformat()
    as_json = runner.invoke(app, ["ledger", "balance", str(pair.wallet), "--at", at, "--json"])
    assert as_json.exit_code == 0, as_json.output
    found = json.loads(as_json.output)
    assert (found["balance_fen"], found["balance_now_fen"], found["at_us"]) == (
        10_000,
        7_000,
        between_us,
    )
    naive = at.removesuffix("+08:00")  # without a zone: China time
    text = runner.invoke(app, ["ledger", "balance", str(pair.wallet), "--at", naive])
    assert text.exit_code == 0 and "100.00 (10000 fen)" in text.output, text.output

    listed = runner.invoke(app, ["ledger", "transfers", str(pair.wallet), "--limit", "2"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert [line.split("\t")[2] for line in lines[:2]] == ["c1", "h1"]
    assert lines[-1].startswith("more: --before-seq ")
    windowed = runner.invoke(app, ["ledger", "transfers", str(pair.wallet), "--to", at, "--json"])
    assert [t["id"] for t in json.loads(windowed.output)["transfers"]] == ["fund"]

    missing = runner.invoke(app, ["ledger", "balance", "999999"])
    assert missing.exit_code == 2 and "account_not_found" in missing.output
    bad_time = runner.invoke(app, ["ledger", "transfers", str(pair.wallet), "--from", "soon"])
    assert bad_time.exit_code == 2 and "time_invalid" in bad_time.output


def test_the_console_shows_the_balance_as_of_a_china_time(
    platform: Platform, client: TestClient, story: tuple[Pair, int]
) -> None:
    pair, between_us = story
    _, secret = create_operator(platform)
    assert sign_in(client, secret).status_code == 303  # type: ignore[attr-defined]
    as_of = datetime_from_us(between_us).astimezone(CHINA_TZ).strftime("%Y-%m-%dT%H:%M:%S")
    page = client.get("/admin/ledger", params={"account": pair.wallet, "as_of": as_of})
    assert page.status_code == 200
    assert f'data-at-us="{between_us}" data-balance-fen="10000"' in page.text
    assert 'id="as-of"' in page.text and f'value="{as_of}"' in page.text
    client.cookies.set("lang", "en")
    english = client.get("/admin/ledger", params={"account": pair.wallet, "as_of": as_of})
    assert "Posted balance at that instant" in english.text
    client.cookies.set("lang", "zh")
    chinese = client.get("/admin/ledger", params={"account": pair.wallet, "as_of": as_of})
    assert "该时刻的入账余额" in chinese.text

    future = {"account": pair.wallet, "as_of": "2100-01-01T00:00:00"}
    refused = client.get("/admin/ledger", params=future)
    assert 'data-code="balance_at_in_future"' in refused.text
    garbled = client.get("/admin/ledger", params={"account": pair.wallet, "as_of": "nope"})
    assert 'data-code="time_invalid"' in garbled.text
    plain = client.get("/admin/ledger", params={"account": pair.wallet})
    assert 'id="balance-at"' not in plain.text and 'id="balance-at-error"' not in plain.text
