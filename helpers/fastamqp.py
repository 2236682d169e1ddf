"""An experimental py-amqp transport that reads the socket in large chunks (04_full_run, bench stretch).

py-amqp reads every AMQP frame with three ``recv`` calls of exactly the
bytes it needs (header, payload, frame end) and sets the socket timeout twice
per frame; a delivery is three frames.  ``BufferedTCPTransport`` receives up
to 64 KiB at a time, cuts frames out of its buffer, and leaves the socket
timeout alone while a whole frame is already buffered.  Nothing else
changes: every message is still delivered, handled and acked one by one.

Use it with ``kombu.Connection(url, transport=FastTransport)``, or ``consume_with(worker)``
for a Worker (amqp:// only).
"""
from __future__ import annotations

import errno
import socket
from struct import unpack_from

from amqp.exceptions import UnexpectedFrame
from amqp.transport import TCPTransport
from kombu.transport import pyamqp

from . import config

__all__ = ['BufferedTCPTransport', 'BufferedConnection', 'FastTransport', 'CoalescingTCPTransport',
           'CoalescingConnection', 'CoalescingTransport', 'consume_with']

CHUNK = 65536
FRAME_END = 206
_RETRY = (errno.EAGAIN, errno.EINTR)
_UNAVAILABLE = {errno.EAGAIN, errno.EINTR, errno.ENOENT, errno.EWOULDBLOCK}


class BufferedTCPTransport(TCPTransport):
    """A TCPTransport whose reads are served from a 64 KiB read-ahead buffer."""

    #: Hold outgoing frames (acks) until this connection next waits for the network, then send
    #: them in one write.  For consumers only: a pure publisher never reads, so it never flushes.
    coalesce_writes = False

    def _setup_transport(self) -> None:
        super()._setup_transport()
        self._buffer = bytearray()
        self._offset = 0
        self._pending = bytearray()

    def write(self, s) -> None:
        """Send ``s`` now, or (with coalesce_writes) queue a copy until the next wait for input."""
        if not self.coalesce_writes:
            return super().write(s)
        self._pending += s  # a copy: py-amqp reuses the buffer it passes in
        if len(self._pending) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        """Send the queued frames in one write."""
        if getattr(self, '_pending', None):
            data = bytes(self._pending)
            self._pending.clear()
            super().write(data)

    def close(self) -> None:
        try:
            self.flush()
        except OSError:
            pass  # the broker redelivers what it never saw acked
        super().close()

    def _buffered(self) -> int:
        return len(self._buffer) - self._offset

    def _frame_ready(self) -> bool:
        """True when a complete frame is waiting in the buffer."""
        if self._buffered() < 7:
            return False
        size = unpack_from('>I', self._buffer, self._offset + 3)[0]
        return self._buffered() >= size + 8

    def _fill(self, need: int, initial: bool) -> None:
        """Receive until ``need`` bytes are buffered; a timeout consumes nothing."""
        recv = self.sock.recv
        while self._buffered() < need:
            if self._pending:
                self.flush()  # never wait for the broker while holding frames it may be waiting for
            try:
                chunk = recv(max(CHUNK, need - self._buffered()))
            except socket.timeout:
                raise
            except OSError as exc:
                if exc.errno in _RETRY:
                    if initial and self.raise_on_initial_eintr and not self._buffered():
                        raise socket.timeout() from None
                    continue
                if exc.errno not in _UNAVAILABLE:
                    self.connected = False
                raise
            if not chunk:
                self.connected = False
                raise OSError('Server unexpectedly closed connection')
            self._buffer += chunk

    def read_frame(self, unpack=None):
        """Return (frame type, channel, payload) of the next frame."""
        self._fill(7, initial=True)
        start = self._offset
        frame_type, channel, size = unpack_from('>BHI', self._buffer, start)
        self._fill(size + 8, initial=False)
        end = start + 7 + size
        with memoryview(self._buffer) as view:  # one copy, not two
            payload = bytes(view[start + 7:end])
        frame_end = self._buffer[end]
        self._offset = end + 1
        if self._offset >= CHUNK:  # drop what has been read, now and then
            del self._buffer[:self._offset]
            self._offset = 0
        if frame_end != FRAME_END:
            raise UnexpectedFrame(f'Received frame_end {frame_end:#04x} while expecting 0xce')
        return frame_type, channel, payload

class BufferedConnection(pyamqp.Connection):
    """A py-amqp Connection that uses BufferedTCPTransport for plain TCP."""

    tcp_transport: type[BufferedTCPTransport] = BufferedTCPTransport

    def blocking_read(self, timeout=None):
        """Read one frame; skip py-amqp's two settimeout calls when the frame is already buffered."""
        transport = self.transport
        if isinstance(transport, BufferedTCPTransport):
            if transport._frame_ready():
                return self.on_inbound_frame(transport.read_frame())
            transport.flush()  # before the socket gets a read timeout: a write never half-times-out
        return super().blocking_read(timeout)

    def Transport(self, host, connect_timeout, ssl=False, read_timeout=None, write_timeout=None,
                  socket_settings=None, **kwargs):
        if ssl:
            return super().Transport(host, connect_timeout, ssl, read_timeout, write_timeout,
                                     socket_settings, **kwargs)
        return self.tcp_transport(host, connect_timeout=connect_timeout, read_timeout=read_timeout,
                                  write_timeout=write_timeout, socket_settings=socket_settings, **kwargs)


class FastTransport(pyamqp.Transport):
    """kombu's py-amqp transport with the buffered reader."""

    Connection = BufferedConnection


class CoalescingTCPTransport(BufferedTCPTransport):
    """The buffered reader, and acks sent together when the consumer next waits (consumers only)."""

    coalesce_writes = True


class CoalescingConnection(BufferedConnection):
    tcp_transport = CoalescingTCPTransport


class CoalescingTransport(pyamqp.Transport):
    """Experimental, for consumers only: every message is still acked by itself, after its work, but
    the acks of the deliveries already buffered travel in one write."""

    Connection = CoalescingConnection


def consume_with(worker, transport: str = 'FastTransport'):
    """Make a (not yet started) Worker consume through this module's ``transport``; returns the worker."""
    worker.connection.release()
    worker.connection = config.connect(worker.url, transport=globals()[transport])
    return worker
