"""The binding keys and routing keys every topic-matcher test crosses: edge cases of words, dots and wildcards."""
import itertools

BINDING_KEYS = [
    '#', '*', '', 'a', 'a.b', 'a.*', 'a.#', '#.b', '*.b', 'a.#.b', 'a.*.b', '#.#', '*.*', '#.*',
    '*.#', '#.a.#', 'a.#.#.b', '*.*.#', '.', 'a..b', 'a*', '*.', '#.#.#',
]

ROUTING_KEYS = [
    '', '.', '..', 'a', 'b', 'ab', 'a.b', 'b.a', 'a.a', 'a.b.c', 'a.x.b', 'a.x.y.b', 'a.b.a',
    'a.', '.a', 'a..b', 'a*', '*', '#', 'a.*', 'x.a.y',
]

PAIRS = list(itertools.product(BINDING_KEYS, ROUTING_KEYS))
