"""Shared fixtures: one per real resource, each cleaning up after itself."""
from __future__ import annotations

import contextlib
import functools
import os
import threading
import uuid
from collections.abc import Mapping

import pytest

from helpers import config
from helpers.events import EventLog
from helpers.topology import SEED, Topology
from tools.execute import LATE_OUTPUT  # noqa: F401  (the notebook tests' nbclient settings: one place)

IN_CI = os.environ.get('CI', '').lower() in ('1', 'true', 'yes')

# Tests keep out of the notebooks' way: queue names are per broker (vhost, database), so a test
# sharing them with a notebook running at the same time would steal its messages.  Tests use the
# vhost 'krl_tests' when it exists (.ci/setup creates it) and Redis database 1.
TEST_VHOST_URL = 'amqp://guest:guest@127.0.0.1:5672/krl_tests'
DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672//'


@functools.cache
def _test_amqp_url() -> str:
    """AMQP_URL, else the test vhost if it answers, else the default vhost: probed once, on first use."""
    if os.environ.get('AMQP_URL'):
        return os.environ['AMQP_URL']
    try:
        config.check_broker(TEST_VHOST_URL, timeout=2)
        return TEST_VHOST_URL
    except config.BrokerError:
        return DEFAULT_AMQP_URL


class _Brokers(Mapping):
    """Broker name -> URL; a URL given as a function is looked up when a test asks for it, not at import."""

    def __init__(self, **urls) -> None:
        self._urls = urls

    def __getitem__(self, name: str) -> str:
        url = self._urls[name]
        return url() if callable(url) else url

    def __iter__(self):
        return iter(self._urls)

    def __len__(self) -> int:
        return len(self._urls)


BROKERS = _Brokers(memory='memory://', amqp=_test_amqp_url,
                   redis=os.environ.get('REDIS_URL', 'redis://127.0.0.1:6379/1'))


def require_broker(url: str) -> str:
    """Return ``url`` if its broker answers; skip locally, fail under CI=true."""
    try:
        config.check_broker(url, timeout=3)
    except config.BrokerError as exc:
        if IN_CI:
            pytest.fail(f'CI=true and the broker is required: {exc}')
        pytest.skip(f'broker not available on this machine: {exc}')
    return url


@pytest.fixture(params=sorted(BROKERS))
def broker_url(request) -> str:
    """Each of the three brokers in turn (memory, amqp, redis)."""
    return require_broker(BROKERS[request.param])


@pytest.fixture
def memory_url() -> str:
    return 'memory://'


@contextlib.contextmanager
def declared(url: str, topology: Topology):
    """``topology`` declared afresh on ``url`` (its queues empty) for the with-block; deleted after it."""
    with config.connect(url) as conn:
        topology.reset(conn)
    try:
        yield topology
    finally:
        with config.connect(url) as conn:
            topology.delete(conn)


@pytest.fixture
def unique_topology(broker_url):
    """The seed's bindings on a fresh, uniquely named exchange, its queues empty; deleted afterwards.

    The queue names are the seed's, so a test can say 'video_queue': on redis:// and memory:// a queue
    is known by name alone, which is why it is emptied first (an earlier test may have left messages).
    """
    with declared(broker_url, Topology(f'test_{uuid.uuid4().hex[:10]}', SEED.bindings)) as topology:
        yield topology


@pytest.fixture
def log() -> EventLog:
    return EventLog()


@pytest.fixture(autouse=True)
def no_thread_left_behind():
    """Every test stops the threads it started (the course's own threads are named helpers-*).

    A worker a failed test left running is stopped before the test is failed for it: on redis:// queues
    are known by name alone, so it would take the next tests' messages (CI lost one so).
    """
    from helpers.worker import running_workers

    before = set(threading.enumerate())
    workers_before = set(running_workers())
    yield
    started = [t for t in threading.enumerate()
               if t not in before and (t.name.startswith('helpers-') or not t.daemon)]
    for thread in started:
        thread.join(timeout=2)
    alive = [t.name for t in started if t.is_alive()]
    for worker in set(running_workers()) - workers_before:
        with contextlib.suppress(Exception):  # failing here would hide the report below
            worker.stop()
    assert not alive, f'threads left running after the test: {alive}'


@pytest.fixture(autouse=True)
def no_process_left_behind():
    """Every test ends the processes it started (worker processes, kernels, servers of its own).

    A process is the test's when it is a new child of this one, or a descendant of such a child.
    Processes under a server started earlier for the whole session (the browser tests' Chromium
    starts and reaps helpers of its own at any time) belong to that server, not to the test.
    """
    import psutil
    me = psutil.Process()
    before = {p.pid for p in me.children()}
    yield
    started = []
    for child in me.children():
        if child.pid not in before:
            started.append(child)
            with contextlib.suppress(psutil.NoSuchProcess):
                started += child.children(recursive=True)
    _gone, alive = psutil.wait_procs(started, timeout=3)
    for process in alive:
        process.kill()  # ours, by id: don't let one test's leftovers break the next
    assert not alive, f'processes left running after the test: {alive}'
