"""The full run: several producer threads and N workers on a media scenario, then the reconciliation (04_full_run).

Every worker and every producer thread has a connection of its own.  The
scenario is generated from a seed, so the same arguments always publish the
same routing keys and payloads (and the same messages fail and get
dead-lettered), whatever the broker.
"""
from __future__ import annotations

import itertools
import random
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import config, course_names
from .events import PUBLISHED, SETTLED, EventLog
from .producer import Publisher
from .reconcile import Reconciliation, expected_copies, reconcile, wait_accounted
from .topology import MEDIA, Topology
from .worker import Delivery, Worker

__all__ = ['MEDIA_EVENTS', 'COPY_TAGS', 'MediaError', 'RunResult', 'scenario', 'media_handler', 'full_run',
           'delete_copies']

#: The scenario's routing keys and how often each occurs (weights), from helpers/course_names.py, which checks that
#: every key routes the same way on RabbitMQ and on kombu's virtual transports and that every queue gets one.
MEDIA_EVENTS: tuple[tuple[str, int], ...] = course_names.MEDIA_EVENTS

#: 04 runs on copies of the topology (``MEDIA.renamed(tag)``), so the panel's workers never take their
#: messages: 'run' for the full run and the timed runs, 'check' for the exercise's self-check.
COPY_TAGS = ('run', 'check')

_runs = itertools.count(1)
#: Sets this process's message ids apart from another program's: two programs running the same scenario on
#: the same queues would otherwise both publish 'r1p1-0001' with the same key, and a copy of the other's
#: would pass for a duplicate of ours.  With it, such a copy is 'unexpected' and reconcile names its cause.
RUN_TOKEN = secrets.token_hex(3)


class MediaError(ValueError):
    """A media file the simulated processing cannot handle (the payload says corrupt)."""


@dataclass(frozen=True)
class RunResult:
    """What a full run did: its event log, its reconciliation and how long it took."""

    log: EventLog
    reconciliation: Reconciliation
    seconds: float
    messages: int
    workers: int
    producers: int
    prefetch: int

    def as_dict(self, transport: str = '') -> dict:
        """The run as plain data (for JSON): the reconciliation's, and the run's own figures."""
        return {'transport': transport, **self.reconciliation.as_dict(), 'messages': self.messages,
                'workers': self.workers, 'producers': self.producers, 'seconds': round(self.seconds, 3)}

    @property
    def rate(self) -> float:
        """Settled copies per second (a copy is one message in one queue)."""
        settled = self.reconciliation.acked + self.reconciliation.dead_lettered + self.reconciliation.quarantined
        return settled / self.seconds if self.seconds else 0.0


def scenario(count: int, seed: int = 4, corrupt_rate: float = 0.0) -> list[tuple[str, dict]]:
    """``count`` (routing key, payload) pairs drawn from MEDIA_EVENTS with a seeded random generator."""
    if count < 0:
        raise ValueError(f'count is {count}: ask for 0 or more messages')
    rng = random.Random(seed)
    keys, weights = zip(*MEDIA_EVENTS)
    items = []
    for n, key in enumerate(rng.choices(keys, weights=weights, k=count)):
        payload: dict[str, Any] = {'n': n, 'event': key, 'size_kb': rng.randint(10, 50_000)}
        if rng.random() < corrupt_rate and not key.startswith('user.'):
            payload['corrupt'] = True
        items.append((key, payload))
    return items


def media_handler(work_seconds: float = 0.0) -> Callable[[Any, Delivery], str]:
    """A handler that 'processes' a media event: sleeps ``work_seconds`` (I/O), fails on corrupt files."""
    def handle(body: Any, delivery: Delivery) -> str:
        if work_seconds:
            time.sleep(work_seconds)
        if not delivery.queue.startswith(course_names.AUDIT_QUEUE) and isinstance(body, dict) and body.get('corrupt'):
            name = body.get('file') or (f'{delivery.routing_key} #{body["n"]}' if 'n' in body else delivery.routing_key)
            raise MediaError(f'{name} (message {delivery.message_id}): the file is corrupt')
        return delivery.queue.removesuffix('_queue')
    return handle


