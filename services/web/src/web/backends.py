"""The five services' public HTTP APIs, called on behalf of the signed-in person.

Each call carries a short-lived token minted for that person (role, integrator): the services' own
authorisation decides, exactly as for any API client, and their events record who acted. The web
front holds no business rule: a refusal comes back as the service's problem+json, shown on the page.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from opentelemetry import propagate

from chassis.auth import mint_token

SERVICES = ("onboarding", "sim-logistics", "ism-provisioning", "support", "notifier")
#: Long enough for one page's calls, short enough to be worthless if it leaked.
TOKEN_TTL = timedelta(seconds=60)


@dataclass(frozen=True)
class Caller:
    """Who the web front calls as: a person signed in (or the web front itself, for a link page)."""

    subject: str
    role: str
    integrator_id: str | None = None


class ServiceDown(Exception):
    """A service did not answer: the page says so (503) rather than failing."""

    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service


class Refused(Exception):
    """A service refused the request (4xx): its problem+json, for the page to show beside the form."""

    def __init__(self, service: str, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail") or problem.get("title") or str(status))
        self.service = service
        self.status = status
        self.problem = problem

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or self.status)

    @property
    def field(self) -> str | None:
        """The field the refusal names (problem+json `field`, or the first validation error's)."""
        if self.problem.get("field"):
            return str(self.problem["field"])
        errors = self.problem.get("errors") or []
        if errors and isinstance(errors[0], dict):
            loc = errors[0].get("field") or errors[0].get("loc")
            if isinstance(loc, list):
                return ".".join(str(x) for x in loc if x != "body")
            return str(loc) if loc else None
        return None

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors = self.problem.get("errors")
        return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


class Backends:
    def __init__(self, urls: dict[str, str], auth_secret: str, *, timeout: float = 10.0) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self._secret = auth_secret
        # One pool of keep-alive connections for all services: a page's fan-out reuses them.
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=2.0),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=40),
        )

    async def close(self) -> None:
        await self.http.aclose()

    def _headers(self, caller: Caller | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if caller is not None:
            token = mint_token(
                self._secret,
                role=caller.role,
                subject=caller.subject,
                integrator_id=caller.integrator_id,
                ttl=TOKEN_TTL,
            )
            headers["Authorization"] = f"Bearer {token}"
        # The page's trace goes on into the service: a console action's events, and their trace,
        # start at the person's click (the web front's span), not at the service's own request.
        propagate.inject(headers)
        return headers

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        caller: Caller | None,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        files: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = await self.http.request(
                method,
                self.urls[service] + path,
                json=json,
                params={k: v for k, v in (params or {}).items() if v is not None and v != ""},
                files=files,
                data=data,
                headers=self._headers(caller, headers),
            )
        except httpx.TransportError:
            raise ServiceDown(service) from None
        if response.status_code >= 500:
            raise ServiceDown(service)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason_phrase, "status": response.status_code}
            if not isinstance(problem, dict):
                problem = {"title": str(problem)}
            raise Refused(service, response.status_code, problem)
        return response

    async def get(self, service: str, path: str, caller: Caller | None, **kwargs: Any) -> Any:
        return (await self.request(service, "GET", path, caller, **kwargs)).json()

    async def post(self, service: str, path: str, caller: Caller | None, **kwargs: Any) -> Any:
        response = await self.request(service, "POST", path, caller, **kwargs)
        return response.json() if response.content else None

    async def get_or_none(self, service: str, path: str, caller: Caller | None, **kwargs: Any) -> Any:
        """A read where 404 means "nothing yet" (e.g. no SIMs before step 2)."""
        try:
            return await self.get(service, path, caller, **kwargs)
        except Refused as refused:
            if refused.status == 404:
                return None
            raise

    async def gather(self, *calls: Any) -> list[Any]:
        """Several reads at once: a page that fans out waits for the slowest, not the sum."""
        return list(await asyncio.gather(*calls))
