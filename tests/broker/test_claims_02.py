"""02's claims about a message a consumer took and never acked, checked on each broker.

- Its connection closes cleanly before the ack: RabbitMQ and Redis put the message back, flagged
  redelivered; memory:// drops it (02's cell "A worker that dies before its ack" asserts the same).
- Its process is killed before the ack (no clean close): RabbitMQ puts it back at once; on Redis it stays
  hidden until kombu's visibility timeout has passed (an hour by default): kombu's sweep of unacked
  messages (``QoS.restore_visible``, run here by the test) gives it back only then.
"""
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import BROKERS, declared, require_broker

from helpers.config import connect
from helpers.course_names import VIDEO_QUEUE
from helpers.topology import SEED

ROOT = Path(__file__).resolve().parents[2]

# A consumer process that takes one message from video_queue and is killed (SIGKILL) before it acks.
DIES_BEFORE_ITS_ACK = '''
import os, signal, sys
from helpers.config import connect
from helpers.course_names import VIDEO_QUEUE
from helpers.topology import SEED

url, tag = sys.argv[1:]
conn = connect(url)


def die(body, message):
    print('took', body['file'], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


with conn.Consumer([SEED.renamed(tag).queue(f'{VIDEO_QUEUE}_{tag}')], accept=['json'], prefetch_count=1,
                   callbacks=[die]):
    conn.drain_events(timeout=10)
'''


def publish_upload(url, topology):
    with connect(url) as conn:
        conn.Producer().publish({'file': 'crash.mp4'}, exchange=topology.exchange(), routing_key='video.upload',
                                message_id='crash', declare=[topology.exchange()])


def look_for_it(url, queue, seconds, **transport_options):
    """Consume ``queue`` for up to ``seconds``; return the redelivered flag of the message found, or None."""
    found = []
    with connect(url, transport_options=transport_options) as conn:
        def take(body, message):
            found.append(bool(message.delivery_info.get('redelivered')))
            message.ack()
        with conn.Consumer([queue], accept=['json'], callbacks=[take]):
            deadline = time.monotonic() + seconds
            while not found and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=0.2)
                except TimeoutError:
                    pass
    return found[0] if found else None


def restore_visible(url, topology, **transport_options):
    """Run kombu's Redis sweep that gives back unacked messages older than the visibility timeout."""
    with connect(url, transport_options=transport_options) as conn:
        # As a worker's connection would have: kombu's Redis transport keeps an exchange's type per
        # connection, and a sweep on a connection that never declared the topic exchange routes the
        # message it gives back as 'direct', into no queue.
        topology.exchange()(conn.default_channel).declare()
        conn.default_channel.qos.restore_visible(interval=1)


@pytest.mark.broker
def test_a_clean_close_before_the_ack_requeues_except_on_memory(broker_url):
    tag = uuid.uuid4().hex[:8]
    with declared(broker_url, SEED.renamed(tag)) as topology:
        queue = topology.queue(f'{VIDEO_QUEUE}_{tag}')
        publish_upload(broker_url, topology)
        taken = []
        conn = connect(broker_url)
        with conn.Consumer([queue], accept=['json'], prefetch_count=1,
                           callbacks=[lambda body, message: taken.append(body['file'])]):
            conn.drain_events(timeout=5)
        conn.release()
        assert taken == ['crash.mp4']
        again = look_for_it(broker_url, queue, 1.0)
    transport = broker_url.split(':', 1)[0]
    assert again is (None if transport == 'memory' else True), f'{transport}: {again}'


@pytest.mark.broker
@pytest.mark.parametrize('broker', ['amqp', 'redis'])
def test_a_killed_consumer_process(broker):
    url = require_broker(BROKERS[broker])
    tag = uuid.uuid4().hex[:8]
    with declared(url, SEED.renamed(tag)) as topology:
        queue = topology.queue(f'{VIDEO_QUEUE}_{tag}')
        publish_upload(url, topology)
        child = subprocess.run([sys.executable, '-c', DIES_BEFORE_ITS_ACK, url, tag], cwd=ROOT,
                               capture_output=True, text=True, timeout=30, env={**os.environ, 'PYTHONPATH': str(ROOT)})
        assert child.returncode == -signal.SIGKILL and child.stdout == 'took crash.mp4\n', child
        if broker == 'amqp':
            assert look_for_it(url, queue, 3.0) is True  # back at once, flagged redelivered
        else:
            restore_visible(url, topology)  # kombu's periodic sweep, run now: it restores only what is an hour old
            assert look_for_it(url, queue, 1.0) is None
            time.sleep(1.2)
            restore_visible(url, topology, visibility_timeout=1)  # the same sweep, as if an hour had passed
            assert look_for_it(url, queue, 3.0) is True
