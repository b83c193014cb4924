"""The staff console: ops and technicians work the whole process in the browser.

Every read and every action goes through the owning service's HTTP API as the signed-in staff
member (`person.caller`), so the services decide and their events record who acted; a refusal comes
back as the service's problem+json and is shown beside the form it answers. Lists are paged and
filtered by the services (query parameters), never in the browser.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import Response

from web import progress, traces
from web.backends import SERVICES, Backends, Refused, ServiceDown
from web.i18n import _
from web.pages.common import (
    BackendsDep,
    CsrfChecked,
    Ops,
    Person,
    Staff,
    Technician,
    redirect,
    render,
    runtime_of,
)

router = APIRouter(prefix="/console", include_in_schema=False)

#: Rows per page of the boards: one screen, and what the services answer well under the p99 target.
PAGE_SIZE = 50
STEPS = ("registered", "electrical_profile", "test_sims", "production", "ism", "live")
DOSSIER_ITEMS = (
    "electrical_profile_sheet",
    "sim_artwork",
    "offers_table",
    "tariffs_metropolitan",
    "tariffs_international",
    "terminals_table",
    "logo",
    "footer_banner",
    "arcep_declaration",
    "invoice_sender_email",
)
TABLE_ITEMS = {"offers_table", "tariffs_metropolitan", "tariffs_international", "terminals_table"}
#: Files a browser may show inline from our origin; anything else is downloaded (never rendered).
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"}
CATEGORIES = ("incident", "question", "correction_request", "improvement_request", "non_compliance")
SEVERITIES = ("low", "normal", "high", "critical")
QUEUES = ("mine", "unassigned", "waiting_on_tracker", "open", "all")


def step_label(step: str | None) -> str:
    return {
        "registered": _("Registered"),
        "electrical_profile": _("Step 1 — electrical profile"),
        "test_sims": _("Step 2 — test SIMs"),
        "production": _("Step 3 — production"),
        "ism": _("ISM"),
        "live": _("Live"),
    }.get(step or "", step or "—")


def pending_label(what: str) -> str:
    kind, _sep, item = what.partition(":")
    if kind == "review":
        return _("review %(item)s", item=progress.item_label(item))
    if kind == "submit":
        return _("submit %(item)s", item=progress.item_label(item))
    return {
        "configuration_sheet": _("send the configuration sheet"),
        "electrical_profile": _("create the electrical profile"),
        "electrical_profile_sheet": _("return the electrical profile sheet"),
        "test_sims_validation": _("test SIMs to ship and validate"),
        "sims_delivery": _("SIMs to produce and deliver"),
        "ism_delivery": _("ISM to deliver"),
    }.get(what, what)


def status_label(status: str | None) -> str:
    return {
        "missing": _("missing"),
        "submitted": _("to review"),
        "accepted": _("accepted"),
        "rejected": _("refused"),
        "new": _("new"),
        "in_progress": _("in progress"),
        "waiting_on_tracker": _("waiting on the tracker"),
        "resolved": _("resolved"),
        "closed": _("closed"),
    }.get(status or "", status or "—")


def category_label(category: str | None) -> str:
    return {
        "incident": _("Incident"),
        "question": _("Question"),
        "correction_request": _("Correction request"),
        "improvement_request": _("Improvement request"),
        "non_compliance": _("Non-compliance"),
        "unqualified": _("Not qualified yet"),
    }.get(category or "", category or "—")


def severity_label(severity: str | None) -> str:
    return {"low": _("low"), "normal": _("normal"), "high": _("high"), "critical": _("critical")}.get(
        severity or "", severity or "—"
    )


def channel_label(channel: str | None) -> str:
    return {"email": _("Email"), "phone": _("Phone call"), "api": _("Portal / API")}.get(
        channel or "", channel or "—"
    )


LABELS = {
    "step_label": step_label,
    "item_label": progress.item_label,
    "item_state": progress.item_state,
    "detail_label": progress.detail_label,
    "pending_label": pending_label,
    "status_label": status_label,
    "category_label": category_label,
    "severity_label": severity_label,
    "channel_label": channel_label,
}

#: Messages shown once after an action (the redirect names one by key: no text travels in the URL).
FLASHES = {
    "accepted": lambda: _("The item is accepted."),
    "refused": lambda: _("The item is refused; the integrator sees the reason."),
    "done": lambda: _("Done: the service recorded it."),
    "ticket_opened": lambda: _("The ticket is registered."),
    "published": lambda: _("The release is published."),
    "withdrawn": lambda: _("The release is withdrawn."),
    "replayed": lambda: _("The dead letter was replayed."),
    "resent": lambda: _("The email is being sent again."),
}


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    flash_key = request.query_params.get("flash")
    flash = FLASHES[flash_key]() if flash_key in FLASHES else None
    return render(request, template, status_code=status_code, flash=flash, **LABELS, **context)


def _query(**params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "", False)}
    return ("?" + urlencode(kept)) if kept else ""


# --- the integrators board (ops) ---------------------------------------------------------------------


@router.get("")
async def integrators_board(
    request: Request,
    person: Staff,
    backends: BackendsDep,
    step: Annotated[str | None, Query(max_length=30)] = None,
    overdue: Annotated[bool, Query()] = False,
    waiting: Annotated[str | None, Query(max_length=20)] = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    if person.role != "ops":
        # The console's home after signing in: the board is ops', a technician's desk is the queue.
        return redirect("/console/tickets")
    step = step if step in STEPS else None
    waiting = waiting if waiting in ("vendor", "integrator") else None
    rows = await backends.get(
        "onboarding",
        "/integrators",
        person.caller,
        params={
            "step": step,
            "overdue": "true" if overdue else None,
            "waiting_on": waiting,
            "limit": PAGE_SIZE + 1,
            "offset": (page_number - 1) * PAGE_SIZE,
        },
    )
    filters = {"step": step, "overdue": overdue, "waiting": waiting}
    return page(
        request,
        "console/board.html",
        integrators=rows[:PAGE_SIZE],
        filters=filters,
        steps=STEPS,
        page_number=page_number,
        previous_url=_query(**filters, page=page_number - 1) if page_number > 1 else None,
        next_url=_query(**filters, page=page_number + 1) if len(rows) > PAGE_SIZE else None,
    )


# --- one integrator (ops) ----------------------------------------------------------------------------


async def _timeline(
    backends: Backends, person: Person, integrator_id: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every service's events about the integrator, merged in time order; the services that did not
    answer are named (the rest of the timeline still shows)."""

    async def events_of(service: str) -> list[dict[str, Any]] | None:
        try:
            events: list[dict[str, Any]] = await backends.get(
                service, f"/ops/integrators/{integrator_id}/events", person.caller
            )
        except ServiceDown:
            return None
        return events

    answers = await asyncio.gather(*(events_of(s) for s in SERVICES))
    merged = sorted(
        (e for events in answers if events for e in events), key=lambda e: (e["occurred_at"], e["position"])
    )
    down = [s for s, events in zip(SERVICES, answers, strict=True) if events is None]
    return merged, down


