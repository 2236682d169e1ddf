"""A TCP forwarder to a broker, for tests: a network's delay, or an outage and its end.

``TcpForward(url, delay=0.0005)`` listens on 127.0.0.1 and forwards every connection to the
broker of ``url``, holding each chunk ``delay`` seconds in each direction (a round trip of
twice that); ``forward.url`` is ``url`` through it.  ``down()`` makes it look like a broker
outage: every connection is cut and new ones are refused, until ``up()`` takes them again on
the same port.  ``close()`` (or the end of a with-block) ends it all.
"""
from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit

DEFAULT_PORTS = {'amqp': 5672, 'pyamqp': 5672, 'redis': 6379}


class TcpForward:
    """A forwarder on 127.0.0.1 to the broker of ``url``; ``self.url`` reaches the broker through it."""

    def __init__(self, url: str, *, delay: float = 0.0) -> None:
        parts = urlsplit(url)
        self.target = (parts.hostname or '127.0.0.1', parts.port or DEFAULT_PORTS[parts.scheme])
        self.delay = delay
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.is_down = False
        self.port = 0
        self._listen()
        user, at, _host = parts.netloc.rpartition('@')
        self.url = urlunsplit(parts._replace(netloc=f'{user}{at}127.0.0.1:{self.port}'))

    def _listen(self) -> None:
        self.listener = socket.create_server(('127.0.0.1', self.port))  # SO_REUSEADDR: up() gets the same port
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, args=(self.listener,), name='helpers-test-forward',
                                       daemon=True)
        self.thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:  # down() may have run while this connection was being made: cut it too
                self.sockets += [client, upstream]
                if self.is_down:
                    self._cut()
                    return
            for source, sink in ((client, upstream), (upstream, client)):
                sink.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                chunks: queue.SimpleQueue = queue.SimpleQueue()
                threading.Thread(target=self._read, args=(source, chunks), daemon=True).start()
                threading.Thread(target=self._write, args=(sink, chunks), daemon=True).start()

    def _read(self, source: socket.socket, chunks: queue.SimpleQueue) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                chunks.put((time.monotonic() + self.delay, data))
        chunks.put((0.0, b''))

    @staticmethod
    def _write(sink: socket.socket, chunks: queue.SimpleQueue) -> None:
        with contextlib.suppress(OSError):
            while True:
                due, data = chunks.get()
                if not data:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def _stop_listening(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes a waiting accept(); close() alone does not on Linux
        self.listener.close()

    def _cut(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def down(self) -> None:
        """A broker outage: cut every connection, refuse new ones."""
        with self.lock:
            self.is_down = True
            self._stop_listening()
            self._cut()
        self.thread.join(5)

    def up(self) -> None:
        """The outage is over: take connections again, on the same port."""
        with self.lock:
            self.is_down = False
            self._listen()

    def close(self) -> None:
        self.down()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> TcpForward:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
