"""The seed's worker, kept as a specimen: its bugs must stay reproducible on every broker."""
from helpers.events import ACKED, DELIVERED
from helpers.producer import Publisher
from helpers.seed import AUDITED, SEED_MESSAGES, TRANSCODED, UNKNOWN_QUEUE, SeedWorker


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
