"""The HTTP face of a service: FastAPI with problem+json errors, auth, health, tracing, size limits."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import asyncpg
import structlog
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, params
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opentelemetry.trace import SpanKind, Status, StatusCode, format_trace_id
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chassis import asyncapi, context
from chassis.auth import Principal, require
from chassis.consumer import TRANSIENT_DB_ERRORS
from chassis.dead_letters import raw as raw_dead_letter
from chassis.eventstore import ConcurrencyConflict
from chassis.files import NoSniff
from chassis.metrics import MeasureRequests, metrics_response
from chassis.refusals import TranslateProblems
from chassis.telemetry import span_context_of
from contracts.errors import Refusal

if TYPE_CHECKING:
    from chassis.runtime import ServiceRuntime

log = structlog.get_logger()

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem document."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


# Typed as Any for FastAPI: the runtime class imports this module (a forward reference would not resolve).
RuntimeDep = Annotated[Any, Depends(_runtime)]


class BodyLimit:
    """Refuse bodies over the limit before reading them whole (413), by header or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_problem(send, 413, "Payload too large", f"the limit is {self.max_bytes} bytes")
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _send_problem(send, 413, "Payload too large", f"the limit is {self.max_bytes} bytes")


class _TooLarge(HTTPException):
    """Raised from `receive` when a (chunked) body passes the limit. An HTTPException, because the
    framework turns any other error met while reading a body into a 400."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the limit is {max_bytes} bytes")


async def _send_problem(send: Send, status: int, title: str, detail: str) -> None:
    response = problem(status, title, detail)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


class TraceRequests:
    """A server span per request, and the correlation id of everything the request causes."""

    def __init__(self, app: ASGIApp, runtime: ServiceRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ("/healthz", "/readyz"):
            await self.app(scope, receive, send)
            return
        from opentelemetry import propagate

        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
        parent = propagate.extract(headers)
        correlation = _parse_uuid(headers.get("x-correlation-id")) or context.new_id()
        token = context.correlation_id.set(correlation)
        causation = context.causation_id.set(None)
        status_code = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message.setdefault("headers", [])
                # The request's own trace, so any response can be looked up (`platform trace <id>`,
                # the console's trace view) without reading the event store by hand.
                traced = [(b"traceparent", traceparent.encode())] if traceparent else []
                message["headers"] = [
                    *message["headers"],
                    (b"x-correlation-id", str(correlation).encode()),
                    *traced,
                ]
            await send(message)

        # Named by the route template once routed (`GET /surveys/{token}`), never by the raw path: a
        # link's path is its credential, and a trace backend must not hold working links.
        with self.runtime.tracer.start_as_current_span(
            scope["method"],
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "correlation.id": str(correlation)},
        ) as span:
            span_context = span.get_span_context()
            traceparent = (
                f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{int(span_context.trace_flags):02x}"
                if span_context.is_valid
                else None
            )
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                route = scope.get("route")
                if route is not None and getattr(route, "path", None):
                    span.update_name(f"{scope['method']} {route.path}")
                    span.set_attribute("http.route", route.path)
                integrator = (scope.get("path_params") or {}).get("integrator_id")
                if integrator:
                    span.set_attribute("integrator.id", str(integrator))
                span.set_attribute("http.response.status_code", status_code)
                if status_code >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                log.info(
                    "http_request",
                    method=scope["method"],
                    path=getattr(route, "path", "?"),
                    status=status_code,
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )
                context.correlation_id.reset(token)
                context.causation_id.reset(causation)


def trace_id_of(carrier: dict[str, str] | None) -> str | None:
    """The trace id of a stored W3C trace context, or None when it has none or a malformed one."""
    span = span_context_of((carrier or {}).get("traceparent") or "")
    return format_trace_id(span.trace_id) if span is not None else None


def actor_of(payload: dict[str, Any]) -> str | None:
    """Who acted, as the event records it (`registered_by`, `shipped_by`, a message's `author`...);
    None for what the platform did by itself (a reaction to another event, a deadline)."""
    for key, value in payload.items():
        if (key.endswith("_by") or key == "author") and isinstance(value, str) and value:
            return value
    return None


def _parse_uuid(value: str | None) -> UUID | None:
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def _untranslatable(text: str) -> str | None:
    """Why this text cannot be stored (PostgreSQL text is UTF-8 without NUL), if it cannot."""
    if "\x00" in text:
        return "must not contain a NUL character (\\u0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "must be Unicode text (a lone surrogate is not)"
    return None


def _untranslatable_in(value: Any, loc: tuple[Any, ...]) -> list[dict[str, Any]]:
    """The validation errors of every string (keys included) in a JSON value that cannot be stored."""
    errors: list[dict[str, Any]] = []
    if isinstance(value, str):
        reason = _untranslatable(value)
        if reason:
            errors.append({"loc": loc, "msg": reason, "type": "string_untranslatable", "input": value[:100]})
    elif isinstance(value, dict):
        for key, item in value.items():
            errors += _untranslatable_in(key, (*loc, key)) + _untranslatable_in(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            errors += _untranslatable_in(item, (*loc, index))
    return errors


async def refuse_untranslatable_text(request: Request) -> None:
    """Every service, every route: a NUL (`\\u0000`, `%00`) or a lone surrogate in a path parameter,
    a declared query parameter, a form field or a JSON body is a 422 naming the field — not a 500 from the database
    (which refuses such text) after the request was half handled."""
    errors = []
    for name, value in request.path_params.items():
        errors += _untranslatable_in(value, ("path", name))
    dependant = getattr(request.scope.get("route"), "dependant", None)
    for param in getattr(dependant, "query_params", ()):
        for value in request.query_params.getlist(param.alias):
            errors += _untranslatable_in(value, ("query", param.alias))
    if any(
        isinstance(getattr(f, "field_info", None), params.Form) for f in getattr(dependant, "body_params", ())
    ):
        # A route that takes a form (the web front's pages, uploads): the framework has parsed it
        # already (cached), so every field is checked here once, names included, for every form.
        form = await request.form()
        for name, value in form.multi_items():
            text = value if isinstance(value, str) else (getattr(value, "filename", None) or "")
            errors += _untranslatable_in(name, ("body", name)) + _untranslatable_in(text, ("body", name))
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.body()  # already read by the framework: cached
        if b"\\u" in body:  # in valid JSON, NUL and surrogates only come escaped
            try:
                errors += _untranslatable_in(json.loads(body), ("body",))
            except ValueError:
                pass  # not JSON: the framework says so
    if errors:
        raise RequestValidationError(errors)


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or str(loc[-1] if loc else "")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_of(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
            for e in error.errors()
        ]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem(422, "Invalid request", f"invalid: {fields}", errors=errors)

    @app.exception_handler(Refusal)
    async def refused(_: Request, error: Refusal) -> JSONResponse:
        extra: dict[str, Any] = {"code": error.code}
        if error.problems:
            extra["errors"] = [
                {"field": p.field, "message": p.detail, **({"code": p.code} if p.code else {})}
                for p in error.problems
            ]
        titles = {404: "Not found", 409: "Conflict", 422: "Refused"}
        return problem(error.status, titles.get(error.status, "Refused"), error.detail, **extra)

    @app.exception_handler(ConcurrencyConflict)
    async def conflict(_: Request, error: ConcurrencyConflict) -> JSONResponse:
        return problem(
            409,
            "Conflict",
            "someone else changed this at the same time: reload and try again",
            code="concurrent_modification",
        )

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        titles = {
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not found",
            405: "Method not allowed",
            413: "Payload too large",
        }
        response = problem(error.status_code, titles.get(error.status_code, "Error"), str(error.detail))
        for k, v in (error.headers or {}).items():
            response.headers[k] = v
        return response

    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def starlette_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return problem(error.status_code, "Error", str(error.detail))

    async def unavailable(_: Request, error: Exception) -> JSONResponse:
        log.warning("database_unavailable", error=repr(error)[:200])
        return problem(
            503,
            "Service unavailable",
            "the database is not reachable; nothing was changed, retry later",
            code="database_unavailable",
        )

    for kind in TRANSIENT_DB_ERRORS:
        if issubclass(kind, Exception):
            app.add_exception_handler(kind, unavailable)


def ops_router() -> APIRouter:
    """What every service shows ops: its dead letters (with replay), its events per integrator, lag."""
    router = APIRouter(prefix="/ops", tags=["ops"])

    @router.get("/dead-letters")
    async def dead_letters(
        runtime: RuntimeDep, _: Principal = Depends(require("ops", "technician"))
    ) -> list[dict[str, Any]]:
        rows = await runtime.pool.fetch(
            "SELECT id, consumer, topic, kafka_partition, kafka_offset, reason, recorded_at, replayed_at, "
            "octet_length(message_value) AS size, "
            "coalesce(cardinality(header_names), (SELECT count(*) FROM jsonb_object_keys(headers))) AS headers "
            "FROM dead_letters ORDER BY id DESC LIMIT 500"
        )
        return [dict(r) for r in rows]

    @router.get("/dead-letters/{dead_letter_id}")
    async def dead_letter(
        dead_letter_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)],
        runtime: RuntimeDep,
        _: Principal = Depends(require("ops")),
    ) -> dict[str, Any]:
        """One dead letter with its bytes as the consumer got them (base64: key, value, each header)."""
        row = await runtime.pool.fetchrow("SELECT * FROM dead_letters WHERE id = $1", dead_letter_id)
        if row is None:
            raise HTTPException(404, "no such dead letter")
        coordinates = ("id", "consumer", "topic", "kafka_partition", "kafka_offset")
        summary = {k: row[k] for k in (*coordinates, "reason", "recorded_at", "replayed_at")}
        return {**summary, **raw_dead_letter(row)}

    @router.post("/dead-letters/{dead_letter_id}/replay")
    async def replay(
        dead_letter_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)],
        runtime: RuntimeDep,
        _: Principal = Depends(require("ops")),
    ) -> dict[str, Any]:
        consumer = await runtime.pool.fetchval(
            "SELECT consumer FROM dead_letters WHERE id = $1", dead_letter_id
        )
        if consumer is None:
            raise HTTPException(404, "no such dead letter")
        runner = runtime.runner_for(consumer)
        reason = await runner.replay(dead_letter_id)
        return {"id": dead_letter_id, "replayed": reason is None, "reason": reason}

    @router.get("/integrators/{integrator_id}/events")
    async def integrator_events(
        integrator_id: str, runtime: RuntimeDep, _: Principal = Depends(require("ops", "technician"))
    ) -> list[dict[str, Any]]:
        async with runtime.pool.acquire() as conn:
            recorded = await runtime.store.read_integrator(conn, integrator_id)
        return [
            {
                "position": r.position,
                "service": runtime.name,
                "event_type": r.envelope.event_type,
                "event_id": str(r.envelope.event_id),
                "stream_id": r.envelope.stream_id,
                "occurred_at": r.envelope.occurred_at.isoformat(),
                "correlation_id": str(r.envelope.correlation_id),
                # The trace of the request (or consumed event) that appended it: a link to its trace.
                "trace_id": trace_id_of(r.trace_context),
                "by": actor_of(r.envelope.payload),
            }
            for r in recorded
        ]

    @router.get("/status")
    async def status(
        runtime: RuntimeDep, _: Principal = Depends(require("ops", "technician"))
    ) -> dict[str, Any]:
        status: dict[str, Any] = await runtime.status()
        return status

    return router


def build_app(runtime: ServiceRuntime, routers: list[APIRouter], *, title: str, description: str) -> FastAPI:
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        dependencies=[Depends(refuse_untranslatable_text)],
    )
    app.state.runtime = runtime
    install_error_handlers(app)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "not ready"}})
    async def readyz() -> JSONResponse:
        """Readiness: the database answers and the service has started its Kafka clients."""
        checks = await runtime.readiness()
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503
        )

    if runtime.metrics.enabled:

        @app.get("/metrics", include_in_schema=False)
        async def metrics() -> Response:
            """Prometheus text exposition (chassis.metrics); no auth, as scrapers expect: it names no
            integrator, and the ingress does not route it (docs/RUNBOOK.md)."""
            body, content_type = metrics_response(runtime.metrics)
            return Response(body, media_type=content_type)

    for router in routers:
        app.include_router(router)
    app.include_router(ops_router())
    app.include_router(asyncapi.router())
    app.add_middleware(TraceRequests, runtime=runtime)
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_upload_bytes + 64 * 1024)
    app.add_middleware(NoSniff)  # on every response, the body limit's 413 included
    # Refusals in the caller's language (fr default): around the body limit, so its 413 is too.
    app.add_middleware(TranslateProblems)
    if runtime.metrics.enabled:
        # Outermost: a request refused by the body limit is counted too.
        app.add_middleware(MeasureRequests, metrics=runtime.metrics)
    return app


__all__ = ["PROBLEM", "RuntimeDep", "asyncpg", "build_app", "problem"]