async def _integrator_page(
    request: Request,
    person: Person,
    backends: Backends,
    integrator_id: str,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    status, contacts, sims, ism, (timeline, down) = await backends.gather(
        backends.get("onboarding", f"/integrators/{integrator_id}", person.caller),
        backends.get_or_none("notifier", f"/integrators/{integrator_id}/contacts", person.caller),
        backends.get_or_none("sim-logistics", f"/integrators/{integrator_id}/sims", person.caller),
        backends.get_or_none("ism-provisioning", f"/integrators/{integrator_id}/ism", person.caller),
        _timeline(backends, person, integrator_id),
    )
    tables: dict[str, Any] = {}
    submitted_tables = [
        item for item in TABLE_ITEMS if status["dossier"].get(item, {}).get("status") == "submitted"
    ]
    if submitted_tables:
        shown = await backends.gather(
            *(
                backends.get_or_none(
                    "onboarding",
                    f"/integrators/{integrator_id}/dossier/{item}/table",
                    person.caller,
                    params={"limit": 200},
                )
                for item in submitted_tables
            )
        )
        tables = dict(zip(submitted_tables, shown, strict=True))
    return page(
        request,
        "console/integrator.html",
        status_code=status_code,
        integrator=status,
        integrator_id=integrator_id,
        contacts=contacts,
        sims=sims,
        ism=ism,
        timeline=timeline,
        services_down=down,
        items=DOSSIER_ITEMS,
        tables=tables,
        errors=errors or {},
        form=form or {},
    )


@router.get("/integrators/{integrator_id}")
async def integrator(request: Request, integrator_id: str, person: Ops, backends: BackendsDep) -> Response:
    return await _integrator_page(request, person, backends, integrator_id)


@router.get("/integrators/{integrator_id}/dossier/{item}/file")
async def dossier_file(integrator_id: str, item: str, person: Ops, backends: BackendsDep) -> Response:
    """The submitted file, from onboarding, for the reviewer's browser. Only images and PDFs are shown
    inline (and sandboxed); any other type is a download, never rendered from our origin."""
    if item not in DOSSIER_ITEMS:
        raise HTTPException(404, "no such item")
    upstream = await backends.request(
        "onboarding", "GET", f"/integrators/{integrator_id}/dossier/{item}/file", person.caller
    )
    media_type = upstream.headers.get("content-type", "application/octet-stream").split(";")[0].strip()
    disposition = upstream.headers.get("content-disposition", "attachment")
    if media_type in INLINE_TYPES:
        disposition = disposition.replace("attachment", "inline", 1)
    else:
        media_type = "application/octet-stream"
    return Response(
        upstream.content,
        media_type=media_type,
        headers={
            "Content-Disposition": disposition,
            "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/integrators/{integrator_id}/dossier/{item}/acceptance", dependencies=[CsrfChecked])
async def accept_item(
    request: Request, integrator_id: str, item: str, person: Ops, backends: BackendsDep
) -> Response:
    if item not in DOSSIER_ITEMS:
        raise HTTPException(404, "no such item")
    try:
        await backends.post(
            "onboarding", f"/integrators/{integrator_id}/dossier/{item}/acceptance", person.caller
        )
    except Refused as refused:
        if refused.status == 404:
            raise
        return await _integrator_page(
            request,
            person,
            backends,
            integrator_id,
            errors={item: refused.detail},
            status_code=refused.status,
        )
    return redirect(f"/console/integrators/{integrator_id}?flash=accepted#dossier")


@router.post("/integrators/{integrator_id}/dossier/{item}/rejection", dependencies=[CsrfChecked])
async def refuse_item(
    request: Request,
    integrator_id: str,
    item: str,
    person: Ops,
    backends: BackendsDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    if item not in DOSSIER_ITEMS:
        raise HTTPException(404, "no such item")
    reason = reason.strip()
    if not reason:
        return await _integrator_page(
            request,
            person,
            backends,
            integrator_id,
            errors={item: _("Say why the item is refused: the integrator reads it.")},
            status_code=422,
        )
    try:
        await backends.post(
            "onboarding",
            f"/integrators/{integrator_id}/dossier/{item}/rejection",
            person.caller,
            json={"reason": reason},
        )
    except Refused as refused:
        if refused.status == 404:
            raise
        return await _integrator_page(
            request,
            person,
            backends,
            integrator_id,
            errors={item: refused.detail},
            status_code=refused.status,
            form={f"reason-{item}": reason},
        )
    return redirect(f"/console/integrators/{integrator_id}?flash=refused#dossier")


def _step_action(action: str, form: dict[str, str]) -> tuple[str, str, dict[str, Any] | None]:
    """(service, path under the integrator, JSON body) of a step action; the service checks it."""
    if action == "configuration-sheet":
        return "onboarding", "/configuration-sheet", None
    if action == "electrical-profile":
        return "onboarding", "/electrical-profile", {"profile_reference": form.get("profile_reference", "")}
    if action == "ship-test-sims":
        iccids = [v for v in (form.get("iccid_1", ""), form.get("iccid_2", "")) if v]
        body = {
            "iccids": iccids,
            "carrier": form.get("carrier", ""),
            "tracking_number": form.get("tracking_number", ""),
        }
        return "sim-logistics", "/test-sims/shipments", body
    if action == "validate-sims":
        return "sim-logistics", "/test-sims/validation", None
    if action == "refuse-sims":
        return "sim-logistics", "/test-sims/rejection", {"reason": form.get("reason", "")}
    if action == "start-production":
        return "sim-logistics", "/production/start", None
    if action == "deliver-sims":
        body = {
            "quantity": form.get("quantity") or 0,
            "iccid_first": form.get("iccid_first", ""),
            "iccid_last": form.get("iccid_last", ""),
            "delivery_note_number": form.get("delivery_note_number", ""),
        }
        return "sim-logistics", "/production/delivery", body
    if action == "delivery-note":
        body = {
            "delivery_note_number": form.get("delivery_note_number", ""),
            "tariff_grid_reference": form.get("tariff_grid_reference", ""),
        }
        return "sim-logistics", "/production/delivery-note", body
    if action == "deliver-ism":
        return "ism-provisioning", "/ism/delivery", None
    raise HTTPException(404, "no such action")


@router.post("/integrators/{integrator_id}/actions/{action}", dependencies=[CsrfChecked])
async def step_action(
    request: Request, integrator_id: str, action: str, person: Ops, backends: BackendsDep
) -> Response:
    form = {k: str(v).strip()[:2000] for k, v in (await request.form()).items() if k != "csrf_token"}
    service, path, body = _step_action(action, form)
    try:
        await backends.post(service, f"/integrators/{integrator_id}{path}", person.caller, json=body)
    except Refused as refused:
        if refused.status == 404 and not refused.field:
            raise
        message = refused.detail
        if refused.errors:
            message = "; ".join(
                f"{e.get('field') or ''}: {e.get('message') or e.get('reason') or ''}".strip(": ")
                for e in refused.errors
            )
        return await _integrator_page(
            request,
            person,
            backends,
            integrator_id,
            errors={action: message},
            status_code=refused.status if refused.status != 404 else 422,
            form=form,
        )
    return redirect(f"/console/integrators/{integrator_id}?flash=done#steps")


# --- trace view --------------------------------------------------------------------------------------


@router.get("/traces/{trace_id}")
async def trace_view(request: Request, trace_id: str, person: Ops, backends: BackendsDep) -> Response:
    trace_id = trace_id.strip().lower()
    if not traces.TRACE_ID.match(trace_id):
        raise HTTPException(404, "no such trace")
    settings = runtime_of(request).settings
    try:
        shown = await traces.load(
            trace_id,
            traces_dir=settings.traces_dir,
            query_url=settings.trace_query_url,
            http=backends.http,
        )
    except traces.TraceBackendDown:
        raise ServiceDown("tracing") from None
    ui_url = settings.trace_ui_url.format(trace_id=trace_id) if settings.trace_ui_url else None
    return page(
        request,
        "console/trace.html",
        status_code=200 if shown else 404,
        trace=shown,
        trace_id=trace_id,
        ui_url=ui_url,
    )


# --- support desk (technicians; ops may look) ---------------------------------------------------------


async def _queue_page(
    request: Request,
    person: Person,
    backends: Backends,
    *,
    queue: str = "open",
    order: str = "age",
    page_number: int = 1,
) -> Response:
    answer = await backends.get(
        "support",
        "/ticket-queue",
        person.caller,
        params={
            "queue": queue,
            "order": order,
            "limit": PAGE_SIZE + 1,
            "offset": (page_number - 1) * PAGE_SIZE,
        },
    )
    rows = answer["tickets"]
    return page(
        request,
        "console/tickets.html",
        tickets=rows[:PAGE_SIZE],
        queue=queue,
        order=order,
        queues=QUEUES,
        counts=answer.get("counts", {}),
        page_number=page_number,
        previous_url=_query(queue=queue, order=order, page=page_number - 1) if page_number > 1 else None,
        next_url=_query(queue=queue, order=order, page=page_number + 1) if len(rows) > PAGE_SIZE else None,
    )


async def _new_ticket_page(
    request: Request,
    person: Person,
    backends: Backends,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    # Its own page: the list of every integrator by name is read only when registering a ticket.
    integrators = await backends.get("support", "/ticket-queue/integrators", person.caller)
    return page(
        request,
        "console/ticket_new.html",
        status_code=status_code,
        channels=("phone", "email"),
        integrators=integrators,
        form=form or {},
        errors=errors or {},
    )


@router.get("/tickets")
async def ticket_queue(
    request: Request,
    person: Technician,
    backends: BackendsDep,
    queue: Annotated[str, Query(max_length=30)] = "open",
    order: Annotated[str, Query(max_length=20)] = "age",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    return await _queue_page(
        request,
        person,
        backends,
        queue=queue if queue in QUEUES else "open",
        order=order if order in ("age", "severity") else "age",
        page_number=page_number,
    )


@router.get("/tickets/new")
async def new_ticket(request: Request, person: Technician, backends: BackendsDep) -> Response:
    return await _new_ticket_page(request, person, backends)


@router.post("/tickets", dependencies=[CsrfChecked])
async def register_ticket(request: Request, person: Technician, backends: BackendsDep) -> Response:
    """A phone call or an email registered as a ticket, before any answer (seed 004)."""
    form = {k: str(v).strip()[:20_000] for k, v in (await request.form()).items() if k != "csrf_token"}
    body = {
        "integrator_id": form.get("integrator_id") or None,
        "channel": form.get("channel") if form.get("channel") in ("phone", "email") else "phone",
        "requester": {"name": form.get("requester_name", ""), "email": form.get("requester_email", "")},
        "subject": form.get("subject", ""),
        "description": form.get("description", ""),
    }
    try:
        opened = await backends.post("support", "/tickets", person.caller, json=body)
    except Refused as refused:
        return await _new_ticket_page(
            request,
            person,
            backends,
            form=form,
            errors={"new": _field_message(refused)},
            status_code=refused.status if refused.status != 404 else 422,
        )
    return redirect(f"/console/tickets/{opened['ticket_id']}?flash=ticket_opened")


def _field_message(refused: Refused) -> str:
    if refused.errors:
        return "; ".join(
            f"{e.get('field') or ''}: {e.get('message') or e.get('reason') or ''}".strip(": ")
            for e in refused.errors
        )
    return refused.detail


async def _ticket_page(
    request: Request,
    person: Person,
    backends: Backends,
    ticket_id: str,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    ticket = await backends.get("support", f"/tickets/{ticket_id}", person.caller)
    return page(
        request,
        "console/ticket.html",
        status_code=status_code,
        ticket=ticket,
        categories=CATEGORIES,
        severities=SEVERITIES,
        errors=errors or {},
        form=form or {},
    )


@router.get("/tickets/{ticket_id}")
async def ticket(request: Request, ticket_id: str, person: Technician, backends: BackendsDep) -> Response:
    return await _ticket_page(request, person, backends, ticket_id)


TICKET_ACTIONS = {
    "qualification": lambda f: {"category": f.get("category", ""), "severity": f.get("severity", "")},
    "assignment": lambda f: {},
    "messages": lambda f: {"body": f.get("body", ""), "internal": f.get("internal") == "on"},
    "tracker-declaration": lambda f: {"tracker_reference": f.get("tracker_reference", "")},
    "tracker-settlement": lambda f: {"outcome": f.get("outcome", "")},
    "resolution": lambda f: {"resolution_procedure": f.get("resolution_procedure", "")},
    "closing": None,
    "reopening": lambda f: {"reason": f.get("reason", "")},
}


@router.post("/tickets/{ticket_id}/{action}", dependencies=[CsrfChecked])
async def ticket_action(
    request: Request, ticket_id: str, action: str, person: Technician, backends: BackendsDep
) -> Response:
    if action not in TICKET_ACTIONS:
        raise HTTPException(404, "no such action")
    form = {k: str(v).strip()[:20_000] for k, v in (await request.form()).items() if k != "csrf_token"}
    make_body = TICKET_ACTIONS[action]
    try:
        await backends.post(
            "support",
            f"/tickets/{ticket_id}/{action}",
            person.caller,
            json=make_body(form) if make_body else None,
        )
    except Refused as refused:
        if refused.status == 404 and not refused.field:
            raise
        return await _ticket_page(
            request,
            person,
            backends,
            ticket_id,
            errors={action: _field_message(refused)},
            status_code=refused.status,
            form=form,
        )
    return redirect(f"/console/tickets/{ticket_id}?flash=done")


# --- approvals and releases ---------------------------------------------------------------------------


async def _approvals_page(
    request: Request,
    person: Person,
    backends: Backends,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    warned: list[str] | None = None,
) -> Response:
    approved, catalogue = await backends.gather(
        backends.get("support", "/approved-integrators", person.caller),
        backends.get("support", "/releases", person.caller),
    )
    integrators = approved["integrators"]
    files = await backends.gather(
        *(
            backends.get_or_none("support", f"/approvals/{i['integrator_id']}", person.caller)
            for i in integrators
        )
    )
    names = {i["integrator_id"]: i.get("legal_name") or i["integrator_id"] for i in integrators}
    return page(
        request,
        "console/approvals.html",
        status_code=status_code,
        integrators=[{**i, "file": f} for i, f in zip(integrators, files, strict=True)],
        releases=list(reversed(catalogue.get("releases", []))),
        current=catalogue.get("current_certified"),
        errors=errors or {},
        form=form or {},
        warned=[names.get(w, w) for w in (warned or [])],
    )


@router.get("/approvals")
async def approvals(request: Request, person: Technician, backends: BackendsDep) -> Response:
    return await _approvals_page(request, person, backends)


@router.get("/approvals/approved-integrators.csv")
async def approved_csv(person: Technician, backends: BackendsDep) -> Response:
    """The service's CSV as it makes it (its cells escaped against spreadsheet formulas)."""
    upstream = await backends.request("support", "GET", "/approved-integrators.csv", person.caller)
    return Response(
        upstream.content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="approved-integrators.csv"'},
    )


@router.post("/releases", dependencies=[CsrfChecked])
async def publish_release(
    request: Request,
    person: Technician,
    backends: BackendsDep,
    version: Annotated[str, Form(max_length=50)] = "",
    release_notes: Annotated[str, Form(max_length=100_000)] = "",
    certified: Annotated[str | None, Form(max_length=5)] = None,
) -> Response:
    body = {
        "version": version.strip(),
        "release_notes": release_notes.strip(),
        "certified": certified == "on",
    }
    try:
        await backends.post("support", "/releases", person.caller, json=body)
    except Refused as refused:
        return await _approvals_page(
            request,
            person,
            backends,
            errors={"publish": _field_message(refused)},
            status_code=refused.status if refused.status != 404 else 422,
            form={"version": version, "release_notes": release_notes},
        )
    return redirect("/console/approvals?flash=published#releases")


@router.post("/releases/{version}/withdrawal", dependencies=[CsrfChecked])
async def withdraw_release(
    request: Request,
    version: str,
    person: Technician,
    backends: BackendsDep,
    reason: Annotated[str, Form(max_length=5000)] = "",
    warning_message: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    try:
        answer = await backends.post(
            "support",
            f"/releases/{version}/withdrawal",
            person.caller,
            json={"reason": reason.strip(), "warning_message": warning_message.strip()},
        )
    except Refused as refused:
        return await _approvals_page(
            request,
            person,
            backends,
            errors={f"withdraw-{version}": _field_message(refused)},
            status_code=refused.status if refused.status != 404 else 422,
        )
    # The warned integrators are listed on the page that answers (not in a redirect's URL).
    return await _approvals_page(request, person, backends, warned=answer.get("integrators_warned", []))


# --- statistics -------------------------------------------------------------------------------------


def _hours(value: float | None) -> float | None:
    """Support hours as read: two decimals (a bar is drawn for what the number beside it says)."""
    return None if value is None else round(value, 2)


def _bars(groups: dict[str, Any], label: Any) -> list[dict[str, Any]]:
    """One chart's rows: the group's figures and each bar's width relative to the largest."""
    rows = [
        {
            "name": name,
            "label": label(name),
            "tickets": g["tickets"],
            "take": _hours(g["time_to_take"]["average_business_hours"]),
            "resolve": _hours(g["time_to_resolve"]["average_business_hours"]),
            "rating": g["satisfaction"]["average_rating"],
            "answers": g["satisfaction"]["answers"],
        }
        for name, g in groups.items()
    ]
    for key in ("tickets", "take", "resolve"):
        top = max((r[key] or 0 for r in rows), default=0) or 1
        for r in rows:
            r[f"{key}_pct"] = round((r[key] or 0) / top * 100, 1)
    for r in rows:
        r["rating_pct"] = round((r["rating"] or 0) / 5 * 100, 1)
    return rows


@router.get("/statistics")
async def statistics(
    request: Request,
    person: Technician,
    backends: BackendsDep,
    weeks: Annotated[int, Query(ge=1, le=104)] = 12,
) -> Response:
    since = datetime.now(UTC) - timedelta(weeks=weeks)
    figures = await backends.get("support", "/statistics", person.caller, params={"since": since.isoformat()})
    charts = [
        ("week", _("By week"), _bars(figures.get("by_week", {}), lambda w: w)),
        ("category", _("By category"), _bars(figures.get("by_category", {}), category_label)),
        ("channel", _("By channel"), _bars(figures.get("by_channel", {}), channel_label)),
        (
            "technician",
            _("By technician"),
            _bars(figures.get("by_technician", {}), lambda t: t or _("nobody yet")),
        ),
    ]
    return page(request, "console/statistics.html", figures=figures, charts=charts, weeks=weeks)


# --- operations (ops) -------------------------------------------------------------------------------


async def firing_alerts(backends: Backends, prometheus_url: str | None) -> list[dict[str, Any]] | None:
    """The alerts Prometheus has pending or firing (its /api/v1/alerts), worst first; None when no
    Prometheus is configured (PROMETHEUS_URL) or it does not answer."""
    if not prometheus_url:
        return None
    try:
        response = await backends.http.get(f"{prometheus_url.rstrip('/')}/api/v1/alerts", timeout=3)
        alerts: list[dict[str, Any]] = response.json()["data"]["alerts"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    order = {"critical": 0, "warning": 1}
    return sorted(
        alerts,
        key=lambda a: (a.get("state") != "firing", order.get(a.get("labels", {}).get("severity"), 2)),
    )


async def _operations(
    backends: Backends, person: Person, prometheus_url: str | None = None
) -> dict[str, Any]:
    async def of(service: str) -> dict[str, Any]:
        try:
            status, letters = await asyncio.gather(
                backends.get(service, "/ops/status", person.caller),
                backends.get(service, "/ops/dead-letters", person.caller),
            )
        except ServiceDown:
            return {"service": service, "down": True}
        lag = {c: sum(p.values()) for c, p in (status.get("consumer_lag") or {}).items()}
        errors = [c for c in (status.get("consumers") or {}).values() if c.get("last_error")]
        last = max(errors, key=lambda c: str(c.get("last_error_at") or ""), default=None)
        return {
            "service": service,
            "down": False,
            "status": status,
            "lag": lag,
            "dead_letters": letters,
            "last_error": last["last_error"] if last else None,
        }

    services = await asyncio.gather(*(of(s) for s in SERVICES))
    try:
        failed = (await backends.get("notifier", "/emails", person.caller, params={"status": "failed"}))[
            "emails"
        ]
    except ServiceDown:
        failed = None
    return {
        "services": services,
        "failed_emails": failed,
        "alerts": await firing_alerts(backends, prometheus_url),
        "prometheus_url": prometheus_url,
        "refreshed_at": datetime.now(UTC),
    }


@router.get("/operations")
async def operations(request: Request, person: Ops, backends: BackendsDep) -> Response:
    prometheus = runtime_of(request).settings.prometheus_url
    return page(request, "console/operations.html", **await _operations(backends, person, prometheus))


@router.get("/operations/live")
async def operations_live(request: Request, person: Ops, backends: BackendsDep) -> Response:
    """The part htmx polls every few seconds (the same markup the full page includes)."""
    prometheus = runtime_of(request).settings.prometheus_url
    return page(request, "console/operations_live.html", **await _operations(backends, person, prometheus))


@router.post("/operations/{service}/dead-letters/{dead_letter_id}/replay", dependencies=[CsrfChecked])
async def replay(
    request: Request, service: str, dead_letter_id: int, person: Ops, backends: BackendsDep
) -> Response:
    if service not in SERVICES:
        raise HTTPException(404, "no such service")
    answer = await backends.post(service, f"/ops/dead-letters/{dead_letter_id}/replay", person.caller)
    if not answer.get("replayed"):
        # Still refused by its consumer: said on the page, with the consumer's reason.
        return page(
            request,
            "console/operations.html",
            status_code=422,
            replay_error=_(
                "Dead letter %(id)s of %(service)s is still refused: %(reason)s",
                id=dead_letter_id,
                service=service,
                reason=answer.get("reason") or "?",
            ),
            **await _operations(backends, person, runtime_of(request).settings.prometheus_url),
        )
    return redirect("/console/operations?flash=replayed")


@router.post("/operations/emails/{email_id}/resend", dependencies=[CsrfChecked])
async def resend(email_id: str, person: Ops, backends: BackendsDep) -> Response:
    await backends.post("notifier", f"/emails/{email_id}/resend", person.caller)
    return redirect("/console/operations?flash=resent")
