"""Bad input: each gets a clear error or is quarantined with a reason, and nothing already accepted is lost."""
from __future__ import annotations

import json
import uuid

import pytest
from conftest import declared
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import config
from helpers.events import ACKED, EventLog
from helpers.producer import Publisher
from helpers.topology import SEED, RoutingKeyError, Topology
from helpers.worker import Worker

ONE_MB = 1024 * 1024


def unique_seed() -> Topology:
    """SEED's bindings on a unique exchange and unique queues (queue names are global on a broker)."""
    return SEED.renamed(f'bad_{uuid.uuid4().hex[:10]}')


@pytest.mark.parametrize('key, says', [
    ('', 'empty'),
    ('video upload', 'space'),
    ('video.*', 'wildcards only work in binding keys'),
    ('video..upload', 'empty word'),
    ('v' * 300, 'bytes long'),
])
def test_bad_routing_keys_are_refused_before_anything_is_sent(memory_url, key, says):
    log = EventLog()
    with declared(memory_url, unique_seed()) as topology, Publisher(memory_url, topology=topology, log=log) as pub:
        kept = pub.publish('video.upload', {'n': 1})
        with pytest.raises(RoutingKeyError, match=says):
            pub.publish(key, {'n': 2})
    assert log.ids('published') == [kept.message_id]


@pytest.mark.parametrize('url, says', [
    ('ampq://guest:guest@127.0.0.1:5672//', "uses 'ampq'"),
    ('amqp//guest:guest@127.0.0.1:5672//', 'has no "://"'),
    ('amqp://guest:guest@127.0.0.1:port//', 'malformed'),
])
def test_broker_url_typos_get_a_one_line_error(url, says):
    """Typos seen before any connection (tests/broker has those that need one: a wrong port, a wrong password)."""
    with pytest.raises(config.BrokerError, match=says) as caught:
        config.check_broker(url, timeout=3)
    assert '\n' not in str(caught.value)


def test_a_worker_on_a_mistyped_scheme_is_refused_at_once():
    with pytest.raises(config.BrokerError, match="uses 'ampq'"):
        Worker('ampq://guest:guest@127.0.0.1//', name='typo')


# Garbage typed into the panel's boxes: refused with a message in the panel, never an exception.
typed_text = st.one_of(st.text(max_size=40), st.sampled_from(['video.upload', 'user.login', 'video.*', '#', '']))
typed_payload = st.one_of(st.text(max_size=60), st.sampled_from(['{}', '{"a": 1}', '[1]', 'null', '{"a":']),
                          st.builds(json.dumps, st.dictionaries(st.text(max_size=5), st.integers(), max_size=3)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(typed_text, typed_payload), min_size=1, max_size=8))
def test_garbage_in_the_panel_boxes_is_refused_and_accepted_messages_arrive(memory_url, typed):
    from helpers.views.panel import ControlPanel
    log = EventLog()
    with declared(memory_url, unique_seed()) as topology:
        queues = topology.queue_names
        with Worker(memory_url, topology=topology, log=log, name='panel-garbage'), \
                ControlPanel(memory_url, topology=topology, log=log) as panel:
            accepted = []
            for key, payload in typed:
                panel.key_box.value, panel.payload_box.value = key, payload
                panel.publish_button.click()
                receipt = panel.last_receipt
                if receipt is not None and receipt.message_id not in [r.message_id for r in accepted]:
                    accepted.append(receipt)
                else:
                    assert panel.message.startswith('⚠ nothing published:') and '\n' not in panel.message
            expected = sum(len(r.queues) for r in accepted)
            log.wait_for(ACKED, expected, timeout=20)
            log.wait_settled(timeout=20)
        for queue in queues:
            assert sorted(log.ids(ACKED, queue)) == sorted(r.message_id for r in accepted if queue in r.queues)


@pytest.mark.parametrize('key', ['video.\x00upload', 'video.up\x07load', 'video\x7f', 'user.\x1blogin', 'video.\x85',
                                 'video.\x9f'])
def test_control_characters_in_routing_keys_are_refused(memory_url, key):
    log = EventLog()
    with declared(memory_url, unique_seed()) as topology, Publisher(memory_url, topology=topology, log=log) as pub:
        with pytest.raises(RoutingKeyError, match=r'contains the control character U\+00') as caught:
            pub.publish(key, {'n': 1})
    assert '\n' not in str(caught.value)
    assert log.ids('published') == []


@pytest.mark.parametrize('value', [float('nan'), float('inf'), -float('inf')])
def test_non_finite_floats_are_refused_at_publish(memory_url, value):
    log = EventLog()
    with declared(memory_url, unique_seed()) as topology, Publisher(memory_url, topology=topology, log=log) as pub:
        with pytest.raises(ValueError, match='NaN and Infinity are not JSON'):
            pub.publish('video.upload', {'size': value})
        with config.connect(memory_url) as conn:
            assert topology.message_count(conn, topology.queue_names[0]) == 0
    assert log.ids('published') == []
