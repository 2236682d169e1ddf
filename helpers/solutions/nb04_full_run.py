# Solution to the exercise in 04_full_run: the copies that were routed but never settled.
from helpers.events import ACKED, DEAD_LETTERED, PUBLISHED, QUARANTINED


def find_lost(topology, log):
    """Sorted (queue, message id) pairs the topology routes to but that never settled there."""
    expected = {(queue, e.message_id) for e in log.events(PUBLISHED) for queue in topology.route(e.routing_key)}
    settled = {(e.queue, e.message_id) for e in log.events() if e.kind in (ACKED, DEAD_LETTERED, QUARANTINED)}
    return sorted(expected - settled)


print(check_find_lost(find_lost))  # noqa: F821 (defined in the notebook)
