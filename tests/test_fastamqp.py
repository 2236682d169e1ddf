"""helpers.fastamqp: frames cut from a read-ahead buffer exactly as py-amqp reads them, on any chunking."""
import random
import socket
import struct
import uuid

import pytest
from amqp.exceptions import UnexpectedFrame

from helpers.fastamqp import BufferedTCPTransport


def frame(frame_type: int, channel: int, payload: bytes, end: int = 0xCE) -> bytes:
    return struct.pack('>BHI', frame_type, channel, len(payload)) + payload + bytes([end])


class ChunkedSocket:
    """A fake socket that returns the stream in the given chunk sizes, with timeouts where a size is 0."""

    def __init__(self, data: bytes, sizes):
        self.data, self.sizes = data, list(sizes)

    def recv(self, limit: int) -> bytes:
        size = self.sizes.pop(0) if self.sizes else limit
        if size == 0:
            raise socket.timeout('timed out')
        chunk, self.data = self.data[:min(size, limit)], self.data[min(size, limit):]
        return chunk


def transport_on(sock) -> BufferedTCPTransport:
    transport = object.__new__(BufferedTCPTransport)
    transport.sock, transport.raise_on_initial_eintr, transport.connected = sock, True, True
    transport._buffer, transport._offset, transport._pending = bytearray(), 0, bytearray()
    return transport


FRAMES = [(1, 1, b'basic.deliver'), (2, 1, b'header'), (3, 1, b'{"n": 1}'), (3, 2, b'x' * 200_000), (8, 0, b'')]


@pytest.mark.parametrize('sizes', [[], [1] * 5000, [7, 1, 3, 0, 2, 0, 0, 9], 'random'])
def test_frames_survive_any_chunking_and_timeouts(sizes):
    stream = b''.join(frame(*f) for f in FRAMES)
    if sizes == 'random':
        rng = random.Random(4)
        sizes = [rng.choice([0, 1, 5, 17, 4096, 70_000]) for _ in range(400)]
    transport = transport_on(ChunkedSocket(stream, sizes))
    got = []
    while len(got) < len(FRAMES):
        try:
            got.append(transport.read_frame())
        except socket.timeout:
            continue  # a timeout consumes nothing: the next call goes on where this one stopped
    assert got == FRAMES


def test_bad_frame_end_is_refused():
    transport = transport_on(ChunkedSocket(frame(1, 1, b'abc', end=0x00), []))
    with pytest.raises(UnexpectedFrame):
        transport.read_frame()


def test_closed_connection_is_an_error():
    transport = transport_on(ChunkedSocket(frame(1, 1, b'abc')[:5], []))
    with pytest.raises(OSError, match='closed'):
        transport.read_frame()
    assert not transport.connected


@pytest.mark.parametrize('transport', ['FastTransport', 'CoalescingTransport'])
def test_worker_on_fastamqp_handles_every_message(transport):
    from conftest import BROKERS, require_broker

    from helpers import config, fastamqp
    from helpers.events import ACKED, DEAD_LETTERED, EventLog
    from helpers.producer import Publisher
    from helpers.topology import Topology
    from helpers.worker import Worker

    url = require_broker(BROKERS['amqp'])
    name = f'fast_{uuid.uuid4().hex[:8]}'
    topology = Topology(name, ((f'{name}_q', 'media.#'),), durable=False)
    log = EventLog()

    def fragile(body, delivery):
        if body['n'] % 40 == 7:
            raise ValueError('cannot process')

    worker = fastamqp.consume_with(Worker(url, topology=topology, log=log, handlers=fragile, prefetch_count=50,
                                          name=name), transport)
    try:
        with worker, Publisher(url, topology=topology, log=log) as publisher:
            big = 'y' * 300_000  # larger than one read-ahead chunk
            for n in range(200):
                publisher.publish('media.upload', {'n': n, 'blob': big if n % 50 == 0 else ''})
            log.wait_for(ACKED, 195, timeout=30)
            log.wait_for(DEAD_LETTERED, 5, timeout=30)
        with config.connect(url) as conn, conn.channel() as channel:
            left = topology.queue(f'{name}_q').bind(channel).queue_declare(passive=True).message_count
            parked = topology.dead_letter_queue().bind(channel).queue_declare(passive=True).message_count
    finally:
        with config.connect(url) as conn:
            topology.delete(conn)
    assert sorted(log.ids(ACKED) + log.ids(DEAD_LETTERED)) == sorted(log.ids('published'))
    assert (left, parked) == (0, 5)  # every ack reached the broker before the connection closed
