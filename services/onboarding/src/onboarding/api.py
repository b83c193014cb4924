"""HTTP commands and queries of onboarding: registration, the dossier, step 1, status, resources.

Ops act for the vendor; an integrator user acts on its own integrator only (another's answers 404).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from chassis.auth import Principal, authorize_integrator, require
from chassis.consumer import MAX_MESSAGE_BYTES
from chassis.files import FileStore, content_disposition
from chassis.http import RuntimeDep, problem
from chassis.isolation import Isolated, LimitExceeded, Limits
from chassis.tables import describe, template_csv, template_xlsx
from contracts.errors import NotFound
from contracts.events.common import Contact, DossierItem, Locale, OnboardingStep
from contracts.tables import TABLE_SCHEMAS, TableSchema
from onboarding import checks, commands, documents, domain

router = APIRouter(tags=["onboarding"])

Ops = Annotated[Principal, Depends(require("ops"))]
OpsOrIntegrator = Annotated[Principal, Depends(require("ops", "integrator"))]
Anyone = Annotated[Principal, Depends(require("ops", "technician", "integrator"))]
#: A step's deadline this close is flagged on the board, before it goes overdue.
DUE_SOON = timedelta(days=3)


# --- registration --------------------------------------------------------------------------------------


class RegisterIntegrator(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    legal_name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=500)
    siret: str = Field(min_length=14, max_length=20, examples=["732 829 320 00074"])
    vat_number: str = Field(min_length=13, max_length=20, examples=["FR44732829320"])
    contacts: list[Contact] = Field(min_length=1, max_length=20)
    locale: Locale = Locale.FR
    customer_service_phone: str = Field(min_length=4, max_length=40)
    customer_service_cost_per_minute: Decimal = Field(ge=0, max_digits=8, decimal_places=4)
    customer_service_email: str = Field(min_length=3, max_length=254)


@router.post("/integrators", status_code=201)
async def register_integrator(body: RegisterIntegrator, runtime: RuntimeDep, who: Ops) -> dict[str, Any]:
    """Register a new integrator (ops). A SIRET already registered is refused (422, code duplicate_siret)."""
    # Registration sends the welcome email and the portal invitations: bounded per staff member.
    runtime.rate_limits.enforce("registration", who.subject, runtime.settings.rate_limit_registrations)
    registration = domain.Registration(**body.model_dump())
    integrator_id, events = await commands.register(runtime, registration, registered_by=who.subject)
    return {"integrator_id": integrator_id, "events": events}


class UpdateContacts(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    contacts: list[Contact] = Field(min_length=1, max_length=20)
    locale: Locale


@router.put("/integrators/{integrator_id}/contacts", status_code=201)
async def update_contacts(
    integrator_id: str, body: UpdateContacts, runtime: RuntimeDep, who: OpsOrIntegrator
) -> dict[str, Any]:
    """Replace the integrator's contacts and language (ops, or the integrator itself): every later
    email goes to the new addresses, in the new language (IntegratorContactsUpdated)."""
    authorize_integrator(who, integrator_id)
    events = await commands.on_integrator(
        runtime,
        integrator_id,
        lambda state: domain.update_contacts(
            state, contacts=body.contacts, locale=body.locale, updated_by=who.subject
        ),
    )
    return {"events": events}


# --- step 1 -------------------------------------------------------------------------------------------------


@router.post("/integrators/{integrator_id}/configuration-sheet", status_code=201)
async def send_configuration_sheet(integrator_id: str, runtime: RuntimeDep, who: Ops) -> dict[str, Any]:
    """Step 1 begins: ops sent the electrical profile configuration sheet to the integrator."""
    events = await commands.on_integrator(
        runtime, integrator_id, lambda state: domain.send_configuration_sheet(state, sent_by=who.subject)
    )
    return {"events": events}


class CreateElectricalProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile_reference: str = Field(min_length=1, max_length=100)


@router.post("/integrators/{integrator_id}/electrical-profile", status_code=201)
async def create_electrical_profile(
    integrator_id: str, body: CreateElectricalProfile, runtime: RuntimeDep, who: Ops
) -> dict[str, Any]:
    """Ops created the integrator's electrical profile from the sheet received: step 2 opens."""
    events = await commands.on_integrator(
        runtime,
        integrator_id,
        lambda state: domain.create_electrical_profile(
            state, profile_reference=body.profile_reference, created_by=who.subject
        ),
    )
    return {"events": events}


# --- the dossier ------------------------------------------------------------------------------------------


