"""Exchange, queues and bindings of the course, and AMQP topic matching (01_topology).

``matches`` implements AMQP 0-9-1 topic matching exactly as RabbitMQ does:
keys are split on ``.`` into words (empty words allowed, the empty key has
no words), ``*`` matches exactly one word, ``#`` matches zero or more words,
and every other character is literal.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from kombu import Exchange, Queue, binding

from . import namespace

__all__ = [
    'KeyError_', 'RoutingKeyError', 'BindingKeyError', 'Topology', 'SEED', 'MEDIA',
    'matches', 'route', 'split_words', 'validate_routing_key', 'validate_binding_key',
    'virtual_matches',
]

MAX_KEY_BYTES = 255
DEAD_LETTER_KEY = 'dead_letter'
WILDCARDS = ('*', '#')


class KeyError_(ValueError):
    """A routing or binding key a learner most likely did not mean."""


class RoutingKeyError(KeyError_):
    """A routing key (used when publishing) that is malformed or a likely mistake."""


class BindingKeyError(KeyError_):
    """A binding key (used when binding a queue) that is malformed or a likely mistake."""


def split_words(key: str) -> tuple[str, ...]:
    """Split a key into words the way RabbitMQ does ('' has no words)."""
    return tuple(key.split('.')) if key else ()


@lru_cache(maxsize=4096)
def matches(binding_key: str, routing_key: str) -> bool:
    """Tell whether a queue bound with ``binding_key`` receives ``routing_key``."""
    pattern, words = split_words(binding_key), split_words(routing_key)
    # reachable[j] is True when pattern[:i] can match words[:j].
    reachable = [True] + [False] * len(words)
    for token in pattern:
        if token == '#':
            for j in range(1, len(words) + 1):
                reachable[j] = reachable[j] or reachable[j - 1]
        else:
            for j in range(len(words), 0, -1):
                reachable[j] = reachable[j - 1] and token in ('*', words[j - 1])
            reachable[0] = False
    return reachable[-1]


def virtual_matches(binding_key: str, routing_key: str) -> bool:
    """Tell whether kombu's virtual transports (memory://, redis://) would route the key."""
    from kombu.transport.virtual.exchange import TopicExchange

    exchange = TopicExchange(channel=None)
    try:
        return bool(exchange._match(exchange.key_to_pattern(binding_key), routing_key))
    except Exception:  # a bad regex: the virtual exchange fails every publish
        return False


_CONTROL_NAMES = {0: 'NUL', 7: 'BEL', 8: 'BS', 9: 'TAB', 10: 'LF', 13: 'CR', 27: 'ESC', 127: 'DEL'}


def _is_control(ch: str) -> bool:
    """True for C0 controls, DEL and C1 controls (U+0080-U+009F)."""
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F


def _char_name(ch: str) -> str:
    code = ord(ch)
    return f'U+{code:04X}' + (f' ({_CONTROL_NAMES[code]})' if code in _CONTROL_NAMES else '')


def _check_common(key, kind: str, error: type[KeyError_]) -> str:
    if not isinstance(key, str):
        raise error(f'{kind} must be a string, not {type(key).__name__}: {key!r}')
    size = len(key.encode('utf-8'))
    if size > MAX_KEY_BYTES:
        raise error(f'{kind} is {size} bytes long; AMQP allows at most {MAX_KEY_BYTES}')
    control = next((ch for ch in key if _is_control(ch)), None)
    if control is not None:
        raise error(f'{kind} {key!r} contains the control character {_char_name(control)}: '
                    'keys are words of printable characters separated by dots, as in "video.upload"')
    if any(ch.isspace() for ch in key):
        raise error(f'{kind} {key!r} contains a space: use dots between words, as in "video.upload"')
    if key and '' in split_words(key):
        raise error(
            f'{kind} {key!r} has an empty word (a leading, trailing or doubled dot): '
            'write words separated by single dots'
        )
    return key


