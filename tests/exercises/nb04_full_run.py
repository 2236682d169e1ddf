"""Exercise data for notebooks/04_full_run.ipynb (see tests/exercise_data.py)."""
_HEAD = '# Your answer. To see a solution, replace this cell with: %load solutions.nb04_full_run\n'


def _answer(body: str) -> str:
    return f'{_HEAD}def find_lost(topology, log):\n    {body}\n\n\nprint(check_find_lost(find_lost))'


WRONG = [
    (_answer("return [('image_queue', 'm3'), ('thumbnail_queue', 'm1'), ('user_queue', 'm2')]"),
     'a dead letter is settled'),
    (_answer('pass'), '❌ find_lost returned None'),
    (_answer('return 1 / 0'), '❌ find_lost raised ZeroDivisionError'),
]

OWN = _HEAD + '''\
from helpers.events import PUBLISHED


def find_lost(topology, log):
    settled_kinds = {'acked', 'dead_lettered', 'quarantined'}
    lost = []
    for published in log.events(PUBLISHED):
        for queue in topology.route(published.routing_key):
            if not any(e.queue == queue and e.message_id == published.message_id and e.kind in settled_kinds
                       for e in log.events()):
                lost.append((queue, published.message_id))
    return sorted(lost)


print(check_find_lost(find_lost))
'''
