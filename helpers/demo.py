"""The course in a terminal: the seed's scenario done right, then the full run, reconciled (python -m helpers.demo).

    python -m helpers.demo [--broker URL] [--messages N] [--workers N] [--json]

``--json`` prints one JSON object (and nothing else on stdout), also when the
run fails: published, delivered per queue, acked, dead_lettered, duplicates,
lost, the cause of every duplicate and lost copy, seconds of the full run and
the CPU seconds the process spent on it, all threads (or ``error``).  The exit
status is 0 when every message is accounted for.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from typing import Any

from . import config
from .course_names import SEED_HANDLERS
from .events import PUBLISHED, EventLog
from .fullrun import full_run
from .producer import Publisher
from .progress import Bars
from .reconcile import Reconciliation, Unaccounted, reconcile, wait_accounted
from .seed import SEED_MESSAGES
from .topology import MEDIA, SEED
from .worker import Delivery, Worker

__all__ = ['seed_scenario', 'seed_flow', 'main']


def _transcode(body: Any, delivery: Delivery) -> str:
    return f'transcoded {body.get("file", "?")}'


def _audit(body: Any, delivery: Delivery) -> str:
    return f'audited {delivery.routing_key}'


def seed_scenario(url: str | None = None, timeout: float = 10.0) -> tuple[EventLog, Reconciliation]:
    """Publish the seed's two messages through SEED with one handler per queue; wait until settled."""
    log = EventLog()
    with config.connect(url) as conn:
        SEED.reset(conn)
    roles = {'transcode': _transcode, 'audit': _audit}
    handlers = {queue: roles[role] for queue, role in SEED_HANDLERS.items()}  # checked by course_names on import
    with Worker(url, topology=SEED, handlers=handlers, log=log, name='demo-seed'), \
            Publisher(url, topology=SEED, log=log, name='seed') as publisher:
        for key, payload in SEED_MESSAGES:
            publisher.publish(key, payload)
        result = wait_accounted(SEED, log, timeout=timeout)
    return log, result


def seed_flow(log: EventLog) -> list[str]:
    """The seed scenario as readable lines: each message, where it went, and what each queue did."""
    lines = []
    outcomes = [e for e in log.events() if e.kind != PUBLISHED and e.queue and e.kind != 'delivered']
    for sent in log.events(PUBLISHED):
        queues = SEED.route(sent.routing_key)
        lines.append(f'{sent.routing_key:<13} → {", ".join(queues) or "(no queue)"}')
        for event in sorted((e for e in outcomes if e.message_id == sent.message_id), key=lambda e: e.queue):
            lines.append(f'    {event.queue:<12} {event.kind}' + (f': {event.detail}' if event.detail else ''))
    return lines


def _where_on_redis(url: str, rec: Reconciliation) -> tuple[Reconciliation, dict[tuple[str, str], str]]:
    """Where Redis holds each lost copy, if anywhere, and ``rec`` with such copies marked late, not gone."""
    try:  # the project's Redis forensics (tools/), there in a checkout of the course
        from tools.redis_check import locate, with_places
        where = locate(url, [(e.queue, e.message_id) for e in rec.explanations if e.problem == 'lost'])
        return with_places(rec, where), where
    except Exception as exc:  # a look that fails must not hide the run's own report
        return rec, {('', ''): f'unknown: could not look ({exc})'}


def main(argv: list[str] | None = None) -> int:
    """Run the seed's scenario and the full media run on one broker, then print the reconciliation."""
    parser = argparse.ArgumentParser(prog='python -m helpers.demo', description=main.__doc__)
    parser.add_argument('--broker', default=None, help='broker URL (default: $BROKER_URL or memory://)')
    parser.add_argument('--messages', type=int, default=1000, help='messages in the full run (default 1000)')
    parser.add_argument('--workers', type=int, default=4, help='workers in the full run (default 4)')
    parser.add_argument('--producers', type=int, default=2, help='producer threads (default 2)')
    parser.add_argument('--json', action='store_true', help='print one JSON object instead of the flow')
    args = parser.parse_args(argv)
    config.quiet_kombu_logging()
    url = config.broker_url(args.broker)
    say = (lambda *_a, **_k: None) if args.json else print
    transport, media_log = '', None
    try:
        transport = config.check_broker(url).transport
        say(f'broker: {transport} at {config.safe_url(url)}')
        say(f'\n== 1. The seed tutorial\'s scenario, one handler per queue ({SEED.exchange_name})')
        log, seed = seed_scenario(url)
        for line in seed_flow(log):
            say(line)
        say(f'{"✅" if seed.ok else "❌"} {seed.acked} handled for {seed.published} published: '
            'once per queue each message was routed to')
        say(f'\n== 2. The full run: {args.messages} media events, {args.producers} producer threads, '
            f'{args.workers} workers ({MEDIA.exchange_name})')
        for queue in MEDIA.queue_names:
            say(f'    {queue:<16} ← {", ".join(MEDIA.binding_keys(queue))}')
        bars = Bars({'published': (args.messages, ' msg'), 'settled': (None, ' copy')})  # on stderr
        media_log = EventLog()
        with bars:
            def progress(published: int, settled: int, expected: int) -> None:
                bars.total('settled', expected)
                bars.update(published=published, settled=settled)

            cpu = time.process_time()  # a busy machine slows the clock more than the CPU a message costs
            result = full_run(url, args.messages, args.workers, args.producers, corrupt_rate=0.01,
                              progress=progress, log=media_log)
            cpu = time.process_time() - cpu
    except Exception as exc:  # a publisher that gave up, a worker that could not start, a timeout, ...
        # --json prints its object whatever happened: what was accounted for, and why the run failed.
        expected = isinstance(exc, (config.BrokerError, TimeoutError, ValueError))
        error = str(exc) if expected else f'{type(exc).__name__}: {config.one_line(exc)}'
        rec = None
        if media_log is not None and len(media_log):  # the full run had started: its accounts so far
            rec = reconcile(MEDIA, media_log, transport)
        elif isinstance(exc, Unaccounted):
            rec = exc.reconciliation
        where: dict[tuple[str, str], str] = {}
        if rec is not None and transport == 'redis':  # a copy Redis still holds is late, not gone
            rec, where = _where_on_redis(url, rec)
        if args.json:
            found = {'transport': transport, **(rec.as_dict() if rec is not None else {})}
            print(json.dumps({**found, 'ok': False, 'error': error, 'messages': args.messages,
                              'workers': args.workers, 'producers': args.producers,
                              **({'on_broker': [{'queue': q, 'message_id': m, 'where': w}
                                                for (q, m), w in where.items()]} if where else {})}))
        elif rec is not None:
            print('\n== 3. Reconciliation (the run did not finish)')
            print(rec.table())
            for (queue, message_id), place in where.items():
                print(f'on Redis, {queue} {message_id} is {place}')
        print(f'error: {error}', file=sys.stderr)
        return 2
    rec = reconcile(MEDIA, result.log, transport)  # the same accounts, with the broker named in the causes
    if args.json:
        print(json.dumps({**dataclasses.replace(result, reconciliation=rec).as_dict(transport),
                          'cpu_seconds': round(cpu, 3)}))
    else:
        print(f'\n== 3. Reconciliation ({result.seconds:.2f} s, {result.rate:,.0f} copies/s)')
        print(rec.table())
    return 0 if rec.ok and seed.ok else 1


if __name__ == '__main__':
    sys.exit(main())
