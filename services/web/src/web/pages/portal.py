"""The integrator portal: an integrator user sees and acts on its own integrator only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from web.pages.common import BackendsDep, Integrator, render

router = APIRouter(prefix="/portal", include_in_schema=False)


@router.get("")
async def where_am_i(request: Request, person: Integrator, backends: BackendsDep) -> Response:
    status = await backends.get("onboarding", f"/integrators/{person.integrator_id}", person.caller)
    return render(request, "portal/home.html", status=status)
