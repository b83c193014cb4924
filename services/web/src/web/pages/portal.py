"""The integrator portal: an integrator user sees and acts on its own integrator only.

Every read and every action is a call to a service's public API as the signed-in person
(`person.caller`): the services decide, and answer 404 for another integrator's data — which the
portal shows as its 404 page. A refusal (problem+json) is shown beside the form it came from, every
problem at once, in the person's language where its wording is known (`web.reasons`). Forms post and
redirect with a short notice (`?done=`), so they work without JavaScript.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile as StarletteUpload

from chassis.business_hours import french_holidays
from chassis.files import content_disposition
from contracts.events.common import DossierItem
from contracts.tables import TABLE_SCHEMAS
from web import contact, i18n, progress, reasons, slots
from web.backends import Backends, Refused
from web.i18n import _
from web.pages.common import BackendsDep, CsrfChecked, Integrator, Person, redirect, render, runtime_of

router = APIRouter(prefix="/portal", include_in_schema=False)

#: Onboarding's dossier items that come as a file (the ARCEP declaration may; the email never).
FILE_ITEMS = frozenset(progress.DOSSIER_ITEMS) - {"arcep_declaration", "invoice_sender_email"}
TABLE_ITEMS = frozenset(progress.ISM_TABLES)
#: What the file picker offers (the service judges the content anyway, whatever the name says).
ACCEPT = {
    "electrical_profile_sheet": ".xls,.xlsx",
    "sim_artwork": ".png,.jpg,.jpeg,.pdf",
    "logo": ".png,.jpg,.jpeg",
    "footer_banner": ".png,.jpg,.jpeg",
    "arcep_declaration": ".pdf,.png,.jpg,.jpeg",
    **dict.fromkeys(progress.ISM_TABLES, ".csv,.xlsx,.xls"),
}
#: The upload form's declared values, as onboarding takes them.
DETAIL_FIELDS = ("footer_text", "sent_on", "receipt_received_on", "email")
#: A resource name as onboarding lists them: nothing that could walk out of its path.
RESOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
#: The support's NF525 checklist an installation report attests (support's installations module).
NF525_CHECKLIST = (
    "inalterability",
    "security",
    "conservation",
    "archiving",
    "installation_procedure_followed",
    "prerequisites_checked",
    "certificate_handed_to_user",
)


def notice(code: str | None) -> str | None:
    """The sentence after a form went through (a known code only: the URL is not a text channel)."""
    said = {
        "uploaded": _("Received: the vendor will review it."),
        "test_sims_received": _("Thank you: the reception of the test SIMs is recorded."),
        "call_booked": _("The validation call is booked. You will receive a confirmation by email."),
        "ordered": _("Your SIM production order is placed."),
        "sims_received": _("Thank you: the reception of your SIMs is recorded."),
        "ticket_opened": _("Your request is registered. Support will answer here and by email."),
        "replied": _("Your message is sent."),
        "reopened": _("The ticket is open again."),
        "reported": _("The installation report is recorded."),
    }
    return said.get(code or "")


def _done(path: str, code: str) -> Response:
    return redirect(f"{path}?done={code}")


def _refusal(refused: Refused) -> dict[str, Any]:
    """What a form shows of a refusal: the lines, and the status to answer with."""
    return {"lines": reasons.lines(refused.problem), "status": refused.status}


def _now(request: Request) -> datetime:
    now: datetime = runtime_of(request).clock.now()
    return now


async def _status(backends: Backends, person: Person) -> dict[str, Any]:
    status: dict[str, Any] = await backends.get(
        "onboarding", f"/integrators/{person.integrator_id}", person.caller
    )
    return status


# --- where am I ---------------------------------------------------------------------------------------


@router.get("")
async def where_am_i(request: Request, person: Integrator, backends: BackendsDep) -> Response:
    iid = person.integrator_id
    status, sims, ism = await backends.gather(
        backends.get("onboarding", f"/integrators/{iid}", person.caller),
        backends.get_or_none("sim-logistics", f"/integrators/{iid}/sims", person.caller),
        backends.get_or_none("ism-provisioning", f"/integrators/{iid}/ism", person.caller),
    )
    return render(
        request,
        "portal/home.html",
        contact=contact.of(request),
        status=status,
        steps=progress.steps(status, sims, ism, _now(request)),
        ism=ism,
        progress=progress,
    )


# --- the dossier ----------------------------------------------------------------------------------------


async def _dossier_page(
    request: Request,
    person: Person,
    backends: Backends,
    *,
    failed: str | None = None,
    refusal: dict[str, Any] | None = None,
    given: dict[str, str] | None = None,
) -> Response:
    status, resources, ism = await backends.gather(
        _status(backends, person),
        backends.get("onboarding", "/resources", person.caller),
        backends.get_or_none("ism-provisioning", f"/integrators/{person.integrator_id}/ism", person.caller),
    )
    # What the ISM found wrong in the accepted tables (a table accepted alone can still clash with
    # another, e.g. an offer priced in a zone the tariffs do not have): beside the table to fix.
    ism_errors: dict[str, list[reasons.Line]] = {}
    for error in (ism or {}).get("errors") or ():
        ism_errors.setdefault(str(error.get("table")), []).extend(reasons.lines({"errors": [error]}))
    return render(
        request,
        "portal/dossier.html",
        status_code=(refusal or {}).get("status", 200),
        status=status,
        items=progress.DOSSIER_ITEMS,
        file_items=FILE_ITEMS,
        table_items=TABLE_ITEMS,
        accept=ACCEPT,
        templates=_templates_by_item(resources),
        columns={item: _columns(item) for item in TABLE_ITEMS},
        ism_errors=ism_errors,
        failed=failed,
        refusal=refusal,
        given=given or {},
        progress=progress,
        reasons=reasons,
        flash=notice(request.query_params.get("done")),
    )


#: Onboarding names a table's blank template `<item>-template.<format>`; the configuration sheet and
#: the image examples have their own names.
TEMPLATE_NAME = re.compile(r"^(?P<item>[a-z_]+)-template\.(?P<format>xlsx|csv)$")
ITEM_DOCUMENTS = {
    "electrical_profile_sheet": ("configuration-sheet",),
    "logo": ("logo-example",),
    "footer_banner": ("banner-example",),
    "arcep_declaration": ("arcep-form",),
}


def document_title(name: str, given: str) -> str:
    """A document's title in the reader's language; the service's own for one we do not know."""
    if match := TEMPLATE_NAME.match(name):
        table = progress.item_label(match["item"])
        return _("%(table)s — blank template (%(format)s)", table=table, format=match["format"].upper())
    titles = {
        "configuration-sheet": _(
            "Postpaid configuration sheet of the electrical profile, to fill in column B"
        ),
        "arcep-form": _("ARCEP declaration: the form, where to file it, what to declare"),
        "logo-example": _("Logo example: PNG, 95 × 95 px at 300 dpi"),
        "banner-example": _("Invoice footer banner example: PNG, 760 × 95 px at 300 dpi"),
        "cgv-example": _("Example general terms of sale (CGV), to adapt"),
        "contract-template": _("Subscriber contract template, to adapt"),
        "competitive-benchmark": _("Competitive benchmark: how to read and fill it"),
    }
    return titles.get(name, given)


