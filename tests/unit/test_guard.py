"""The unit suite's guard catches what it promises: a connection or a process fails the test, even if caught."""
from __future__ import annotations

import multiprocessing
import socket
import subprocess
import threading

import pytest

from helpers import config

REFUSED = pytest.fail.Exception


def forgive(guard) -> list[str]:
    """The violations so far, cleared so that this test (which made them on purpose) may pass."""
    seen, guard.violations[:] = list(guard.violations), []
    return seen


def test_a_tcp_connection_to_rabbitmq_fails_the_test(no_network_no_process):
    with pytest.raises(REFUSED, match=r"connect to \('127.0.0.1', 5672\): unit tests use no network"):
        socket.create_connection(('127.0.0.1', 5672), timeout=1)
    assert forgive(no_network_no_process) == ["connect to ('127.0.0.1', 5672)"]


def test_code_that_catches_connection_errors_cannot_hide_the_attempt(no_network_no_process):
    with pytest.raises(REFUSED):
        config.check_broker('redis://127.0.0.1:6379/1', timeout=1)
    assert forgive(no_network_no_process)


def test_a_connection_from_a_thread_that_swallows_everything_is_remembered(no_network_no_process):
    def swallow():
        try:
            socket.create_connection(('127.0.0.1', 6379), timeout=1)
        except BaseException:  # a thread that hides every error: the guard must see through it
            pass

    thread = threading.Thread(target=swallow)
    thread.start()
    thread.join()
    assert forgive(no_network_no_process) == ["connect to ('127.0.0.1', 6379)"]


def test_a_unix_socket_is_allowed(tmp_path, no_network_no_process):
    path = str(tmp_path / 's')
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(path)
        server.listen()
        client.connect(path)
    assert no_network_no_process.violations == []


@pytest.mark.parametrize('start', [
    lambda: subprocess.run(['true'], check=True),
    lambda: multiprocessing.get_context('spawn').Process(target=print).start(),
    lambda: multiprocessing.get_context('fork').Process(target=print).start(),
], ids=['subprocess', 'spawn', 'fork'])
def test_starting_a_process_fails_the_test(start, no_network_no_process):
    with pytest.raises(REFUSED, match='a new process'):
        start()
    assert forgive(no_network_no_process)
