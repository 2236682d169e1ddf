"""The worker command: its JSON lines read back as they were written, the broker checked before it starts."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from conftest import BROKERS, require_broker

from helpers.course_names import VIDEO_QUEUE
from helpers.events import Event
from helpers.worker_cli import ERROR, READY, event_fields, event_line, read_line

ROOT = Path(__file__).resolve().parents[2]


def test_an_event_line_reads_back_as_written():
    event = Event('acked', 'p1-0001', 'video.upload', VIDEO_QUEUE, 1.0, 'transcoded "x"\nok')
    fields = read_line(event_line(event.kind, 'w1', **event_fields(event)) + '\n')
    assert fields is not None and fields['kind'] == 'acked' and fields['worker'] == 'w1'
    assert {key: fields[key] for key in ('queue', 'routing_key', 'message_id', 'detail')} == event_fields(event)


@pytest.mark.parametrize('line', ['ready: <Worker ...>', '', '[1, 2]', '{"worker": "w1"}', '{"kind": 3}'])
def test_a_line_that_is_not_an_event_line_reads_as_none(line):
    assert read_line(line) is None


def _worker(url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'helpers.worker', '--broker', url, '--json', '--stop-on-eof'],
                          cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


def test_the_cli_warns_that_memory_reaches_no_other_process():
    done = _worker('memory://')
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith('warning: memory:// lives inside this Python process: no other process can reach')
    assert read_line(done.stdout.splitlines()[0])['kind'] == READY


@pytest.fixture
def amqp_url() -> str:
    return require_broker(BROKERS['amqp'])


def _with(url: str, password: str | None = None, vhost: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if password is not None:
        user = (parts.username or 'guest')
        netloc = f'{user}:{password}@{parts.hostname}:{parts.port or 5672}'
    return urlunsplit(parts._replace(netloc=netloc, path=f'/{vhost}' if vhost is not None else parts.path))


@pytest.mark.broker
@pytest.mark.parametrize(('change', 'says'), [
    (dict(password='not-the-password'), 'the user name or password was refused'),
    (dict(vhost='no_such_vhost_h4'), 'vhost no_such_vhost_h4 not found'),
])
def test_the_cli_says_what_is_wrong_with_the_broker_in_one_line(amqp_url, change, says):
    done = _worker(_with(amqp_url, **change))
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith('error: cannot use the amqp broker at ') and says in line
    [error] = _error_lines(done)
    assert error['stage'] == 'broker' and error['error'] == line.removeprefix('error: ') and says in error['cause']


def _error_lines(done: subprocess.CompletedProcess) -> list[dict]:
    """The protocol lines on stdout, which must all be error lines."""
    lines = [read_line(text) for text in done.stdout.splitlines()]
    assert lines and all(fields is not None and fields['kind'] == ERROR for fields in lines), done.stdout
    return lines


@pytest.mark.parametrize(('args', 'stage', 'cause'), [
    (['--prefetch', '70000'], 'options', 'prefetch count 70000 is out of range'),
    (['--prefetch', 'many'], 'options', "argument --prefetch: invalid int value: 'many'"),
    (['--bind', 'jobs'], 'options', "--bind 'jobs': write QUEUE=KEY"),
    (['--broker', 'foo://x'], 'broker', "uses 'foo'; the course knows memory://"),
    (['--broker', ''], 'broker', 'broker URL is empty'),
    (['--broker', 'amqp://guest:guest@127.0.0.1:1//'], 'broker', 'nothing answered'),
])
def test_with_json_a_worker_that_cannot_run_prints_its_error_and_cause_as_one_json_line(args, stage, cause):
    done = subprocess.run([sys.executable, '-m', 'helpers.worker', '--json', '--name', 'w7', *args], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    [error] = _error_lines(done)
    assert error['worker'] == 'w7' and error['stage'] == stage and cause in error['cause'], error
    assert error['error'] in done.stderr  # the same words as the human-readable line


@pytest.mark.broker
def test_with_json_a_declare_the_broker_refuses_is_one_json_line_with_the_brokers_reason(amqp_url):
    done = subprocess.run([sys.executable, '-m', 'helpers.worker', '--broker', amqp_url, '--json',
                           '--exchange', 'amq.topic'], cwd=ROOT, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    [error] = _error_lines(done)
    assert error['stage'] == 'start' and 'could not start' in error['error']
    assert error['cause'].startswith('Queue.declare: (403) ACCESS_REFUSED'), error
