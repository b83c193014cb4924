"""P7: one trace follows a command from the HTTP request through the event store, the relay and the
consumer; logs carry the trace id."""

from __future__ import annotations

from platform_cli.traces import read_spans, render, trace_tree
from tests.support import chassis_app
from tests.support.waiting import eventually


async def test_one_trace_from_the_request_through_the_relay_to_the_consumer(service):
    async with service(chassis_app) as svc:
        rt = svc.runtime
        r = await svc.http.post("/sheets", json={"integrator_id": "i-trace", "sender": "tracer"})
        assert r.status_code == 201

        async def consumed() -> bool:
            return await rt.pool.fetchval("SELECT count(*) FROM consumed") == 1

        await eventually(consumed, what="the event consumed")
        rt.tracer_provider.force_flush()
        spans = read_spans(rt.settings.traces_dir)
        request = next(s for s in spans if s.name == "POST /sheets")
        trace = [s for s in spans if s.trace_id == request.trace_id]
        names = {s.name for s in trace}
        assert {"POST /sheets", "execute", "append", "consume ConfigurationSheetSent"} <= names, render(
            trace_tree(spans, request.trace_id)
        )
        consume = next(s for s in trace if s.name == "consume ConfigurationSheetSent")
        assert consume.attributes["integrator.id"] == "i-trace"
        assert consume.attributes["event.type"] == "ConfigurationSheetSent"
        # The message carries the stored trace context, the append's: the consumer continues the
        # request's own trace, whatever batch the relay published the event in.
        append = next(s for s in trace if s.name == "append")
        assert consume.parent_id == append.span_id
        # The relay publishes a batch in one PRODUCER span linked to each event's appending span
        # (OTel's batch-publish shape); `platform trace` shows it under the append.
        publish = next(
            s for s in spans if s.name.startswith("publish ") and (append.trace_id, append.span_id) in s.links
        )
        assert publish.attributes["messaging.system"] == "kafka"
        trace_tree(spans, request.trace_id)
        assert publish in append.children