def _templates_by_item(resources: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The documents onboarding offers for each item: a table's templates, the blank configuration
    sheet, the image examples, the ARCEP form (only those it lists)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        name = str(resource.get("name", ""))
        if not RESOURCE_NAME.match(name):
            continue
        if match := TEMPLATE_NAME.match(name):
            found.setdefault(match["item"], []).append({"name": name, "label": match["format"].upper()})
        for item, names in ITEM_DOCUMENTS.items():
            if name in names:
                found.setdefault(item, []).append({"name": name, "label": document_title(name, name)})
    return found


def _columns(item: str) -> list[dict[str, Any]]:
    """The columns a table takes (the published schema both onboarding and the ISM read)."""
    schema = TABLE_SCHEMAS.get(DossierItem(item))
    if schema is None:
        return []
    french = i18n.current_locale.get() == "fr"
    return [
        {
            "name": c.name,
            "label": (c.label_fr if french else c.label_en) or c.name,
            "example": c.example,
            "required": c.required,
        }
        for c in schema.columns
    ]


@router.get("/dossier")
async def dossier(request: Request, person: Integrator, backends: BackendsDep) -> Response:
    return await _dossier_page(request, person, backends)


@router.post("/dossier/{item}", dependencies=[CsrfChecked])
async def submit_item(request: Request, item: str, person: Integrator, backends: BackendsDep) -> Response:
    if item not in progress.DOSSIER_ITEMS:
        raise HTTPException(404, "no such item")
    form = await request.form()
    given = {k: v.strip() for k in DETAIL_FIELDS if isinstance(v := form.get(k), str) and v.strip()}
    upload = form.get("file")
    files = None
    if isinstance(upload, StarletteUpload) and upload.filename:
        content = await upload.read()
        files = {"file": (upload.filename, content, upload.content_type or "application/octet-stream")}
    if files is None and item in FILE_ITEMS:
        refusal = {"lines": [reasons.Line(_("Choose the file to send."), True, field="file")], "status": 422}
        return await _dossier_page(request, person, backends, failed=item, refusal=refusal, given=given)
    try:
        await backends.post(
            "onboarding",
            f"/integrators/{person.integrator_id}/dossier/{item}",
            person.caller,
            files=files,
            data=given,
        )
    except Refused as refused:
        if refused.status == 404:
            raise
        return await _dossier_page(
            request, person, backends, failed=item, refusal=_refusal(refused), given=given
        )
    return redirect(f"/portal/dossier?done=uploaded#{item}")


@router.get("/dossier/{item}")
async def item_anchor(item: str, person: Integrator) -> Response:
    """A form's address opened as a page (the language switch on a refused form, a bookmark): the
    page the form is on."""
    return redirect(f"/portal/dossier#{item}" if item in progress.DOSSIER_ITEMS else "/portal/dossier")


@router.get("/dossier/{item}/file")
async def item_file(item: str, person: Integrator, backends: BackendsDep) -> Response:
    """The file last sent for an item, as onboarding keeps it."""
    if item not in progress.DOSSIER_ITEMS:
        raise HTTPException(404, "no such item")
    upstream = await backends.request(
        "onboarding", "GET", f"/integrators/{person.integrator_id}/dossier/{item}/file", person.caller
    )
    return _download(
        upstream.content, upstream.headers.get("content-type"), _filename(upstream.headers, item)
    )


# --- documents ------------------------------------------------------------------------------------------


def _filename(headers: Any, fallback: str) -> str:
    """The name the service gave (its `filename*` or `filename`), re-encoded by us, never passed through."""
    value = headers.get("content-disposition", "")
    if match := re.search(r"filename\*=UTF-8''([^;]+)", value):
        from urllib.parse import unquote

        return unquote(match[1])
    if match := re.search(r'filename="([^"]+)"', value):
        return match[1]
    return fallback


def _download(content: bytes, media_type: str | None, filename: str) -> Response:
    # Always an attachment, never rendered in our origin: a document is bytes to save, not a page.
    return Response(
        content,
        media_type=media_type or "application/octet-stream",
        headers={"Content-Disposition": content_disposition(filename), "X-Content-Type-Options": "nosniff"},
    )


@router.get("/documents")
async def documents(request: Request, person: Integrator, backends: BackendsDep) -> Response:
    resources = await backends.get("onboarding", "/resources", person.caller)
    listed = [
        {"name": r["name"], "title": document_title(r["name"], str(r.get("title") or r["name"]))}
        for r in resources
        if RESOURCE_NAME.match(str(r.get("name", "")))
    ]
    return render(request, "portal/documents.html", resources=listed, progress=progress)


@router.get("/documents/{name}")
async def document(name: str, person: Integrator, backends: BackendsDep) -> Response:
    if not RESOURCE_NAME.match(name):
        raise HTTPException(404, "no such document")
    upstream = await backends.request("onboarding", "GET", f"/resources/{quote(name)}", person.caller)
    return _download(
        upstream.content, upstream.headers.get("content-type"), _filename(upstream.headers, name)
    )


# --- test SIMs, the call, the production order, the delivery ---------------------------------------------


async def _sims_page(
    request: Request,
    person: Person,
    backends: Backends,
    *,
    failed: str | None = None,
    refusal: dict[str, Any] | None = None,
    given: dict[str, str] | None = None,
) -> Response:
    iid = person.integrator_id
    status, sims = await backends.gather(
        _status(backends, person),
        backends.get_or_none("sim-logistics", f"/integrators/{iid}/sims", person.caller),
    )
    artwork = (status.get("dossier") or {}).get("sim_artwork") or {}
    accepted_artwork = artwork.get("file") if artwork.get("status") == "accepted" else None
    offered = slots.call_slots(_now(request), french_holidays())
    return render(
        request,
        "portal/sims.html",
        status_code=(refusal or {}).get("status", 200),
        status=status,
        sims=sims,
        accepted_artwork=accepted_artwork,
        slots=offered,
        call_minutes=slots.CALL_MINUTES,
        failed=failed,
        refusal=refusal,
        given=given or {},
        reasons=reasons,
        progress=progress,
        flash=notice(request.query_params.get("done")),
    )


@router.get("/sims")
async def sims_page(request: Request, person: Integrator, backends: BackendsDep) -> Response:
    return await _sims_page(request, person, backends)


async def _sims_action(
    request: Request,
    person: Person,
    backends: Backends,
    form_name: str,
    path: str,
    done: str,
    body: dict[str, Any] | None = None,
    given: dict[str, str] | None = None,
) -> Response:
    try:
        await backends.post(
            "sim-logistics", f"/integrators/{person.integrator_id}{path}", person.caller, json=body
        )
    except Refused as refused:
        if refused.status == 404:
            raise
        return await _sims_page(
            request, person, backends, failed=form_name, refusal=_refusal(refused), given=given
        )
    anchor = "production" if form_name in ("order", "delivery") else "test-sims"
    return redirect(f"/portal/sims?done={done}#{anchor}")


@router.get("/sims/{document}.xlsx")
async def sims_document(document: str, person: Integrator, backends: BackendsDep) -> Response:
    """The delivery note and the tariff grid sim-logistics makes once the SIMs are delivered."""
    if document not in ("delivery-note", "tariff-grid"):
        raise HTTPException(404, "no such document")
    upstream = await backends.request(
        "sim-logistics", "GET", f"/integrators/{person.integrator_id}/{document}.xlsx", person.caller
    )
    filename = _filename(upstream.headers, f"{document}.xlsx")
    return _download(upstream.content, upstream.headers.get("content-type"), filename)


@router.get("/sims/{action:path}")
async def sims_anchor(action: str, person: Integrator) -> Response:
    return redirect("/portal/sims")


@router.post("/sims/test-sims/reception", dependencies=[CsrfChecked])
async def confirm_test_sims(request: Request, person: Integrator, backends: BackendsDep) -> Response:
    return await _sims_action(
        request, person, backends, "test_reception", "/test-sims/reception", "test_sims_received"
    )


@router.post("/sims/validation-call", dependencies=[CsrfChecked])
async def book_call(
    request: Request,
    person: Integrator,
    backends: BackendsDep,
    starts_at: Annotated[str, Form(max_length=40)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    given = {"starts_at": starts_at, "phone": phone}
    try:
        start = datetime.fromisoformat(starts_at)
        if start.tzinfo is None:
            raise ValueError(starts_at)
    except ValueError:
        refusal = {
            "lines": [reasons.Line(_("Choose a time for the call."), True, field="starts_at")],
            "status": 422,
        }
        return await _sims_page(request, person, backends, failed="call", refusal=refusal, given=given)
    body = {"starts_at": start.isoformat(), "duration_minutes": slots.CALL_MINUTES, "phone": phone}
    return await _sims_action(
        request, person, backends, "call", "/test-sims/validation-call", "call_booked", body, given
    )


@router.post("/sims/production-order", dependencies=[CsrfChecked])
async def order_production(
    request: Request,
    person: Integrator,
    backends: BackendsDep,
    quantity: Annotated[str, Form(max_length=12)] = "",
    delivery_address: Annotated[str, Form(max_length=500)] = "",
    artwork_reference: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    given = {
        "quantity": quantity,
        "delivery_address": delivery_address,
        "artwork_reference": artwork_reference,
    }
    if not quantity.strip().isdigit() or int(quantity) < 1:
        refusal = {
            "lines": [
                reasons.Line(
                    _("Give the number of SIMs, a whole number of at least 1."), True, field="quantity"
                )
            ],
            "status": 422,
        }
        return await _sims_page(request, person, backends, failed="order", refusal=refusal, given=given)
    body = {
        "quantity": int(quantity),
        "delivery_address": delivery_address,
        "artwork_reference": artwork_reference,
    }
    return await _sims_action(request, person, backends, "order", "/production-order", "ordered", body, given)


@router.post("/sims/reception", dependencies=[CsrfChecked])
async def confirm_sims(request: Request, person: Integrator, backends: BackendsDep) -> Response:
    return await _sims_action(request, person, backends, "delivery", "/production/reception", "sims_received")


# --- support ------------------------------------------------------------------------------------------


async def _support_page(
    request: Request,
    person: Person,
    backends: Backends,
    *,
    failed: str | None = None,
    refusal: dict[str, Any] | None = None,
    given: dict[str, Any] | None = None,
) -> Response:
    iid = person.integrator_id
    tickets, approval, reports, catalogue = await backends.gather(
        backends.get("support", "/tickets", person.caller),
        backends.get_or_none("support", f"/approvals/{iid}", person.caller),
        backends.get("support", f"/integrators/{iid}/installation-reports", person.caller),
        backends.get("support", "/releases", person.caller),
    )
    return render(
        request,
        "portal/support.html",
        status_code=(refusal or {}).get("status", 200),
        contact=contact.of(request),
        tickets=tickets["tickets"],
        approval=approval,
        reports=reports["reports"],
        catalogue=catalogue,
        checklist=NF525_CHECKLIST,
        failed=failed,
        refusal=refusal,
        given=given or {},
        reasons=reasons,
        flash=notice(request.query_params.get("done")),
    )


@router.get("/support")
async def support(request: Request, person: Integrator, backends: BackendsDep) -> Response:
    return await _support_page(request, person, backends)


@router.get("/support/tickets")
@router.get("/support/installation-reports")
async def support_anchor(person: Integrator) -> Response:
    return redirect("/portal/support")


@router.post("/support/tickets", dependencies=[CsrfChecked])
async def open_ticket(
    request: Request,
    person: Integrator,
    backends: BackendsDep,
    subject: Annotated[str, Form(max_length=300)] = "",
    description: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    given = {"subject": subject, "description": description}
    body = {
        "channel": "api",
        "requester": {"name": person.name or person.email, "email": person.email},
        "subject": subject,
        "description": description,
    }
    try:
        opened = await backends.post("support", "/tickets", person.caller, json=body)
    except Refused as refused:
        if refused.status == 404:
            raise
        return await _support_page(
            request, person, backends, failed="ticket", refusal=_refusal(refused), given=given
        )
    return _done(f"/portal/support/tickets/{opened['ticket_id']}", "ticket_opened")


async def _ticket_page(
    request: Request,
    person: Person,
    backends: Backends,
    ticket_id: str,
    *,
    failed: str | None = None,
    refusal: dict[str, Any] | None = None,
    given: dict[str, Any] | None = None,
) -> Response:
    # The service answers 404 for another integrator's ticket (and strips the internal notes).
    ticket = await backends.get("support", f"/tickets/{ticket_id}", person.caller)
    return render(
        request,
        "portal/ticket.html",
        status_code=(refusal or {}).get("status", 200),
        ticket=ticket,
        # support already leaves internal notes out for an integrator's token; kept out here too, so a
        # change there can never put one on the integrator's screen.
        messages=[m for m in ticket.get("messages", []) if not m.get("internal")],
        failed=failed,
        refusal=refusal,
        given=given or {},
        reasons=reasons,
        flash=notice(request.query_params.get("done")),
    )


def _ticket_id(ticket_id: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F-]{32,36}", ticket_id):
        raise HTTPException(404, "no such ticket")
    return ticket_id


@router.get("/support/tickets/{ticket_id}")
async def ticket(request: Request, ticket_id: str, person: Integrator, backends: BackendsDep) -> Response:
    return await _ticket_page(request, person, backends, _ticket_id(ticket_id))


@router.get("/support/tickets/{ticket_id}/{action}")
async def ticket_anchor(ticket_id: str, action: str, person: Integrator) -> Response:
    return redirect(f"/portal/support/tickets/{_ticket_id(ticket_id)}")


@router.post("/support/tickets/{ticket_id}/messages", dependencies=[CsrfChecked])
async def reply(
    request: Request,
    ticket_id: str,
    person: Integrator,
    backends: BackendsDep,
    body: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    return await _on_ticket(
        request, person, backends, ticket_id, "messages", {"body": body}, "reply", "replied"
    )


@router.post("/support/tickets/{ticket_id}/reopening", dependencies=[CsrfChecked])
async def reopen(
    request: Request,
    ticket_id: str,
    person: Integrator,
    backends: BackendsDep,
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    return await _on_ticket(
        request, person, backends, ticket_id, "reopening", {"reason": reason}, "reopen", "reopened"
    )


async def _on_ticket(
    request: Request,
    person: Person,
    backends: Backends,
    ticket_id: str,
    action: str,
    body: dict[str, str],
    form: str,
    done: str,
) -> Response:
    """A command on one of the integrator's tickets: done → back to the ticket with a notice; refused
    → the ticket page again, the refusal beside the form it came from and what was typed kept. Another
    integrator's ticket stays a 404."""
    ticket_id = _ticket_id(ticket_id)
    try:
        await backends.post("support", f"/tickets/{ticket_id}/{action}", person.caller, json=body)
    except Refused as refused:
        if refused.status == 404:
            raise
        return await _ticket_page(
            request, person, backends, ticket_id, failed=form, refusal=_refusal(refused), given=body
        )
    return _done(f"/portal/support/tickets/{ticket_id}", done)


@router.post("/support/installation-reports", dependencies=[CsrfChecked])
async def report_installation(request: Request, person: Integrator, backends: BackendsDep) -> Response:
    form = await request.form()
    text = {k: str(form.get(k) or "").strip() for k in ("end_user_site", "version")}
    checked = {item: form.get(f"nf525_{item}") == "on" for item in NF525_CHECKLIST}
    compatible = form.get("hardware_compatible") == "on"
    body = {**text, "hardware_compatible": compatible, "nf525_checklist": checked}
    given = {**text, "hardware_compatible": compatible, "nf525": checked}
    try:
        await backends.post(
            "support", f"/integrators/{person.integrator_id}/installation-reports", person.caller, json=body
        )
    except Refused as refused:
        if refused.status == 404:
            raise
        return await _support_page(
            request, person, backends, failed="report", refusal=_refusal(refused), given=given
        )
    return redirect("/portal/support?done=reported#reports")
