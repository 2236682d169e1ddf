"""The unit suite's rule: no network and no processes; a test that tries either fails, saying what it tried."""
from __future__ import annotations

import _posixsubprocess
import os
import socket
import subprocess

import pytest

WHERE = 'unit tests use no network and start no process: move this test to tests/broker or tests/notebooks'


class Guard:
    """Refuses connections (except Unix sockets) and process starts; remembers each, even one made in a thread."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    def refuse(self, what: str):
        self.violations.append(what)
        pytest.fail(f'{what}: {WHERE}', pytrace=False)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

        def connect(sock, address):
            if sock.family != socket.AF_UNIX:
                self.refuse(f'connect to {address!r}')
            return real_connect(sock, address)

        def connect_ex(sock, address):
            if sock.family != socket.AF_UNIX:
                self.refuse(f'connect to {address!r}')
            return real_connect_ex(sock, address)

        def start(name):
            return lambda *args, **kwargs: self.refuse(f'{name} (a new process)')

        monkeypatch.setattr(socket.socket, 'connect', connect)
        monkeypatch.setattr(socket.socket, 'connect_ex', connect_ex)
        # subprocess and multiprocessing's spawn start programs through fork_exec (subprocess keeps its own
        # reference to it from Python 3.11 on) or os.posix_spawn
        monkeypatch.setattr(_posixsubprocess, 'fork_exec', start('fork_exec'))
        if hasattr(subprocess, '_fork_exec'):
            monkeypatch.setattr(subprocess, '_fork_exec', start('fork_exec'))
        for name in ('fork', 'forkpty', 'posix_spawn', 'posix_spawnp', 'system'):
            monkeypatch.setattr(os, name, start(f'os.{name}'))


@pytest.fixture(autouse=True)
def no_network_no_process(monkeypatch):
    """Fails the test that connects anywhere but a Unix socket or starts a process, even if the code caught it.

    It guards each test and its function-scoped fixtures; a module- or session-scoped fixture here would run
    unguarded (the unit suite has none).
    """
    guard = Guard()
    guard.install(monkeypatch)
    yield guard
    if guard.violations:
        pytest.fail(f'{"; ".join(guard.violations)}: {WHERE}', pytrace=False)
