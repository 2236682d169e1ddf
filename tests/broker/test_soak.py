"""Soak: many messages from 2 producer threads through 4 worker threads; reconciled by message id.

Size from ``SOAK_MESSAGES`` (default 2,000 so CI stays fast).  Run the full-size soak with
``SOAK_MESSAGES=10000 .venv/bin/python -m pytest tests/broker/test_soak.py -s``; ``-s`` shows one line of
figures per broker (time, msg/s, lost, duplicates).
"""
from __future__ import annotations

import os
import threading
import time
import uuid

import pytest
from conftest import declared

from helpers import config
from helpers.events import ACKED, DEAD_LETTERED, QUARANTINED, EventLog
from helpers.producer import Publisher
from helpers.topology import MEDIA, Topology
from helpers.worker import Worker

pytestmark = [pytest.mark.slow, pytest.mark.broker]

SOAK_MESSAGES = int(os.environ.get('SOAK_MESSAGES', '2000'))
PRODUCERS = 2
WORKERS = 4
# Keys on which RabbitMQ's matcher and kombu's virtual one agree; 1 to 3 queues each.
KEYS = ('video.upload.hd', 'image.upload.png', 'audio.upload', 'user.login', 'video.transcode',
        'billing.invoice')


@pytest.fixture
def media_topology(broker_url):
    """MEDIA's bindings on a fresh exchange and queues, all uniquely named; deleted afterwards."""
    with declared(broker_url, MEDIA.renamed(f'soak_{uuid.uuid4().hex[:10]}')) as topology:
        yield topology


def produce(url: str, topology: Topology, log: EventLog, name: str, count: int, offset: int,
            expected: dict[str, set[str]], errors: list[BaseException]) -> None:
    """One producer thread: its own Publisher; records which queues should receive each id."""
    try:
        with Publisher(url, topology=topology, log=log, name=name) as pub:
            for n in range(count):
                receipt = pub.publish(KEYS[(n + offset) % len(KEYS)], {'n': n, 'producer': name})
                for queue in receipt.queues:
                    expected[queue].add(receipt.message_id)  # set.add is atomic under the GIL
    except BaseException as exc:  # reported by the main thread
        errors.append(exc)


def reconcile(log: EventLog, expected: dict[str, set[str]]) -> dict[str, tuple[int, int, int]]:
    """{queue: (expected, lost, duplicated)} from the ACKED events, by message id."""
    report = {}
    for queue, wanted in sorted(expected.items()):
        acked = log.ids(ACKED, queue)
        report[queue] = (len(wanted), len(wanted - set(acked)), len(acked) - len(set(acked)))
        assert set(acked) <= wanted, f'{queue} acked ids nobody published for it'
    return report


def queued(conn, queue) -> int:
    """Messages still waiting in ``queue`` (redis:// keeps no key for an empty queue: 0)."""
    with conn.channel() as channel:
        try:
            return queue.bind(channel).queue_declare(passive=True).message_count
        except conn.channel_errors:
            if conn.transport_cls == 'redis':
                return 0
            raise


def test_soak_nothing_lost_nothing_duplicated(broker_url, media_topology):
    log = EventLog()
    tag = uuid.uuid4().hex[:6]
    workers = [Worker(broker_url, topology=media_topology, log=log, name=f'soak-{tag}-w{i}', prefetch_count=10)
               for i in range(WORKERS)]
    expected: dict[str, set[str]] = {queue: set() for queue in media_topology.queue_names}
    errors: list[BaseException] = []
    per_producer = SOAK_MESSAGES // PRODUCERS
    producers = [
        threading.Thread(target=produce, name=f'helpers-soak-producer-{i}',
                         args=(broker_url, media_topology, log, f'{tag}p{i}', per_producer, i, expected, errors))
        for i in range(PRODUCERS)
    ]
    start = time.monotonic()
    try:
        for worker in workers:
            worker.start()
        for thread in producers:
            thread.start()
        for thread in producers:
            thread.join()
        assert not errors, f'a producer failed: {errors[0]!r}'
        deliveries = sum(len(ids) for ids in expected.values())
        log.wait_for(ACKED, deliveries, timeout=120 + deliveries / 50)  # O(1) per event: the log counts
        log.wait_settled(timeout=30)
    finally:
        for worker in workers:
            worker.stop()
    elapsed = time.monotonic() - start
    report = reconcile(log, expected)
    lost = sum(r[1] for r in report.values())
    duplicated = sum(r[2] for r in report.values())
    print(f'\nsoak {config.transport_of(broker_url)}: {PRODUCERS * per_producer} messages, {deliveries} deliveries '
          f'to {len(report)} queues by {WORKERS} workers in {elapsed:.1f} s '
          f'({PRODUCERS * per_producer / elapsed:.0f} msg/s, {deliveries / elapsed:.0f} deliveries/s); '
          f'lost {lost}, duplicated {duplicated}')
    assert {q: r[1:] for q, r in report.items()} == {q: (0, 0) for q in report}
    assert log.count(DEAD_LETTERED) == log.count(QUARANTINED) == 0
    assert not any(worker.is_running for worker in workers)
    with config.connect(broker_url) as conn:
        left = {queue.name: queued(conn, queue) for queue in media_topology.queues()}
    assert left == dict.fromkeys(media_topology.queue_names, 0)
