"""Pages anyone may open: sign in and out, and the pages behind every link an email carries
(portal invitation, password reset, satisfaction survey, ISM set-password).

A link's signed token is its own credential: it is checked (signature, expiry, already used) before
any expensive work, and a used, expired or tampered link says so kindly on a page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from contracts.errors import Refusal
from contracts.events.common import Locale
from web import accounts, commands, i18n
from web.backends import Refused
from web.backoff import SignInBackoff
from web.i18n import _
from web.pages.common import (
    LANG_COOKIE,
    SESSION_COOKIE,
    BackendsDep,
    CsrfChecked,
    current_person,
    home_of,
    redirect,
    render,
    runtime_of,
    safe_next,
    secure_cookies,
)

router = APIRouter(include_in_schema=False)

#: A password a person chooses: long enough to resist guessing, short enough to hash cheaply.
MIN_PASSWORD = 12
MAX_PASSWORD = 128


def password_problem(password: str, confirmation: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return _("Choose a password of at least %(n)s characters.", n=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        return _("Choose a password of at most %(n)s characters.", n=MAX_PASSWORD)
    if password != confirmation:
        return _("The two passwords differ.")
    return None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


def too_many(request: Request, scope: str, rate: str, template: str, **context: Any) -> Response | None:
    """One more attempt from this client address in `scope`; past `rate`, the form's page again
    saying when to come back (429 with Retry-After), and nothing else is done."""
    runtime = runtime_of(request)
    wait = runtime.rate_limits.retry_after(scope, client_address(request), rate)
    if not wait:
        return None
    message = _("Too many attempts from your address. Try again in %(s)s seconds.", s=wait)
    key = "message" if template == "link_problem.html" else "error"
    response = render(request, template, status_code=429, **{key: message}, **context)
    response.headers["Retry-After"] = str(wait)
    return response


def too_many_on_link(request: Request, title: str) -> Response | None:
    """A link page's POST, bounded per client address."""
    limit = runtime_of(request).settings.rate_limit_link
    return too_many(request, "link-page", limit, "link_problem.html", title=title)


def link_problem(error: Refusal) -> str:
    """A kind sentence for a link that cannot be used, in the reader's language."""
    code = getattr(error, "code", "")
    if code == "expired_token":
        return _("This link has expired. Ask for a new one: the platform will email it to you.")
    if code in ("link_used", "survey_already_answered") or error.status == 409:
        return _("This link was already used.")
    return _("This link is not valid. Check that you copied it whole from the email.")


@router.get("/")
async def home(request: Request) -> Response:
    person = await current_person(request)
    return redirect(home_of(person) if person else "/login")


# --- sign in / out ---------------------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    person = await current_person(request)
    if person is not None:
        return redirect(safe_next(next) if next else home_of(person))
    return render(request, "login.html", next=safe_next(next), email="")


@router.post("/login", dependencies=[CsrfChecked])
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=MAX_PASSWORD)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    runtime = runtime_of(request)
    limit = runtime.settings.rate_limit_sign_in
    if limited := too_many(request, "sign-in", limit, "login.html", next=safe_next(next), email=email):
        return limited
    backoff: SignInBackoff = runtime.extras["sign_in_backoff"]
    client, now = client_address(request), runtime.clock.now().timestamp()
    if wait := backoff.wait(email, client, now):
        # Before any lookup: the same for an address with or without an account.
        response = render(
            request,
            "login.html",
            status_code=429,
            next=safe_next(next),
            email=email,
            error=_("Too many attempts from your address. Try again in %(s)s seconds.", s=wait),
        )
        response.headers["Retry-After"] = str(wait)
        return response
    result = await commands.sign_in(runtime, email, password)
    if result.session_id is None:
        backoff.failed(email, client, now)
        return render(
            request,
            "login.html",
            status_code=401,
            next=safe_next(next),
            email=email,
            error=_("Wrong email or password."),
        )
    backoff.succeeded(email, client)
    row = await runtime.projections.get("web_users", str(result.user_id))
    target = safe_next(next)
    if target == "/" and row is not None:
        target = "/portal" if row["role"] == "integrator" else "/console"
    response = redirect(target)
    response.set_cookie(
        SESSION_COOKIE,
        result.session_id,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        max_age=runtime.settings.session_hours * 3600,
    )
    return response


