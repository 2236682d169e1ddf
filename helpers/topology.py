"""Exchange, queues and bindings of the course, and AMQP topic matching (01_topology).

``matches`` implements AMQP 0-9-1 topic matching exactly as RabbitMQ does:
keys are split on ``.`` into words (empty words allowed, the empty key has
no words), ``*`` matches exactly one word, ``#`` matches zero or more words,
and every other character is literal.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import lru_cache

from kombu import Exchange, Queue, binding

from . import course_names
from . import namespace as namespaces

__all__ = [
    'TopicKeyError', 'RoutingKeyError', 'BindingKeyError', 'Topology', 'SEED', 'MEDIA',
    'delete_entities', 'matches', 'route', 'split_words', 'validate_routing_key', 'validate_binding_key',
    'virtual_matches', 'check_course_names',
]

MAX_KEY_BYTES = 255
DEAD_LETTER_KEY = 'dead_letter'
WILDCARDS = ('*', '#')


class TopicKeyError(ValueError):
    """A routing or binding key a learner most likely did not mean."""


class RoutingKeyError(TopicKeyError):
    """A routing key (used when publishing) that is malformed or a likely mistake."""


class BindingKeyError(TopicKeyError):
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


def _check_common(key, kind: str, error: type[TopicKeyError]) -> str:
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


def delete_entities(connection, entities) -> None:
    """Delete kombu queues (emptied first) and exchanges from the broker; missing ones are fine."""
    for entity in entities:
        with connection.channel() as channel:  # a failed delete closes the channel on RabbitMQ: one each
            try:
                bound = entity.bind(channel)
                if isinstance(entity, Queue):
                    # On redis:// delete() only unbinds what this connection declared itself
                    # and keeps the messages: empty the queue first.
                    bound.purge()
                bound.delete()
            except (KeyError, *connection.channel_errors):
                pass  # memory:// raises KeyError for an exchange it never saw


@dataclass(frozen=True)
class Topology:
    """A topic exchange, its queues and their binding keys, declared in one place.

    ``namespace`` is the learner's prefix on a shared broker (helpers.namespace): by default
    ``$LAB_NAMESPACE`` as it is when the topology is built (SEED and MEDIA: when helpers.topology is
    imported), and from then on a value like the others; ``in_namespace`` gives the same topology under another.
    """

    exchange_name: str
    bindings: tuple[tuple[str, str], ...]  # (queue name, binding key) pairs
    description: str = ''
    durable: bool = True
    namespace: str = dataclasses.field(default_factory=namespaces.current)

    def __post_init__(self):
        for _queue, key in self.bindings:
            validate_binding_key(key)
        if self.namespace:
            namespaces.validate(self.namespace)

    def renamed(self, tag: str) -> Topology:
        """A copy whose exchange and queue names end in ``_tag``, isolated from other runs.

        Queues are known by name alone on a broker: two topologies sharing a queue name share its messages.
        """
        return dataclasses.replace(self, exchange_name=f'{self.exchange_name}_{tag}',
                                   bindings=tuple((f'{queue}_{tag}', key) for queue, key in self.bindings))

    def in_namespace(self, namespace: str) -> Topology:
        """The same topology with the broker names of ``namespace`` ('' for the course's own names)."""
        return dataclasses.replace(self, namespace=namespace)

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

    # -- names on the broker: the course's names inside self.namespace (helpers.namespace) ----------

    @property
    def broker_exchange_name(self) -> str:
        """The exchange's name on the broker (the course's name when the namespace is '')."""
        return namespaces.exchange_name(self.exchange_name, self.namespace)

    def broker_queue_name(self, queue: str) -> str:
        """A queue's name on the broker; the dead-letter queue's too (pass its course name)."""
        if queue == self.dead_letter_queue_name:
            return namespaces.exchange_name(queue, self.namespace)
        return namespaces.queue_name(self.exchange_name, queue, self.namespace)

    def course_name(self, broker_name: str) -> str:
        """The course's name of one of this topology's exchanges or queues, from its name on the broker."""
        names = {self.broker_exchange_name: self.exchange_name,
                 namespaces.exchange_name(self.dead_letter_exchange_name, self.namespace):
                     self.dead_letter_exchange_name}
        for queue in [*self.queue_names, self.dead_letter_queue_name]:
            names[self.broker_queue_name(queue)] = queue
        if broker_name not in names:
            raise ValueError(f'{broker_name!r} is not a broker name of the {self.exchange_name!r} topology '
                             f'in LAB_NAMESPACE={self.namespace!r}; its names: {sorted(names)}')
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
        return Exchange(namespaces.exchange_name(self.dead_letter_exchange_name, self.namespace), type='direct',
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
        delete_entities(connection, [*self.queues(), self.dead_letter_queue(), self.exchange(),
                                     self.dead_letter_exchange()])

    def message_count(self, connection, queue: str) -> int:
        """How many messages wait in ``queue`` (or the dead-letter queue, by its name)."""
        entity = self.dead_letter_queue() if queue == self.dead_letter_queue_name else self.queue(queue)
        with connection.channel() as channel:
            # Not passive: redis:// cannot passively declare a queue that is empty.
            return entity.bind(channel).queue_declare().message_count

    def check_names(self) -> None:
        """Raise ValueError, in plain words, for a name no broker would take: over 255 bytes, or a control character."""
        names = [('exchange', self.exchange_name), ('dead-letter queue', self.dead_letter_queue_name),
                 *(('queue', name) for name in self.queue_names)]
        for kind, name in names:
            size = len(name.encode('utf-8'))
            if size > MAX_KEY_BYTES:
                raise ValueError(f'{kind} name {name[:20]!r}... is {size} bytes long; AMQP allows at most '
                                 f'{MAX_KEY_BYTES}')
            control = next((ch for ch in name if _is_control(ch)), None)
            if control is not None:
                raise ValueError(f'{kind} name {name!r} contains a control character ({_char_name(control)}): '
                                 'use letters, digits, dots, dashes and underscores')

    def describe(self) -> dict:
        """A plain description for views: exchange, queues and their binding keys."""
        return {
            'exchange': self.exchange_name,
            'type': 'topic',
            'queues': {name: self.binding_keys(name) for name in self.queue_names},
            'dead_letter_queue': self.dead_letter_queue_name,
        }


# -- helpers/course_names.py, checked: its names must fit together before SEED and MEDIA are built ----------

_NAME = re.compile(r'[A-Za-z][A-Za-z0-9_]*\Z')
_HANDLER_ROLES = ('transcode', 'audit')
_MEDIA_ROLES = ('VIDEO_QUEUE', 'AUDIT_QUEUE', 'IMAGE_QUEUE', 'AUDIO_QUEUE', 'THUMBNAIL_QUEUE', 'USER_QUEUE')


def _fail(what: str) -> None:
    raise course_names.CourseNamesError(f'{course_names.FILE}: {what}')


def _check_topology(label: str, exchange: str, bindings, events, buttons) -> None:
    if not isinstance(exchange, str) or not _NAME.match(exchange):
        _fail(f'{label}_EXCHANGE = {exchange!r}: write a name of letters, digits and underscores')
    if not bindings:
        _fail(f'{label}_BINDINGS is empty: give at least one (queue, binding key) pair')
    for pair in bindings:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            _fail(f'{label}_BINDINGS has {pair!r}: each entry is a (queue, binding key) pair')
        queue, key = pair
        if not isinstance(queue, str) or not _NAME.match(queue):
            _fail(f'{label}_BINDINGS has the queue {queue!r}: write a name of letters, digits and underscores, '
                  'as in "clips_queue"')
        try:
            validate_binding_key(key)
        except TopicKeyError as exc:
            _fail(f'{label}_BINDINGS, queue {queue!r}: {exc}')
    queues = sorted({queue for queue, _key in bindings})

    def routed(key: str) -> list[str]:
        return sorted({queue for queue, binding in bindings if matches(binding, key)})

    for kind, keys in (('BUTTONS', buttons), ('EVENTS', [key for key, _weight in events])):
        for key in keys:
            try:
                validate_routing_key(key)
            except TopicKeyError as exc:
                _fail(f'{label}_{kind}: {exc}')
            if not routed(key):
                _fail(f'{label}_{kind} has {key!r}, which reaches no queue of {label}_BINDINGS: '
                      'bind a queue to it or change the key')
            virtual = sorted({q for q, binding in bindings if virtual_matches(binding, key)})
            if virtual != routed(key):
                _fail(f'{label}_{kind} has {key!r}, which RabbitMQ routes to {routed(key)} but memory:// and '
                      f'redis:// to {virtual} (see 01): choose a key every broker routes alike')
    if events:
        for key, weight in events:
            if not isinstance(weight, int) or weight < 1:
                _fail(f'{label}_EVENTS gives {key!r} the weight {weight!r}: a whole number of 1 or more')
        reached = {queue for key, _weight in events for queue in routed(key)}
        for queue in queues:
            if queue not in reached:
                _fail(f'{label}_EVENTS has no key that reaches {queue!r} ({label}_BINDINGS binds it with '
                      f'{[k for q, k in bindings if q == queue]}): add one, e.g. '
                      f'({_example_key(bindings, queue)!r}, 1), or the full run expects 0 messages there')


def _example_key(bindings, queue: str) -> str:
    key = next(k for q, k in bindings if q == queue)
    words = ['x' if word in ('*', '#') else word for word in key.split('.')] if key else ['x']
    return '.'.join(words)


def check_course_names(names=course_names) -> None:
    """Raise CourseNamesError (naming helpers/course_names.py and what to edit there) if its names do not fit."""
    _check_topology('SEED', names.SEED_EXCHANGE, names.SEED_BINDINGS, (), names.SEED_BUTTONS)
    _check_topology('MEDIA', names.MEDIA_EXCHANGE, names.MEDIA_BINDINGS, names.MEDIA_EVENTS, names.MEDIA_BUTTONS)
    if names.SEED_EXCHANGE == names.MEDIA_EXCHANGE:
        _fail(f'SEED_EXCHANGE and MEDIA_EXCHANGE are both {names.SEED_EXCHANGE!r}: '
              'the two topologies need two exchanges')
    seed_queues = sorted({queue for queue, _key in names.SEED_BINDINGS})
    if sorted(names.SEED_HANDLERS) != seed_queues:
        missing = [q for q in seed_queues if q not in names.SEED_HANDLERS]
        extra = [q for q in names.SEED_HANDLERS if q not in seed_queues]
        _fail(f'SEED_HANDLERS must name each queue of SEED_BINDINGS once: missing {missing}, not a seed queue '
              f'{extra}; give each seed queue one of {list(_HANDLER_ROLES)}')
    for queue, role in names.SEED_HANDLERS.items():
        if role not in _HANDLER_ROLES:
            _fail(f'SEED_HANDLERS gives {queue!r} the handler {role!r}: choose one of {list(_HANDLER_ROLES)}')
    media_queues = {queue for queue, _key in names.MEDIA_BINDINGS}
    roles = [('VIDEO_QUEUE', names.VIDEO_QUEUE, seed_queues), ('AUDIT_QUEUE', names.AUDIT_QUEUE, seed_queues),
             *((name, getattr(names, name), media_queues) for name in _MEDIA_ROLES)]
    for role_name, queue, where in roles:
        if queue not in where:
            label = 'SEED' if where is seed_queues else 'MEDIA'
            _fail(f'{role_name} = {queue!r} is not a queue of {label}_BINDINGS: the lessons and tests refer to it '
                  'by that name; rename it here rather than remove it')



check_course_names()



#: The seed tutorial's topology (01-03), from helpers/course_names.py: every message to audit, video to video.
SEED = Topology(course_names.SEED_EXCHANGE, course_names.SEED_BINDINGS,
                description="The seed tutorial's exchange: video events and an audit trail.")

#: The full run's topology (04_full_run), from helpers/course_names.py.
MEDIA = Topology(course_names.MEDIA_EXCHANGE, course_names.MEDIA_BINDINGS,
                 description='A media platform: uploads, transcodes, thumbnails, users and an audit trail.')


def route(routing_key: str, topology: Topology = SEED) -> list[str]:
    """The sorted names of the course queues that receive ``routing_key``."""
    return topology.route(routing_key)
