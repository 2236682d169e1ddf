"""A broker outage: a worker asked to stop meanwhile stops within about a second, not after kombu's next retry;
one left running consumes again once the broker is back."""
from __future__ import annotations

import time
import uuid

import pytest
from conftest import BROKERS, declared, require_broker

from helpers.course_names import VIDEO_QUEUE
from helpers.events import ACKED, RECONNECTED, EventLog
from helpers.producer import Publisher
from helpers.topology import SEED
from helpers.worker import Worker

from .tcp_forward import TcpForward

pytestmark = pytest.mark.broker


# Redis too, with kombu's default health check: the Redis failures once seen here (4 in 8 runs, and one in CI)
# were the forwarder's: close() did not wake its waiting accept(), so a connection made after down() was
# forwarded live, never cut, and that worker never needed to reconnect.  Fixed (tcp_forward.py): 0 failures in 20 runs
# on each broker with three CPU-bound processes beside it.
@pytest.mark.parametrize('name', ['amqp', 'redis'])
def test_a_worker_stops_promptly_while_its_broker_is_down(name):
    with TcpForward(require_broker(BROKERS[name])) as forward:
        worker = Worker(forward.url, queues=[VIDEO_QUEUE], log=EventLog(), name=f'outage-{name}').start()
        failures = []
        report = worker.on_connection_error
        worker.on_connection_error = lambda exc, interval: (failures.append(interval), report(exc, interval))
        forward.down()
        deadline = time.monotonic() + 30
        while len(failures) < 2:  # kombu now waits 4 s, then longer, before its next try
            assert time.monotonic() < deadline, 'the worker never tried to reconnect'
            time.sleep(0.05)
        worker.stop(timeout=2.5)  # raises WorkerError if the thread is still waiting for the broker
        assert not worker.is_running


@pytest.mark.parametrize('name', ['amqp', 'redis'])
def test_a_worker_consumes_again_once_its_broker_is_back(name):
    url = require_broker(BROKERS[name])
    log, tag = EventLog(), uuid.uuid4().hex[:8]
    with declared(url, SEED.renamed(tag)) as topology, TcpForward(url) as forward:
        worker = Worker(forward.url, queues=[f'{VIDEO_QUEUE}_{tag}'], topology=topology, log=log,
                        name=f'back-{name}').start()
        try:
            failures = []
            report = worker.on_connection_error
            worker.on_connection_error = lambda exc, interval: (failures.append(interval), report(exc, interval))
            forward.down()
            deadline = time.monotonic() + 30
            while not failures:
                assert time.monotonic() < deadline, 'the worker never noticed the outage'
                time.sleep(0.05)
            forward.up()
            log.wait_for(RECONNECTED, 1, timeout=30)
            with Publisher(url, topology=topology, log=log) as publisher:  # straight to the broker
                publisher.publish('video.upload', {'file': 'after.mp4'}, message_id='after-outage')
            log.wait_for(ACKED, 1, timeout=15)
            assert log.ids(ACKED) == ['after-outage']
        finally:
            worker.stop()
