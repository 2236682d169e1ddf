# Solution to the exercise in 03_producer: publish events with kombu, declared, retried, mandatory; collect returns.
from kombu import Producer


def publish_events(connection, exchange, queues, events):
    """Publish each (routing_key, payload) of events to exchange; return the routing keys that came back."""
    returned = []

    def on_return(exception, exchange, routing_key, message):
        returned.append(routing_key)  # RabbitMQ sent back a mandatory message no queue took

    # kombu's Redis transport refuses on_return, and only RabbitMQ sends anything back.
    producer = Producer(connection.default_channel, exchange=exchange,
                        on_return=on_return if RETURNS_UNROUTABLE else None)  # noqa: F821 (defined in the notebook)
    for routing_key, payload in events:
        producer.publish(payload, routing_key=routing_key, serializer='json',
                         declare=[exchange, *queues],  # nothing exists yet; on redis:// this is what routes it
                         mandatory=True,               # an unroutable message comes back instead of vanishing
                         retry=True, retry_policy={'max_retries': 3, 'interval_start': 0, 'interval_step': 0.5})
    return returned


print(check_publisher(publish_events))  # noqa: F821 (defined in the notebook)
