"""The web front's figures (`python -m bench.web`, and `make bench` unless `--skip-web`).

On `make run`'s platform (six processes, cold-started in a temporary folder):
- the integrator's home page (`/portal`, which fans out to onboarding, sim-logistics and
  ism-provisioning) at a fixed rate (default 20 pages/s), beside the same three API calls made
  directly, with a bearer token, at the same rate in the same run — the baseline;
- the staff pages at scale: the integrators board and the ticket queue with N integrators and M
  tickets loaded through the APIs (default 1,000 and 5,000), at a fixed rate, paged on the server;
- the web process's RSS at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil

from chassis.auth import mint_token
from chassis.devstack import free_port
from chassis.settings import ServiceSettings
from platform_cli import samples
from platform_cli.stack import SERVICES, EmbeddedPlatform

SECRET = ServiceSettings.model_fields["auth_secret"].default.get_secret_value()
PASSWORD = "bench password, long enough"  # noqa: S105 (a bench person's)
HOME_TARGET_P99_MS = 100
STAFF_TARGET_P99_MS = 200
WEB_RSS_TARGET_MB = 150


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


async def at_rate(rate: float, seconds: float, call: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    """`call` started every 1/rate s for `seconds` (an open loop: a slow answer does not delay the
    next request), latencies in ms."""
    latencies: list[float] = []
    errors = 0

    async def one() -> None:
        nonlocal errors
        started = time.perf_counter()
        try:
            await call()
        except Exception:
            errors += 1
            return
        latencies.append((time.perf_counter() - started) * 1000)

    tasks = []
    t0 = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    if not latencies:
        return {"requests": len(tasks), "errors": errors}
    return {
        "rate_per_second": rate,
        "requests": len(tasks),
        "errors": errors,
        "p50_ms": _percentile(latencies, 0.5),
        "p99_ms": _percentile(latencies, 0.99),
        "mean_ms": round(statistics.fmean(latencies), 1),
    }


def _token(role: str, integrator_id: str | None = None) -> str:
    return mint_token(SECRET, role=role, subject=f"bench-{role}", integrator_id=integrator_id)


def _web_cli(platform: EmbeddedPlatform, *args: str) -> str:
    import subprocess

    env = platform.service_env(next(s for s in SERVICES if s.name == "web"))
    out = subprocess.run(
        [str(Path(sys.executable).parent / "web"), *args], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


async def _signed_in(web: str, link: str) -> httpx.AsyncClient:
    """A client with a session: the invitation link used, then the sign-in form posted."""
    client = httpx.AsyncClient(base_url=web, timeout=30)
    # The link names the public origin (localhost); the session is on `web` (127.0.0.1): one host, or
    # the CSRF cookie set by the link's page is not sent back to /login.
    link = web + link[link.index("/", len("http://")) :]
    await client.get(link)
    csrf = client.cookies.get("csrf")
    r = await client.post(link, data={"csrf_token": csrf, "password": PASSWORD, "confirmation": PASSWORD})
    r.raise_for_status()
    return client


async def _sign_in(client: httpx.AsyncClient, email: str) -> None:
    csrf = client.cookies.get("csrf")
    r = await client.post(
        "/login", data={"csrf_token": csrf, "email": email, "password": PASSWORD, "next": "/"}
    )
    assert r.status_code == 303, r.text[:300]


async def _register(http: httpx.AsyncClient, onboarding: str, n: int) -> str:
    siret = samples.siret()
    body = samples.registration(siret)
    body.update(
        legal_name=f"Bench Télécom {n} SAS",
        contacts=[
            {
                "name": f"Bench {n}",
                "email": f"bench{n}.{siret[-5:]}@bench-integrateur.fr",
                "phone": "0601020304",
            }
        ],
    )
    r = await http.post(
        f"{onboarding}/integrators", json=body, headers={"Authorization": f"Bearer {_token('ops')}"}
    )
    r.raise_for_status()
    integrator_id: str = r.json()["integrator_id"]
    return integrator_id


async def _load(platform: EmbeddedPlatform, integrators: int, tickets: int) -> list[str]:
    """Integrators and tickets through the public APIs, 16 at a time."""
    ids: list[str] = []
    onboarding, support = platform.url("onboarding"), platform.url("support")
    async with httpx.AsyncClient(timeout=60) as http:
        sem = asyncio.Semaphore(16)

        async def register(n: int) -> None:
            async with sem:
                ids.append(await _register(http, onboarding, n))

        await asyncio.gather(*(register(n) for n in range(integrators)))

        async def ticket(n: int) -> None:
            async with sem:
                integrator_id = ids[n % len(ids)]
                r = await http.post(
                    f"{support}/tickets",
                    json={
                        "integrator_id": integrator_id,
                        "channel": "phone",
                        "subject": f"Question {n}",
                        "description": "Bench ticket.",
                        "requester": {"name": "Bench", "email": "bench@bench-integrateur.fr"},
                    },
                    headers={"Authorization": f"Bearer {_token('technician')}"},
                )
                if r.status_code >= 400 and n == 0:
                    print(f"ticket refused: {r.status_code} {r.text[:300]}", file=sys.stderr)

        await asyncio.gather(*(ticket(n) for n in range(tickets)))
    return ids


async def measure(platform: EmbeddedPlatform, args: argparse.Namespace) -> dict[str, Any]:
    web = platform.url("web")
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=30) as http:
        integrator_id = await _register(http, platform.url("onboarding"), 0)
    staff_email = "bench-ops@bench-editeur.fr"
    link = _web_cli(
        platform,
        "users",
        "add",
        "--email",
        staff_email,
        "--name",
        "Bench Ops",
        "--role",
        "ops",
        "--print-link",
    ).rsplit(" ", 1)[-1]
    staff = await _signed_in(web, link)
    await _sign_in(staff, staff_email)
    integrator_email = "bench-integrator@bench-integrateur.fr"
    link = _web_cli(
        platform,
        "users",
        "add",
        "--email",
        integrator_email,
        "--name",
        "Bench Integrator",
        "--role",
        "integrator",
        "--integrator-id",
        integrator_id,
        "--print-link",
    ).rsplit(" ", 1)[-1]
    portal = await _signed_in(web, link)
    await _sign_in(portal, integrator_email)

    # Warm both paths (connections, caches), then measure, baseline first.
    direct = httpx.AsyncClient(
        timeout=30, headers={"Authorization": f"Bearer {_token('integrator', integrator_id)}"}
    )
    paths = [
        (platform.url("onboarding"), f"/integrators/{integrator_id}"),
        (platform.url("sim-logistics"), f"/integrators/{integrator_id}/sims"),
        (platform.url("ism-provisioning"), f"/integrators/{integrator_id}/ism"),
    ]

    async def raw_calls() -> None:
        await asyncio.gather(*(direct.get(base + path) for base, path in paths))

    async def home_page() -> None:
        r = await portal.get("/portal")
        r.raise_for_status()

    for _ in range(20):
        await raw_calls()
        await home_page()
    print(
        f"home page: raw API calls then /portal, {args.web_rate}/s for {args.web_seconds}s each…",
        file=sys.stderr,
    )
    baseline = await at_rate(args.web_rate, args.web_seconds, raw_calls)
    page = await at_rate(args.web_rate, args.web_seconds, home_page)
    results["home_page"] = {
        "page": page,
        "baseline": baseline | {"what": "the same three service GETs, concurrently, bearer token, same rate"},
        "p99_ratio": round(page["p99_ms"] / baseline["p99_ms"], 2) if baseline.get("p99_ms") else None,
        "target_p99_ms": HOME_TARGET_P99_MS,
    }

    print(f"loading {args.web_integrators:,} integrators and {args.web_tickets:,} tickets…", file=sys.stderr)
    started = time.perf_counter()
    await _load(platform, args.web_integrators, args.web_tickets)
    results["load_seconds"] = round(time.perf_counter() - started, 1)
    await asyncio.sleep(2)  # the services' projections are inline; the web front reads them through the APIs

    async def board() -> None:
        r = await staff.get("/console")
        r.raise_for_status()

    async def board_filtered() -> None:
        r = await staff.get("/console", params={"step": "dossier"})
        r.raise_for_status()

    async def queue() -> None:
        r = await staff.get("/console/tickets")
        r.raise_for_status()

    direct_staff = httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {_token('ops')}"})

    async def raw_board() -> None:
        r = await direct_staff.get(f"{platform.url('onboarding')}/integrators", params={"limit": 50})
        r.raise_for_status()

    for name, call in (
        ("board", board),
        ("board_filtered", board_filtered),
        ("ticket_queue", queue),
        ("raw_board_api", raw_board),
    ):
        for _ in range(5):
            await call()
        print(f"{name}: {args.staff_rate}/s for {args.web_seconds}s…", file=sys.stderr)
        results[name] = await at_rate(args.staff_rate, args.web_seconds, call)
    results["staff_target_p99_ms"] = STAFF_TARGET_P99_MS
    web_pid = platform.processes["web"].pid
    results["web_rss_mb"] = round(psutil.Process(web_pid).memory_info().rss / 2**20, 1)
    results["web_rss_target_mb"] = WEB_RSS_TARGET_MB
    for client in (staff, portal, direct, direct_staff):
        await client.aclose()
    return results


def run(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="bench-web-"))
    ports = {s.name: free_port() for s in SERVICES}
    platform = EmbeddedPlatform(
        root / "data",
        http_ports=ports,
        pg_port=free_port(),
        kafka_port=free_port(),
        smtp_port=free_port(),
        # The load (thousands of registrations and tickets by one bench user) is past the rate limits.
        env={"DEV_MODE": "true", "LOG_LEVEL": "WARNING", "RATE_LIMITS_ENABLED": "false"},
    )
    try:
        platform.start()
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, measure(platform, args)).result()
    finally:
        platform.stop()
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--web-rate", type=float, default=float(os.environ.get("BENCH_WEB_RATE", 20)))
    parser.add_argument("--staff-rate", type=float, default=float(os.environ.get("BENCH_STAFF_RATE", 10)))
    parser.add_argument("--web-seconds", type=float, default=float(os.environ.get("BENCH_WEB_SECONDS", 15)))
    parser.add_argument(
        "--web-integrators", type=int, default=int(os.environ.get("BENCH_WEB_INTEGRATORS", 1000))
    )
    parser.add_argument("--web-tickets", type=int, default=int(os.environ.get("BENCH_WEB_TICKETS", 5000)))


def summary(results: dict[str, Any]) -> list[str]:
    home = results["home_page"]
    lines = [
        f"portal home at {home['page']['rate_per_second']:.0f}/s: p50 {home['page']['p50_ms']} ms, "
        f"p99 {home['page']['p99_ms']} ms (target ≤ {HOME_TARGET_P99_MS}) — raw API calls p99 "
        f"{home['baseline']['p99_ms']} ms, ratio {home['p99_ratio']}",
    ]
    for name in ("board", "board_filtered", "ticket_queue", "raw_board_api"):
        figure = results[name]
        lines.append(
            f"{name} at {figure.get('rate_per_second')}/s: p50 {figure.get('p50_ms')} ms, p99 {figure.get('p99_ms')} ms"
            f" (target ≤ {STAFF_TARGET_P99_MS}), errors {figure.get('errors')}"
        )
    lines.append(f"web process RSS {results['web_rss_mb']} MB (target < {WEB_RSS_TARGET_MB})")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    results = run(args)
    print("\n".join(summary(results)))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
