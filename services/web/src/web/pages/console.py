"""The staff console: ops and technicians work the whole process in the browser."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from web.pages.common import BackendsDep, Ops, render

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("")
async def integrators_board(request: Request, person: Ops, backends: BackendsDep) -> Response:
    integrators = await backends.get("onboarding", "/integrators", person.caller)
    return render(request, "console/board.html", integrators=integrators)
