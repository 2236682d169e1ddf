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

from helpers.processes import WorkerFleet
from helpers.producer import Publisher
from helpers.topology import Topology

ROOT = Path(__file__).resolve().parents[2]


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
