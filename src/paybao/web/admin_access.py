"""Who may do what in the admin console and the admin REST API: the one place it is enforced.

Every admin page router depends on `authorize_operator` (re-exported as
`pages_admin.require_operator`), and the admin REST API on `authorize_admin_token`. Both ask
`OperatorService` to check the caller's role against the one table of actions
(domain/operator_roles.ACTIONS); a refusal is audited and answered 403
`operator_role_forbidden`, before the route runs, so nothing changes.

The operator behind a console session is read on every request: a disabled operator's session
is sent back to the sign-in page at its next request. The admin REST API takes either an
operator's personal token (`pbo_...`, services/operator_tokens.py: the operator's role,
audited under the operator with the actor `token:<name>`) or the shared `PAYBAO_ADMIN_TOKEN`
(the role `PAYBAO_ADMIN_TOKEN_ROLE`, audited as `admin_token`).

Which action a request performs: what its route declares with `@operator_action("...")`, else
`console.view` for a GET or HEAD. A POST (or any other method) whose route declares nothing is
refused to every role (fail closed); a test walks every admin route to find one.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Header, Request

from paybao.bootstrap import Platform
from paybao.domain.errors import Unauthenticated
from paybao.domain.operator_roles import VIEW
from paybao.services.operator_tokens import TokenCaller
from paybao.services.operators import Operator
from paybao.web.session import check_csrf, current_user_id, session_issued_s

KIND = "admin"
ACTION_ATTRIBUTE = "__paybao_operator_action__"
SAFE_METHODS = frozenset({"GET", "HEAD"})
# The audit actor of the admin REST token (it is no operator row).
TOKEN_ACTOR = "admin_token"  # noqa: S105 - a name in the audit log, not a secret

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class AdminCaller:
    """Who called the admin REST API (left in `request.state.admin_caller`)."""

    operator_id: int | None  # None: the shared PAYBAO_ADMIN_TOKEN
    role: str
    actor: str  # the audit actor: "admin_token" or "token:<name>"
    name: str  # the operator's name, or "admin_token"
    token_id: int | None = None


class OperatorSignInRequired(Unauthenticated):
    """No valid admin session; the console redirects to the sign-in page."""

    code = "operator_sign_in_required"


def operator_action(action: str) -> Callable[[Endpoint], Endpoint]:
    """Name the action (a key of domain/operator_roles.ACTIONS) an admin route performs:

    @router.post("/users/{user_id}/status", dependencies=CSRF)
    @operator_action("user.status")
    async def set_status(...): ...
    """

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, ACTION_ATTRIBUTE, action)
        return endpoint

    return mark


def declared_action(endpoint: object) -> str | None:
    action = getattr(endpoint, ACTION_ATTRIBUTE, None)
    return action if isinstance(action, str) else None


def action_of(request: Request) -> str:
    """The action this request performs; "" (refused to all) for an unmarked mutation."""
    endpoint = getattr(request.scope.get("route"), "endpoint", None) or request.scope.get(
        "endpoint"
    )
    declared = declared_action(endpoint)
    if declared is not None:
        return declared
    return VIEW if request.method in SAFE_METHODS else ""


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def authorize_operator(request: Request) -> int:
    """FastAPI dependency of every admin page router: the signed-in operator's id, once its
    role permits what the request does. The operator is left in `request.state.operator`
    (pages use it to show the role and hide what the operator may not use)."""
    cached: Operator | None = getattr(request.state, "operator", None)
    if cached is not None:
        return cached.id
    operator_id = current_user_id(request, kind=KIND)
    if operator_id is None:
        raise OperatorSignInRequired("admin sign-in required")
    if request.method not in SAFE_METHODS:
        # A forged cross-site form is turned away before it can even write a refusal row.
        await check_csrf(request)
    operators = _platform(request).services["operators"]
    try:
        operator: Operator = operators.authorize(
            operator_id,
            action_of(request),
            _subject(request),
            session_issued_s=session_issued_s(request, kind=KIND),
        )
    except Unauthenticated:
        # Gone or disabled: the session ends here, whatever its cookie says.
        raise OperatorSignInRequired("the operator no longer exists or is disabled") from None
    request.state.operator = operator
    return operator.id


def authorize_admin_token(request: Request, authorization: str = Header(default="")) -> Platform:
    """FastAPI dependency of the admin REST API: the bearer token (personal or shared), then
    its role checked like a console operator's. The caller is left in
    `request.state.admin_caller` for routes that audit what they do."""
    platform = _platform(request)
    caller = admin_caller(platform, authorization)
    platform.services["operators"].authorize_role(
        caller.role,
        action_of(request),
        _subject(request),
        actor=caller.actor,
        operator_id=caller.operator_id,
    )
    request.state.admin_caller = caller
    return platform


def admin_caller(platform: Platform, authorization: str) -> AdminCaller:
    """The caller of a bearer `authorization` header: the shared token (compared in constant
    time), else a personal token; neither: 401."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("admin bearer token required")
    shared = platform.settings.admin_token
    if shared and hmac.compare_digest(token.encode(), shared.encode()):
        role = platform.settings.admin_token_role
        return AdminCaller(None, role, TOKEN_ACTOR, TOKEN_ACTOR)
    personal: TokenCaller = platform.services["operator_tokens"].authenticate(token)
    operator = personal.operator
    return AdminCaller(operator.id, operator.role, personal.actor, operator.name, personal.token_id)


def _subject(request: Request) -> str:
    return f"{request.method} {request.url.path}"
