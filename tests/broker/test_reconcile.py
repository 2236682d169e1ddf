"""The full run reconciles on every broker; its message ids are its own."""
import subprocess
import sys
import uuid

import pytest

from helpers import config
from helpers.course_names import AUDIT_QUEUE
from helpers.events import PUBLISHED
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
                                    for q in MEDIA.route(key) if payload.get('corrupt') and q != AUDIT_QUEUE)
    assert rec.dead_lettered > 0
    assert result.seconds > 0


def _full_run_publisher_names() -> str:
    """The full run's publisher names in a fresh Python process (what a second program on the queues would use)."""
    code = 'from helpers import fullrun; print(fullrun.RUN_TOKEN)'
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.strip()


def test_two_programs_running_the_full_run_publish_different_message_ids():
    """Two programs running the same scenario on shared queues must not share ids: a copy of the other's
    would otherwise be counted as a duplicate of ours, with no cause in our log."""
    first, second = _full_run_publisher_names(), _full_run_publisher_names()
    assert first and second and first != second
    result = full_run('memory://', 4, 1, 1)
    ids = {e.message_id for e in result.log.events(PUBLISHED)}
    assert ids and all(mid.count('-') == 2 and mid.split('-')[1] not in (first, second) for mid in ids)