#: Every uploaded file is checked in a worker process of its own, one at a time: a hostile file (a zip
#: bomb, an image declaring 13000×13000 px) costs at most this much and the service keeps answering.
#: 192 MB above the worker's start: a 20,000-row table needs ~30, a 25 Mpx artwork ~140. One worker, so
#: the service (~200 MB), the fork server and a worker at its limit fit the pod's 512 Mi. 20 s of CPU is
#: ~3× what the slowest legitimate table (20,000 rows of XLSX) takes; the wall clock allows for waiting.
FILE_CHECKER = Isolated(
    limits=Limits(memory_bytes=192 * 1024 * 1024, cpu_seconds=20, wall_seconds=60),
    max_workers=1,
    preload=[
        "onboarding.checks",
        "PIL.Image",
        "PIL.PngImagePlugin",
        "PIL.JpegImagePlugin",
        "openpyxl",
        "xlrd",
        "pypdf",
    ],
)
#: A table travels in its events (DossierItemSubmitted, then DossierItemAccepted), and the broker
#: takes messages up to MAX_MESSAGE_BYTES: the rows' JSON must leave room for the rest of the envelope.
#: Past this a table is refused at upload, not accepted then dead-lettered by every consumer.
MAX_TABLE_JSON_BYTES = MAX_MESSAGE_BYTES * 9 // 10


def _refused(item: DossierItem, reasons: list[dict[str, Any]]) -> JSONResponse:
    return problem(
        422,
        "Refused",
        f"{item.value}: " + "; ".join(r["reason"] for r in reasons[:5]),
        code="file_refused",
        errors=[{"field": "file", "row": None, "column": None, **r} for r in reasons],
    )


async def _read_upload(upload: UploadFile, limit: int) -> bytes | None:
    """The upload's bytes, or None when it is over the limit (read no further than limit + 1)."""
    content = await upload.read(limit + 1)
    return None if len(content) > limit else content


#: The upload's API description: what a file may look like, tables first (the schemas are the ones the
#: check reads against, so the text cannot drift from the rule).
_SUBMIT_DESCRIPTION = (
    "Submit (or submit again) a dossier item, multipart. The file is checked on arrival; a bad file is "
    "refused with every problem found (row, column, value, reason) and nothing is recorded.\n\n"
    "**Tables** (offers, tariffs, terminals) are CSV (`;` `,` tab or `|`; UTF-8 or Windows-1252), XLSX "
    "or XLS, first sheet, header on the first row (a title row above it is tolerated). Headers are "
    "matched without case, accents or spacing, in French or English; prices may be written `12,50 €`; "
    "allowances `illimité`/`unlimited`. Templates: `GET /resources` (`<item>-template.xlsx`/`.csv`).\n\n"
    + "\n".join(describe(schema) for schema in TABLE_SCHEMAS.values())
)


@router.post("/integrators/{integrator_id}/dossier/{item}", status_code=201, description=_SUBMIT_DESCRIPTION)
async def submit_dossier_item(
    integrator_id: str,
    item: DossierItem,
    runtime: RuntimeDep,
    who: OpsOrIntegrator,
    file: Annotated[
        UploadFile | None, File(description="the item's file (not for invoice_sender_email)")
    ] = None,
    footer_text: Annotated[str | None, Form(max_length=2000)] = None,
    sent_on: Annotated[str | None, Form(max_length=10, description="ARCEP: date sent, YYYY-MM-DD")] = None,
    receipt_received_on: Annotated[str | None, Form(max_length=10)] = None,
    email: Annotated[str | None, Form(max_length=254)] = None,
) -> Any:
    """Submit (or submit again) a dossier item, multipart. The file is checked on arrival; a bad
    file is refused with every problem found (row, column, reason) and nothing is recorded."""
    authorize_integrator(who, integrator_id)
    await commands.registered_integrator(runtime, integrator_id)
    limit = runtime.settings.max_upload_bytes
    stored = None
    table = None
    ignored: list[str] = []
    if file is not None:
        content = await _read_upload(file, limit)
        if content is None:
            return problem(413, "Payload too large", f"the file is over the limit of {limit} bytes")
        filename = file.filename or "file"
        try:
            checked = await FILE_CHECKER.run(checks.check_dossier_file, item, content, filename)
        except checks.FileRefused as refused:
            return _refused(item, [p.as_dict() for p in refused.problems])
        except LimitExceeded as over:
            return _refused(item, [{"reason": f"the file is refused: {over.reason}"}])
        if checked.table is not None:
            size = len(checked.table.model_dump_json().encode())
            if size > MAX_TABLE_JSON_BYTES:
                reason = (
                    f"the table's {len(checked.table.rows)} rows make {size // 1000} kB to send to the "
                    f"ISM, more than the {MAX_TABLE_JSON_BYTES // 1000} kB a message carries: split the "
                    "table or shorten its cells"
                )
                return _refused(item, [{"reason": reason}])
        store = FileStore(runtime.settings.data_dir / "files")
        # Stored before the event: a file without an event is harmless (content-addressed), an
        # event without its file would be a lost file.
        stored = await asyncio.to_thread(store.put, content, filename, checked.media_type)
        table = checked.table
        ignored = list(checked.ignored_columns)
    given = {
        "footer_text": footer_text,
        "sent_on": sent_on,
        "receipt_received_on": receipt_received_on,
        "email": email,
    }
    submission = domain.Submission(
        item=item,
        submitted_by=who.subject,
        file=stored,
        details={k: v for k, v in given.items() if v is not None},
        table=table,
    )
    today = runtime.clock.now().date()
    events = await commands.on_integrator(
        runtime, integrator_id, lambda state: domain.submit_item(state, submission, today=today)
    )
    return JSONResponse(
        {
            "events": events,
            "file": stored.model_dump(mode="json") if stored else None,
            "rows": len(table.rows) if table else None,
            # A table's columns read past (comments, columns not part of it): said, not silently lost.
            "ignored_columns": ignored,
        },
        status_code=201,
    )


