"""Namespaces on a real RabbitMQ vhost: two learners' runs never cross."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from conftest import BROKERS, require_broker

from helpers.course_names import AUDIT_QUEUE, SEED_EXCHANGE, VIDEO_QUEUE
from helpers.topology import SEED

ROOT = Path(__file__).resolve().parents[2]

# The same notebook-level code two learners run at once (02's worker and 04's reset of MEDIA included).
LEARNER = textwrap.dedent('''
    import json, sys
    from helpers import config
    from helpers.events import ACKED, EventLog
    from helpers.producer import Publisher
    from helpers.topology import MEDIA, SEED
    from helpers.worker import Worker
    url, me = sys.argv[1], sys.argv[2]
    with config.connect(url) as conn:
        SEED.reset(conn)
        MEDIA.reset(conn)
    log = EventLog()
    with Worker(url, log=log, name='learner'), Publisher(url, log=log, name=me) as publisher:
        for n in range(20):
            publisher.publish('video.upload', {'n': n})
        log.wait_for(ACKED, 40, timeout=30)
    with config.connect(url) as conn:
        left = {q: SEED.message_count(conn, q) for q in SEED.queue_names}
        SEED.delete(conn)
        MEDIA.delete(conn)
    print(json.dumps({'acked': sorted(e.message_id for e in log.events(ACKED)), 'left': left}))
''')


@pytest.mark.broker
def test_two_namespaces_on_one_rabbitmq_vhost_never_cross():
    url = require_broker(BROKERS['amqp'])
    tag = uuid.uuid4().hex[:6]
    learners = {f'a{tag}': None, f'b{tag}': None}
    procs = {ns: subprocess.Popen([sys.executable, '-c', LEARNER, url, ns], cwd=ROOT, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env={**os.environ, 'LAB_NAMESPACE': ns})
             for ns in learners}
    for ns, proc in procs.items():
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        learners[ns] = json.loads(out.strip().splitlines()[-1])
    for ns, seen in learners.items():
        mine = [f'{ns}-{n:04d}' for n in range(1, 21)]
        assert seen['acked'] == sorted(mine * 2), f'{ns} handled another learner\'s messages'
        assert seen['left'] == {AUDIT_QUEUE: 0, VIDEO_QUEUE: 0}


def test_seed_and_media_take_the_namespace_set_before_the_helpers_are_imported():
    """As a classroom kernel or an nbgrader run does: LAB_NAMESPACE in the environment, then the imports."""
    code = ('from helpers.topology import MEDIA, SEED; '
            'print(SEED.namespace, MEDIA.namespace, SEED.broker_queue_name(SEED.queue_names[0]))')
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env={**os.environ, 'LAB_NAMESPACE': 'ada'},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ['ada', 'ada', f'ada.{SEED_EXCHANGE}.{SEED.queue_names[0]}']
