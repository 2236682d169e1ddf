"""A worker asked to stop while its broker is down stops within about a second, not after kombu's next retry."""
from __future__ import annotations

import contextlib
import socket
import threading
import time
from urllib.parse import urlparse

import pytest
from conftest import BROKERS, require_broker

from helpers.course_names import VIDEO_QUEUE
from helpers.events import EventLog
from helpers.worker import Worker

pytestmark = pytest.mark.broker


class Forwarder:
    """A TCP forwarder to a broker; down() makes it look like a broker outage (connections cut, refused)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.is_down = False
        threading.Thread(target=self._accept, name='helpers-test-forwarder', daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(('127.0.0.1', self.target_port))
            with self.lock:  # down() may have run while this connection was being made: cut it too
                self.sockets += [client, upstream]
                if self.is_down:
                    self._cut()
                    return
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def down(self) -> None:
        with self.lock:
            self.is_down = True
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes a waiting accept(); close() alone does not on Linux
            self.listener.close()
            self._cut()

    def _cut(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


# Redis too, with kombu's default health check: the Redis failures once seen here (4 in 8 runs, and one in CI)
# were the forwarder's: close() did not wake its waiting accept(), so a connection made after down() was
# forwarded live, never cut, and that worker never needed to reconnect.  Fixed above: 0 failures in 20 runs
# on each broker with three CPU-bound processes beside it.
@pytest.mark.parametrize('name', ['amqp', 'redis'])
def test_a_worker_stops_promptly_while_its_broker_is_down(name):
    url = require_broker(BROKERS[name])
    port = urlparse(url).port or {'amqp': 5672, 'redis': 6379}[name]
    forwarder = Forwarder(port)
    via = url.replace(f':{port}/', f':{forwarder.port}/')
    worker = Worker(via, queues=[VIDEO_QUEUE], log=EventLog(), name=f'outage-{name}').start()
    failures = []
    report = worker.on_connection_error
    worker.on_connection_error = lambda exc, interval: (failures.append(interval), report(exc, interval))
    forwarder.down()
    deadline = time.monotonic() + 30
    while len(failures) < 2:  # kombu now waits 4 s, then longer, before its next try
        assert time.monotonic() < deadline, 'the worker never tried to reconnect'
        time.sleep(0.05)
    worker.stop(timeout=2.5)  # raises WorkerError if the thread is still waiting for the broker
    assert not worker.is_running
