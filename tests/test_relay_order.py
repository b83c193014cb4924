"""P2: the relay reads in transaction-id order as numbers, not as text.

The batch query once selected `tx_id::text AS tx_id` and ordered by `tx_id`, which PostgreSQL takes
as the text alias: transaction 100 sorted before transaction 99. A batch cut between them advanced
the checkpoint past 99, so that event was never published. Transaction ids cross such a boundary
(…9,999 → …10,000) as any busy database ages; here the rows carry chosen ids instead.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from chassis import relay as relay_module
from chassis.context import new_id
from chassis.relay import Relay
from contracts.envelope import Envelope
from tests.support import chassis_app
from tests.support.published import topic_messages, topic_senders
from tests.support.waiting import eventually


async def test_events_straddling_a_digit_boundary_of_the_transaction_id_are_all_relayed_in_order(
    service, stack, monkeypatch
):
    async with service(chassis_app, run_relay=False, run_reactions=False) as svc:
        rt = svc.runtime
        # Two committed events whose transactions are 99 and 100 (both long finished, so below any
        # snapshot's xmin): numerically 99 comes first, as text "100" does.
        for tx_id, sender in (("99", "tx-99"), ("100", "tx-100")):
            await rt.pool.execute(
                "INSERT INTO events (tx_id, event_id, stream_id, stream_version, event_type, schema_version, "
                "integrator_id, occurred_at, correlation_id, payload) "
                "VALUES ($1::text::xid8, $2, $3, 1, 'ConfigurationSheetSent', 1, 'i-order', $4, $5, $6::jsonb)",
                tx_id,
                new_id(),
                f"stream-{sender}",
                datetime.now(UTC),
                new_id(),
                json.dumps({"sent_by": sender}),
            )
        monkeypatch.setattr(relay_module, "BATCH", 1)  # one event per batch: the cut falls between them
        relay = Relay(rt.name, rt.topic, rt.settings, rt.pool, rt.tracer)
        relay.start()
        try:
            published = await eventually(
                lambda: topic_senders(stack, rt, expect=2), what="both events relayed"
            )
        finally:
            await relay.stop()
        assert published == ["tx-99", "tx-100"]


async def test_the_message_the_relay_builds_is_the_stored_events_envelope_field_for_field(service, stack):
    """The relay has PostgreSQL write each envelope's JSON (no decode and re-encode in Python): that
    text must stay the contracts' `Envelope` of the stored event, every field, none missing."""
    async with service(chassis_app, run_reactions=False) as svc:
        rt = svc.runtime
        await rt.execute(stream_id="s-1", integrator_id="i-1", decide=chassis_app.send_sheet("ops-1"))
        messages = await eventually(lambda: topic_messages(stack, rt, expect=1), what="the event relayed")
        async with rt.pool.acquire() as conn:
            [stored] = await rt.store.read_stream(conn, "s-1")
        raw = json.loads(messages[0])
        assert set(raw) == set(Envelope.model_fields)
        assert Envelope.model_validate(raw) == stored.envelope
