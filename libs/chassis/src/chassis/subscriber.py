"""The reactions' shell: one FastStream Kafka subscriber per service.

A service's reactions are read by one batch subscriber (one consumer group, `<service>.reactions`,
for every topic they read): each fetched batch goes to each reaction with the messages of its topics,
handled by the reaction's own batch body (chassis.consumer: inbox rows under the reaction's name, the
savepoint fallback, dead letters in the transaction, after-commit actions), and the batch is acked —
its offsets committed — only once every reaction's transaction has committed. One group instead of
one per reaction: one fetch loop and one set of idle fetches per service instead of one per reaction
(the notifier, support and onboarding each had two or three).

What FastStream does not know of, the chassis adds:
- its own parser and decoder, which never raise: FastStream 0.7.8's default parser decodes every
  header as UTF-8 and raises on a null or non-UTF-8 value, and a batch subscriber with manual ack
  then skips the whole batch while the next ack commits past it (lost). Here the raw records go
  through untouched and the reactions' reader decides what is poison, as before (P6);
- the consumer FastStream builds is the chassis's (`chassis.kafka.consumer`: TLS and SASL, fetch
  settings), and each of its polls adapts the fetch wait (idle CPU), checks for a wiped broker
  (Tansu's memory storage: rejoin from the earliest offset) and steps past a record aiokafka itself
  cannot parse (a header key that is not UTF-8 fails the whole fetch);
- a batch that fails (not a poison message: a bug or an outage past the retry) is not acked: the
  consumer goes back to the batch's first offsets (FastStream's nack) and tries again after a
  backoff, counted as a restart with its error in /ops/status;
- FastStream's own log lines go through structlog as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage as Message
from faststream.kafka.message import FAKE_CONSUMER, KafkaAckableMessage

from chassis import kafka
from chassis.consumer import ReactionRunner, reactions_group
from chassis.relay import BATCH as RELAY_BATCH

if TYPE_CHECKING:
    from chassis.runtime import ServiceRuntime

log = structlog.get_logger()

#: Messages per batch (one poll, one transaction per reaction, one commit).
MAX_RECORDS = 500
#: How often an idle or busy consumer compares its positions with the broker's log ends (wipe check).
WIPE_CHECK_SECONDS = 2.0
#: How often the consumer refreshes its view of the topics it reads (a missing one appears).
MISSING_TOPIC_LOOK_MS = 5_000
#: How long stopping waits for the batch under way before the consumer is closed anyway.
GRACEFUL_SECONDS = 5.0

Records = tuple[ConsumerRecord[bytes, bytes], ...]
Batches = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


class ReactionsSubscriber:
    """The FastStream subscriber that feeds a service's reactions, on a broker of its own (or the one
    given: a test's, wrapped in FastStream's TestKafkaBroker)."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        runners: Sequence[ReactionRunner],
        broker: KafkaBroker | None = None,
    ) -> None:
        self.runtime = runtime
        self.runners = list(runners)
        self.group_id = reactions_group(runtime)
        self.broker = broker or KafkaBroker(
            runtime.settings.kafka_bootstrap_servers,
            # The chassis brings its own producer (dead letters) and creates its topics itself.
            consumer_only=True,
            allow_auto_create_topics=False,
            logger=_StructlogBridge(),
            log_level=logging.DEBUG,  # FastStream's line per batch received and processed
            graceful_timeout=GRACEFUL_SECONDS,
        )
        topics = sorted({t for runner in self.runners for t in runner.topics})
        self.subscriber = self.broker.subscriber(
            *topics,
            group_id=self.group_id,
            batch=True,
            max_records=MAX_RECORDS,
            ack_policy=AckPolicy.MANUAL,
            parser=self._parse,
            decoder=self._decode,
            title=f"{runtime.name}.reactions",
        )
        self.subscriber(self._handle)
        self._backoff = 0.2
        #: The broker watch's wipe count this consumer has rejoined for.
        self._broker_epoch = runtime.broker_watch.epoch if runtime.broker_watch is not None else 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start consuming in the background: an unreachable broker is retried, not fatal."""
        self._task = asyncio.create_task(self._start(), name=f"reactions:{self.group_id}")

    async def _start(self) -> None:
        backoff = 0.2
        while not self._stopping:
            try:
                await self.broker.connect()
                # FastStream builds each subscriber's consumer with the broker's builder, which its
                # connect sets: the chassis's consumer replaces it before the subscriber starts.
                self.broker.config.broker_config.builder = self._build_consumer
                await self.broker.start()
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._restarted(self.runners, error)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.broker.stop(), 2.0)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        # The batch under way may finish (GRACEFUL_SECONDS); a consumer that does not answer its
        # leave-group must not hold a shutdown (the broker evicts it at the session timeout anyway).
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.broker.stop(), GRACEFUL_SECONDS + 2.0)
        await asyncio.gather(*(runner.drain_after_commit() for runner in self.runners))

    @property
    def consumer(self) -> AIOKafkaConsumer | None:
        consumer = self.subscriber.consumer
        return consumer if isinstance(consumer, AIOKafkaConsumer) else None

    def _build_consumer(self, **_: Any) -> AIOKafkaConsumer:
        """What FastStream calls to build its consumer (it then subscribes and starts it)."""
        consumer = kafka.consumer(
            self.runtime.settings,
            group_id=self.group_id,
            factory=_Consumer,
            # A topic read that does not exist (yet, or since a broker restart) is looked for again
            # this often (aiokafka's default, 5 minutes, left its events unread that long once created).
            metadata_max_age_ms=MISSING_TOPIC_LOOK_MS,
        )
        assert isinstance(consumer, _Consumer)
        consumer.shell = self
        consumer.fetch_wait = kafka.AdaptiveFetchWait(consumer, self.runtime.settings)
        for runner in self.runners:
            runner._consumer = consumer  # its lag (ops) and the tests' view of the fetch wait
        return consumer

    # --- FastStream hooks -------------------------------------------------------------------------

    async def _parse(self, records: Records) -> KafkaAckableMessage:
        """The batch as FastStream's message, its records untouched: nothing here reads a header or
        a value, so nothing here can fail on one."""
        first, last = records[0], records[-1]
        consumer = self.consumer
        return KafkaAckableMessage(
            body=b"",
            headers={},
            batch_headers=[],
            message_id=(batch_id := f"{first.topic}-{first.partition}-{first.offset}-{last.offset}"),
            correlation_id=batch_id,
            raw_message=records,
            consumer=consumer if consumer is not None else FAKE_CONSUMER,
        )

    async def _decode(self, message: KafkaAckableMessage) -> Records:
        records: Records = message.raw_message
        return records

    async def _handle(self, records: Any, message: Message) -> None:
        """Each reaction's messages in its own transaction (the reactions at once, as when each had its
        consumer); the batch is acked once all have committed. `records` is typed Any so that
        FastStream's dependency injection passes the records through without validating them."""
        try:
            await self.dispatch(list(records))
        except _BatchFailed:
            return  # not acked, and rewound: the batch comes again
        try:
            await self._commit(records, message)
        except (CommitFailedError, KafkaError) as error:
            # A rebalance or a wiped broker: the messages come again and the inbox skips them.
            log.info("offset_commit_failed", consumer=self.group_id, error=repr(error)[:200])

    async def _commit(self, records: Any, message: Message) -> None:
        """Commit past the batch, on its own partitions only: FastStream's ack commits every assigned
        partition, and one of a topic that no longer exists (a broker restarted empty) made each
        commit fail whole, logged per partition at every batch (UnknownTopicOrPartitionError)."""
        consumer = self.consumer
        if consumer is None:  # a test's in-memory broker
            await message.ack()
            return
        after: dict[TopicPartition, int] = {}
        for m in records:
            tp = TopicPartition(m.topic, m.partition)
            after[tp] = max(after.get(tp, 0), m.offset + 1)
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in after.items()})

    async def dispatch(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Hand the batch to the reactions. A failure (not a poison message: those are dead-lettered
        by the reaction) leaves the batch unacked: the consumer goes back to its first offsets and the
        batch comes again after a backoff; the reactions that had committed find their inbox rows."""
        work = [(r, mine) for r in self.runners if (mine := [m for m in records if m.topic in r.topics])]
        results = await asyncio.gather(
            *(runner._handle_with_retry(mine) for runner, mine in work), return_exceptions=True
        )
        failed = [
            (runner, e) for (runner, _), e in zip(work, results, strict=True) if isinstance(e, BaseException)
        ]
        if not failed:
            self._backoff = 0.2
            return
        for runner, error in failed:
            if isinstance(error, asyncio.CancelledError):
                raise error
            self._restarted([runner], error)
        self._rewind(records)
        await asyncio.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, 5.0)
        raise _BatchFailed from failed[0][1]

    def _rewind(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Back to each partition's first offset of the batch: its messages come again."""
        consumer = self.consumer
        if consumer is None:
            return
        first: dict[TopicPartition, int] = {}
        for m in records:
            tp = TopicPartition(m.topic, m.partition)
            first[tp] = min(first.get(tp, m.offset), m.offset)
        for tp, offset in first.items():
            with contextlib.suppress(Exception):  # no longer ours after a rebalance: its new owner reads it
                consumer.seek(tp, offset)

    def _restarted(self, runners: Sequence[ReactionRunner], error: BaseException) -> None:
        for runner in runners:
            runner.restarted(error)
        log.warning(
            "consumer_restarting",
            consumer=",".join(r.consumer_name for r in runners) or self.group_id,
            error=repr(error)[:300],
        )

    # --- what each poll of the consumer adds ------------------------------------------------------

    async def step_past_unreadable(self, consumer: AIOKafkaConsumer, error: Exception) -> None:
        """From the committed offsets, read each partition one record at a time (handling the good
        ones as usual) until the record that cannot be parsed: dead-letter it by its coordinates (its
        bytes never reached us) for each reaction reading its topic, commit past it, go on. The
        records of the failed fetch that were parsed are read again from the committed offset, so
        none is skipped."""
        reason = f"unreadable record: {type(error).__name__}: {error}"[:2000]
        log.warning("unreadable_record", consumer=self.group_id, error=reason[:300])
        partitions = list(consumer.assignment())
        await consumer.seek_to_committed(*partitions)
        for tp in partitions:
            while not self._stopping:
                try:
                    batch = await consumer.getmany(tp, timeout_ms=500, max_records=1)
                except KafkaError:
                    raise
                except Exception:
                    offset = await consumer.position(tp)
                    await self._dead_letter_unreadable(tp, offset, reason)
                    consumer.seek(tp, offset + 1)
                    await consumer.commit({tp: OffsetAndMetadata(offset + 1, "")})
                    continue
                messages = batch.get(tp, [])
                if not messages:
                    break
                try:
                    await self.dispatch(messages)
                except _BatchFailed:
                    return  # rewound: the consumer's next poll takes it from there
                await consumer.commit({tp: OffsetAndMetadata(messages[-1].offset + 1, "")})

    async def _dead_letter_unreadable(self, tp: TopicPartition, offset: int, reason: str) -> None:
        unreadable: ConsumerRecord[bytes, bytes] = ConsumerRecord(
            topic=tp.topic,
            partition=tp.partition,
            offset=offset,
            timestamp=0,
            timestamp_type=0,
            key=None,
            value=None,
            checksum=None,
            serialized_key_size=-1,
            serialized_value_size=-1,
            headers=[],
        )
        for runner in self.runners:
            if tp.topic in runner.topics:
                async with self.runtime.pool.acquire() as conn:
                    await runner._record_dead_letter(conn, unreadable, reason)
                await runner._publish_dead_letter(unreadable, reason)

    async def rejoin_if_broker_was_wiped(self, consumer: AIOKafkaConsumer) -> bool:
        """A memory-only broker restarted empty: our positions are past its new log end. Start again
        from the earliest offset; the inbox makes the replay harmless (ARCHITECTURE.md, Tansu).

        The broker watch says so (chassis.reachability: its marker is gone, it declared the topics
        again): every partition goes back to offset 0 — a position before the new log end is no proof
        of a healthy topic (the relays republish in their own time). Without the watch, only a position
        well past a log end is taken as a wipe. True when every partition went back to 0: the batch
        just fetched (at the old positions) is dropped, its messages come again."""
        tps = list(consumer.assignment())
        watch = self.runtime.broker_watch
        if watch is not None and watch.epoch != self._broker_epoch:
            self._broker_epoch = watch.epoch
            log.warning("broker_wiped_rejoining", consumer=self.group_id, partitions=len(tps))
            for tp in tps:
                consumer.seek(tp, 0)
            return True
        if not tps:
            return False
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            try:
                position = await consumer.position(tp)
            except Exception:
                continue
            # Tansu reports a partition's end as the base offset of its last record batch + 1, so a
            # position past it by less than one relay batch is normal, not a wipe (reading it as one
            # re-read the whole topic every 2 s). A relay republishes in the same order after a wipe,
            # so a position within that slack of the new end is where the consumer already was.
            if position > ends.get(tp, 0) + RELAY_BATCH:
                log.warning(
                    "broker_wiped_rejoining",
                    consumer=self.group_id,
                    partition=str(tp),
                    position=position,
                    end=ends.get(tp),
                )
                consumer.seek(tp, 0)
        return False


class _BatchFailed(Exception):
    """A batch was not handled (and was rewound): it must not be acked."""


class _Consumer(AIOKafkaConsumer):  # type: ignore[misc]  # aiokafka is untyped
    """The aiokafka consumer FastStream's subscriber polls, with the chassis's work on each poll."""

    shell: ReactionsSubscriber
    fetch_wait: kafka.AdaptiveFetchWait
    _last_wipe_check: float = 0.0

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> Batches:
        """A batch, or nothing only when stopping: the idle polls stay here, where the fetch wait and
        the wipe check see them (FastStream sleeps after an empty poll, which would delay a message)."""
        if partitions:  # one partition at a time: stepping past an unreadable record
            one: Batches = await super().getmany(*partitions, timeout_ms=timeout_ms, max_records=max_records)
            return one
        loop = asyncio.get_running_loop()
        while True:
            try:
                batches: Batches = await super().getmany(timeout_ms=timeout_ms, max_records=max_records)
            except KafkaError as error:
                self.shell._restarted(self.shell.runners, error)
                raise  # FastStream logs it and polls again after a pause
            except Exception as error:
                # A record the client itself cannot parse (a header key that is not UTF-8): it would
                # fail every fetch from the same offset, for ever. Find it and dead-letter it.
                await self.shell.step_past_unreadable(self, error)
                continue
            # Before anything awaits: the fetcher's next request must already carry the new wait.
            self.fetch_wait.observe(sum(map(len, batches.values())))
            if loop.time() - self._last_wipe_check > WIPE_CHECK_SECONDS:
                self._last_wipe_check = loop.time()
                if await self.shell.rejoin_if_broker_was_wiped(self):
                    continue
            if batches:
                return batches


class _StructlogBridge:
    """FastStream's logger: its lines as the platform's JSON log lines (event `faststream`)."""

    #: Said at every start (the chassis creates the topics) and at every stop (its supervisor seeing
    #: the consume task end): not news.
    _EXPECTED = ("Make sure the topics exist", "is being executed...")

    def log(
        self,
        level: int,
        msg: Any,
        /,
        *args: Any,
        exc_info: Any = None,
        extra: Mapping[str, Any] | None = None,
        **_: Any,
    ) -> None:
        text = str(msg) % args if args else str(msg)
        if any(e in text for e in self._EXPECTED):
            level = logging.DEBUG
        fields = {k: v for k, v in (extra or {}).items() if v}
        if exc_info:
            fields["error"] = repr(exc_info)[:300]
        log.log(level, "faststream", message=text, **fields)
