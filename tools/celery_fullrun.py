"""04's full run done by Celery: the seeded media events, a Celery worker per queue, reconciled (project: a test).

    python -m tools.celery_fullrun [--broker URL] [--messages N] [--json]

Publishes ``fullrun.scenario(N)`` as ``media.process`` tasks, each with its
event's routing key, and waits until every copy settled.  The clock runs
from the first publish to the last settled copy, as in ``fullrun.full_run``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from helpers import config
from helpers.celery_app import make_app
from helpers.celery_bridge.events import CeleryEvents
from helpers.celery_bridge.workers import CeleryWorker, quiet_celery_logging
from helpers.events import SETTLED, EventLog
from helpers.fullrun import RunResult, scenario
from helpers.reconcile import wait_accounted
from helpers.topology import MEDIA, Topology

__all__ = ['celery_full_run', 'main']


def celery_full_run(url: str | None = None, messages: int = 200, *, topology: Topology = MEDIA,
                    corrupt_rate: float = 0.0, seed: int = 4, timeout: float = 120.0) -> RunResult:
    """Run ``messages`` seeded media events through Celery (one worker thread per queue); reconcile."""
    url = config.broker_url(url)
    quiet_celery_logging()
    with config.connect(url) as conn:
        topology.reset(conn)
    log = EventLog()
    app = make_app(topology, url)
    process = app.tasks['media.process']
    items = scenario(messages, seed, corrupt_rate)
    with CeleryEvents(log):
        crew = [CeleryWorker([queue], url, topology=topology).start() for queue in topology.queue_names]
        try:
            start = time.monotonic()
            for key, payload in items:
                process.apply_async((payload,), routing_key=key)
            result = wait_accounted(topology, log, timeout=timeout)
            seconds = max((e.time for e in log.events() if e.kind in SETTLED), default=start) - start
        finally:
            CeleryWorker.stop_all(crew)
    return RunResult(log, result, seconds, messages, len(crew), 1, 1)


def main(argv: list[str] | None = None) -> int:
    """Run the Celery full run on one broker and print the reconciliation (or one JSON object)."""
    parser = argparse.ArgumentParser(prog='python -m tools.celery_fullrun', description=main.__doc__)
    parser.add_argument('--broker', default=None, help='broker URL (default: $BROKER_URL or memory://)')
    parser.add_argument('--messages', type=int, default=1000)
    parser.add_argument('--corrupt-rate', type=float, default=0.01)
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args(argv)
    result = celery_full_run(args.broker, args.messages, corrupt_rate=args.corrupt_rate)
    rec = result.reconciliation
    if args.json:
        print(json.dumps(result.as_dict(config.transport_of(args.broker))))
    else:
        print(f'{result.seconds:.2f} s, {result.rate:,.0f} copies/s')
        print(rec.table())
    return 0 if rec.ok else 1


if __name__ == '__main__':
    sys.exit(main())
