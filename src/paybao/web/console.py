"""A signed-in console: the frame shared by the operators' admin console and the merchants'
portal — a navigation registry, zh/en texts, form errors, the sign-in guard and rendering.

Each console module (`pages_admin`, `pages_merchant`) builds one `Console` and re-exports its
methods under its own names, which are what feature modules import.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from paybao.domain.account_class import CHINA_TZ
from paybao.domain.errors import DomainError, Unauthenticated
from paybao.domain.money import format_yuan
from paybao.services.clock import datetime_from_us
from paybao.web.i18n import error_text, lang_of
from paybao.web.i18n import text as wallet_text
from paybao.web.session import csrf_token, current_user_id, sign_in, sign_out

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

# Who is signed in, as template context: {"operator_id": 7 | None} or {"merchant": m | None}.
# The navigation shows only when a value is not None.
Identify = Callable[[Request], dict[str, Any]]


def when(at_us: int | None) -> str:
    if not at_us:
        return "-"
    return datetime_from_us(at_us).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


class Console:
    def __init__(
        self,
        *,
        kind: str,
        root: str,
        nav: list[tuple[str, str]],
        texts: dict[str, dict[str, str]],
        errors: dict[str, dict[str, str]],
        brand_key: str,
        sign_in_required: type[Unauthenticated],
        identify: Identify,
    ) -> None:
        self.kind = kind
        self.root = root
        self.nav = nav
        self.texts = texts
        self.errors = errors
        self.brand_key = brand_key
        self.sign_in_required = sign_in_required
        self.identify = identify

    def add_nav(self, label: str, path: str) -> None:
        """Add a page to the navigation bar (once: a module imported twice adds nothing)."""
        assert path.startswith(self.root + "/"), f"pages of this console live under {self.root}/"
        if (label, path) not in self.nav:
            self.nav.append((label, path))

    def require(self, request: Request) -> int:
        """The signed-in id; without a valid session cookie, `sign_in_required` (a redirect)."""
        signed_in = current_user_id(request, kind=self.kind)
        if signed_in is None:
            raise self.sign_in_required(f"{self.kind} sign-in required")
        return signed_in

    def text(self, lang: str, key: str, **values: object) -> str:
        """The console's own texts first, then the wallet's, else the key itself."""
        entry = self.texts.get(key)
        if entry is None:
            return wallet_text(lang, key, **values)
        value = entry.get(lang, key)
        return value.format(**values) if values else value

    def error(self, request: Request, error: DomainError) -> dict[str, str]:
        """Context for a form that failed: the message for the error's code, in the page's
        language."""
        lang = lang_of(request)
        entry = self.errors.get(error.code)
        message = entry[lang] if entry else error_text(lang, error.code, error.message)
        return {"error": message, "error_code": error.code}

    def safe_next(self, target: str | None) -> str:
        """Only a path inside this console: no open redirect to another site."""
        if target and target.startswith(self.root) and not target.startswith("//"):
            return target
        return self.root

    @property
    def login_path(self) -> str:
        return f"{self.root}/login"

    def signed_in_redirect(self, request: Request, signed_in_id: int) -> RedirectResponse:
        """After a good sign-in: the session cookie, and on to the safe `next` page."""
        next_path = self.safe_next(request.query_params.get("next"))
        response = RedirectResponse(next_path, status_code=303)
        sign_in(response, request, signed_in_id, kind=self.kind)
        return response

    def signed_out_redirect(self) -> RedirectResponse:
        """Sign-out: the session cookie dropped, and on to the sign-in page."""
        response = RedirectResponse(self.login_path, status_code=303)
        sign_out(response, kind=self.kind)
        return response

    def sign_in_redirect(self, request: Request) -> RedirectResponse:
        """A page asked for without a session: the sign-in page, keeping where to return (a
        form post returns to the console's home, not to the post)."""
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = self.root
        login_url = f"{self.login_path}?next={quote(self.safe_next(target))}"
        return RedirectResponse(login_url, status_code=303)

    def login_form(
        self, request: Request, title_key: str, status_code: int = 200, **extra: Any
    ) -> HTMLResponse:
        """The sign-in page (`<kind>/login.html`), posting back to itself with a safe `next`."""
        next_path = self.safe_next(request.query_params.get("next"))
        return self.render(
            request,
            f"{self.kind}/login.html",
            status_code,
            title=self.text(lang_of(request), title_key),
            action=f"{self.login_path}?next={quote(next_path)}",
            **extra,
        )

    def render(
        self, request: Request, template: str, /, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        """Render a template of this console with the frame's context."""
        lang = lang_of(request)
        who = self.identify(request)
        path = request.url.path
        nav = [
            (self.text(lang, label), href, path == href or path.startswith(href + "/"))
            for label, href in self.nav
        ]
        base = {
            "request": request,
            "lang": lang,
            "t": lambda key, **v: self.text(lang, key, **v),
            "yuan": format_yuan,
            "when": when,
            "csrf": csrf_token(request),
            "nav": nav if any(value is not None for value in who.values()) else [],
            "title": self.text(lang, self.brand_key),
            **who,
        }
        return templates.TemplateResponse(
            request, template, {**base, **context}, status_code=status_code
        )
