"""The broker's own refusals reach the learner at once, with the broker's reason (tests/unit has the rest)."""
from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import BROKERS, require_broker
from kombu import Queue

from helpers import config
from helpers.config import BrokerError, check_broker
from helpers.topology import SEED, Topology
from helpers.worker import Worker, WorkerError

ROOT = Path(__file__).resolve().parents[2]


def _swap_port(url: str, other: str) -> str:
    """``url`` with the host and port of ``other`` (a broker speaking another protocol)."""
    parts, theirs = urlsplit(url), urlsplit(other)
    netloc = parts.netloc.rpartition('@')
    host = f'{theirs.hostname}:{theirs.port or config.DEFAULT_PORTS[config.transport_of(other)]}'
    return parts._replace(netloc=f'{netloc[0]}{netloc[1]}{host}').geturl()


@pytest.mark.broker
@pytest.mark.parametrize(('transport', 'other', 'says'), [
    ('amqp', 'redis', 'speaks the Redis protocol, not amqp'),
    ('redis', 'amqp', r'speaks AMQP \(RabbitMQ\), not redis'),
])
def test_check_broker_names_the_protocol_on_a_wrong_port(transport, other, says):
    url, elsewhere = require_broker(BROKERS[transport]), require_broker(BROKERS[other])
    wrong = _swap_port(url, elsewhere)
    with pytest.raises(BrokerError, match=says) as caught:
        check_broker(wrong, timeout=1)
    assert '\n' not in str(caught.value)


@pytest.fixture
def amqp_url() -> str:
    return require_broker(BROKERS['amqp'])


def _start_fails(url: str, topology: Topology) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(WorkerError) as caught:
        Worker(url, topology=topology, name=f'doomed-{uuid.uuid4().hex[:6]}').start(timeout=30)
    return str(caught.value), time.monotonic() - started


@pytest.mark.broker
def test_a_reserved_exchange_name_fails_at_once_with_the_brokers_reason(amqp_url):
    message, seconds = _start_fails(amqp_url, Topology('amq.topic', SEED.bindings))
    assert 'ACCESS_REFUSED' in message and "reserved prefix 'amq.*'" in message
    assert '\n' not in message
    assert seconds < 5


@pytest.mark.broker
def test_an_inequivalent_queue_fails_at_once_with_the_brokers_reason(amqp_url):
    name = f'errors_{uuid.uuid4().hex[:8]}'
    with config.connect(amqp_url) as conn:
        Queue(name, durable=False).bind(conn.default_channel).declare()  # someone made it non-durable
    topology = Topology(f'{name}_x', ((name, 'video.#'),))
    try:
        message, seconds = _start_fails(amqp_url, topology)
    finally:
        with config.connect(amqp_url) as conn:
            topology.delete(conn)  # its dead-letter queue and exchanges too, and the queue itself
    assert "PRECONDITION_FAILED - inequivalent arg 'durable'" in message
    assert seconds < 5


@pytest.mark.broker
def test_a_consume_the_broker_refuses_fails_at_once_with_the_brokers_reason(amqp_url):
    topology = SEED.renamed(f'errors_{uuid.uuid4().hex[:8]}')
    queue = topology.broker_queue_name(topology.queue_names[0])
    with config.connect(amqp_url) as owner:
        topology.reset(owner)
        try:
            owner.default_channel.basic_consume(queue, exclusive=True, callback=lambda message: None)
            message, seconds = _start_fails(amqp_url, topology)
        finally:
            with config.connect(amqp_url) as conn:
                topology.delete(conn)
    assert 'Basic.consume: (403) ACCESS_REFUSED' in message and 'in exclusive use' in message
    assert seconds < 5


@pytest.mark.broker
def test_the_cli_prints_the_brokers_reason_and_exits_non_zero(amqp_url):
    done = subprocess.run([sys.executable, '-m', 'helpers.worker', '--broker', amqp_url, '--exchange', 'amq.topic'],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith('error: ') and 'ACCESS_REFUSED' in line
