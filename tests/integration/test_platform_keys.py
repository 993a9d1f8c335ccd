"""services/platform_keys.py on a real database: generations, switching apps, retiring."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text
from tests.integration.api_admin_support import audit_rows
from tests.integration.gateway_support import make_shop
from tests.integration.platform_key_support import generation_pair, new_generation

from paybao.adapters.alipay.platform_key import key_file_names
from paybao.adapters.db.engine import make_engine
from paybao.adapters.db.migrate import alembic_config, upgrade
from paybao.bootstrap import Platform
from paybao.domain.errors import DomainError
from paybao.domain.platform_keys import KeyState

SECOND_APP_ID = "2021000000000778"


def keys(platform: Platform) -> Any:
    return platform.services["platform_keys"]


def generation_of(platform: Platform, app_id: str) -> int:
    with platform.db.read() as tx:
        found = tx.execute(
            text("SELECT platform_key_generation FROM merchant_apps WHERE app_id = :a"),
            {"a": app_id},
        ).scalar_one()
    return int(found)


def test_a_fresh_install_has_generation_one_signing_every_app(platform: Platform) -> None:
    shop = make_shop(platform)
    [first] = keys(platform).generations()
    assert (first.generation, first.state, first.apps) == (1, KeyState.ACTIVE, 1)
    assert keys(platform).newest() == 1
    assert shop.app.platform_key_generation == 1
    assert (
        keys(platform).keys_of(shop.app).public_pem == platform.services["platform_key"].public_pem
    )
    assert keys(platform).keys_of(shop.app).newer_generation is None


def test_a_new_generation_goes_to_new_apps_and_existing_apps_stay(platform: Platform) -> None:
    old = make_shop(platform)
    created = new_generation(platform)
    assert created.generation == 2 and created.state is KeyState.ACTIVE
    new = make_shop(platform, app_id=SECOND_APP_ID)
    assert (generation_of(platform, old.app.app_id), generation_of(platform, SECOND_APP_ID)) == (
        1,
        2,
    )
    assert new.app.platform_key_generation == 2
    assert [(k.generation, k.apps) for k in keys(platform).generations()] == [(1, 1), (2, 1)]
    offered = keys(platform).keys_of(old.app)
    assert offered.newer_generation == 2
    assert offered.newer_public_pem == generation_pair(2).public_pem_spki
    assert keys(platform).public_pem(2) == generation_pair(2).public_pem_spki
    [row] = audit_rows(platform, "platform_key.create")
    assert (row.subject, row.actor) == ("platform_key:2", "cli")


def test_switching_moves_the_app_at_once_and_is_audited(platform: Platform) -> None:
    shop = make_shop(platform)
    merchants = platform.services["merchants"]
    assert merchants.find_app(shop.app.app_id).platform_key_generation == 1  # now cached
    new_generation(platform)
    moved = keys(platform).switch(shop.app.app_id, 2, actor="merchant:7")
    assert moved.platform_key_generation == 2
    assert merchants.find_app(shop.app.app_id).platform_key_generation == 2
    again = keys(platform).switch(shop.app.app_id, 2, actor="merchant:7")
    assert again.platform_key_generation == 2
    [row] = audit_rows(platform, "platform_key.switch")  # the no-op is not audited
    assert (row.subject, row.actor, row.detail) == (
        f"app:{shop.app.app_id}",
        "merchant:7",
        "generation 1 -> 2",
    )


@pytest.mark.parametrize("generation", [5, 1])
def test_switching_to_a_missing_or_retired_generation_is_refused(
    platform: Platform, generation: int
) -> None:
    shop = make_shop(platform)
    new_generation(platform)
    keys(platform).switch(shop.app.app_id, 2)
    keys(platform).retire(1)
    with pytest.raises(DomainError) as raised:
        keys(platform).switch(shop.app.app_id, generation)
    expected = "platform_key_not_found" if generation == 5 else "platform_key_retired"
    assert raised.value.code == expected
    assert generation_of(platform, shop.app.app_id) == 2
    assert not (platform.settings.data_dir / key_file_names(5)[0]).exists()


def test_switching_an_unknown_app_is_refused(platform: Platform) -> None:
    with pytest.raises(DomainError) as raised:
        keys(platform).switch(SECOND_APP_ID, 1)
    assert raised.value.code == "app_not_found"


def test_retiring_is_refused_while_an_app_uses_it_and_for_the_newest(platform: Platform) -> None:
    shop = make_shop(platform)
    with pytest.raises(DomainError) as newest:
        keys(platform).retire(1)
    assert newest.value.code == "platform_key_newest"
    new_generation(platform)
    with pytest.raises(DomainError) as in_use:
        keys(platform).retire(1)
    assert in_use.value.code == "platform_key_in_use"
    keys(platform).switch(shop.app.app_id, 2)
    retired = keys(platform).retire(1)
    assert retired.state is KeyState.RETIRED
    assert keys(platform).retire(1).state is KeyState.RETIRED  # again: nothing changes
    assert [(k.generation, k.state) for k in keys(platform).generations()] == [
        (1, KeyState.RETIRED),
        (2, KeyState.ACTIVE),
    ]
    assert len(audit_rows(platform, "platform_key.retire")) == 1
    # Its files stay: backups and restores stay whole.
    assert (platform.settings.data_dir / key_file_names(1)[0]).is_file()


def test_generation_one_without_its_row_still_counts(platform: Platform) -> None:
    """An operator's emptied table (or the PostgreSQL test reset) still has generation 1."""
    shop = make_shop(platform)
    platform.db.run(lambda tx: tx.execute(text("DELETE FROM platform_keys")))
    [first] = keys(platform).generations()
    assert (first.generation, first.apps) == (1, 1)
    assert new_generation(platform).generation == 2
    keys(platform).switch(shop.app.app_id, 2)
    assert keys(platform).retire(1).state is KeyState.RETIRED


