"""Every error keeps its cause: the broker's reason, a plain range message, the protocol on a wrong port."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.config import BrokerError, check_broker
from helpers.topology import SEED
from helpers.worker import Worker
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
