"""Worker processes (05_scaling_out): the worker CLI's options, round-robin and redelivery on RabbitMQ."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import BROKERS, declared, require_broker

from helpers.events import EventLog
from helpers.processes import WorkerFleet, WorkerProcess
from helpers.producer import Publisher
from helpers.topology import Topology

ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_process_that_cannot_run_keeps_its_error_line_apart_from_the_events():
    command = [sys.executable, '-m', 'helpers.worker', '--prefetch', '70000', '--name', 'bad']
    process = WorkerProcess(command, 'bad', 'memory://', on_event=lambda: None)
    with pytest.raises(RuntimeError, match='prefetch count 70000 is out of range'):
        process.wait_ready(timeout=30)
    assert process.error_line is not None and process.error_line['stage'] == 'options'
    assert 'prefetch count 70000' in process.error_line['cause']
    assert len(process.log) == 0  # an error line is not an event of the run


def _cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, 'PYTHONPATH': str(ROOT)}
    return subprocess.Popen([sys.executable, '-m', 'helpers.worker', '--broker', 'memory://', '--json', *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def _lines(process: subprocess.Popen) -> list[dict]:
    out = process.stdout.read()
    process.wait(20)
    process.stdout.close()
    if not process.stdin.closed:
        process.stdin.close()
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize('how', ['sigterm', 'stdin closed'])
def test_cli_says_ready_and_stopped_in_json(how):
    process = _cli('--name', 'solo', '--stop-on-eof', '--exchange', 'cli_test', '--bind', 'jobs=video.#')
    ready = json.loads(process.stdout.readline())
    assert (ready['kind'], ready['worker'], ready['queues'], ready['pid']) == ('ready', 'solo', ['jobs'], process.pid)
    if how == 'sigterm':
        process.send_signal(signal.SIGTERM)
    else:
        process.stdin.close()
    lines = _lines(process)
    assert process.returncode == 0
    assert lines == [{'kind': 'stopped', 'worker': 'solo', 'pid': process.pid,
                      'acked': 0, 'dead_lettered': 0, 'quarantined': 0}]


def test_cli_rejects_an_unknown_queue():
    process = _cli('--queues', 'nope')
    _lines(process)
    assert process.returncode == 2


@pytest.fixture
def amqp_topology():
    url = require_broker(BROKERS['amqp'])
    suffix = uuid.uuid4().hex[:8]
    with declared(url, Topology(f'test_scaling_{suffix}', ((f'test_jobs_{suffix}', 'video.#'),))) as topology:
        yield url, topology


def test_round_robin_and_redelivery_on_rabbitmq(amqp_topology):
    url, topology = amqp_topology
    fleet = WorkerFleet(3, topology, url=url, work_seconds=0.02).start()
    try:
        with Publisher(url, topology=topology, name='t') as publisher:
            sent = [publisher.publish('video.transcode', {'n': n}).message_id for n in range(9)]
            fleet.wait_acked(len(sent))
            handled = fleet.handled()
            assert sorted(fleet.acked_ids()) == sorted(sent)
            assert set(fleet.acked_ids().values()) == {1}
            assert all(handled[name] for name in ('w1', 'w2', 'w3')), handled

            slow = publisher.publish('video.transcode', {'work_seconds': 2}).message_id
            victim = fleet.wait_received(slow)
            victim.kill()
            rescuer = fleet.wait_handled(slow)
        assert rescuer is not victim
        assert slow not in victim.handled()
        assert [e.detail for e in rescuer.log.events('acked') if e.message_id == slow] == ['redelivered']
        assert fleet.acked_ids()[slow] == 1
    finally:
        codes = fleet.stop()
    assert sorted(codes.values()) == [-signal.SIGKILL, 0, 0]
    assert fleet.running() == []


def test_waiting_for_one_message_reads_no_log(amqp_topology, monkeypatch):
    """wait_received / wait_handled cost O(1) per event: they never list a process's events."""
    url, topology = amqp_topology
    with WorkerFleet(2, topology, url=url).start() as fleet, \
            Publisher(url, topology=topology, name='t') as publisher:
        earlier = [publisher.publish('video.transcode', {'n': n}).message_id for n in range(20)]
        fleet.wait_acked(len(earlier))

        def no_scan(*_args, **_kwargs):
            raise AssertionError('a wait listed the events of a log')
        monkeypatch.setattr(EventLog, 'events', no_scan)
        message_id = publisher.publish('video.transcode', {'n': 'last'}).message_id
        receiver = fleet.wait_received(message_id)
        handler = fleet.wait_handled(message_id)
        assert fleet.wait_received(earlier[0]) in fleet.processes
        monkeypatch.undo()
        assert handler is receiver
        assert message_id in handler.handled()
        assert [p for p in fleet.processes if earlier[0] in p.handled()] == [fleet.wait_handled(earlier[0])]
