"""A hypothesis state machine: publishers, workers, connection drops and restarts in random order, per broker.

After every step the reconciliation's invariants hold: nothing settles where the topology did not route
it, and every duplicate has a cause in the log.  At the end, with a worker running until the log goes
quiet, every lost copy is explained too (and RabbitMQ and memory:// lose nothing).  Bounded: a few
short examples per broker.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import socket
import uuid
from collections import Counter

import psutil
import pytest
from conftest import BROKERS, declared, require_broker
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from helpers.events import RECONNECTED, EventLog
from helpers.producer import Publisher
from helpers.reconcile import reconcile
from helpers.topology import SEED
from helpers.worker import Worker

from .test_fault_truth import EXPLAINED_DUPLICATES, EXPLAINED_LOSSES, settle_or_go_quiet
from .test_faults import drop_my_redis_connections, my_ports

pytestmark = [pytest.mark.slow, pytest.mark.broker]

KEYS = ('video.upload', 'user.login', 'video.transcode.done')
BROKER_PORTS = {'amqp': 5672, 'redis': 6379}


def cut_my_sockets(broker_port: int) -> int:
    """Shut down this process's TCP connections to ``broker_port`` under their owners' feet; return how many.

    Faster than asking the broker (rabbitmqctl starts an Erlang VM per call), and just as final: both
    ends see the connection end, and RabbitMQ requeues what it had delivered on it.
    """
    wanted = my_ports(broker_port)
    cut = 0
    for conn in psutil.Process().net_connections(kind='tcp'):
        if conn.laddr and conn.laddr.port in wanted and conn.fd != -1:
            with contextlib.suppress(OSError):
                with socket.socket(fileno=os.dup(conn.fd)) as sock:
                    sock.shutdown(socket.SHUT_RDWR)
                cut += 1
    return cut
_numbers = itertools.count(1)


class Faults(RuleBasedStateMachine):
    """One broker, one fresh topology, up to two workers and one publisher, poked in random order."""

    url = ''
    transport = ''
    seen: Counter = Counter()  # figures over all examples, for the report

    def __init__(self) -> None:
        super().__init__()
        self.log = EventLog()
        self._declared = declared(self.url, SEED.renamed(f'machine_{uuid.uuid4().hex[:10]}'))
        self.topology = self._declared.__enter__()
        self.workers: dict[int, Worker] = {}
        self.publisher = Publisher(self.url, topology=self.topology, log=self.log)
        self.drops = 0

    @rule(key=st.sampled_from(KEYS), count=st.integers(1, 30))
    def publish(self, key: str, count: int) -> None:
        for n in range(count):
            self.publisher.publish(key, {'n': n})

    @precondition(lambda self: len(self.workers) < 2)
    @rule()
    def start_worker(self) -> None:
        slot = 0 if 0 not in self.workers else 1
        name = f'{self.topology.exchange_name}-{next(_numbers)}'
        self.workers[slot] = Worker(self.url, topology=self.topology, log=self.log, name=name).start()

    @precondition(lambda self: self.workers)
    @rule(data=st.data())
    def stop_worker(self, data) -> None:
        slot = data.draw(st.sampled_from(sorted(self.workers)))
        self.workers.pop(slot).stop()

    @precondition(lambda self: self.transport != 'memory')
    @rule()
    def cut_connections(self) -> None:
        """Cut every TCP connection of this process to the broker, as a network failure would."""
        self._await_reconnects(lambda: cut_my_sockets(BROKER_PORTS[self.transport]))

    @precondition(lambda self: self.transport == 'redis')
    @rule()
    def redis_kills_clients(self) -> None:
        """Redis closes this process's clients (CLIENT KILL ID), as a server-side timeout would."""
        self._await_reconnects(lambda: drop_my_redis_connections(self.url))

    def _await_reconnects(self, fault) -> None:
        """Apply ``fault``, then wait until every running worker consumes again (the state is known again)."""
        before, running = self.log.count(RECONNECTED), len(self.workers)
        dropped = fault()  # none before the first connection
        self.drops += dropped
        if dropped and running:
            wanted = before + running * len(self.topology.queue_names)
            self.log.wait_until(lambda lg: lg.count(RECONNECTED) >= wanted, timeout=20,
                                what=f'{running} workers to reconnect')

    @invariant()
    def nothing_unexpected_and_every_duplicate_explained(self) -> None:
        rec = reconcile(self.topology, self.log, self.transport)
        assert rec.unexpected == 0, rec.table()
        assert set(rec.causes('duplicate')) <= EXPLAINED_DUPLICATES, rec.table()

    def teardown(self) -> None:
        try:
            if not self.workers:
                self.start_worker()
            wanted = sum(len(self.topology.route(e.routing_key)) for e in self.log.events('published'))
            settle_or_go_quiet(self.log, wanted, quiet=2.0, limit=20.0)
            rec = reconcile(self.topology, self.log, self.transport)
            self.seen.update(runs=1, connections_dropped=self.drops, reconnects=self.log.count(RECONNECTED),
                             copies=rec.expected, lost=rec.lost, duplicates=rec.duplicates)
            self.seen.update({f'lost: {cause}': n for cause, n in rec.causes('lost').items()})
            self.seen.update({f'duplicate: {cause}': n for cause, n in rec.causes('duplicate').items()})
            assert set(rec.causes('lost')) <= EXPLAINED_LOSSES, rec.table()
            if self.transport != 'redis':
                assert rec.lost == 0, rec.table()
        finally:
            for worker in self.workers.values():
                worker.stop()
            self.publisher.close()
            self._declared.__exit__(None, None, None)


@pytest.mark.parametrize('transport', ['memory', 'amqp', 'redis'])
def test_random_faults_keep_the_accounts_explained(transport):
    url = require_broker(BROKERS[transport])
    machine = type(f'Faults_{transport}', (Faults,), {'url': url, 'transport': transport, 'seen': Counter()})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=10, stateful_step_count=12, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck)))
    print(f'\n{transport}: {dict(sorted(machine.seen.items()))}')
    assert machine.seen['runs'] >= 5
    if transport != 'memory':
        assert machine.seen['connections_dropped'] >= 1 and machine.seen['reconnects'] >= 1, 'no fault injected'