def validate_routing_key(key) -> str:
    """Return ``key`` if it is a sensible routing key, else raise RoutingKeyError."""
    _check_common(key, 'routing key', RoutingKeyError)
    if not key:
        raise RoutingKeyError('routing key is empty: name the event, as in "video.upload"')
    for word in split_words(key):
        if word in WILDCARDS:
            raise RoutingKeyError(
                f'routing key {key!r} contains the word {word!r}: wildcards only work in '
                'binding keys; a routing key names one concrete event, as in "video.upload"'
            )
        if '*' in word or '#' in word:
            raise RoutingKeyError(
                f'routing key {key!r} has {word!r}: "*" and "#" are not patterns here, '
                'and wildcards only work in binding keys'
            )
    return key


def validate_binding_key(key) -> str:
    """Return ``key`` if it is a sensible binding key, else raise BindingKeyError."""
    _check_common(key, 'binding key', BindingKeyError)
    for word in split_words(key):
        if word not in WILDCARDS and ('*' in word or '#' in word):
            raise BindingKeyError(
                f'binding key {key!r} has {word!r}: a wildcard must be a whole word '
                f'between dots, as in "video.*" (inside a word RabbitMQ reads it literally, '
                "while kombu's virtual transports misread it as a regex)"
            )
    return key