@router.post("/integrators/{integrator_id}/dossier/{item}/acceptance", status_code=201)
async def accept_dossier_item(
    integrator_id: str, item: DossierItem, runtime: RuntimeDep, who: Ops
) -> dict[str, Any]:
    """Ops accept a submitted item (may complete the go-live conditions)."""
    events = await commands.on_integrator(
        runtime, integrator_id, lambda state: domain.accept_item(state, item, accepted_by=who.subject)
    )
    return {"events": events}


class RejectItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


@router.post("/integrators/{integrator_id}/dossier/{item}/rejection", status_code=201)
async def reject_dossier_item(
    integrator_id: str, item: DossierItem, body: RejectItem, runtime: RuntimeDep, who: Ops
) -> dict[str, Any]:
    """Ops reject a submitted item, saying why; the integrator can submit it again."""
    events = await commands.on_integrator(
        runtime,
        integrator_id,
        lambda state: domain.reject_item(state, item, reason=body.reason, rejected_by=who.subject),
    )
    return {"events": events}


@router.get("/integrators/{integrator_id}/dossier/{item}/file")
async def download_dossier_file(
    integrator_id: str, item: DossierItem, runtime: RuntimeDep, who: OpsOrIntegrator
) -> Response:
    """The file last submitted for this item."""
    authorize_integrator(who, integrator_id)
    state = await commands.registered_integrator(runtime, integrator_id)
    ref = state.item(item).file
    if ref is None:
        raise NotFound(f"no file submitted for {item.value}", field="item")
    content = await asyncio.to_thread(FileStore(runtime.settings.data_dir / "files").read, ref.sha256)
    return Response(
        content, media_type=ref.media_type, headers={"Content-Disposition": content_disposition(ref.filename)}
    )


# --- queries --------------------------------------------------------------------------------------------


@router.get("/integrators/{integrator_id}")
async def onboarding_status(integrator_id: str, runtime: RuntimeDep, who: OpsOrIntegrator) -> dict[str, Any]:
    """Dossier checklist, current step, what is missing for go-live, due dates, overdue, history."""
    authorize_integrator(who, integrator_id)
    row = await runtime.projections.get("onboarding_status", integrator_id)
    if row is None:
        raise NotFound("no such integrator")
    return dict(row)


