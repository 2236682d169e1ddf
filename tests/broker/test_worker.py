"""The worker and publisher on all three brokers: every message accounted for, nothing lost."""
import contextlib
import socket
import threading
import time

import pytest

from helpers.course_names import AUDIT_QUEUE, VIDEO_QUEUE
from helpers.events import ACKED, DEAD_LETTERED, DELIVERED, QUARANTINED, RETRIED
from helpers.producer import Publisher
from helpers.worker import Worker, WorkerError


def _dead_letter_count(url, topology):
    from helpers import config
    with config.connect(url) as conn:
        return topology.message_count(conn, topology.dead_letter_queue_name)


def test_each_message_handled_once_per_bound_queue(broker_url, unique_topology, log):
    seen = {VIDEO_QUEUE: [], AUDIT_QUEUE: []}
    handlers = {q: (lambda q: lambda body, d: seen[d.queue].append(body['n']))(q) for q in seen}
    with Worker(broker_url, topology=unique_topology, handlers=handlers, log=log), \
            Publisher(broker_url, topology=unique_topology, log=log) as pub:
        keys = ['video.upload', 'user.login', 'video.transcode.hd', 'audio.upload'] * 5
        receipts = [pub.publish(key, {'n': i}) for i, key in enumerate(keys)]
        expected = sum(len(r.queues) for r in receipts)
        log.wait_for(ACKED, expected)
        log.wait_settled()
    for queue in seen:
        wanted = sorted(i for i, r in enumerate(receipts) if queue in r.queues)
        assert sorted(seen[queue]) == wanted, queue
        ids = log.ids(ACKED, queue)
        assert len(ids) == len(set(ids)) == len(wanted)
    assert log.count(DELIVERED) == expected


def test_failing_handler_is_retried_then_dead_lettered(broker_url, unique_topology, log):
    def fragile(body, delivery):
        if body.get('fail'):
            raise ValueError('cannot transcode')
    with Worker(broker_url, topology=unique_topology, handlers=fragile, log=log, max_retries=2,
                queues=[VIDEO_QUEUE]), Publisher(broker_url, topology=unique_topology, log=log) as pub:
        bad = pub.publish('video.upload', {'fail': True})
        good = pub.publish('video.upload', {'fail': False})
        log.wait_for(ACKED, 1, queue=VIDEO_QUEUE)
        log.wait_for(DEAD_LETTERED, 1)
    assert log.ids(RETRIED) == [bad.message_id] * 2
    [parked] = log.events(DEAD_LETTERED)
    assert parked.message_id == bad.message_id and 'cannot transcode' in parked.detail
    assert log.ids(ACKED) == [good.message_id]
    assert _dead_letter_count(broker_url, unique_topology) == 1


def test_undecodable_and_disallowed_bodies_are_quarantined(broker_url, unique_topology, log):
    with Worker(broker_url, topology=unique_topology, log=log, queues=[VIDEO_QUEUE]), \
            Publisher(broker_url, topology=unique_topology, log=log) as pub:
        pub.publish_raw('video.upload', b'{not json', 'application/json')
        pub.publish('video.upload', {'x': 1}, serializer='pickle')
        pub.publish('video.upload', {'ok': True})
        log.wait_for(QUARANTINED, 2)
        log.wait_for(ACKED, 1)
    reasons = sorted(e.detail for e in log.events(QUARANTINED))
    assert 'Expecting property name' in reasons[0] and 'pickle' in reasons[1]
    assert _dead_letter_count(broker_url, unique_topology) == 2


def _waiting_ids(url, topology, queue):
    """The message ids waiting in ``queue``, in the order it gives them out (the queue is emptied)."""
    from helpers import config
    ids = []
    with config.connect(url) as conn:
        bound = topology.queue(queue).bind(conn.default_channel)
        while (message := bound.get(no_ack=True)) is not None:
            ids.append(message.properties.get('message_id'))
    return ids