def test_new_generation_files_are_private_and_made_once(platform: Platform) -> None:
    created = keys(platform).create()  # no placed file: a real key pair is made
    private_name, public_name = key_file_names(created.generation)
    data_dir: Path = platform.settings.data_dir
    assert (data_dir / private_name).stat().st_mode & 0o777 == 0o600
    assert (data_dir / public_name).read_text() == keys(platform).public_pem(created.generation)


def test_concurrent_switch_and_retire_never_leave_an_app_on_a_retired_key(
    platform: Platform,
) -> None:
    shop = make_shop(platform)
    new_generation(platform)
    new_generation(platform)  # 3 is the newest, so 2 may be retired
    outcomes: dict[str, str] = {}
    start = threading.Barrier(2)

    def attempt(name: str, work: Any) -> None:
        start.wait()
        try:
            work()
            outcomes[name] = "ok"
        except DomainError as error:
            outcomes[name] = error.code

    threads = [
        threading.Thread(
            target=attempt, args=("switch", lambda: keys(platform).switch(shop.app.app_id, 2))
        ),
        threading.Thread(target=attempt, args=("retire", lambda: keys(platform).retire(2))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes in (
        {"switch": "ok", "retire": "platform_key_in_use"},
        {"switch": "platform_key_retired", "retire": "ok"},
    ), outcomes
    state = {k.generation: k.state for k in keys(platform).generations()}
    if generation_of(platform, shop.app.app_id) == 2:
        assert state[2] is KeyState.ACTIVE


def test_two_concurrent_creates_make_one_generation(platform: Platform) -> None:
    from tests.integration.platform_key_support import place_generation

    place_generation(platform.settings.data_dir, 2)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def attempt() -> None:
        start.wait()
        try:
            outcomes.append(str(keys(platform).create().generation))
        except DomainError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) in (["2", "platform_key_exists"], ["2", "3"]), outcomes
    assert [k.generation for k in keys(platform).generations()][:2] == [1, 2]


def test_signing_keys_follow_the_apps_generation_and_the_newest_for_an_unknown_app(
    platform: Platform,
) -> None:
    from paybao.adapters.alipay.platform_keys import AppSigningKeys

    shop = make_shop(platform)
    new_generation(platform)
    keyring = platform.services["app_signing_keys"].keyring
    signing = AppSigningKeys(keyring, platform.services["merchants"])  # as a restarted server
    first, second = keyring.key(1).private_key, keyring.key(2).private_key
    assert signing.for_app(shop.app.app_id) is first
    keys(platform).switch(shop.app.app_id, 2)
    assert signing.for_app(shop.app.app_id) is second
    assert signing.for_app("2021999999999999") is second  # nobody's: the newest key


def test_0041_keeps_existing_apps_on_generation_one_and_downgrades(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine, "0040_red_packets")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO merchant_apps (app_id, merchant_id, public_key, status, created_at_us)"
                " VALUES ('2021000000000001', 1, 'k', 'active', 1)"
            )
        )
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT generation, state FROM platform_keys")).all()
        app_generation = connection.execute(
            text("SELECT platform_key_generation FROM merchant_apps")
        ).scalar_one()
    assert [tuple(row) for row in rows] == [(1, "active")]
    assert app_generation == 1
    command.downgrade(alembic_config(str(engine.url)), "0040_red_packets")
    with engine.connect() as connection:
        assert "platform_keys" not in inspect(connection).get_table_names()
        columns = {c["name"] for c in inspect(connection).get_columns("merchant_apps")}
    engine.dispose()
    assert "platform_key_generation" not in columns
