"""memory:// channels close safely while another thread declares a queue (kombu's shared queue table)."""
from queue import Queue

import pytest
from kombu import Connection
from kombu.transport import memory

from helpers import config  # noqa: F401 (importing the helpers installs the safe table)
from helpers.memory_transport import QueueTable


class DeclaresWhileClosing:
    """A queue whose ``empty()`` (``Channel.close`` calls it for each queue) declares another, as a thread would."""

    def __init__(self, table):
        self.table = table

    def empty(self):
        self.table.setdefault('declared_during_close', Queue())
        return True


def close_a_channel_over(table):
    """Close a memory:// channel while ``table`` is the shared queue table and holds a queue that declares another."""
    saved, memory.Channel.queues = memory.Channel.queues, table
    table['closing_probe'] = DeclaresWhileClosing(table)
    try:
        with Connection('memory://') as conn:
            conn.default_channel.close()
    finally:
        memory.Channel.queues = saved


def test_the_helpers_install_the_safe_table():
    assert isinstance(memory.Channel.queues, QueueTable)


def test_a_channel_closes_while_a_queue_is_declared():
    table = QueueTable()
    close_a_channel_over(table)
    assert 'declared_during_close' in table


def test_kombus_own_table_raises_there():
    """The bug, on a plain dict as kombu has it: the test above could fail."""
    with pytest.raises(RuntimeError, match='changed size during iteration'):
        close_a_channel_over({})
