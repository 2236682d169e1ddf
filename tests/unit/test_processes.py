"""The worker command line's options and the fleet's checks, without starting a process (tests/broker starts them)."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from helpers import processes, recorded_05
from helpers.checks.scaling import check_worker_script
from helpers.processes import (
    WorkerFleet,
    needs_rabbitmq,
    replay,
    script_command,
    shares_queues,
    worker_command,
)
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


# -- 05_scaling_out: the learner's worker script, recorded RabbitMQ outputs, the exercise's first checks -----

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / 'notebooks' / '05_scaling_out.ipynb'
WORK = Topology('scaling_out', (('transcode_queue', 'video.#'),))


def test_script_command_names_the_broker_queues():
    assert script_command('my_worker.py', WORK, name='w2') == [
        'python', 'my_worker.py', 'w2', 'scaling_out', 'transcode_queue=video.#']
    command = script_command('my_worker.py', WORK.in_namespace('ada'))
    assert command[3:] == ['ada.scaling_out', 'ada.scaling_out.transcode_queue=video.#']
    # 05 prints it; under a namespace (a class on one vhost) nbval compares it without the prefix
    assert _sanitize(shlex.join(command)) == "python my_worker.py w1 scaling_out 'transcode_queue=video.#'"


def test_a_script_runs_through_the_launcher_that_ends_it_with_its_parent():
    command = processes._launched(['/usr/bin/python3', 'my_worker.py', 'w1', 'x', 'q=k'])
    assert command[:2] == ['/usr/bin/python3', '-c'] and command[3:] == ['my_worker.py', 'w1', 'x', 'q=k']
    assert 'sys.stdin.read()' in command[2] and 'os._exit' in command[2]
    compile(command[2], '<launcher>', 'exec')


def _sanitize(text: str) -> str:
    """The nbval sanitizer's pairs, applied as nbval applies them."""
    pairs = re.findall(r'^regex: (.*)$\n^replace: (.*)$', (ROOT / 'tests' / 'nbval_sanitize.cfg').read_text(), re.M)
    for regex, replace in pairs:
        text = re.sub(regex, replace, text)
    return text


@pytest.mark.parametrize('url, why', [('memory://', 'memory:// lives inside this kernel'),
                                      ('redis://localhost:6379/0', 'visibility timeout')])
def test_replay_labels_a_recorded_output_and_the_sanitizer_strips_only_the_label(url, why, capsys):
    replay('kill', url)
    first, rest = capsys.readouterr().out.split('\n', 1)
    assert first.startswith(f'(recorded on RabbitMQ {recorded_05.RABBITMQ} with kombu {recorded_05.KOMBU}, '
                            f'{recorded_05.DATE}: ') and why in first and first.endswith(')')
    assert rest == recorded_05.CELLS['kill']['text'] != ''
    assert _sanitize(f'{first}\n{rest}') == rest


def test_the_recordings_are_the_outputs_stored_in_the_notebook():
    """Re-storing 05 from RabbitMQ without `python -m helpers.processes` would make memory:// show stale outputs."""
    nb = json.loads(NOTEBOOK.read_text())
    stored = {}
    for cell in nb['cells']:
        for tag in cell.get('metadata', {}).get('tags', []):
            if tag.startswith('recorded:'):
                stored[tag.split(':', 1)[1]] = ''.join(
                    ''.join(o['text']) for o in cell['outputs'] if o.get('output_type') == 'stream')
    assert sorted(stored) == sorted(recorded_05.CELLS)
    for name, text in stored.items():
        assert recorded_05.CELLS[name]['text'] == text, name
    assert recorded_05.CELLS['timeline'].get('png'), 'the picture is recorded too'


@pytest.mark.parametrize('script, hint', [
    (None, 'needs the text of your script'),
    (Topology, 'it got a class'),
    ('class Worker(:\n    pass\n', 'line 1 of your script'),
    ('no_such_worker.py', "there is no file 'no_such_worker.py'"),
])
def test_the_exercise_check_answers_a_wrong_shape_before_it_starts_anything(script, hint):
    verdict = check_worker_script(script, WORK, 'memory://')
    assert verdict.startswith('❌') and hint in verdict, verdict


def test_shares_queues():
    assert [shares_queues(u) for u in ('memory://', 'redis://h:6379/0', 'amqp://h//')] == [False, True, True]
