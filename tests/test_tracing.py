"""P7: one trace follows a command from the HTTP request through the event store, the relay and the
consumer; logs carry the trace id."""

from __future__ import annotations

from chassis.relay import Relay
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
        # The relay's PRODUCER span: a child of the append when it publishes a few events, as here;
        # when it works through a backlog, one span per chunk linked to each event's append. Either
        # way `platform trace` shows it under the append.
        publish = next(
            s
            for s in spans
            if s.name.startswith("publish ")
            and (s.parent_id == append.span_id or (append.trace_id, append.span_id) in s.links)
        )
        assert publish.attributes["messaging.system"] == "kafka"
        trace_tree(spans, request.trace_id)
        assert publish in append.children


async def test_a_backlog_is_published_in_linked_batch_spans_and_consumed_in_each_request_trace(service):
    async with service(chassis_app, run_relay=False) as svc:
        rt = svc.runtime
        n = 40  # over SPAN_PER_EVENT_UP_TO: published as one batch, one span linked to each event
        for i in range(n):
            r = await svc.http.post("/sheets", json={"integrator_id": f"i-backlog-{i}", "sender": "tracer"})
            assert r.status_code == 201
        relay = Relay(rt.name, rt.topic, rt.settings, rt.pool, rt.tracer)
        relay.start()
        try:

            async def consumed() -> bool:
                return await rt.pool.fetchval("SELECT count(*) FROM consumed") == n

            await eventually(consumed, what="the backlog consumed")
        finally:
            await relay.stop()
        rt.tracer_provider.force_flush()
        spans = read_spans(rt.settings.traces_dir)
        [batch] = [s for s in spans if s.name.startswith("publish ")]
        assert batch.attributes["messaging.batch.message_count"] in (n, str(n))
        requests = [s for s in spans if s.name == "POST /sheets"]
        assert len(requests) == n
        for request in requests:
            trace = [s for s in spans if s.trace_id == request.trace_id]
            append = next(s for s in trace if s.name == "append")
            consume = next(s for s in trace if s.name == "consume ConfigurationSheetSent")
            assert consume.parent_id == append.span_id
            assert (append.trace_id, append.span_id) in batch.links
