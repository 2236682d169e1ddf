"""The seed's callback bug on memory://: a failing callback leaves the message unacked."""
from helpers.events import ACKED, DELIVERED
from helpers.producer import Publisher
from helpers.seed import FAILED, SeedWorker


def test_a_failing_callback_leaves_the_message_unacked(memory_url, log):
    """Seen from the broker, not from the log (which records ACKED only on success): with prefetch 1 the
    unacked message holds the worker's only slot, so the next message is never delivered."""
    from helpers import config
    from helpers.topology import Topology
    topo = Topology('test_seed_fail', (('seed_fail_queue', '#'),))

    def broken(payload):
        if payload['id'] == 'bad1':
            raise OSError('disk full')
    try:
        with SeedWorker(memory_url, topology=topo, log=log, transcode=broken), \
                Publisher(memory_url, topology=topo, log=log) as pub:
            pub.publish('video.upload', {'id': 'bad1'})
            log.wait_for(FAILED, 1)
            pub.publish('video.upload', {'id': 'good2'})
            # An ack of bad1 would free the slot: good2 would be delivered within a polling cycle (20 ms).
            assert not log.watch(lambda lg: lg.count(DELIVERED) > 1, timeout=0.5), \
                'the next message was delivered: the failed one was acked (or rejected) after all'
        assert log.count(ACKED) == 0
        assert log.events(FAILED)[0].detail == 'OSError: disk full'
    finally:
        with config.connect(memory_url) as conn:
            topo.delete(conn)