@router.post("/logout", dependencies=[CsrfChecked])
async def logout(request: Request) -> Response:
    runtime = runtime_of(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        from web import store

        async with runtime.pool.acquire() as conn:
            await store.close_session(conn, session_id)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/language", dependencies=[CsrfChecked])
async def choose_language(
    request: Request,
    lang: Annotated[str, Form(max_length=5)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    if lang not in i18n.LOCALES:
        lang = i18n.DEFAULT_LOCALE
    person = await current_person(request)
    if person is not None:
        # The person's language is theirs everywhere: pages and the emails the notifier sends them.
        await commands.change_locale(runtime_of(request), person.user_id, Locale(lang))
    response = redirect(safe_next(next))
    response.set_cookie(
        LANG_COOKIE, lang, samesite="lax", secure=secure_cookies(request), max_age=365 * 86400
    )
    return response


# --- invitation and password reset -----------------------------------------------------------------


async def _choose_password_page(request: Request, purpose: str, token: str, title: str) -> Response:
    runtime = runtime_of(request)
    try:
        holder = await commands.link_holder(runtime, purpose, token)
        await commands.check_link_open(runtime, holder)
    except Refusal as error:
        return render(request, "link_problem.html", status_code=410, title=title, message=link_problem(error))
    return render(
        request, "choose_password.html", title=title, email=holder.row["email"], name=holder.row["name"]
    )


async def _choose_password(
    request: Request, purpose: str, token: str, title: str, password: str, confirmation: str
) -> Response:
    if limited := too_many_on_link(request, title):
        return limited
    runtime = runtime_of(request)
    try:
        holder = await commands.link_holder(runtime, purpose, token)
        await commands.check_link_open(runtime, holder)
    except Refusal as error:
        return render(request, "link_problem.html", status_code=410, title=title, message=link_problem(error))
    problem = password_problem(password, confirmation)
    if problem:
        return render(
            request,
            "choose_password.html",
            status_code=422,
            title=title,
            email=holder.row["email"],
            name=holder.row["name"],
            error=problem,
        )
    try:
        await commands.set_password(runtime, holder, password)
    except Refusal as error:
        return render(request, "link_problem.html", status_code=410, title=title, message=link_problem(error))
    return render(request, "password_chosen.html", title=title, email=holder.row["email"])


@router.get("/invitation/{token}")
async def invitation_page(request: Request, token: str) -> Response:
    return await _choose_password_page(
        request, commands.INVITATION, token[:500], _("Welcome to the integrator platform")
    )


@router.post("/invitation/{token}", dependencies=[CsrfChecked])
async def accept_invitation(
    request: Request,
    token: str,
    password: Annotated[str, Form(max_length=MAX_PASSWORD + 1)] = "",
    confirmation: Annotated[str, Form(max_length=MAX_PASSWORD + 1)] = "",
) -> Response:
    return await _choose_password(
        request,
        commands.INVITATION,
        token[:500],
        _("Welcome to the integrator platform"),
        password,
        confirmation,
    )


@router.get("/password-reset")
async def reset_request_page(request: Request) -> Response:
    return render(request, "reset_request.html")


@router.post("/password-reset", dependencies=[CsrfChecked])
async def request_reset(request: Request, email: Annotated[str, Form(max_length=320)] = "") -> Response:
    runtime = runtime_of(request)
    if limited := too_many(request, "sign-in", runtime.settings.rate_limit_sign_in, "reset_request.html"):
        return limited
    if accounts.address_problem(email) is None:  # no account has any other: no lookup for it
        commands.request_reset_later(runtime, email)  # after the answer, whatever the address
    # The same answer whether or not the address has an account: nobody learns who has one.
    return render(request, "reset_requested.html", email=email)


@router.get("/password-reset/{token}")
async def reset_page(request: Request, token: str) -> Response:
    return await _choose_password_page(
        request, commands.PASSWORD_RESET, token[:500], _("Choose a new password")
    )


@router.post("/password-reset/{token}", dependencies=[CsrfChecked])
async def reset_password(
    request: Request,
    token: str,
    password: Annotated[str, Form(max_length=MAX_PASSWORD + 1)] = "",
    confirmation: Annotated[str, Form(max_length=MAX_PASSWORD + 1)] = "",
) -> Response:
    return await _choose_password(
        request, commands.PASSWORD_RESET, token[:500], _("Choose a new password"), password, confirmation
    )


# --- satisfaction survey (support) ----------------------------------------------------------------


def _link_refusal(refused: Refused) -> str:
    code = str(refused.problem.get("code", ""))
    if code == "expired_token":
        return _("This link has expired. Ask for a new one: the platform will email it to you.")
    if refused.status == 409:
        return _("This link was already used.")
    return _("This link is not valid. Check that you copied it whole from the email.")


@router.get("/survey/{token}")
async def survey_page(request: Request, token: str, backends: BackendsDep) -> Response:
    title = _("Your opinion on our support")
    try:
        survey = await backends.get("support", f"/surveys/{token[:500]}", None)
    except Refused as refused:
        return render(
            request, "link_problem.html", status_code=410, title=title, message=_link_refusal(refused)
        )
    if survey.get("answered"):
        return render(request, "survey_answered.html", title=title, already=True)
    return render(request, "survey.html", title=title, survey=survey)


@router.post("/survey/{token}", dependencies=[CsrfChecked])
async def answer_survey(
    request: Request,
    token: str,
    backends: BackendsDep,
    rating: Annotated[int | None, Form(ge=1, le=5)] = None,
    comment: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    title = _("Your opinion on our support")
    if limited := too_many_on_link(request, title):
        return limited
    if rating is None:
        try:
            survey = await backends.get("support", f"/surveys/{token[:500]}", None)
        except Refused as refused:
            return render(
                request, "link_problem.html", status_code=410, title=title, message=_link_refusal(refused)
            )
        return render(
            request,
            "survey.html",
            status_code=422,
            title=title,
            survey=survey,
            error=_("Choose a rating from 1 to 5."),
        )
    try:
        await backends.post(
            "support",
            f"/surveys/{token[:500]}",
            None,
            json={"rating": rating, "comment": comment.strip() or None},
        )
    except Refused as refused:
        if refused.status == 409:
            return render(request, "survey_answered.html", title=title, already=True)
        return render(
            request, "link_problem.html", status_code=410, title=title, message=_link_refusal(refused)
        )
    return render(request, "survey_answered.html", title=title, already=False, rating=rating)


# --- ISM set-password (ism-provisioning) -----------------------------------------------------------


@router.get("/ism/set-password")
async def ism_password_page(
    request: Request, backends: BackendsDep, token: Annotated[str, Query(max_length=500)] = ""
) -> Response:
    title = _("Your provisioning platform (ISM) password")
    try:
        account: dict[str, Any] = await backends.get(
            "ism-provisioning", "/ism/set-password", None, params={"token": token}
        )
    except Refused as refused:
        return render(
            request, "link_problem.html", status_code=410, title=title, message=_link_refusal(refused)
        )
    return render(request, "ism_password.html", title=title, account=account, token=token)


@router.post("/ism/set-password", dependencies=[CsrfChecked])
async def ism_set_password(
    request: Request,
    backends: BackendsDep,
    token: Annotated[str, Form(max_length=500)] = "",
    password: Annotated[str, Form(max_length=MAX_PASSWORD + 1)] = "",
    confirmation: Annotated[str, Form(max_length=MAX_PASSWORD + 1)] = "",
) -> Response:
    title = _("Your provisioning platform (ISM) password")
    if limited := too_many_on_link(request, title):
        return limited
    try:
        account: dict[str, Any] = await backends.get(
            "ism-provisioning", "/ism/set-password", None, params={"token": token}
        )
    except Refused as refused:
        return render(
            request, "link_problem.html", status_code=410, title=title, message=_link_refusal(refused)
        )
    problem = password_problem(password, confirmation)
    if problem:
        return render(
            request,
            "ism_password.html",
            status_code=422,
            title=title,
            account=account,
            token=token,
            error=problem,
        )
    try:
        result = await backends.post(
            "ism-provisioning", "/ism/set-password", None, json={"token": token, "password": password}
        )
    except Refused as refused:
        if refused.status == 422 and refused.field == "password":
            return render(
                request,
                "ism_password.html",
                status_code=422,
                title=title,
                account=account,
                token=token,
                error=refused.detail,
            )
        return render(
            request, "link_problem.html", status_code=410, title=title, message=_link_refusal(refused)
        )
    return render(request, "ism_password_set.html", title=title, account=result)