@router.get("/integrators")
async def list_integrators(
    runtime: RuntimeDep,
    who: Ops,
    step: OnboardingStep | None = None,
    overdue: bool | None = None,
    waiting_on: Annotated[Literal["vendor", "integrator"] | None, Query()] = None,
    integrator_id: Annotated[list[str] | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[dict[str, Any]]:
    """Integrators in registration order, with their step, deadline, overdue and due-within-3-days
    flags and what is pending on whom; filterable by step, overdue, who they wait on, and ids (ops).
    Paged: `limit` rows from `offset`."""
    clauses: list[str] = []
    args: list[Any] = []
    if step is not None:
        args.append(step.value)
        clauses.append(f"data->>'step' = ${len(args)}")
    if overdue is not None:
        args.append(overdue)
        clauses.append(f"(data->>'overdue')::boolean = ${len(args)}")
    if waiting_on is not None:
        args.append(waiting_on)
        clauses.append(f"data->'waiting_on' ? ${len(args)}")
    if integrator_id:
        args.append(integrator_id)
        clauses.append(f"key = ANY(${len(args)}::text[])")
    rows = await runtime.projections.list(
        "onboarding_status", where=" AND ".join(clauses) or None, args=args, limit=limit, offset=offset
    )
    keep = (
        "integrator_id",
        "legal_name",
        "siret",
        "step",
        "overdue",
        "due_at",
        "live",
        "missing_for_go_live",
        "pending",
        "waiting_on",
    )
    now = runtime.clock.now()
    listed = []
    for row in rows:
        deadline = (row.get("due_at") or {}).get(row["step"])
        due = datetime.fromisoformat(deadline) if deadline else None
        listed.append(
            {
                **{k: row.get(k) for k in keep},
                "deadline": deadline,
                "due_soon": bool(due and not row["overdue"] and now <= due <= now + DUE_SOON),
            }
        )
    return listed


@router.get("/integrators/{integrator_id}/dossier/{item}/table")
async def dossier_table(
    integrator_id: str,
    item: DossierItem,
    runtime: RuntimeDep,
    who: OpsOrIntegrator,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> dict[str, Any]:
    """The table last submitted for this item as it was read (columns, first `limit` rows): what
    ops review before accepting it, shown as a table rather than downloaded."""
    authorize_integrator(who, integrator_id)
    state = await commands.registered_integrator(runtime, integrator_id)
    table = state.item(item).table
    if table is None:
        raise NotFound(f"no table submitted for {item.value}", field="item")
    return {"columns": table.columns, "rows": table.rows[:limit], "total_rows": len(table.rows)}


# --- vendor resources -------------------------------------------------------------------------------------

#: Documents the vendor gives integrators (seed 000 "Dossier Marketing" and "Dossier Benchmark").
RESOURCES: dict[str, tuple[str, str]] = {
    "cgv-example": ("cgv-example.md", "Example general terms of sale (CGV) — a template to adapt"),
    "contract-template": ("contract-template.md", "Subscriber contract template — a template to adapt"),
    "competitive-benchmark": ("competitive-benchmark.md", "Competitive benchmark — how to read and fill it"),
}


#: Blank tables to fill, made from the schemas the check reads against: name -> (schema, format).
TABLE_TEMPLATES: dict[str, tuple[TableSchema, str]] = {
    f"{schema.item.value}-template.{fmt}": (schema, fmt)
    for schema in TABLE_SCHEMAS.values()
    for fmt in ("xlsx", "csv")
}
_TEMPLATE_MEDIA = {"xlsx": checks._XLSX_MEDIA, "csv": "text/csv; charset=utf-8"}
_TEMPLATE_ENTRIES = [
    {
        "name": name,
        "title": f"{schema.title_fr} / {schema.title_en} — modèle {fmt.upper()} / {fmt.upper()} template",
        "href": f"/resources/{name}",
    }
    for name, (schema, fmt) in TABLE_TEMPLATES.items()
]


@router.get("/resources")
async def list_resources(who: Anyone) -> list[dict[str, str]]:
    """The vendor's documents for integrators, to download, and a template of each table."""
    return (
        _TEMPLATE_ENTRIES
        + [
            {"name": name, "title": title, "href": f"/resources/{name}"}
            for name, (_, title) in RESOURCES.items()
        ]
        + [
            {"name": name, "title": document.title, "href": f"/resources/{name}"}
            for name, document in documents.GENERATED.items()
        ]
    )


@router.get("/resources/{name}")
async def download_resource(name: str, who: Anyone) -> Response:
    if name in TABLE_TEMPLATES:
        schema, fmt = TABLE_TEMPLATES[name]
        content = template_xlsx(schema) if fmt == "xlsx" else template_csv(schema)
        return Response(
            content,
            media_type=_TEMPLATE_MEDIA[fmt],
            headers={"Content-Disposition": content_disposition(name)},
        )
    if name in documents.GENERATED:
        # Built here, on first request: the blank configuration sheet, the image examples, ARCEP.
        document = documents.GENERATED[name]
        return Response(
            documents.content_of(name),
            media_type=document.media_type,
            headers={"Content-Disposition": content_disposition(document.filename)},
        )
    if name not in RESOURCES:
        raise NotFound(f"no resource {name}", field="name")
    filename = RESOURCES[name][0]
    content = resources.files("onboarding").joinpath("resources", filename).read_bytes()
    return Response(
        content,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": content_disposition(filename)},
    )
