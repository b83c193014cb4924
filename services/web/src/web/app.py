"""Wiring of the web front: settings, runtime, pages, command line. The only module that knows all.

The web front is the platform's one public origin: the integrator portal, the staff console and the
pages behind every email link. It owns accounts and sessions only; everything else it shows or
changes goes through the five services' public HTTP APIs, as the signed-in person.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer
from email_validator import EmailNotValidError, validate_email
from fastapi import Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from chassis.cli import service_cli
from chassis.clock import Clock
from chassis.http import problem
from chassis.links import sign_link_token
from chassis.runtime import ServiceRuntime
from chassis.settings import ServiceSettings
from contracts.events.common import Locale
from contracts.events.web import PortalRole
from web import accounts, commands, store
from web.backends import Backends, Refused, ServiceDown
from web.backoff import SignInBackoff
from web.i18n import _
from web.pages import console, portal, public
from web.pages.common import NotSignedIn, PageContext, login_redirect, render
from web.projections import PROJECTIONS
from web.reactions import REACTIONS

STATIC_DIR = Path(__file__).parent / "static"


class Settings(ServiceSettings):
    http_port: int = 8000
    #: The services the pages call (their public HTTP APIs).
    onboarding_url: str = "http://127.0.0.1:8001"
    sim_logistics_url: str = "http://127.0.0.1:8002"
    ism_provisioning_url: str = "http://127.0.0.1:8003"
    support_url: str = "http://127.0.0.1:8004"
    notifier_url: str = "http://127.0.0.1:8005"
    #: Days an invitation link stays valid (INVITATION_TTL_DAYS).
    invitation_ttl_days: int = Field(default=7, ge=1, le=60)
    #: Hours a password-reset link stays valid (PASSWORD_RESET_TTL_HOURS).
    password_reset_ttl_hours: int = Field(default=2, ge=1, le=72)
    #: Hours a session lasts (SESSION_HOURS).
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    #: Sign-in and reset requests per client address (RATE_LIMIT_SIGN_IN, chassis.ratelimit's syntax).
    rate_limit_sign_in: str = "30 per 15 minutes"
    #: A trace backend's query API (e.g. Jaeger's `http://jaeger:16686`); else the local span files.
    trace_query_url: str | None = None
    #: A Prometheus whose firing alerts the operations page shows (`make run` starts one).
    prometheus_url: str | None = None
    #: The trace UI for a link beside the waterfall (e.g. `http://jaeger:16686/trace/{trace_id}`).
    trace_ui_url: str | None = None
    #: Whom the portal names as the integrator's contact (home and support pages, web.contact): the
    #: notifier's settings, same names and defaults, so the pages say what the emails' signature says.
    vendor_name: str = "Caisse Libre Éditions"
    sales_admin_name: str = "Claire Dubois"
    sales_admin_role: str = "Administratrice des ventes"
    support_phone: str = "+33 1 84 80 12 00"
    support_email: str = "support@caisse-libre.example"
    support_hours: str = "lundi–vendredi 9 h–12 h, 14 h–18 h"
    support_hours_en: str = "Monday–Friday 9:00–12:00, 14:00–18:00 (Paris time)"
    #: The vendor's postal address (VENDOR_ADDRESS), its lines separated by ";".
    vendor_address: str = "Caisse Libre Éditions; 18 rue de la Caisse; 75011 Paris; France"

    @field_validator("support_email")
    @classmethod
    def _an_address(cls, value: str) -> str:
        # A mailto: link to a typo would be found by the first integrator who writes: refuse at start.
        try:
            validate_email(value, check_deliverability=False)
        except EmailNotValidError as bad:
            raise ValueError(f"not an email address: {bad}") from None
        return value


def _page_errors(runtime: ServiceRuntime) -> None:
    app = runtime.http_app

    def wants_page(request: Request) -> bool:
        path = request.url.path
        return not (path.startswith("/ops/") or path in ("/healthz", "/readyz", "/openapi.json", "/metrics"))

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _error: NotSignedIn) -> Response:
        return login_redirect(request)

    @app.exception_handler(ServiceDown)
    async def service_down(request: Request, error: ServiceDown) -> Response:
        return render(
            request,
            "error.html",
            status_code=503,
            title=_("Temporarily unavailable"),
            message=_(
                "Part of the platform (%(service)s) does not answer right now. Nothing was changed: "
                "try again in a moment.",
                service=error.service,
            ),
        )

    @app.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> Response:
        if error.status == 404:
            return render(
                request,
                "error.html",
                status_code=404,
                title=_("Not found"),
                message=_("This page does not exist."),
            )
        return render(
            request, "error.html", status_code=error.status, title=_("Refused"), message=error.detail
        )

    async def http_error(request: Request, error: Any) -> Response:
        status = error.status_code
        if not wants_page(request):
            response = problem(status, "Error", str(error.detail))
            response.headers.update(getattr(error, "headers", None) or {})
            return response
        if status == 403 and error.detail == "csrf":
            title, message = (
                _("Form expired"),
                _(
                    "This form could not be checked (it may be old, or come from another site). "
                    "Reload the page and try again."
                ),
            )
        elif status == 403:
            title, message = _("Not allowed"), _("Your account cannot open this page.")
        elif status == 404:
            title, message = _("Not found"), _("This page does not exist.")
        else:
            title, message = _("Error"), str(error.detail)
        return render(request, "error.html", status_code=status, title=title, message=message)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(StarletteHTTPException, http_error)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        if not wants_page(request):
            fields = ", ".join(
                sorted({".".join(str(p) for p in e.get("loc", ())[1:]) for e in error.errors()})
            )
            return problem(422, "Invalid request", f"invalid: {fields}")
        fields = ", ".join(sorted({str(e.get("loc", ("?",))[-1]) for e in error.errors()}))
        return render(
            request,
            "error.html",
            status_code=422,
            title=_("Invalid form"),
            message=_("Check these fields and try again: %(fields)s.", fields=fields),
        )


def build_runtime(settings: Settings, clock: Clock | None = None) -> ServiceRuntime:
    runtime = ServiceRuntime(
        name="web",
        settings=settings,
        clock=clock,
        routers=[public.router, portal.router, console.router],
        projections=PROJECTIONS,
        reactions=REACTIONS,
        migrations=store.MIGRATIONS,
        description=__doc__ or "",
    )
    backends = Backends(
        {
            "onboarding": settings.onboarding_url,
            "sim-logistics": settings.sim_logistics_url,
            "ism-provisioning": settings.ism_provisioning_url,
            "support": settings.support_url,
            "notifier": settings.notifier_url,
        },
        settings.auth_secret.get_secret_value(),
    )
    runtime.extras["backends"] = backends
    runtime.extras["sign_in_backoff"] = SignInBackoff()
    runtime.on_stop.append(backends.close)
    app = runtime.http_app
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(PageContext)
    _page_errors(runtime)
    return runtime


cli = service_cli(build_runtime, Settings)
users = typer.Typer(no_args_is_help=True, help="The people who sign in.")
cli.add_typer(users, name="users")


@users.command("add")
def add_user(
    email: str = typer.Option(..., help="their email address: the invitation goes there"),
    name: str = typer.Option(..., help="their full name"),
    role: PortalRole = typer.Option(..., help="ops or technician (integrator users come from registrations)"),
    integrator_id: str = typer.Option(None, help="for an integrator user: its integrator"),
    locale: Locale = typer.Option(Locale.FR, help="fr or en"),
    print_link: bool = typer.Option(
        False, help="also print the invitation link here (no mail server at hand)"
    ),
) -> None:
    """Invite a person: the notifier emails them a single-use link to choose their password."""
    if problem := accounts.address_problem(email):
        raise typer.BadParameter(problem, param_hint="--email")
    settings = Settings()
    runtime = build_runtime(settings)

    async def main() -> str:
        await runtime.connect()
        try:
            async with runtime.unit_of_work() as uow:
                invited = await commands.invite(
                    uow,
                    email=email,
                    name=name,
                    role=role,
                    integrator_id=integrator_id,
                    locale=locale,
                    invited_by="web users add",
                )
            account = invited.state
            assert account is not None
            if not account.open_links:
                return f"{email} already has a password: nothing sent"
            token_id, expires_at = max(account.open_links.items(), key=lambda item: item[1])
            link = f"{settings.public_base_url.rstrip('/')}/invitation/" + sign_link_token(
                settings.link_signing_secret.get_secret_value(), commands.INVITATION, token_id, expires_at
            )
            return f"{email} invited as {role.value}" + (
                f": {link}" if print_link else " (the email is on its way)"
            )
        finally:
            await runtime.pool.close()
            await asyncio.sleep(0)

    typer.echo(asyncio.run(main()))


__all__ = ["JSONResponse", "Settings", "build_runtime", "cli"]
