"""The worker on memory://, in-process: replacing, abandoning, refusing, and a delivery cut off by a lost connection."""
import threading
import uuid

import pytest

from helpers.events import ACKED, DEAD_LETTERED, HANDLED_NOTE, UNACKED
from helpers.producer import Publisher
from helpers.topology import SEED
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
    stuck_worker = Worker(memory_url, topology=first_topology, queues=[f'video_queue_stuck{tag}'], handlers=stuck,
                          log=log, name='attempt').start()
    try:
        with Publisher(memory_url, topology=first_topology, log=log) as pub:
            pub.publish('video.upload', {}, message_id='stuck')
        assert started.wait(5)
        with pytest.raises(WorkerError, match='did not stop within 0.1 s'):
            stuck_worker.stop(timeout=0.1)
        assert stuck_worker not in running_workers()
        again = Worker(memory_url, topology=second_topology, queues=[f'video_queue_next{tag}'], log=log,
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
        Worker('memory://', handlers={'video_queue': print})


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
    topo = Topology('test_unroutable', (('video_queue', 'video.#'),))
    with Publisher(memory_url, topology=topo, log=log) as pub:
        receipt = pub.publish('user.login', {})
    assert receipt.queues == () and not receipt.routed
    assert log.ids('unroutable') == [receipt.message_id]


@pytest.mark.parametrize('cut', ['ack', 'dead-letter publish'])
def test_a_message_cut_off_by_a_lost_connection_ends_the_delivery_as_unacked(memory_url, log, cut):
    """The ack (or the dead letter) never left: say the message will come again, and let the worker reconnect."""
    def handler(body, delivery):
        if cut == 'dead-letter publish':
            raise ValueError('corrupt')

    worker = Worker(memory_url, log=log, name='cut-off', handlers=handler, max_retries=0)
    lost = worker.connection.connection_errors[0]

    def reset(*args, **kwargs):
        raise lost('Connection reset by peer')

    class CutOff:
        properties = {'message_id': 'm1'}
        delivery_info = {'routing_key': 'video.upload', 'delivery_tag': 1}
        headers, content_type, content_encoding, body = {}, 'application/json', 'utf-8', b'{"n": 1}'
        ack = staticmethod(reset)

        def decode(self):
            return {'n': 1}

    worker._dead_letters = type('Producer', (), {'publish': staticmethod(reset)})()
    try:
        with pytest.raises(lost):
            worker._on_message('video_queue', CutOff())
    finally:
        worker.connection.release()
    [event] = log.events(UNACKED)
    assert (event.message_id, event.queue) == ('m1', 'video_queue')
    assert 'Connection reset by peer' in event.detail and event.detail.endswith(AGAIN['memory'])
    assert event.detail.startswith(HANDLED_NOTE) is (cut == 'ack')  # the work was done; only the ack is in doubt
    assert log.count(ACKED) == log.count(DEAD_LETTERED) == 0
    log.wait_settled(timeout=1)  # the delivery has ended, so nothing waits for it forever
