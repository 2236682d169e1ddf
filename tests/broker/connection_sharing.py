"""One thread consumes and acks while the main thread publishes: on one Connection, or one each.

Run as ``python tests/broker/connection_sharing.py URL shared|own COUNT``; it prints one JSON line
``{"published": n, "received": n, "distinct": n, "errors": [...]}`` and exits at once, without
closing anything (closing a connection two threads have used can itself hang).  A run that never
prints is a hang: the caller runs it in a subprocess with a timeout (see test_connection_sharing).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import uuid

from kombu import Connection, Consumer, Exchange, Producer, Queue

# Seconds the main thread waits at most for the consumer to receive everything it published: a ceiling, not a
# pause (the wait ends with the last delivery).  5 s was too short for 2,000 on Redis under CI's load (1,835 came).
WAIT = 45.0


def _one_line(exc: BaseException) -> str:
    return f'{type(exc).__name__}: {exc}'.splitlines()[0][:160]


def run(url: str, mode: str, count: int) -> dict:
    """Publish ``count`` messages while a consumer thread acks them; report what arrived and what failed."""
    name = f'test_sharing_{uuid.uuid4().hex[:10]}'
    exchange = Exchange(name, type='topic', durable=False, auto_delete=True)
    queue = Queue(name, exchange, routing_key='#', durable=False, auto_delete=True)
    consuming = Connection(url, connect_timeout=5)
    publishing = consuming if mode == 'shared' else Connection(url, connect_timeout=5)
    # Both channels are opened (and the queue declared) before the second thread starts, so the
    # threads share the connection only while one consumes and the other publishes.
    consumer_channel, producer_channel = consuming.channel(), publishing.channel()
    queue(consumer_channel).declare()
    producer = Producer(producer_channel, exchange=exchange, serializer='json')
    received, errors, done = [], [], threading.Event()

    def on_message(body, message):
        received.append(body['n'])
        message.ack()
        if len(received) >= count:
            done.set()

    def consume():
        try:
            with Consumer(consumer_channel, queues=[queue], callbacks=[on_message], prefetch_count=10):
                while not done.is_set():
                    try:
                        consuming.drain_events(timeout=0.1)
                    except TimeoutError:
                        pass
        except Exception as exc:
            errors.append(f'consumer: {_one_line(exc)}')
        finally:
            done.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    published = 0
    try:
        for n in range(count):
            producer.publish({'n': n}, routing_key='video.upload', retry=False)
            published += 1
    except Exception as exc:
        errors.append(f'producer: {_one_line(exc)}')
    done.wait(WAIT if not errors else 0.5)
    return {'published': published, 'received': len(received), 'distinct': len(set(received)),
            'errors': sorted(errors)}


if __name__ == '__main__':
    url, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode not in ('shared', 'own'):
        sys.exit(f'mode must be shared or own, not {mode!r}')
    print(json.dumps(run(url, mode, count)), flush=True)
    os._exit(0)  # the consumer thread may be stuck in a read: do not wait for it
