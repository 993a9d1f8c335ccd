"""Signed session cookies and CSRF tokens for the server-rendered pages.

For the other page authors (cashier, merchant portal):

- `sign_in(response, request, user_id)` / `sign_out(response)`: the user session cookie
  `paybao_session` (HttpOnly, SameSite=Lax, Secure when the base URL is https). It holds the
  user id and an expiry, HMAC-SHA256 signed with the platform secret; nothing is stored
  server-side but the user's cut-off (`users.sessions_valid_from_s`): a session signed in
  before the login password last changed or was reset is refused, on every device.
- `current_user_id(request) -> int | None`; `require_user` is a FastAPI dependency returning the
  user id or raising `Unauthenticated` (pages usually catch that by redirecting: see
  `login_redirect`).
- CSRF, double-submit: `csrf_token(request)` gives the token to put in a form's hidden field
  `csrf_token`; it is bound to a random `paybao_csrf` cookie, which the `CsrfCookie` middleware
  sets when a page minted a new one. `check_csrf(request)` (a dependency; await it) refuses a
  POST whose field or `X-CSRF-Token` header does not match.
- Operators have their own cookie (`kind="admin"`), merchants theirs (`kind="merchant"`); the
  same helpers take `kind`.

The secret is `PAYBAO_SECRET_KEY`, or else a random key kept in `<data_dir>/secret.key`, so
several server processes on one host agree.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from pathlib import Path

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paybao.domain.errors import Forbidden, Unauthenticated
from paybao.web.deps import platform_of

COOKIE_NAMES = {"user": "paybao_session", "admin": "paybao_admin", "merchant": "paybao_merchant"}
CSRF_COOKIE = "paybao_csrf"
SESSION_MAX_AGE_S = {"user": 7 * 24 * 3600, "admin": 8 * 3600, "merchant": 8 * 3600}
_secret_lock = threading.Lock()
_secrets_by_dir: dict[str, bytes] = {}


def secret_of(request: Request) -> bytes:
    settings = platform_of(request).settings
    configured = getattr(settings, "secret_key", "")
    if configured:
        return str(configured).encode()
    return _file_secret(Path(settings.data_dir))


def _file_secret(data_dir: Path) -> bytes:
    key = str(data_dir.resolve())
    with _secret_lock:
        if key not in _secrets_by_dir:
            path = data_dir / "secret.key"
            if not path.exists():
                data_dir.mkdir(parents=True, exist_ok=True)
                path.write_text(secrets.token_hex(32))
                path.chmod(0o600)
            _secrets_by_dir[key] = path.read_text().strip().encode()
        return _secrets_by_dir[key]


def _sign(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


# Sessions ----------------------------------------------------------------------------------


def sign_in(response: Response, request: Request, subject_id: int, *, kind: str = "user") -> None:
    assert subject_id > 0
    issued_s = int(time.time())
    if kind == "user":
        # Never before the user's cut-off: signing in again in the second a password
        # changed must give a session that counts (the cut-off is the next second).
        cut_off_s = platform_of(request).services["users"].sessions_valid_from_s(subject_id)
        issued_s = max(issued_s, cut_off_s or 0)
    expires_s = issued_s + SESSION_MAX_AGE_S[kind]
    payload = f"{kind}.{subject_id}.{expires_s}"
    value = f"{payload}.{_sign(secret_of(request), 'session|' + payload)}"
    response.set_cookie(
        COOKIE_NAMES[kind],
        value,
        max_age=SESSION_MAX_AGE_S[kind],
        httponly=True,
        samesite="lax",
        secure=platform_of(request).settings.base_url.startswith("https:"),
        path="/",
    )


def sign_out(response: Response, *, kind: str = "user") -> None:
    response.delete_cookie(COOKIE_NAMES[kind], path="/", httponly=True, samesite="lax")


def current_user_id(request: Request, *, kind: str = "user") -> int | None:
    """The signed-in subject's id from the cookie, or None (absent, forged, or expired)."""
    value = request.cookies.get(COOKIE_NAMES[kind], "")
    parts = value.split(".")
    if len(parts) != 4 or parts[0] != kind or not (parts[1].isdigit() and parts[2].isdigit()):
        return None
    payload = ".".join(parts[:3])
    if not hmac.compare_digest(parts[3], _sign(secret_of(request), "session|" + payload)):
        return None
    expires_s = int(parts[2])
    if expires_s < time.time():
        return None
    subject_id = int(parts[1])
    if kind == "user" and not _user_session_current(
        request, subject_id, expires_s - SESSION_MAX_AGE_S[kind]
    ):
        return None
    return subject_id


def _user_session_current(request: Request, user_id: int, issued_s: int) -> bool:
    """Asked once per request (pages read the session several times)."""
    answers: dict[tuple[int, int], bool] = request.scope.setdefault("paybao.sessions", {})
    key = (user_id, issued_s)
    if key not in answers:
        users = platform_of(request).services["users"]
        answers[key] = bool(users.session_current(user_id, issued_s))
    return answers[key]


def session_issued_s(request: Request, *, kind: str = "user") -> int | None:
    """When the signed-in session was signed in (Unix seconds), from its signed expiry; None
    without a valid session."""
    if current_user_id(request, kind=kind) is None:
        return None
    expires_s = int(request.cookies[COOKIE_NAMES[kind]].split(".")[2])
    return expires_s - SESSION_MAX_AGE_S[kind]


def require_user(request: Request) -> int:
    user_id = current_user_id(request)
    if user_id is None:
        raise Unauthenticated("please sign in", code="unauthenticated")
    return user_id


def login_redirect(request: Request, path: str = "/login") -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{path}?next={target}", status_code=303)


# CSRF --------------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The token for this browser's forms; mints the cookie on first use."""
    seed = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf_new", None)
    if not seed:
        seed = secrets.token_urlsafe(24)
        request.state.csrf_new = seed
    return _sign(secret_of(request), "csrf|" + seed)


async def check_csrf(request: Request) -> None:
    seed = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get("x-csrf-token", "")
    if not sent:
        form = await request.form()
        sent = str(form.get("csrf_token", ""))
    expected = _sign(secret_of(request), "csrf|" + seed) if seed else ""
    if not (expected and sent and hmac.compare_digest(sent, expected)):
        raise Forbidden("the form expired; reload the page and try again", code="csrf_failed")


class CsrfCookie:
    """ASGI middleware: sets the CSRF cookie when `csrf_token` minted a seed for this request
    (it leaves the seed in `request.state`, which lives in the scope)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            seed = scope.get("state", {}).get("csrf_new")
            if message["type"] == "http.response.start" and seed:
                carrier = Response()
                carrier.set_cookie(
                    CSRF_COOKIE,
                    seed,
                    httponly=True,
                    samesite="lax",
                    path="/",
                    max_age=30 * 24 * 3600,
                )
                cookie = [h for h in carrier.raw_headers if h[0] == b"set-cookie"]
                message = {**message, "headers": [*message.get("headers", []), *cookie]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
