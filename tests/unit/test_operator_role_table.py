"""The table of operator roles: pure rules."""

from __future__ import annotations

import pytest

from paybao.domain.errors import InvalidInput
from paybao.domain.operator_access import disabling_leaves_an_admin
from paybao.domain.operator_roles import (
    ACTIONS,
    SELF_SERVICE,
    VIEW,
    OperatorRoleForbidden,
    Role,
    actions_of,
    check,
    default_role,
    leaves_an_admin,
    parse_role,
    permits,
)


def test_admin_may_do_everything_and_viewer_only_read() -> None:
    assert actions_of(Role.ADMIN) == frozenset(ACTIONS)
    assert actions_of(Role.VIEWER) == {VIEW} | SELF_SERVICE
    assert all(actions_of(role) >= SELF_SERVICE for role in Role)


def test_support_and_finance_hold_disjoint_powers_beyond_reading() -> None:
    support = actions_of(Role.SUPPORT) - {VIEW} - SELF_SERVICE
    finance = actions_of(Role.FINANCE) - {VIEW} - SELF_SERVICE
    assert support and finance and not support & finance
    assert "user.status" in support and "reconcile.run" in finance
    assert "notify.resend" in finance and "notify.resend" not in support


@pytest.mark.parametrize("role", [None, "", "root", "ADMIN"])
def test_unknown_roles_and_actions_are_never_permitted(role: str | None) -> None:
    assert not permits(role, VIEW)
    assert not permits(Role.ADMIN, "")
    assert not permits(Role.ADMIN, "no.such.action")


def test_check_raises_the_stable_code() -> None:
    check(Role.FINANCE, "reconcile.run")
    with pytest.raises(OperatorRoleForbidden) as caught:
        check(Role.SUPPORT, "reconcile.run")
    assert caught.value.code == "operator_role_forbidden"


def test_parse_role() -> None:
    assert parse_role(" Finance ") is Role.FINANCE
    with pytest.raises(InvalidInput) as caught:
        parse_role("root")
    assert caught.value.code == "invalid_operator_role"


def test_the_last_admin_stays() -> None:
    assert not leaves_an_admin("admin", Role.VIEWER, admins=1)
    assert leaves_an_admin("admin", Role.VIEWER, admins=2)
    assert leaves_an_admin("admin", Role.ADMIN, admins=1)
    assert leaves_an_admin("viewer", Role.SUPPORT, admins=1)


def test_disabling_keeps_an_enabled_admin() -> None:
    assert not disabling_leaves_an_admin("admin", admins=1)
    assert disabling_leaves_an_admin("admin", admins=2)
    assert disabling_leaves_an_admin("finance", admins=1)


@pytest.mark.parametrize(
    "action",
    ["operator.disable", "operator.enable", "operator.token_create", "operator.token_revoke"],
)
def test_only_admins_disable_operators_and_manage_others_tokens(action: str) -> None:
    assert ACTIONS[action] == {Role.ADMIN}


def test_default_role() -> None:
    assert default_role(0) is Role.ADMIN
    assert default_role(3) is Role.VIEWER
