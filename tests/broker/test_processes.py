"""Worker processes (05_scaling_out): the worker CLI's options, round-robin and redelivery on RabbitMQ."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import BROKERS, declared, require_broker

from helpers import config, processes
from helpers.checks.scaling import check_worker_script
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


# -- 05_scaling_out: a learner's worker script as processes, and the exercise's check -----------------------

SOLUTION = (ROOT / 'helpers' / 'solutions' / 'nb05_scaling_out.py').read_text()
SCRIPT = SOLUTION.split("JOB_WORKER = '''", 1)[1].split("'''", 1)[0]


@pytest.fixture
def script(tmp_path) -> str:
    path = tmp_path / 'job_worker.py'
    path.write_text(SCRIPT)
    return str(path)


def test_a_worker_script_shares_a_queue_and_its_killed_job_comes_back(amqp_topology, script):
    url, topology = amqp_topology
    fleet = WorkerFleet(3, topology, url=url, script=script).start()
    try:
        with Publisher(url, topology=topology, name='t') as publisher:
            sent = [publisher.publish('video.transcode', {'work_seconds': 0.02}).message_id for n in range(9)]
            fleet.wait_acked(len(sent))
            assert sorted(fleet.acked_ids()) == sorted(sent) and set(fleet.acked_ids().values()) == {1}
            slow = publisher.publish('video.transcode', {'work_seconds': 2}).message_id
            victim = fleet.wait_received(slow)
            victim.kill()
            assert fleet.wait_handled(slow) is not victim
    finally:
        codes = fleet.stop()
    assert sorted(codes.values()) == [-signal.SIGKILL, 0, 0]  # SIGTERM: the script's handler stops it cleanly


def test_starting_a_fleet_again_stops_the_one_before(amqp_topology, script):
    url, topology = amqp_topology
    first = WorkerFleet(2, topology, url=url, script=script).start()
    second = WorkerFleet(2, topology, url=url, script=script).start()  # a re-run cell
    try:
        assert first.running() == [] and len(second.running()) == 2
        assert first not in processes._started and second in processes._started
    finally:
        second.stop()


@pytest.mark.parametrize('how', ['parent killed', 'parent exits without stopping'])
def test_script_copies_never_outlive_the_python_that_started_them(amqp_topology, script, tmp_path, how):
    url, topology = amqp_topology
    parent = subprocess.Popen([sys.executable, '-c', f'''
import os, signal, sys, time
sys.path.insert(0, {str(ROOT)!r})
from helpers.processes import WorkerFleet
from helpers.topology import Topology
fleet = WorkerFleet(2, Topology({topology.exchange_name!r}, {topology.bindings!r}), url={url!r},
                    script={script!r}).start()
print(' '.join(str(p.pid) for p in fleet), flush=True)
if {how == 'parent killed'!r}:
    os.kill(os.getpid(), signal.SIGKILL)  # no atexit: the copies see their stdin close
'''], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    pids = [int(pid) for pid in parent.stdout.readline().split()]
    parent.wait(30)
    parent.stdout.close()
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids), how


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f'/proc/{pid}/status')
    return not (status.exists() and 'State:\tZ' in status.read_text())  # a zombie has exited


@pytest.mark.parametrize('name', ['memory', 'amqp', 'redis'])
def test_the_exercise_check_passes_the_solution_and_fails_the_seed_shape(name):
    url = require_broker(BROKERS[name])
    suffix = uuid.uuid4().hex[:8]
    topology = Topology(f'test_jobs_{suffix}', ((f'video_jobs_{suffix}', 'video.#'),
                                                (f'upload_jobs_{suffix}', '*.upload')))
    seed_shape = SCRIPT.replace(
        "Consumer(queues=[queue], callbacks=[self.handler(queue.name)], accept=['json'], prefetch_count=1)\n"
        "                for queue in self.queues]",
        "Consumer(queues=self.queues, callbacks=[self.handler(self.queues[0].name)], accept=['json'])]")
    assert seed_shape != SCRIPT
    before = set(processes._started)
    try:
        assert check_worker_script(SCRIPT, topology, url).startswith('✅')
        verdict = check_worker_script(seed_shape, topology, url)
        assert verdict.startswith('❌') and 'one Consumer over several queues' in verdict, verdict
        no_handler = SCRIPT.replace("        signal.signal(signal.SIGTERM, lambda signum, frame: "
                                    "setattr(worker, 'should_stop', True))\n", '')
        assert no_handler != SCRIPT
        verdict = check_worker_script(no_handler, topology, url)
        if name == 'memory':  # threads: SIGTERM is checked where the copies are processes
            assert verdict.startswith('✅'), verdict
        else:  # Python's default for SIGTERM: die at once, exit code -15
            assert verdict.startswith('❌') and '-15' in verdict and 'SIGTERM handler' in verdict, verdict
    finally:
        with config.connect(url) as conn:
            topology.delete(conn)
    assert set(processes._started) == before, 'the check stops every process it starts'
