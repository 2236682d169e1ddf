"""03_producer's exercise: typical wrong answers (each with what its ❌ must say) and a correct one of our own.

Each source runs in the notebook's kernel after the cells above the answer cell, on the broker the
notebook runs on; the texts below are what the self-check prints on memory://, RabbitMQ and Redis alike.
"""

HEAD = '# Your answer. To see a solution, replace this cell with: %load solutions.nb03_producer\n'

WRONG = [
    # The most typical: publish as the seed did, declaring nothing.
    (HEAD + '''def publish_events(connection, exchange, queues, events):
    producer = Producer(connection.default_channel, exchange=exchange)
    for routing_key, payload in events:
        producer.publish(payload, routing_key=routing_key, mandatory=True, retry=True,
                         retry_policy={'max_retries': 3})
    return []


print(check_publisher(publish_events))
''', 'declare=[exchange, *queues]'),
    # The exchange declared, the queues not: nothing is bound, nothing arrives.
    (HEAD + '''def publish_events(connection, exchange, queues, events):
    producer = Producer(connection.default_channel, exchange=exchange)
    for routing_key, payload in events:
        producer.publish(payload, routing_key=routing_key, declare=[exchange], mandatory=True, retry=True,
                         retry_policy={'max_retries': 3})
    return []


print(check_publisher(publish_events))
''', 'declare the queues too'),
    # Published to an exchange of its own making, not the one given.
    (HEAD + '''from kombu import Exchange


def publish_events(connection, exchange, queues, events):
    mine = Exchange('my_exchange', type='topic')
    producer = Producer(connection.default_channel, exchange=mine)
    for routing_key, payload in events:
        producer.publish(payload, routing_key=routing_key, declare=[mine, *queues], mandatory=True,
                         retry=True, retry_policy={'max_retries': 3})
    return []


print(check_publisher(publish_events))
''', 'you published to the exchange'),
    # The routing key forgotten.
    (HEAD + '''def publish_events(connection, exchange, queues, events):
    producer = Producer(connection.default_channel, exchange=exchange)
    for _routing_key, payload in events:
        producer.publish(payload, declare=[exchange, *queues], mandatory=True, retry=True,
                         retry_policy={'max_retries': 3})
    return []


print(check_publisher(publish_events))
''', 'had no routing_key'),
    # Not mandatory.
    (HEAD + '''def publish_events(connection, exchange, queues, events):
    producer = Producer(connection.default_channel, exchange=exchange)
    for routing_key, payload in events:
        producer.publish(payload, routing_key=routing_key, declare=[exchange, *queues], retry=True,
                         retry_policy={'max_retries': 3})
    return []


print(check_publisher(publish_events))
''', 'mandatory=True'),
    # No retry.
    (HEAD + '''def publish_events(connection, exchange, queues, events):
    producer = Producer(connection.default_channel, exchange=exchange)
    for routing_key, payload in events:
        producer.publish(payload, routing_key=routing_key, declare=[exchange, *queues], mandatory=True)
    return []


print(check_publisher(publish_events))
''', 'retry=True'),
    # retry=True with no retry_policy: kombu retries without limit.
    (HEAD + '''def publish_events(connection, exchange, queues, events):
    producer = Producer(connection.default_channel, exchange=exchange)
    for routing_key, payload in events:
        producer.publish(payload, routing_key=routing_key, declare=[exchange, *queues], mandatory=True, retry=True)
    return []


print(check_publisher(publish_events))
''', 'without a retry_policy'),
    # The payload serialized by hand, then again by kombu: the worker gets a string.
    (HEAD + '''import json


def publish_events(connection, exchange, queues, events):
    producer = Producer(connection.default_channel, exchange=exchange)
    for routing_key, payload in events:
        producer.publish(json.dumps(payload), routing_key=routing_key, serializer='json',
                         declare=[exchange, *queues], mandatory=True, retry=True, retry_policy={'max_retries': 3})
    return []


print(check_publisher(publish_events))
''', 'not a JSON object'),
    # A payload that JSON cannot hold (a path object added to it).
    (HEAD + '''from pathlib import Path


def publish_events(connection, exchange, queues, events):
    producer = Producer(connection.default_channel, exchange=exchange)
    for routing_key, payload in events:
        producer.publish({**payload, 'path': Path('cat.mp4')}, routing_key=routing_key,
                         serializer='json', declare=[exchange, *queues], mandatory=True, retry=True,
                         retry_policy={'max_retries': 3})
    return []


print(check_publisher(publish_events))
''', 'could not be serialized'),
    # Pickle instead of JSON.
    (HEAD + '''def publish_events(connection, exchange, queues, events):
    producer = Producer(connection.default_channel, exchange=exchange)
    for routing_key, payload in events:
        producer.publish(payload, routing_key=routing_key, serializer='pickle', declare=[exchange, *queues],
                         mandatory=True, retry=True, retry_policy={'max_retries': 3})
    return []


print(check_publisher(publish_events))
''', "serializer='json'"),
    # Forgot to return the list.
    (HEAD + '''def publish_events(connection, exchange, queues, events):
    returned = []
    keep = (lambda exc, ex, key, message: returned.append(key)) if RETURNS_UNROUTABLE else None
    producer = Producer(connection.default_channel, exchange=exchange, on_return=keep)
    for routing_key, payload in events:
        producer.publish(payload, routing_key=routing_key, declare=[exchange, *queues], mandatory=True,
                         retry=True, retry_policy={'max_retries': 3})


print(check_publisher(publish_events))
''', 'returned None'),
    # Raises.
    (HEAD + '''def publish_events(connection, exchange, queues, events):
    raise RuntimeError('not written yet')


print(check_publisher(publish_events))
''', 'raised RuntimeError'),
    # Wrong arity.
    (HEAD + '''def publish_events(events):
    return []


print(check_publisher(publish_events))
''', 'must take four arguments'),
    # The function's result instead of the function.
    (HEAD + '''print(check_publisher(None))
''', 'needs your function'),
]

# Right, and written differently from the solution: maybe_declare up front, the exchange named per publish,
# (key, message) pairs returned.
OWN = HEAD + '''from kombu.common import maybe_declare


def publish_events(connection, exchange, queues, events):
    channel = connection.channel()
    for entity in [exchange, *queues]:
        maybe_declare(entity, channel)
    came_back = []
    options = {}
    if RETURNS_UNROUTABLE:
        options['on_return'] = lambda exc, ex, key, message: came_back.append((key, message))
    producer = connection.Producer(channel, **options)
    for key, body in events:
        producer.publish(body, exchange=exchange, routing_key=key, mandatory=True, serializer='json',
                         declare=[exchange, *queues], retry=True, retry_policy={'max_retries': 2})
    return came_back


print(check_publisher(publish_events))
'''
