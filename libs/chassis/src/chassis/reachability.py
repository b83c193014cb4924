"""Is the broker there, did it forget everything, does the database answer — cheaply, for readiness.

`BrokerWatch` is one small Kafka client per service process that looks at the broker every
`CHECK_SECONDS` (issue 22, findings 11 and 12):

- **reachable**: the last look got an answer (within `CHECK_TIMEOUT_SECONDS`). `/readyz` reads this
  flag; it never calls the broker itself, so readiness stays cheap however often it is asked.
- **wiped**: the embedded Tansu broker keeps everything in memory, so a restart loses every topic,
  every consumer group and every committed offset while the services run on. A consumer then kept its
  assignment on topics that no longer exist (each commit failing with UnknownTopicOrPartitionError, in
  a flood) and positions past the new log ends, and topics nobody publishes to stayed missing. Where
  the chassis creates topics (`KAFKA_CREATE_TOPICS`: `make run`, the tests), the watch commits an
  offset under a consumer group of its own — a marker only this process writes — and looks it up at
  each check: gone means the broker restarted empty. It then declares the service's topics again (its
  own, the dead letters', those its reactions read) and the marker, and moves `epoch` on: the relay
  republishes from the event store and the reactions' consumer reads again from the earliest offset
  (the inbox deduplicates) when they see a new epoch. A marker of our own cannot be restored by
  another service racing us (a topic can: any service declares the ones it reads), so no wipe goes
  unseen. Real Kafka does not forget: there (`KAFKA_CREATE_TOPICS=false`) the watch only asks for the
  service's own topic's end offsets, to know that the broker answers.

`CachedCheck` runs a check at most once per `ttl` seconds, however many callers ask at once (the
database's `SELECT 1` for readiness).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from chassis import kafka
from chassis.settings import ServiceSettings

log = structlog.get_logger()

#: How often the broker is looked at (readiness and wipe detection lag behind it by at most this).
CHECK_SECONDS = 1.0
#: A look that takes longer counts as "unreachable" (aiokafka's own request timeout is 40 s).
CHECK_TIMEOUT_SECONDS = 2.0


class BrokerWatch:
    """Watches the broker for one service process: `reachable`, and `epoch` (moved on at each wipe)."""

    def __init__(self, settings: ServiceSettings, own_topic: str, declared: Iterable[str]) -> None:
        self.settings = settings
        #: Topic names without the prefix, as `kafka.ensure_topics` takes them.
        self.declared = sorted(set(declared) | {own_topic})
        self.marker = TopicPartition(settings.topic(own_topic), 0)
        self.detects_wipes = settings.kafka_create_topics
        #: Incremented each time the broker is found wiped (after the topics are declared again).
        self.epoch = 0
        #: Called after each wipe, once the topics exist again (the relay's wake-up).
        self.on_wipe: list[Callable[[], None]] = []
        self.reachable = False
        self.checks = 0
        self._marked = False
        #: A wipe was seen and the topics are not declared again yet.
        self._redeclare = False
        self._client: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        # One group per process: a replica's marker is its own, so no other process can restore it.
        self._group = f"{settings.kafka_topic_prefix}broker-watch.{uuid.uuid4().hex[:12]}"

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="broker-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self._close_client()

    async def _run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(CHECK_SECONDS)

    async def check(self) -> None:
        """One look at the broker; never raises (a failure is `reachable = False`)."""
        was = self.reachable
        try:
            await asyncio.wait_for(self._look(), CHECK_TIMEOUT_SECONDS)
            self.reachable = True
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self.reachable = False
            if was:
                log.warning("broker_unreachable", error=repr(error)[:300])
        else:
            if not was and self.checks:
                log.info("broker_reachable_again")
        self.checks += 1

    async def _look(self) -> None:
        client = await self._started_client()
        if not self.detects_wipes:
            await client.end_offsets([self.marker])
            return
        if self._marked:
            if await client.committed(self.marker) is not None:
                return
            log.warning("broker_wiped", topics=self.declared)
            self._marked, self._redeclare = False, True
        if self._redeclare:
            # Each step is done once even if a look is cut short by its timeout: the next one goes on.
            await kafka.ensure_topics(self.settings, self.declared)
            self._redeclare = False
            self.epoch += 1  # the topics exist again: the relay and the consumer may start over
            for wake in self.on_wipe:
                wake()
        await self._mark(client)

    async def _mark(self, client: AIOKafkaConsumer) -> None:
        await client.commit({self.marker: OffsetAndMetadata(1, "broker-watch")})
        self._marked = True

    async def _started_client(self) -> AIOKafkaConsumer:
        if self._client is None:
            client = kafka.consumer(
                self.settings,
                group_id=self._group if self.detects_wipes else None,
                request_timeout_ms=int(CHECK_TIMEOUT_SECONDS * 1000),
                retry_backoff_ms=200,
            )
            try:
                await client.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await client.stop()
                raise
            # Assigned and paused: it never fetches, it only commits and asks (a marker, log ends).
            client.assign([self.marker])
            client.pause(self.marker)
            self._client = client
        return self._client

    async def _close_client(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.stop(), 5.0)
            self._client = None


class CachedCheck:
    """A boolean check run at most once per `ttl` seconds; concurrent callers share the run under way.
    A check that raises or takes longer than `timeout` is False."""

    def __init__(
        self, check: Callable[[], Awaitable[bool]], *, ttl: float = 1.0, timeout: float = 2.0
    ) -> None:
        self._check = check
        self._ttl = ttl
        self._timeout = timeout
        self._value = False
        self._at = -float("inf")
        self._lock = asyncio.Lock()

    async def __call__(self) -> bool:
        if time.monotonic() - self._at < self._ttl:
            return self._value
        async with self._lock:
            if time.monotonic() - self._at < self._ttl:
                return self._value  # another caller just ran it
            try:
                self._value = bool(await asyncio.wait_for(self._check(), self._timeout))
            except Exception:
                self._value = False
            self._at = time.monotonic()
            return self._value
