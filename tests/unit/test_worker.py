"""The worker on memory://, in-process: replacing, abandoning, refusing, and a delivery cut off by a lost connection."""
import threading
import uuid

import pytest
from kombu import Producer
from kombu.message import Message

from helpers.course_names import VIDEO_QUEUE
from helpers.events import ACKED, DEAD_LETTERED, HANDLED_NOTE, UNACKED
from helpers.producer import Publisher
from helpers.topology import DEAD_LETTER_KEY, SEED
from helpers.worker import AGAIN, Worker, WorkerError, running_workers


def test_starting_a_worker_again_replaces_the_old_one(memory_url, log):
    first = Worker(memory_url, log=log, name='rerun').start()
    second = Worker(memory_url, log=log, name='rerun').start()
    try:
        assert not first.is_running and second.is_running
        assert [w for w in running_workers() if w.name == 'rerun'] == [second]
    finally:
        second.stop()


def test_a_stuck_handler_is_abandoned_and_never_blocks_the_next_worker(memory_url, log):
    release, started = threading.Event(), threading.Event()

    def stuck(body, delivery):
        started.set()
        release.wait(30)

    tag = uuid.uuid4().hex[:8]
    first_topology, second_topology = SEED.renamed(f'stuck{tag}'), SEED.renamed(f'next{tag}')
    stuck_worker = Worker(memory_url, topology=first_topology, queues=[f'{VIDEO_QUEUE}_stuck{tag}'], handlers=stuck,
                          log=log, name='attempt').start()
    try:
        with Publisher(memory_url, topology=first_topology, log=log) as pub:
            pub.publish('video.upload', {}, message_id='stuck')
        assert started.wait(5)
        with pytest.raises(WorkerError, match='did not stop within 0.1 s'):
            stuck_worker.stop(timeout=0.1)
        assert stuck_worker not in running_workers()
        again = Worker(memory_url, topology=second_topology, queues=[f'{VIDEO_QUEUE}_next{tag}'], log=log,
                       name='attempt').start()
        with again, Publisher(memory_url, topology=second_topology, log=log) as pub:
            pub.publish('video.upload', {}, message_id='next')
            log.wait_for(ACKED, 1)
        assert log.ids(ACKED) == ['next'] and stuck_worker.is_running
    finally:
        release.set()
        stuck_worker.stop(timeout=5)  # once its handler returns, the abandoned worker's thread ends
    assert not stuck_worker.is_running


def test_one_handler_per_queue_is_required():
    with pytest.raises(ValueError, match='one handler per queue'):
        Worker('memory://', handlers={VIDEO_QUEUE: print})


def test_publisher_refuses_other_threads(memory_url, log):
    pub = Publisher(memory_url, log=log)
    errors = []
    thread = threading.Thread(target=lambda: errors.append(_try(pub)), name='helpers-test-other')
    thread.start()
    thread.join()
    pub.close()
    assert 'one Publisher per thread' in errors[0]


def _try(pub):
    try:
        pub.publish('video.upload', {})
    except RuntimeError as exc:
        return str(exc)
    return ''


def test_unroutable_key_is_reported(memory_url, log):
    from helpers.topology import Topology
    topo = Topology('test_unroutable', ((VIDEO_QUEUE, 'video.#'),))
    with Publisher(memory_url, topology=topo, log=log) as pub:
        receipt = pub.publish('user.login', {})
    assert receipt.queues == () and not receipt.routed
    assert log.ids('unroutable') == [receipt.message_id]


@pytest.mark.parametrize('cut', ['ack', 'dead-letter publish'])
def test_a_message_cut_off_by_a_lost_connection_ends_the_delivery_as_unacked(memory_url, log, cut, monkeypatch):
    """The ack (or the dead letter) never left: say what becomes of the message, reconnect, and carry on."""
    def handler(body, delivery):
        if cut == 'dead-letter publish':
            raise ValueError('corrupt')

    tag = uuid.uuid4().hex[:8]
    topology = SEED.renamed(f'cut{tag}')
    worker = Worker(memory_url, topology=topology, queues=[f'{VIDEO_QUEUE}_cut{tag}'], handlers=handler, log=log,
                    name='cut-off', max_retries=0)
    lost = worker.connection.connection_errors[0]
    cut_off = []

    def ack(message, *args, **kwargs):
        if cut == 'ack' and not cut_off and message.properties.get('message_id') == 'm1':
            cut_off.append(message)
            raise lost('Connection reset by peer')
        return real_ack(message, *args, **kwargs)

    def publish(producer, body, *args, **kwargs):
        if cut != 'ack' and not cut_off and kwargs.get('routing_key') == DEAD_LETTER_KEY:
            cut_off.append(body)
            raise lost('Connection reset by peer')
        return real_publish(producer, body, *args, **kwargs)

    real_ack, real_publish = Message.ack, Producer.publish
    monkeypatch.setattr(Message, 'ack', ack)
    monkeypatch.setattr(Producer, 'publish', publish)
    with worker.start(), Publisher(memory_url, topology=topology, log=log) as pub:
        pub.publish('video.upload', {'n': 1}, message_id='m1')
        log.wait_for(UNACKED, 1)
        pub.publish('video.upload', {'n': 2}, message_id='m2')  # the worker reconnected and carries on
        log.wait_for(ACKED if cut == 'ack' else DEAD_LETTERED, 1)
        log.wait_settled()
    [event] = log.events(UNACKED)
    assert (event.message_id, event.queue) == ('m1', f'{VIDEO_QUEUE}_cut{tag}')
    assert 'Connection reset by peer' in event.detail and event.detail.endswith(AGAIN['memory'])
    assert event.detail.startswith(HANDLED_NOTE) is (cut == 'ack')  # the work was done; only the ack is in doubt
    assert log.ids(ACKED) + log.ids(DEAD_LETTERED) == ['m2']  # memory:// dropped m1 with the channel
