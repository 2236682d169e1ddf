"""kombu's memory:// transport, made safe to close a channel while another thread declares a queue (00_setup).

Every memory:// channel shares one class-level table of queues, and ``Channel.close`` iterates it: a worker
thread declaring a queue at that moment makes the close raise ``RuntimeError: dictionary changed size during
iteration`` (celery/kombu#263).  The course runs workers in threads, so it hands the close a copy to iterate.
"""
from __future__ import annotations

from kombu.transport import memory

__all__ = ['QueueTable', 'install']


class QueueTable(dict):
    """memory://'s queue table; ``values()`` is a copy, so iterating it never meets another thread's change."""

    def values(self):
        return list(super().values())


def install() -> None:
    """Swap memory://'s shared queue table for a ``QueueTable`` holding the same queues (idempotent)."""
    if not isinstance(memory.Channel.queues, QueueTable):
        memory.Channel.queues = QueueTable(memory.Channel.queues)
