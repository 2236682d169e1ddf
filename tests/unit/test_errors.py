"""Every error keeps its cause: the broker's reason, a plain range message, the protocol on a wrong port."""
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
from helpers.worker_cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(('url', 'says'), [
    ('', 'broker URL is empty'),
    ('  ', 'broker URL is empty'),
    ('amqp://guest:guest@:5672//', 'has no host name'),
    ('redis://:6379/0', 'has no host name'),
    ('amqp://guest:guest@127.0.0.1:0//', 'has port 0'),
    ('redis://127.0.0.1:0/0', 'has port 0'),
])
def test_check_broker_refuses_empty_hosts_and_port_zero(url, says):
    with pytest.raises(BrokerError, match=says):
        check_broker(url, timeout=1)


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
    try:
        message, seconds = _start_fails(amqp_url, Topology(f'{name}_x', ((name, 'video.#'),)))
    finally:
        with config.connect(amqp_url) as conn:
            Queue(name).bind(conn.default_channel).delete()
    assert "PRECONDITION_FAILED - inequivalent arg 'durable'" in message
    assert seconds < 5


@pytest.mark.broker
def test_the_cli_prints_the_brokers_reason_and_exits_non_zero(amqp_url):
    done = subprocess.run([sys.executable, '-m', 'helpers.worker', '--broker', amqp_url, '--exchange', 'amq.topic'],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith('error: ') and 'ACCESS_REFUSED' in line


@pytest.mark.parametrize(('args', 'says'), [
    (['--prefetch', '70000'], 'prefetch count 70000 is out of range: give a whole number from 0 to 65535'),
    (['--prefetch', '-1'], 'prefetch count -1 is out of range'),
    (['--exchange', 'x' * 300], 'exchange name .* is 300 bytes long; AMQP allows at most 255'),
    (['--bind', 'q' * 300 + '=video.#'], 'queue name .* is 300 bytes long; AMQP allows at most 255'),
    (['--bind', 'jobs\x07=video.#'], 'contains a control character'),
    (['--work-seconds', '-1'], 'give a number of seconds, 0 or more'),
    (['--work-seconds', 'nan'], 'give a number of seconds, 0 or more'),
])
def test_cli_options_are_range_checked_in_plain_words(args, says, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(['--broker', 'memory://', *args])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert 'format requires' not in err
    assert __import__('re').search(says, err), err


@pytest.mark.parametrize('prefetch', [70000, -1, 1.5, True])
def test_the_library_refuses_a_prefetch_no_broker_takes(prefetch):
    with pytest.raises(ValueError, match='prefetch count'):
        Worker('memory://', topology=SEED, prefetch_count=prefetch)
