"""04_full_run's exercise: typical wrong answers to find_lost (and what their ❌ says), and a right one of our own.

Each source is a whole answer cell, run in the notebook's kernel after the cells above the answer cell.
No queue name is spelled out: the check takes them from the topology it runs on.
"""

_FIRST_LINE = '# Your answer. To see a solution, replace this cell with: %load solutions.nb04_full_run\n'

WRONG = [
    # The kind spelled with a dash: dead-lettered copies look lost.
    (_FIRST_LINE + '''def find_lost(topology, log):
    expected = {(queue, e.message_id) for e in log.events('published') for queue in topology.route(e.routing_key)}
    settled = {(e.queue, e.message_id) for e in log.events() if e.kind in ('acked', 'dead-lettered', 'quarantined')}
    return sorted(expected - settled)


print(check_find_lost(find_lost))
''', 'DEAD_LETTERED'),
    # (id, queue) instead of (queue, id).
    (_FIRST_LINE + '''def find_lost(topology, log):
    expected = {(e.message_id, queue) for e in log.events(PUBLISHED) for queue in topology.route(e.routing_key)}
    settled = {(e.message_id, e.queue) for e in log.events() if e.kind in SETTLED}
    return sorted(expected - settled)


print(check_find_lost(find_lost))
''', 'the order is (queue, message_id)'),
    # Forgot the return.
    (_FIRST_LINE + '''def find_lost(topology, log):
    expected = {(queue, e.message_id) for e in log.events(PUBLISHED) for queue in topology.route(e.routing_key)}
    settled = {(e.queue, e.message_id) for e in log.events() if e.kind in SETTLED}
    lost = sorted(expected - settled)


print(check_find_lost(find_lost))
''', 'returned None'),
    # An event is a named tuple, not a dict.
    (_FIRST_LINE + '''def find_lost(topology, log):
    expected = {(queue, e['message_id']) for e in log.events(PUBLISHED) for queue in topology.route(e['routing_key'])}
    settled = {(e['queue'], e['message_id']) for e in log.events() if e['kind'] in SETTLED}
    return sorted(expected - settled)


print(check_find_lost(find_lost))
''', 'raised TypeError'),
    # One parameter only.
    (_FIRST_LINE + '''def find_lost(log):
    return []


print(check_find_lost(find_lost))
''', 'find_lost(topology, log)'),
    # The queue of the published event, which is ''.
    (_FIRST_LINE + '''def find_lost(topology, log):
    expected = {(e.queue, e.message_id) for e in log.events(PUBLISHED)}
    settled = {(e.queue, e.message_id) for e in log.events() if e.kind in SETTLED}
    return sorted(expected - settled)


print(check_find_lost(find_lost))
''', 'topology.route(event.routing_key)'),
    # Right pairs, returned as a set.
    (_FIRST_LINE + '''def find_lost(topology, log):
    expected = {(queue, e.message_id) for e in log.events(PUBLISHED) for queue in topology.route(e.routing_key)}
    return expected - {(e.queue, e.message_id) for e in log.events() if e.kind in SETTLED}


print(check_find_lost(find_lost))
''', 'sorted'),
    # Only acks count as settled.
    (_FIRST_LINE + '''def find_lost(topology, log):
    expected = {(queue, e.message_id) for e in log.events(PUBLISHED) for queue in topology.route(e.routing_key)}
    acked = {(e.queue, e.message_id) for e in log.events(ACKED)}
    return sorted(expected - acked)


print(check_find_lost(find_lost))
''', 'a dead letter is settled'),
]

OWN = _FIRST_LINE + '''from helpers.events import SETTLED


def find_lost(topology, log):
    """Walk the log once: what each published message should reach, minus what settled where."""
    waiting = set()
    for event in log.events():
        if event.kind == 'published':
            for queue in topology.route(event.routing_key):
                waiting.add((queue, event.message_id))
    for event in log.events():
        if event.kind in SETTLED:
            waiting.discard((event.queue, event.message_id))
    return sorted(waiting)


print(check_find_lost(find_lost))
'''
