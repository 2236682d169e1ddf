"""The full run reconciles on every broker."""
import uuid

import pytest

from helpers import config
from helpers.fullrun import full_run, scenario
from helpers.topology import MEDIA


@pytest.mark.broker
def test_full_run_reconciles_on_every_broker(broker_url):
    topology = MEDIA.renamed(uuid.uuid4().hex[:8])  # queues are global by name: keep clear of others
    try:
        result = full_run(broker_url, messages=60, workers=2, producers=2, topology=topology,
                          corrupt_rate=0.05, timeout=60)
    finally:
        with config.connect(broker_url) as conn:
            topology.delete(conn)
    rec = result.reconciliation
    assert rec.published == 60 and rec.unroutable == 0
    assert rec.lost == 0 and rec.duplicates == 0 and rec.unexpected == 0 and rec.ok
    assert rec.expected == sum(len(MEDIA.route(key)) for key, _payload in scenario(60, corrupt_rate=0.05))
    assert rec.dead_lettered == sum(1 for key, payload in scenario(60, corrupt_rate=0.05)
                                    for q in MEDIA.route(key) if payload.get('corrupt') and q != 'audit_queue')
    assert rec.dead_lettered > 0
    assert result.seconds > 0
