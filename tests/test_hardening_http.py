"""The edges of every endpoint (issue 16, findings 7, 10 and 13): spans carry the route template, not
a link's path; NUL is a 422 naming the field on every service; idle and slow-header connections are
closed and cannot exhaust a service; a chunked body over the limit is a 413."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest

from chassis.clock import ManualClock
from chassis.testing import ServiceOverHttp
from ism_provisioning import app as ism_app
from notifier import app as notifier_app
from onboarding import app as onboarding_app
from sim_logistics import app as sim_app
from support import app as support_app
from tests.support import chassis_app
from tests.support.load import budget
from tests.test_support import ACME, START, ok, survey_link_token

# --- finding 7: no link in the traces or the logs ------------------------------------------------


async def test_a_survey_answer_leaves_its_link_in_no_trace_and_no_log(service, capsys):
    async with service(support_app, clock=ManualClock(START), run_schedules=False) as svc:
        tech = svc.auth("technician")
        opened = await ok(
            await svc.http.post(
                "/tickets",
                json={
                    "integrator_id": ACME,
                    "channel": "email",
                    "requester": {"name": "Paul Durand", "email": "paul@acme-caisse.example"},
                    "subject": "Ticket Z manquant",
                    "description": "Le ticket Z n'est pas sorti.",
                },
                headers=tech,
            )
        )
        base = f"/tickets/{opened['ticket_id']}"
        await ok(
            await svc.http.post(
                f"{base}/qualification", json={"category": "incident", "severity": "high"}, headers=tech
            )
        )
        await ok(await svc.http.post(f"{base}/assignment", json={}, headers=tech))
        await ok(
            await svc.http.post(
                f"{base}/resolution", json={"resolution_procedure": "Z régénéré."}, headers=tech
            )
        )
        await ok(await svc.http.post(f"{base}/closing", headers=tech))
        # The link as the notifier signs it (the API does not give out its token id).
        survey = (await svc.runtime.projections.get("support_tickets", opened["ticket_id"]))["surveys"][0]
        token = survey_link_token(svc, survey["token_id"], survey["expires_at"])
        await ok(await svc.http.get(f"/surveys/{token}"), 200)
        await ok(await svc.http.post(f"/surveys/{token}", json={"rating": 5, "comment": "Merci"}))
        svc.runtime.tracer_provider.force_flush()
        traces = "".join(p.read_text() for p in svc.runtime.settings.traces_dir.glob("*.jsonl"))
        logs = capsys.readouterr()
    secret_part = token.split(".")[-1]  # the signature: the part no one can make up
    assert secret_part not in traces and token not in traces
    assert secret_part not in logs.out + logs.err
    spans = [
        span
        for line in traces.splitlines()
        for resource in json.loads(line)["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]
    routes = {
        a["value"]["stringValue"] for s in spans for a in s.get("attributes", []) if a["key"] == "http.route"
    }
    assert "/surveys/{token}" in routes
    assert {"GET /surveys/{token}", "POST /surveys/{token}"} <= {s["name"] for s in spans}


# --- finding 10: NUL is a 422 naming the field ------------------------------------------------------


@pytest.mark.parametrize("app_module", [onboarding_app, sim_app, ism_app, support_app, notifier_app])
async def test_nul_in_a_path_parameter_is_a_422_naming_it_on_every_service(service, app_module):
    async with service(app_module, run_reactions=False, run_schedules=False) as svc:
        r = await svc.http.get("/ops/integrators/acme%00evil/events", headers=svc.auth("ops"))
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == ["integrator_id"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"integrator_id": "acme", "sender": "Anne\u0000Evil"}, "sender"),
        ({"integrator_id": "\u0000", "sender": "Anne"}, "integrator_id"),
        ({"integrator_id": "acme", "sender": "Anne\ud800"}, "sender"),  # a lone surrogate
    ],
    ids=["nul", "nul-only", "surrogate"],
)
async def test_untranslatable_text_in_a_json_body_is_a_422_naming_the_field(service, body, field):
    async with service(chassis_app, run_reactions=False, run_schedules=False) as svc:
        r = await svc.http.post(
            "/sheets", content=json.dumps(body).encode(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == [field]
        assert await svc.runtime.pool.fetchval("SELECT count(*) FROM events") == 0
        # Ordinary escaped text still passes.
        fine = await svc.http.post("/sheets", json={"integrator_id": "acme", "sender": "Zoé \u00e9"})
        assert fine.status_code == 201, fine.text


# --- finding 13: connections and bodies ----------------------------------------------------------


@pytest.fixture
def served(stack):
    started: list[ServiceOverHttp] = []

    def start(**overrides: Any) -> ServiceOverHttp:
        svc = ServiceOverHttp(stack, chassis_app, **overrides).start()
        started.append(svc)
        return svc

    yield start
    for svc in started:
        svc.stop()


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except BlockingIOError:
        return False


def test_idle_and_slow_header_connections_are_closed_and_the_service_keeps_answering(served):
    # All from one address here: the per-client cap (test_proxy_headers_and_fair_connections) is not what is measured.
    svc = served(http_header_timeout_seconds=1.0, http_max_connections_per_client=1000, run_reactions=False)
    idle = []
    for _ in range(300):
        sock = socket.create_connection(("127.0.0.1", svc.port))
        sock.setblocking(False)
        idle.append(sock)
    slow = socket.create_connection(("127.0.0.1", svc.port))
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    slow.setblocking(False)
    # While they are held open, the service answers at once.
    with httpx.Client(base_url=svc.base_url, timeout=5) as http:
        started = time.monotonic()
        assert http.get("/healthz").status_code == 200
        assert time.monotonic() - started < budget(0.2)  # 200 ms as on an idle machine
    deadline = time.monotonic() + budget(5)
    for _ in range(10):  # a header byte every 0.3 s: each arrives in time, the headers never do
        try:
            slow.send(b"X")
        except OSError:
            break
        time.sleep(0.3)
    while time.monotonic() < deadline and not all(_closed_by_server(s) for s in [*idle, slow]):
        time.sleep(0.1)
    open_ones = [s for s in [*idle, slow] if not _closed_by_server(s)]
    for sock in [*idle, slow]:
        sock.close()
    assert open_ones == [], f"{len(open_ones)} connections still open after the header timeout"


def test_a_chunked_body_over_the_limit_is_a_413(served):
    svc = served(max_upload_bytes=1000, run_reactions=False)
    limit = 1000 + 64 * 1024

    def chunks():
        yield b'{"integrator_id": "acme", "sender": "'
        for _ in range(limit // 8192 + 4):
            yield b"x" * 8192
        yield b'"}'

    with httpx.Client(base_url=svc.base_url, timeout=10) as http:
        r = http.post("/sheets", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_a_header_block_over_the_cap_is_refused(served):
    svc = served(run_reactions=False)
    with socket.create_connection(("127.0.0.1", svc.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(100):
                sock.sendall(b"X-Filler: " + b"a" * 1000 + b"\r\n")
        except OSError:
            pass  # closed by the server mid-way: what we want
        answer = sock.recv(1024)
    assert answer.startswith(b"HTTP/1.1 431") or answer == b""
