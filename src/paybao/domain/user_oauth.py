"""User OAuth ("log in with paybao"): the rules of Alipay's web authorisation, without I/O.

A merchant's page sends the user to `/oauth2/publicAppAuthorize.htm?app_id&scope&redirect_uri
[&state]`; the user signs in and agrees (scope auth_user) or is let through silently (auth_base);
the browser goes back to `redirect_uri` with a one-time `auth_code`, which the merchant's server
trades for tokens (`alipay.system.oauth.token`) and then, with an auth_user token, for the user's
public profile (`alipay.user.info.share`).

Lifetimes: an auth_code is single use and lives CODE_TTL_S (Alipay only says "short-lived, use
it once"; 5 minutes is enough for a redirect and a server call). Tokens live as Alipay's own
answers show: access_token 15 days (expires_in 1,296,000), refresh_token 30 days
(re_expires_in 2,592,000). A refresh rotates both: the old pair stops working at once.

The redirect rule (paybao has no per-app list of callback addresses yet): redirect_uri must be
an absolute http(s) URL on the same origin (scheme, host, port) as the merchant's notify_url;
a merchant without a notify_url cannot use OAuth. That stops an attacker who knows an app id
from having codes sent to a site of theirs.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
import urllib.parse
from typing import Final

from paybao.domain.errors import InvalidInput

CODE_TTL_S: Final = 5 * 60
ACCESS_TOKEN_TTL_S: Final = 15 * 86_400
REFRESH_TOKEN_TTL_S: Final = 30 * 86_400
STATE_LENGTH_MAX: Final = 100  # Alipay: "最大长度 100 位", no Chinese
REDIRECT_URI_LENGTH_MAX: Final = 1024
SCOPE_LENGTH_MAX: Final = 64
# Wire secrets we accept at all: anything longer is nobody's, without a database read.
SECRET_LENGTH_MAX: Final = 64
# Alipay's tokens start "authusrB"; codes are 32 hex digits (+ a suffix at Alipay).
TOKEN_PREFIX: Final = "authusrB"  # noqa: S105 (a prefix, not a secret)
_STATE: Final = re.compile(r"^[\x21-\x7e]{1,100}$")  # printable ASCII, no spaces


class Scope(enum.StrEnum):
    AUTH_BASE = "auth_base"  # the user id only; no consent page
    AUTH_USER = "auth_user"  # the user's public profile (alipay.user.info.share); consent


def parse_scopes(text: str) -> frozenset[Scope]:
    """`auth_user`, `auth_base` or both comma-separated, as Alipay takes them. Other Alipay
    scopes (auth_ecard, auth_invoice_info, ...) name products paybao does not have."""
    if not text or len(text) > SCOPE_LENGTH_MAX:
        raise InvalidInput("scope is required", code="oauth_scope_invalid")
    scopes: set[Scope] = set()
    for part in text.split(","):
        try:
            scopes.add(Scope(part.strip()))
        except ValueError:
            raise InvalidInput(
                f"unsupported scope {part[:32]!r}", code="oauth_scope_invalid"
            ) from None
    return frozenset(scopes)


def scopes_text(scopes: frozenset[Scope] | set[Scope]) -> str:
    """The stored and redirected form: sorted, comma-separated (auth_base,auth_user)."""
    return ",".join(sorted(scope.value for scope in scopes))


def check_state(state: str) -> str:
    if state and not _STATE.match(state):
        raise InvalidInput(
            f"state is at most {STATE_LENGTH_MAX} printable ASCII characters",
            code="oauth_state_invalid",
        )
    return state


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def check_redirect_uri(redirect_uri: str, notify_url: str | None) -> str:
    """The redirect rule in the module docstring; refusals say why, for the merchant's developer
    (they show on the authorize page, never as a redirect)."""
    if not redirect_uri or len(redirect_uri) > REDIRECT_URI_LENGTH_MAX:
        raise InvalidInput("redirect_uri is required", code="oauth_redirect_invalid")
    target = _origin(redirect_uri)
    if target is None or "#" in redirect_uri:
        raise InvalidInput(
            "redirect_uri must be an absolute http(s) URL without a fragment",
            code="oauth_redirect_invalid",
        )
    allowed = _origin(notify_url) if notify_url else None
    if allowed is None or allowed != target:
        raise InvalidInput(
            "redirect_uri must be on the same origin as the app's notify_url",
            code="oauth_redirect_invalid",
        )
    return redirect_uri


def redirect_with(redirect_uri: str, params: dict[str, str]) -> str:
    """redirect_uri with `params` added to its own query (which is kept)."""
    parts = urllib.parse.urlsplit(redirect_uri)
    query = urllib.parse.urlencode(params)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urllib.parse.urlunsplit(parts._replace(query=joined))


def new_code() -> str:
    return secrets.token_hex(16)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_hex(20)


def secret_hash(secret: str) -> str:
    """What is stored for a code or a token: its SHA-256 (the secrets are 128+ random bits, so
    a plain hash cannot be reversed by guessing; a database leak yields no usable token)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
