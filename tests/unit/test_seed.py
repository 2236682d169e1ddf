"""The seed's callback bug on memory://: a failing callback leaves the message unacked."""
from helpers.events import ACKED
from helpers.producer import Publisher
from helpers.seed import FAILED, SeedWorker


def test_a_failing_callback_leaves_the_message_unacked(memory_url, log):
    from helpers import config
    from helpers.topology import Topology
    topo = Topology('test_seed_fail', (('seed_fail_queue', '#'),))

    def broken(payload):
        raise OSError('disk full')
    try:
        with SeedWorker(memory_url, topology=topo, log=log, transcode=broken), \
                Publisher(memory_url, topology=topo, log=log) as pub:
            pub.publish('video.upload', {'id': 'bad1'})
            log.wait_for(FAILED, 1)
        assert log.count(ACKED) == 0
        assert log.events(FAILED)[0].detail == 'OSError: disk full'
    finally:
        with config.connect(memory_url) as conn:
            topo.delete(conn)
