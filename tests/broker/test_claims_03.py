"""03's claim about ``declare=``: on redis:// a producer whose connection never declared the exchange loses
the message (kombu keeps an exchange's type per connection and routes as 'direct'); RabbitMQ and memory://
deliver it; declaring fixes redis."""
import uuid

import pytest
from conftest import BROKERS, declared, require_broker
from kombu import Producer

from helpers.config import connect
from helpers.course_names import VIDEO_QUEUE
from helpers.producer import Publisher
from helpers.topology import SEED, Topology


def publish_one(url, topology, declare):
    """Publish video.upload from a connection of its own; how many copies reached video_queue."""
    with connect(url) as conn:
        # As the seed does: a Producer made without an exchange (so it declares none) names it per publish.
        Producer(conn.default_channel).publish({'file': 'movie.mp4'}, exchange=topology.exchange(),
                                               routing_key='video.upload', serializer='json', declare=declare)
    with connect(url) as conn:
        return topology.message_count(conn, VIDEO_QUEUE)


@pytest.mark.broker
def test_an_undeclared_exchange_drops_messages_on_redis_only(broker_url):
    with declared(broker_url, Topology(f'test_{uuid.uuid4().hex[:10]}', SEED.bindings)) as topology:
        without = publish_one(broker_url, topology, declare=[])
        with_declare = publish_one(broker_url, topology, declare=[topology.exchange()])
    transport = broker_url.split(':', 1)[0]
    assert without == (0 if transport == 'redis' else 1), f'{transport}: {without} copies without declare='
    assert with_declare == without + 1


def private_topology(*bindings):
    tag = uuid.uuid4().hex[:8]
    return Topology(f'test_{tag}', tuple((f'{queue}_{tag}', key) for queue, key in bindings))


def publish_unroutable(url, topology, with_on_return):
    """Publish a key no queue matches as mandatory; (what on_return got, what was raised, copies queued)."""
    returned, raised = [], ''
    with connect(url, transport_options={'confirm_publish': True}) as conn:
        try:
            callback = (lambda exc, exchange, key, message: returned.append((key, exc.reply_code))) \
                if with_on_return else None
            producer = Producer(conn.default_channel, exchange=topology.exchange(), on_return=callback)
            producer.publish({'user': 'ada'}, routing_key='user.login', mandatory=True,
                             declare=[topology.exchange(), *topology.queues()])
            try:
                conn.drain_events(timeout=0.3)
            except Exception:  # noqa: S110 (a timeout: nothing more came)
                pass
        except Exception as exc:
            raised = type(exc).__name__
        queued = sum(topology.message_count(conn, queue) for queue in topology.queue_names)
    return returned, raised, queued


@pytest.mark.broker
def test_what_each_broker_does_with_an_unroutable_mandatory_message(broker_url):
    """03's table: RabbitMQ returns it (and raises without on_return); memory drops it; redis refuses on_return."""
    transport = broker_url.split(':', 1)[0]
    with declared(broker_url, private_topology(('video_only', 'video.#'))) as topology:
        with_callback = publish_unroutable(broker_url, topology, with_on_return=True)
        without_callback = publish_unroutable(broker_url, topology, with_on_return=False)
    expected = {
        'amqp': (([('user.login', 312)], '', 0), ([], 'ChannelError', 0)),
        'memory': (([], '', 0), ([], '', 0)),
        'redis': (([], 'AttributeError', 0), ([], '', 0)),
    }[transport]
    assert (with_callback, without_callback) == expected


@pytest.mark.broker
def test_the_publishers_queues_are_a_prediction_not_an_observation(broker_url):
    """A bare 'video': AMQP rules (the prediction) name both queues; memory:// and redis:// route it to audit only."""
    with declared(broker_url, private_topology(('video', 'video.#'), ('audit', '#'))) as topology:
        with Publisher(broker_url, topology=topology) as publisher:
            published = publisher.publish('video', {'file': 'a.mp4'})
        with connect(broker_url) as conn:
            observed = sorted(q for q in topology.queue_names if topology.message_count(conn, q))
    assert published.predicted_queues == tuple(topology.queue_names)
    transport = broker_url.split(':', 1)[0]
    audit_only = [q for q in topology.queue_names if q.startswith('audit')]
    assert observed == (topology.queue_names if transport == 'amqp' else audit_only)


@pytest.mark.broker
@pytest.mark.parametrize('confirms', [True, False])
def test_on_rabbitmq_a_return_arrives_during_publish_only_with_confirms(confirms):
    """03: with confirms, on_return has run when publish() returns; without, the next drain_events() brings it."""
    url = require_broker(BROKERS['amqp'])
    returned = []
    with declared(url, private_topology(('video_only', 'video.#'))) as topology:
        options = {'confirm_publish': True} if confirms else {}
        with connect(url, transport_options=options) as conn:
            producer = Producer(conn.default_channel, exchange=topology.exchange(),
                                on_return=lambda exc, exchange, key, message: returned.append(key))
            producer.publish({'user': 'ada'}, routing_key='user.login', mandatory=True,
                             declare=[topology.exchange(), *topology.queues()])
            after_publish = list(returned)
            try:
                conn.drain_events(timeout=1)
            except TimeoutError:  # socket.timeout is TimeoutError: nothing more came
                pass
    assert after_publish == (['user.login'] if confirms else [])
    assert returned == ['user.login']
