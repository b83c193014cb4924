"""Finding the trace of a request: every response names its trace (`traceparent`), every event of
the ops timeline names the trace that appended it, `platform trace` on an id it cannot find says so
and fails, and `platform ops` tables stay whole when piped."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from chassis.devstack import free_port
from platform_cli.main import app as platform_cli
from platform_cli.traces import read_spans
from tests.support import chassis_app


async def test_a_response_names_its_trace_and_the_timeline_links_each_event_to_it(service):
    async with service(chassis_app) as svc:
        r = await svc.http.post("/sheets", json={"integrator_id": "i-lookup", "sender": "tracer"})
        assert r.status_code == 201
        version, trace_id, span_id, flags = r.headers["traceparent"].split("-")
        assert (version, len(trace_id), len(span_id), len(flags)) == ("00", 32, 16, 2)

        events = (await svc.http.get("/ops/integrators/i-lookup/events", headers=svc.auth("ops"))).json()
        assert [e["trace_id"] for e in events] == [trace_id]
        assert [e["by"] for e in events] == ["tracer"]  # who acted, from the event's sent_by

        svc.runtime.tracer_provider.force_flush()
        spans = read_spans(svc.runtime.settings.traces_dir)
        request = next(s for s in spans if s.name == "POST /sheets" and s.trace_id == trace_id)
        assert request.span_id == span_id
        # An error answer names its trace too: the failing request is the one to look up.
        refused = await svc.http.post("/sheets", json={"integrator_id": ""})
        assert refused.status_code == 422 and refused.headers["traceparent"].startswith("00-")


def test_platform_trace_on_an_unknown_id_says_not_found_and_fails(tmp_path):
    (tmp_path / "x.jsonl").write_text(
        '{"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[{"spans":[{"traceId":"'
        + "a" * 32
        + '","spanId":"'
        + "b" * 16
        + '","name":"GET /x","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}\n'
    )
    unknown = CliRunner().invoke(platform_cli, ["trace", "f" * 32, "--traces-dir", str(tmp_path)])
    assert unknown.exit_code == 1
    assert "not found" in unknown.output
    known = CliRunner().invoke(platform_cli, ["trace", "a" * 32, "--traces-dir", str(tmp_path)])
    assert known.exit_code == 0 and "GET /x" in known.output


def test_ops_tables_are_printed_whole_when_piped():
    """Five unreachable services: six columns with the error that an 80-column table would fold."""
    closed = f"http://127.0.0.1:{free_port()}"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",  # noqa: S108 (a throwaway home for the CLI under test)
        "COLUMNS": "80",  # what a pipe in a CI log may get: the tables must not be folded to it
        **{
            f"{s}_URL": closed
            for s in ("ONBOARDING", "SIM_LOGISTICS", "ISM_PROVISIONING", "SUPPORT", "NOTIFIER")
        },
    }
    out = subprocess.run(
        [sys.executable, "-m", "platform_cli.main", "ops", "lag"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    ).stdout
    rows = [line for line in out.splitlines() if "Connection refused" in line]
    assert len(rows) == 5, out
    assert all(len(row) > 80 and "…" not in row for row in rows), out