@dataclass(frozen=True)
class Topology:
    """A topic exchange, its queues and their binding keys, declared in one place."""

    exchange_name: str
    bindings: tuple[tuple[str, str], ...]  # (queue name, binding key) pairs
    description: str = ''
    durable: bool = True

    def __post_init__(self):
        for _queue, key in self.bindings:
            validate_binding_key(key)

    def renamed(self, tag: str) -> Topology:
        """A copy whose exchange and queue names end in ``_tag``, isolated from other runs.

        Queues are known by name alone on a broker: two topologies sharing a queue name share its messages.
        """
        return Topology(f'{self.exchange_name}_{tag}', tuple((f'{queue}_{tag}', key) for queue, key in self.bindings),
                        description=self.description, durable=self.durable)

    @property
    def queue_names(self) -> list[str]:
        """The queue names, sorted."""
        return sorted({queue for queue, _key in self.bindings})

    @property
    def dead_letter_exchange_name(self) -> str:
        return f'{self.exchange_name}.dlx'

    @property
    def dead_letter_queue_name(self) -> str:
        return f'{self.exchange_name}.dead_letters'

    # -- names on the broker: the course's names inside $LAB_NAMESPACE (helpers.namespace) ----------

    @property
    def broker_exchange_name(self) -> str:
        """The exchange's name on the broker (the course's name when LAB_NAMESPACE is unset)."""
        return namespace.exchange_name(self.exchange_name)

    def broker_queue_name(self, queue: str) -> str:
        """A queue's name on the broker; the dead-letter queue's too (pass its course name)."""
        if queue == self.dead_letter_queue_name:
            return namespace.exchange_name(queue)
        return namespace.queue_name(self.exchange_name, queue)

    def course_name(self, broker_name: str) -> str:
        """The course's name of one of this topology's exchanges or queues, from its name on the broker."""
        names = {self.broker_exchange_name: self.exchange_name,
                 namespace.exchange_name(self.dead_letter_exchange_name): self.dead_letter_exchange_name}
        for queue in [*self.queue_names, self.dead_letter_queue_name]:
            names[self.broker_queue_name(queue)] = queue
        if broker_name not in names:
            raise ValueError(f'{broker_name!r} is not a broker name of the {self.exchange_name!r} topology '
                             f'in LAB_NAMESPACE={namespace.current()!r}; its names: {sorted(names)}')
        return names[broker_name]

    def binding_keys(self, queue: str) -> list[str]:
        """The binding keys of one queue, in declaration order."""
        return [key for name, key in self.bindings if name == queue]

    def route(self, routing_key: str) -> list[str]:
        """The sorted names of the queues that receive ``routing_key``."""
        return sorted({q for q, key in self.bindings if matches(key, routing_key)})

    def explain(self, routing_key: str) -> list[tuple[str, str, bool]]:
        """Every (queue, binding key, matched) triple for ``routing_key``."""
        return [(q, key, matches(key, routing_key)) for q, key in self.bindings]

    def exchange(self) -> Exchange:
        """The kombu topic exchange."""
        return Exchange(self.broker_exchange_name, type='topic', durable=self.durable)

    def queue(self, name: str) -> Queue:
        """One kombu queue with all its bindings to the exchange."""
        exchange = self.exchange()
        keys = self.binding_keys(name)
        if not keys:
            raise ValueError(f'no queue {name!r} in this topology; queues: {self.queue_names}')
        return Queue(
            self.broker_queue_name(name), exchange=exchange, durable=self.durable,
            bindings=[binding(exchange, routing_key=key) for key in keys],
        )

    def queues(self) -> list[Queue]:
        """All kombu queues, sorted by name."""
        return [self.queue(name) for name in self.queue_names]

    def dead_letter_exchange(self) -> Exchange:
        # direct, not fanout: on redis:// a fanout exchange is pub/sub and keeps nothing.
        return Exchange(namespace.exchange_name(self.dead_letter_exchange_name), type='direct',
                        durable=self.durable)

    def dead_letter_queue(self) -> Queue:
        exchange = self.dead_letter_exchange()
        return Queue(self.broker_queue_name(self.dead_letter_queue_name), exchange=exchange,
                     routing_key=DEAD_LETTER_KEY, durable=self.durable)

    def entities(self) -> list:
        """Everything to declare: exchanges first, then queues."""
        return [self.exchange(), self.dead_letter_exchange(), *self.queues(), self.dead_letter_queue()]

    def declare(self, connection) -> None:
        """Declare the exchanges, queues and bindings on ``connection`` (idempotent)."""
        with connection.channel() as channel:
            for entity in self.entities():
                entity.bind(channel).declare()

    def reset(self, connection) -> None:
        """Delete this topology's queues and exchanges, then declare them afresh (empty)."""
        self.delete(connection)
        self.declare(connection)

    def delete(self, connection) -> None:
        """Delete this topology's queues and exchanges from the broker; missing ones are fine."""
        for entity in [*self.queues(), self.dead_letter_queue(), self.exchange(), self.dead_letter_exchange()]:
            # A failed delete closes the channel on RabbitMQ, so each gets its own.
            with connection.channel() as channel:
                try:
                    bound = entity.bind(channel)
                    if isinstance(entity, Queue):
                        # On redis:// delete() only unbinds what this connection declared itself
                        # and keeps the messages: empty the queue first.
                        bound.purge()
                    bound.delete()
                except (KeyError, *connection.channel_errors):
                    pass  # memory:// raises KeyError for an exchange it never saw

    def message_count(self, connection, queue: str) -> int:
        """How many messages wait in ``queue`` (or the dead-letter queue, by its name)."""
        entity = self.dead_letter_queue() if queue == self.dead_letter_queue_name else self.queue(queue)
        with connection.channel() as channel:
            # Not passive: redis:// cannot passively declare a queue that is empty.
            return entity.bind(channel).queue_declare().message_count

    def describe(self) -> dict:
        """A plain description for views: exchange, queues and their binding keys."""
        return {
            'exchange': self.exchange_name,
            'type': 'topic',
            'queues': {name: self.binding_keys(name) for name in self.queue_names},
            'dead_letter_queue': self.dead_letter_queue_name,
        }


#: The seed tutorial's topology (01-03): every message goes to audit, video events to video.
SEED = Topology(
    'media_exchange',
    (('video_queue', 'video.#'), ('audit_queue', '#')),
    description="The seed tutorial's exchange: video events and an audit trail.",
)

#: The full run's topology (04_full_run): media events whose routing keys have several words.
MEDIA = Topology(
    'media_events',
    (
        ('video_queue', 'video.#'),
        ('image_queue', 'image.#'),
        ('audio_queue', 'audio.#'),
        ('thumbnail_queue', 'video.upload.*'),
        ('thumbnail_queue', 'image.upload.*'),
        ('user_queue', 'user.*'),
        ('audit_queue', '#'),
    ),
    description='A media platform: uploads, transcodes, thumbnails, users and an audit trail.',
)


def route(routing_key: str, topology: Topology = SEED) -> list[str]:
    """The sorted names of the course queues that receive ``routing_key``."""
    return topology.route(routing_key)