def test_stop_under_load_loses_nothing(broker_url, unique_topology, log):
    """stop() while a handler holds the 10th of 300 messages: it is finished and acked, the rest stay queued."""
    holding = threading.Event()

    def hold_the_tenth(body, delivery):
        if delivery.message_id == 'm9':
            holding.set()
            deadline = time.monotonic() + 10
            while not worker.should_stop and time.monotonic() < deadline:  # until stop() is called
                time.sleep(0.01)

    worker = Worker(broker_url, topology=unique_topology, log=log, queues=[VIDEO_QUEUE],
                    handlers=hold_the_tenth).start()
    with Publisher(broker_url, topology=unique_topology, log=log) as pub:
        for i in range(300):
            pub.publish('video.upload', {'n': i}, message_id=f'm{i}')
    assert holding.wait(10), 'the worker never reached the 10th message'
    worker.stop()
    acked = log.ids(ACKED)
    waiting = _waiting_ids(broker_url, unique_topology, VIDEO_QUEUE)
    assert 'm9' in acked, 'the message in hand when stop() was called was not finished and acked'
    assert waiting, f'all {len(acked)} messages were handled before the stop: it interrupted nothing'
    # Each id once: a message missing before m9 was taken by another consumer of the queue (on redis:// any
    # consumer of a queue of that name in the database), one missing after it was lost by the stop.
    every = [f'm{i}' for i in range(300)]
    missing = [i for i in every if i not in acked and i not in waiting]
    twice = sorted({i for i in acked if i in waiting})
    assert sorted(acked + waiting) == sorted(every), \
        f'{len(acked)} acked + {len(waiting)} queued: lost {missing}, twice {twice}'
    assert acked[:10] == every[:10], 'one consumer acks the messages in the order they were published'


def test_unreachable_broker_fails_start_with_a_clear_error(log):
    worker = Worker('amqp://guest:guest@127.0.0.1:1//', log=log, name='unreachable')
    with pytest.raises(WorkerError) as failed:
        worker.start(timeout=20)
    assert 'could not start' in str(failed.value) and 'Connection refused' in str(failed.value)
    assert not worker.is_running


def _publish_dispatches_like_a_confirm_wait(monkeypatch):
    """Make a memory:// publish do what waiting for a RabbitMQ confirm does in py-amqp: dispatch whatever
    else has arrived on the publishing connection (memory:// has no confirms, so it never does by itself)."""
    from kombu.transport import memory
    publish = memory.Channel.basic_publish

    def publish_then_dispatch(channel, *args, **kwargs):
        result = publish(channel, *args, **kwargs)
        with contextlib.suppress(socket.timeout):  # nothing arrived
            channel.connection.client.drain_events(timeout=0)
        return result
    monkeypatch.setattr(memory.Channel, 'basic_publish', publish_then_dispatch)


def test_dead_lettering_never_runs_another_delivery_inside_it(broker_url, unique_topology, log, monkeypatch):
    """Waiting for a dead letter's confirm must not hand the worker its next message (nested waits can hang).

    On RabbitMQ that is what happens when dead letters go out on the consuming connection; on memory:// a
    publish is made to dispatch as a confirm wait does, so the test fails there too for that design.
    """
    def always_fails(body, delivery):
        raise ValueError('corrupt')

    if broker_url.startswith('memory'):
        _publish_dispatches_like_a_confirm_wait(monkeypatch)

    with Worker(broker_url, topology=unique_topology, handlers=always_fails, log=log, max_retries=0,
                prefetch_count=20), Publisher(broker_url, topology=unique_topology, log=log) as pub:
        for i in range(30):
            pub.publish('video.upload', {'n': i})
        log.wait_for(DEAD_LETTERED, 60)
        log.wait_settled()
    # One worker thread: a delivery run inside another's dead-letter wait would log its DELIVERED between
    # the other's DELIVERED and DEAD_LETTERED.  Each delivery must end before the next one begins.
    steps = [(e.kind, e.message_id, e.queue) for e in log.events() if e.kind in (DELIVERED, DEAD_LETTERED)]
    assert len(steps) == 120
    for began, ended in zip(steps[::2], steps[1::2]):
        assert began[0] == DELIVERED and ended == (DEAD_LETTERED, began[1], began[2]), (began, ended)
    assert sorted(log.ids(DEAD_LETTERED)) == sorted(log.ids(DELIVERED)) and log.count(ACKED) == 0
    assert _dead_letter_count(broker_url, unique_topology) == 60
