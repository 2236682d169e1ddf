"""What 04's prefetch lesson says, checked: kombu's virtual transports on memory:// and Redis; RabbitMQ across a delay.

The worker takes one message per poll whatever the prefetch, and since it acks each message before
it takes the next, it never holds more than one unacked message, even at prefetch 100.
"""
import contextlib
import queue
import socket
import statistics
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from conftest import BROKERS, require_broker
from kombu.transport import memory, redis
from kombu.transport.virtual import base

from helpers.bench import bench_topology, fill, helpers_rate, prefetch_rates
from helpers.config import connect

POLL = {'memory': (memory.Channel, '_get'), 'redis': (redis.Channel, '_brpop_read')}


@pytest.mark.broker
@pytest.mark.parametrize('transport', sorted(POLL))
def test_a_virtual_transport_hands_over_one_message_per_poll_and_the_worker_holds_one(transport, monkeypatch):
    url = require_broker(BROKERS[transport])
    polls, held = [], []
    channel_class, poll_name = POLL[transport]
    poll = getattr(channel_class, poll_name)
    qos_class = channel_class.QoS
    append = qos_class.append

    def counting_poll(self, *args, **kwargs):
        polls.append(1)
        return poll(self, *args, **kwargs)

    def watching_append(self, message, delivery_tag):
        append(self, message, delivery_tag)
        held.append(len(self._delivered) - len(self._dirty))

    monkeypatch.setattr(channel_class, poll_name, counting_poll)
    monkeypatch.setattr(qos_class, 'append', watching_append)
    assert issubclass(qos_class, base.QoS)
    topology = bench_topology()
    try:
        fill(url, topology, 200)
        helpers_rate(url, topology, 200, prefetch=100)
    finally:
        with connect(url) as conn:
            topology.delete(conn)
    assert len(held) == 200  # every message went through the channel's prefetch bookkeeping
    assert max(held) == 1    # ...and the worker never held a second one, though prefetch allowed 100
    assert len(polls) >= 200  # one message per poll: at least as many polls as messages


class DelayProxy:
    """A TCP forwarder to the broker that holds every chunk ``delay`` s in each direction (a network's round trip)."""

    def __init__(self, host: str, port: int, delay: float) -> None:
        self.target, self.delay = (host, port), delay
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, name='helpers-test-delay-proxy', daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                sink.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                chunks: queue.Queue = queue.Queue()
                threading.Thread(target=self._read, args=(source, chunks), daemon=True).start()
                threading.Thread(target=self._write, args=(sink, chunks), daemon=True).start()

    def _read(self, source: socket.socket, chunks: queue.Queue) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                chunks.put((time.monotonic() + self.delay, data))
        chunks.put((0.0, b''))

    @staticmethod
    def _write(sink: socket.socket, chunks: queue.Queue) -> None:
        with contextlib.suppress(OSError):
            while True:
                due, data = chunks.get()
                if not data:
                    break
                time.sleep(max(0.0, due - time.monotonic()))
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the waiting accept(); close() alone does not on Linux
        self.listener.close()
        self.thread.join(5)
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()


@pytest.mark.broker
def test_across_a_1_ms_round_trip_prefetch_1_holds_rabbitmq_under_1000_a_second_and_100_lifts_it():
    """04's prefetch claim, measured: each direction delayed 0.5 ms, as on a local network."""
    url = urlsplit(require_broker(BROKERS['amqp']))
    proxy = DelayProxy(url.hostname or '127.0.0.1', url.port or 5672, delay=0.0005)
    try:
        rates = prefetch_rates(urlunsplit(url._replace(netloc=f'{url.username}:{url.password}@127.0.0.1:{proxy.port}')),
                               (1, 100), messages=200, repeat=3)
    finally:
        proxy.close()
    one, hundred = statistics.median(rates[1]), statistics.median(rates[100])
    assert one < 1000, rates
    assert hundred > 2 * one, rates
