"""Why a routing key reaches a queue or not, in plain words (01_topology).

``why(binding, key)`` gives one pair's reason (AMQP's rules, as RabbitMQ applies them);
``explain_key(key, topology, broker)`` gives every binding's and the queues that receive the key on
``broker``: 'amqp' (RabbitMQ) routes by AMQP's rules, 'memory' and 'redis' by kombu's own regex
routing (``virtual_matches``).  Where the two disagree, the text says what the other broker does,
labelled.  Plain text, no widgets: it works in a terminal as well as in the key tester
(``helpers.views.key_tester``), which shows ``explain_key`` under a text box.
"""
from __future__ import annotations

from typing import Optional

from helpers.topology import SEED, TopicKeyError, Topology, matches, split_words, validate_routing_key, virtual_matches

__all__ = ['PROMPT', 'BROKER_LABELS', 'explain_key', 'reason', 'why', 'virtual_pattern']

PROMPT = 'Type a routing key, e.g. video.upload (words separated by dots).'
#: How the text names each transport's routing.
BROKER_LABELS = {'amqp': 'RabbitMQ', 'memory': 'memory://', 'redis': 'redis://'}
_OTHER = {'amqp': 'memory:// and redis://', 'memory': 'RabbitMQ', 'redis': 'RabbitMQ'}


def explain_key(routing_key: str, topology: Topology = SEED, broker: str = 'amqp') -> str:
    """The tester's text: which queues of ``topology`` receive ``routing_key`` on ``broker``, and why.

    ``broker`` is a transport name ('amqp', 'memory' or 'redis', as ``config.transport_of`` gives).
    Marks and queues are that broker's; where the other routing (AMQP's or kombu's regex) disagrees,
    a labelled line says what it would do.
    """
    if broker not in BROKER_LABELS:
        raise ValueError(f'broker {broker!r}: use one of {sorted(BROKER_LABELS)}')
    if routing_key == '':
        return PROMPT
    try:
        validate_routing_key(routing_key)
    except TopicKeyError as exc:
        return f'⚠ {exc}'
    words = split_words(routing_key)
    plural = '' if len(words) == 1 else 's'
    lines = [f'routing key {routing_key!r}: {len(words)} word{plural} ({" | ".join(words)})']
    queue_width = max(len(queue) for queue, _key in topology.bindings)
    key_width = max(len(repr(key)) for _queue, key in topology.bindings)
    here, other = _rule(broker), _rule('memory' if broker == 'amqp' else 'amqp')
    for queue, key in topology.bindings:
        mark = '✔' if here(key, routing_key) else '✘'
        lines.append(f'  {mark} {queue:<{queue_width}}  {key!r:<{key_width}}  {reason(key, routing_key, broker)}')
    queues = sorted({queue for queue, key in topology.bindings if here(key, routing_key)})
    others = sorted({queue for queue, key in topology.bindings if other(key, routing_key)})
    if queues == others:
        lines.append(f'→ delivered to: {", ".join(queues)}' if queues
                     else '→ delivered to no queue: the message is dropped')
    else:
        lines.append(f'→ {BROKER_LABELS[broker]} delivers to: {", ".join(queues) or "no queue (dropped)"}')
        lines.append(f'  ({_OTHER[broker]} would deliver to: {", ".join(others) or "no queue"})')
    return '\n'.join(lines)


def virtual_pattern(binding_key: str) -> str:
    """The regular expression kombu's virtual transports (memory://, redis://) make of ``binding_key``."""
    from kombu.transport.virtual.exchange import TopicExchange

    return TopicExchange(channel=None).key_to_pattern(binding_key)


def _rule(broker: str):
    return matches if broker == 'amqp' else virtual_matches


def reason(binding_key: str, routing_key: str, broker: str = 'amqp') -> str:
    """``why``, or, where kombu's regex and AMQP disagree, both answers with their brokers named."""
    amqp, virtual = matches(binding_key, routing_key), virtual_matches(binding_key, routing_key)
    if amqp == virtual:
        return why(binding_key, routing_key)
    regex = f"kombu's regex {virtual_pattern(binding_key)} {'matches' if virtual else 'does not match'}"
    if broker == 'amqp':
        return f'{why(binding_key, routing_key)} (memory://, redis://: {regex})'
    return f'{regex} (RabbitMQ: {why(binding_key, routing_key)})'


def why(binding_key: str, routing_key: str) -> str:
    """One line saying why ``binding_key`` does or does not match ``routing_key`` (AMQP rules)."""
    pattern, words = split_words(binding_key), split_words(routing_key)
    if matches(binding_key, routing_key):
        return _why_match(pattern, words)
    return _why_not(pattern, words)


def _align(pattern: tuple[str, ...], words: tuple[str, ...]) -> Optional[list[tuple[str, ...]]]:
    """The words each token takes (fewest for '#' first), or None when there is no match."""
    if not pattern:
        return [] if not words else None
    token, rest = pattern[0], pattern[1:]
    if token == '#':
        for take in range(len(words) + 1):
            tail = _align(rest, words[take:])
            if tail is not None:
                return [words[:take], *tail]
        return None
    if words and token in ('*', words[0]):
        tail = _align(rest, words[1:])
        return None if tail is None else [words[:1], *tail]
    return None


def _why_match(pattern: tuple[str, ...], words: tuple[str, ...]) -> str:
    taken = _align(pattern, words) or []
    parts = []
    for token, chunk in zip(pattern, taken):
        if token == '#':
            parts.append(f"# takes {'.'.join(chunk)!r}" if chunk else '# takes no words')
        elif token == '*':
            parts.append(f'* takes {chunk[0]!r}')
    return 'same words' if not parts else ', '.join(parts)


def _why_not(pattern: tuple[str, ...], words: tuple[str, ...]) -> str:
    needed = sum(token != '#' for token in pattern)
    if '#' not in pattern and len(words) != len(pattern):
        return f'needs exactly {_words(len(pattern))}, the key has {len(words)}'
    if len(words) < needed:
        return f'needs at least {_words(needed)}, the key has {len(words)}'
    first = pattern.index('#') if '#' in pattern else len(pattern)
    for i, token in enumerate(pattern[:first]):
        if token not in ('*', words[i]):
            return _differs(i + 1, words[i], token)
    last = len(pattern) - pattern[::-1].index('#') if '#' in pattern else len(pattern)
    for back, token in enumerate(reversed(pattern[last:]), start=1):
        if token not in ('*', words[-back]):
            return _differs(len(words) - back + 1, words[-back], token)
    middle = [token for token in pattern[first + 1:last - 1] if token != '#']
    if len(middle) == 1:
        return f"no word {middle[0]!r} between the first and the last '#'"
    return f"the words {'.'.join(middle)!r} do not occur in that order between the first and the last '#'"


def _words(count: int) -> str:
    return f'{count} word' if count == 1 else f'{count} words'


def _differs(position: int, word: str, token: str) -> str:
    note = ' (inside a word, * and # are ordinary characters)' if ('*' in token or '#' in token) else ''
    return f'word {position} is {word!r}, the binding needs {token!r}{note}'
