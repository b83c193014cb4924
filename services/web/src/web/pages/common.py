"""What every page shares: the signed-in person, the CSRF check, the language, rendering, errors.

- The session is an opaque random id in an HttpOnly, SameSite=Lax cookie (Secure when the public
  URL is https); its hash is the key of `web_sessions` (web.store).
- CSRF: every form carries `csrf_token`, equal to the HttpOnly `csrf` cookie (double submit), checked
  on every POST before anything else; htmx sends it as `X-CSRF-Token` (set once on <body>).
- Language: the person's own (their account), else a `lang` cookie chosen on the page, else the
  browser's `Accept-Language`, else French.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web import i18n, store
from web.backends import Backends, Caller

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
SESSION_COOKIE = "session"
CSRF_COOKIE = "csrf"
LANG_COOKIE = "lang"

#: Every page's Content-Security-Policy: scripts and styles from our own origin only — no inline
#: script, event handler attribute, `style` attribute or <style> (templates use classes; bars are SVG
#: geometry; htmx is told not to inject its indicator styles nor to eval, base.html) — so an injected
#: fragment can run nothing; pico's icons are `data:` images; never framed, forms post only here.
CONTENT_SECURITY_POLICY = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    b"connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
#: FastAPI's API documentation pages load Swagger UI from a CDN with an inline script: not under the
#: policy (they are the service's own, not the public pages: the Ingress does not route them).
_API_DOCS = ("/docs", "/redoc")

templates = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext, npgettext=i18n.npgettext
)
templates.filters.update(i18n.FILTERS)


@dataclass(frozen=True)
class Person:
    user_id: UUID
    email: str
    name: str
    role: str
    integrator_id: str | None
    locale: str

    @property
    def is_staff(self) -> bool:
        return self.role in ("ops", "technician")

    @property
    def caller(self) -> Caller:
        return Caller(subject=self.email, role=self.role, integrator_id=self.integrator_id)


class NotSignedIn(Exception):
    """The page needs a person: to the sign-in page, and back here after."""


def runtime_of(request: Request) -> Any:
    return request.app.state.runtime


def backends_of(request: Request) -> Backends:
    backends: Backends = request.app.state.runtime.extras["backends"]
    return backends


BackendsDep = Annotated[Backends, Depends(backends_of)]


def secure_cookies(request: Request) -> bool:
    return str(runtime_of(request).settings.public_base_url).startswith("https://")


async def current_person(request: Request) -> Person | None:
    """The signed-in person, or None. Read once per request."""
    if "person" in request.state._state:
        person: Person | None = request.state.person
        return person
    person = None
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id and len(session_id) < 200:
        runtime = runtime_of(request)
        async with runtime.pool.acquire() as conn:
            user_id = await store.session_user(conn, session_id, runtime.clock.now())
        if user_id is not None:
            row = await runtime.projections.get("web_users", str(user_id))
            if row is not None:
                person = Person(
                    user_id=user_id,
                    email=row["email"],
                    name=row["name"],
                    role=row["role"],
                    integrator_id=row.get("integrator_id"),
                    locale=row.get("locale") or i18n.DEFAULT_LOCALE,
                )
    request.state.person = person
    if person is not None:
        i18n.current_locale.set(person.locale)
    return person


async def signed_in(request: Request) -> Person:
    person = await current_person(request)
    if person is None:
        raise NotSignedIn()
    return person


def role_required(*roles: str) -> Any:
    async def dependency(request: Request) -> Person:
        person = await signed_in(request)
        if person.role not in roles:
            raise HTTPException(403, "forbidden")
        return person

    return Depends(dependency)


SignedIn = Annotated[Person, Depends(signed_in)]
Integrator = Annotated[Person, role_required("integrator")]
Staff = Annotated[Person, role_required("ops", "technician")]
Ops = Annotated[Person, role_required("ops")]
Technician = Annotated[Person, role_required("technician", "ops")]


def csrf_token(request: Request) -> str:
    token: str = request.state.csrf
    return token


async def csrf_checked(request: Request) -> None:
    """Every state-changing request proves it comes from our own page (403 otherwise)."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = request.headers.get("x-csrf-token", "")
    if not given:
        form = await request.form()
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else ""
    if not expected or not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise HTTPException(403, "csrf")


CsrfChecked = Depends(csrf_checked)


class PageContext:
    """Per-request language and CSRF cookie, before the page runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        chosen = request.cookies.get(LANG_COOKIE)
        locale = chosen if chosen in i18n.LOCALES else i18n.negotiate(request.headers.get("accept-language"))
        token = i18n.current_locale.set(locale)
        csrf = request.cookies.get(CSRF_COOKIE)
        fresh = None
        if not csrf or len(csrf) > 100:
            csrf = fresh = secrets.token_urlsafe(24)
        scope.setdefault("state", {})["csrf"] = csrf
        secure = "; Secure" if scope.get("app") and _https(scope) else ""

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if fresh:
                    headers.append(
                        (
                            b"set-cookie",
                            f"{CSRF_COOKIE}={fresh}; Path=/; HttpOnly; SameSite=Lax{secure}".encode(),
                        )
                    )
                # Pages are personal: never kept by a shared cache, never framed by another site.
                headers.append((b"cache-control", b"no-store"))
                headers.append((b"x-frame-options", b"DENY"))
                headers.append((b"referrer-policy", b"same-origin"))
                if not scope["path"].startswith(_API_DOCS):
                    headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_cookie)
        finally:
            i18n.current_locale.reset(token)


def _https(scope: Scope) -> bool:
    app = scope.get("app")
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    return bool(runtime and str(runtime.settings.public_base_url).startswith("https://"))


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    person: Person | None = getattr(request.state, "person", None)
    html = templates.get_template(template).render(
        request=request,
        person=person,
        csrf_token=csrf_token(request),
        lang=i18n.current_locale.get(),
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def redirect(url: str, *, status_code: int = 303) -> RedirectResponse:
    return RedirectResponse(url, status_code=status_code)


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"/login?next={quote(target, safe='')}")


def safe_next(value: str | None) -> str:
    """Only our own paths: a `next` that points elsewhere would make the sign-in an open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def home_of(person: Person) -> str:
    return "/portal" if person.role == "integrator" else "/console"