def _publish(url: str, topology: Topology, log: EventLog, name: str,
             items: Sequence[tuple[str, dict]], errors: list[BaseException]) -> None:
    try:
        with Publisher(url, topology=topology, log=log, name=name) as publisher:
            for key, payload in items:
                publisher.publish(key, payload)
    except BaseException as exc:  # handed to the main thread, which raises it
        errors.append(exc)


def full_run(url: str | None = None, messages: int = 200, workers: int = 4, producers: int = 2, *,
             topology: Topology = MEDIA, prefetch: int = 1, work_seconds: float = 0.0,
             corrupt_rate: float = 0.0, seed: int = 4, log: EventLog | None = None, reset: bool = True,
             timeout: float = 60.0, progress: Callable[[int, int, int], None] | None = None,
             queues: Sequence[str] | None = None) -> RunResult:
    """Start ``workers`` workers and ``producers`` publishing threads, wait until every copy settled, stop all.

    The clock runs from the first publish to the last settled copy.  With
    ``reset`` the topology is deleted and declared afresh first, so nothing
    left over from an earlier run is consumed.  ``progress(published, settled, expected)``
    is called from this thread from the start (0, 0, expected) and about five times a second
    while the producers publish and the workers settle.  ``queues`` (None: all) are the queues the
    workers consume: copies routed to the others stay there, never settled, and the reconciliation
    counts them lost (04's exercise forgets one queue this way).
    """
    if workers < 1 or producers < 1:
        raise ValueError(f'workers={workers}, producers={producers}: a run needs at least one of each')
    url = config.broker_url(url)
    log = log if log is not None else EventLog()
    run = next(_runs)
    if reset:
        with config.connect(url) as conn:
            topology.reset(conn)
    items = scenario(messages, seed, corrupt_rate)
    report = progress or (lambda published, settled, expected: None)
    consumed = topology.queue_names if queues is None else list(queues)
    routed = expected_copies(topology, ((str(n), key) for n, (key, _payload) in enumerate(items)))
    expected = sum(len(routed[queue]) for queue in consumed)
    report(0, 0, expected)
    handler = media_handler(work_seconds)
    crew = [Worker(url, queues=consumed, topology=topology, handlers=handler, log=log, prefetch_count=prefetch,
                   name=f'fullrun-{i}') for i in range(1, workers + 1)]
    try:
        for worker in crew:
            worker.start()
        errors: list[BaseException] = []
        threads = [threading.Thread(target=_publish, name=f'helpers-producer-r{run}p{i}', daemon=True,
                                    args=(url, topology, log, f'r{run}p{i}-{RUN_TOKEN}', items[i - 1::producers],
                                          errors))
                   for i in range(1, producers + 1)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
                report(log.count(PUBLISHED), log.settled(), expected)
        if errors:
            raise errors[0]
        published = log.count(PUBLISHED)
        if queues is None:
            result = wait_accounted(topology, log, timeout=timeout,
                                    progress=lambda settled, wanted: report(published, settled, wanted))
        else:  # the forgotten queues never settle: wait for the consumed ones only
            log.wait_until(lambda lg: lg.settled(consumed) >= expected, timeout,
                           what=f'{expected} copies to settle in {", ".join(consumed)}')
            report(published, log.settled(consumed), expected)
            result = reconcile(topology, log, config.transport_of(url))
        seconds = max((e.time for e in log.events() if e.kind in SETTLED), default=start) - start
    finally:
        for worker in crew:
            worker.stop()
    return RunResult(log, result, seconds, messages, workers, producers, prefetch)


def delete_copies(connection, topology: Topology = MEDIA, tags: Sequence[str] = COPY_TAGS) -> None:
    """Delete the copies of ``topology`` that 04's runs declare (and leave behind) from the broker.

    Each copy is declared first: on redis:// a connection deletes only the bindings it declared itself
    (kombu keeps them per connection), so without it the bindings would stay in Redis.
    """
    for tag in tags:
        copy = topology.renamed(tag)
        copy.declare(connection)
        copy.delete(connection)
