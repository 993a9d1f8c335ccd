"""Operator roles: which operator may do what in the admin console and the admin REST API.

This module is the ONE table of actions to roles. The web layer enforces it in one place
(`web/admin_access.py`: `authorize_operator` for every console route, `authorize_admin_token`
for the admin REST API); routes only name their action. An action missing from `ACTIONS` is refused
to everyone (fail closed), and a test walks every mutating admin route to check that its action
is listed here.

| role    | may                                                                            |
|---------|--------------------------------------------------------------------------------|
| viewer  | read every console page and the admin REST API's reads                         |
| support | viewer + user-facing actions: freeze / unfreeze a user, risk reviews, blacklist |
| finance | viewer + money actions: reconciliation runs, dispute rulings (escrow refunds),   |
|         | resending a merchant notification, asking the bank again about a payout,       |
|         | retrying a dead background job                                                 |
| admin   | everything: operators, roles, disabling, others' API tokens, the sandbox clock,  |
|         | raw ledger transfers (REST)                                                    |

Every role also manages its own personal API tokens (`own_token.*`): a token acts with its
operator's role, so minting one for oneself grants nothing the operator does not hold.
"""

from __future__ import annotations

from enum import StrEnum

from paybao.domain.errors import Conflict, Forbidden, InvalidInput


class Role(StrEnum):
    VIEWER = "viewer"
    SUPPORT = "support"
    FINANCE = "finance"
    ADMIN = "admin"


ROLES: tuple[Role, ...] = tuple(Role)
ALL_ROLES = frozenset(Role)

# The action that every console page (GET) and every REST read needs.
VIEW = "console.view"
# What every role may do to itself: its own personal API tokens (they carry its own role).
SELF_SERVICE = frozenset({"own_token.create", "own_token.revoke"})

# action -> the roles allowed to perform it. Action names are also the `action` of the audit
# row written when an attempt is refused.
ACTIONS: dict[str, frozenset[Role]] = {
    VIEW: ALL_ROLES,
    # user-facing (support)
    "user.status": frozenset({Role.SUPPORT, Role.ADMIN}),  # freeze / unfreeze
    "risk.review": frozenset({Role.SUPPORT, Role.ADMIN}),  # release / return a held transfer
    "risk.blacklist": frozenset({Role.SUPPORT, Role.ADMIN}),  # accounts nobody may pay
    # money (finance)
    "reconcile.run": frozenset({Role.FINANCE, Role.ADMIN}),
    "dispute.rule": frozenset({Role.FINANCE, Role.ADMIN}),  # splits escrowed money
    "credit.grant": frozenset({Role.FINANCE, Role.ADMIN}),  # a user's Huabei credit limit
    "notify.resend": frozenset({Role.FINANCE, Role.ADMIN}),  # a merchant's trade notification
    "coupon.manage": frozenset({Role.FINANCE, Role.ADMIN}),  # platform-funded coupon campaigns
    "cash_partner.deposit": frozenset({Role.FINANCE, Role.ADMIN}),  # a cash partner's prefund wire
    "payout.query": frozenset({Role.FINANCE, Role.ADMIN}),  # ask the bank again about a payout
    "job.retry": frozenset({Role.FINANCE, Role.ADMIN}),  # run a dead background job again
    # self-service: one's own personal API tokens (they carry one's own role, no more)
    "own_token.create": ALL_ROLES,
    "own_token.revoke": ALL_ROLES,
    # administration (admin only)
    "operator.create": frozenset({Role.ADMIN}),
    "operator.set_role": frozenset({Role.ADMIN}),
    "operator.disable": frozenset({Role.ADMIN}),
    "operator.enable": frozenset({Role.ADMIN}),
    "operator.token_create": frozenset({Role.ADMIN}),  # a token for another operator
    "operator.token_revoke": frozenset({Role.ADMIN}),  # another operator's token
    "clock.advance": frozenset({Role.ADMIN}),  # sandbox clock: runs every due timer
    "ledger.transfer": frozenset({Role.ADMIN}),  # REST: raw ledger transfers
    "biller.manage": frozenset({Role.ADMIN}),  # city services: who receives bill payments
    "cash_partner.manage": frozenset({Role.ADMIN}),  # register / disable cash top-up partners
}


class OperatorRoleForbidden(Forbidden):
    """The operator's role does not allow the action (403)."""

    code = "operator_role_forbidden"


class LastAdmin(Conflict):
    """The change would leave no operator with the admin role (409)."""

    code = "operator_last_admin"


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        names = ", ".join(ROLES)
        raise InvalidInput(f"role is one of {names}", code="invalid_operator_role") from None


def permits(role: str | None, action: str) -> bool:
    """Whether `role` may perform `action`; an unknown role or action is never permitted."""
    allowed = ACTIONS.get(action)
    return allowed is not None and role in allowed


def check(role: str | None, action: str) -> None:
    if not permits(role, action):
        raise OperatorRoleForbidden(
            f"the operator role {role or '-'} may not perform {action}",
            role=role or "",
            action=action,
        )


def actions_of(role: str | None) -> frozenset[str]:
    """Every action `role` may perform (pages use it to hide buttons)."""
    return frozenset(action for action, roles in ACTIONS.items() if role in roles)


def leaves_an_admin(current_role: str, new_role: str, admins: int) -> bool:
    """Whether changing one operator from `current_role` to `new_role` keeps an admin, given
    `admins` operators with the admin role now (counted under lock)."""
    if current_role != Role.ADMIN or new_role == Role.ADMIN:
        return True
    return admins > 1


def default_role(existing_operators: int) -> Role:
    """The role of a new operator when none is given: the first one is the admin who sets up
    the others; every later one starts read-only (least privilege)."""
    return Role.ADMIN if existing_operators == 0 else Role.VIEWER
