"""The worker command line's options and the fleet's checks, without starting a process (tests/broker starts them)."""
from __future__ import annotations

import pytest

from helpers.processes import WorkerFleet, needs_rabbitmq, worker_command
from helpers.topology import SEED, Topology
from helpers.worker_cli import custom_topology


@pytest.mark.parametrize('exchange, binds, expected_exchange, expected_bindings', [
    (None, None, 'media_exchange', SEED.bindings),
    ('class_a', None, 'class_a', SEED.bindings),
    (None, ['jobs=video.#'], 'media_exchange', (('jobs', 'video.#'),)),
    ('x', ['a=video.*', 'a=image.*', 'b=#'], 'x', (('a', 'video.*'), ('a', 'image.*'), ('b', '#'))),
])
def test_custom_topology(exchange, binds, expected_exchange, expected_bindings):
    topology = custom_topology(SEED, exchange, binds)
    assert (topology.exchange_name, topology.bindings) == (expected_exchange, expected_bindings)


@pytest.mark.parametrize('bind, message', [
    ('jobs', 'write QUEUE=KEY'),
    ('=video.#', 'write QUEUE=KEY'),
    ('jobs=video.*x', 'wildcard must be a whole word'),
])
def test_custom_topology_rejects(bind, message):
    with pytest.raises(ValueError, match=message):
        custom_topology(SEED, None, [bind])


def test_worker_command_round_trips_through_the_cli_options():
    topology = Topology('scaling_out', (('transcode_queue', 'video.#'), ('transcode_queue', 'audio.#')))
    command = worker_command(topology, ['transcode_queue'], name='w2', prefetch=3, work_seconds=0.5)
    assert command == ['python', '-m', 'helpers.worker', '--exchange', 'scaling_out',
                       '--bind', 'transcode_queue=video.#', '--bind', 'transcode_queue=audio.#',
                       '--queues', 'transcode_queue', '--prefetch', '3', '--name', 'w2', '--work-seconds', '0.5']
    binds = [command[i + 1] for i, arg in enumerate(command) if arg == '--bind']
    assert custom_topology(SEED, 'scaling_out', binds) == topology


@pytest.mark.parametrize('url, skipped', [
    ('memory://', 'skipped on memory://'),
    ('redis://localhost:6379/0', 'skipped on redis://'),
    ('amqp://guest:guest@localhost:5672//', ''),
])
def test_needs_rabbitmq(url, skipped):
    message = needs_rabbitmq(url)
    assert message.startswith(skipped) if skipped else message == ''


def test_fleet_refuses_a_broker_other_processes_cannot_share():
    with pytest.raises(RuntimeError, match='memory://'):
        WorkerFleet(2, SEED, url='memory://')
