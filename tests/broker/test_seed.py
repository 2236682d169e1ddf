"""The seed's worker, kept as a specimen: its bugs must stay reproducible on every broker."""
from helpers.events import ACKED, DELIVERED
from helpers.producer import Publisher
from helpers.seed import AUDITED, FAILED, SEED_MESSAGES, TRANSCODED, UNKNOWN_QUEUE, SeedWorker


def _publish_seed_messages(url, topology, log):
    with Publisher(url, topology=topology, log=log) as pub:
        for key, payload in SEED_MESSAGES:
            pub.publish(key, payload, message_id=payload['id'])


def test_video_upload_is_transcoded_twice_and_audit_never_runs(broker_url, unique_topology, log):
    with SeedWorker(broker_url, topology=unique_topology, log=log):
        _publish_seed_messages(broker_url, unique_topology, log)
        log.wait_for(ACKED, 3)
    assert sorted(log.ids(DELIVERED)) == ['seed0001', 'seed0001', 'seed0002']
    assert log.ids(TRANSCODED) == ['seed0001', 'seed0001']
    assert log.count(AUDITED) == 0
    assert {e.queue for e in log.events(DELIVERED)} == {UNKNOWN_QUEUE}


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
