"""The worker as a command, and the JSON lines it speaks to the program that started it (05_scaling_out).

    python -m helpers.worker --broker amqp://guest:guest@localhost// --queues video_queue,audit_queue

It checks the broker first (a wrong password or a missing vhost is one line
on stderr and exit status 2), warns that memory:// reaches no other process,
then consumes until SIGINT or SIGTERM.  With ``--json`` it prints one JSON
object per line (``event_line``); ``read_line`` is how ``helpers.processes``
reads them back.  A worker that cannot run (a bad option, a broker it cannot
use, a declare or consume the broker refuses) says so on stderr and, with
``--json``, also in one ``error`` line on stdout with the error and its cause.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from typing import Any

from . import config
from .events import ACKED, DEAD_LETTERED, QUARANTINED, Event, EventLog
from .topology import MEDIA, SEED, Topology
from .worker import Delivery, Worker, WorkerError

__all__ = ['ERROR', 'READY', 'STOPPED', 'event_line', 'read_line', 'event_fields', 'custom_topology', 'main']

READY = 'ready'      # the line a worker prints once it consumes (with its queues)
STOPPED = 'stopped'  # ...and the one it prints last (with its counts)
ERROR = 'error'      # the line it prints instead when it cannot run (with the error, its cause and the stage)


def event_line(kind: str, worker: str, **fields: Any) -> str:
    """One line of the protocol: a JSON object with the kind, the worker's name and pid, and ``fields``."""
    return json.dumps({'kind': kind, 'worker': worker, 'pid': os.getpid(), **fields})


def read_line(line: str) -> dict[str, Any] | None:
    """The fields of one protocol line, or None for a line that is not one (a stray print)."""
    try:
        fields = json.loads(line)
    except ValueError:
        return None
    return fields if isinstance(fields, dict) and isinstance(fields.get('kind'), str) else None


def event_fields(event: Event) -> dict[str, str]:
    """The fields an event's line carries (what ``EventLog.record`` takes back)."""
    return {'queue': event.queue, 'routing_key': event.routing_key, 'message_id': event.message_id,
            'detail': event.detail}


class _Parser(argparse.ArgumentParser):
    """argparse's parser; with ``--json`` a bad option is also an error line on stdout."""

    json_worker: str | None = None  # the worker's name when --json was given

    def error(self, message: str) -> None:  # type: ignore[override]
        if self.json_worker is not None:
            print(event_line(ERROR, self.json_worker, stage='options', error=message, cause=message), flush=True)
        super().error(message)


def _wanted_output(argv: list[str] | None) -> tuple[bool, str]:
    """Whether --json was asked for, and the worker's name, read before the full parse (which may fail)."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument('--json', action='store_true')
    early.add_argument('--name', default='cli')
    known, _rest = early.parse_known_args(argv)
    return known.json, known.name


def _cause(exc: BaseException) -> str:
    """The innermost reason of an error: the broker's own words when it gave them."""
    if isinstance(exc, config.BrokerError):
        return exc.cause
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return config.one_line(exc)


def main(argv: list[str] | None = None) -> int:
    """Run a worker in the foreground until SIGINT or SIGTERM."""
    parser = _Parser(prog='python -m helpers.worker', description=main.__doc__)
    as_json, name = _wanted_output(argv)
    parser.json_worker = name if as_json else None
    parser.add_argument('--broker', default=None, help='broker URL (default: $BROKER_URL or memory://)')
    parser.add_argument('--queues', default=None, help='comma-separated queue names (default: all)')
    parser.add_argument('--topology', default='seed', choices=['seed', 'media'])
    parser.add_argument('--exchange', default=None,
                        help="use this exchange name instead of the topology's (e.g. one per student)")
    parser.add_argument('--bind', action='append', default=None, metavar='QUEUE=KEY',
                        help="bind QUEUE with binding KEY instead of the topology's bindings (repeatable)")
    parser.add_argument('--prefetch', type=int, default=1)
    parser.add_argument('--work-seconds', type=float, default=0.0,
                        help='simulated work per message (a JSON body {"work_seconds": s} overrides it)')
    parser.add_argument('--name', default='cli')
    parser.add_argument('--json', action='store_true', help='print one JSON object per line (for programs)')
    parser.add_argument('--stop-on-eof', action='store_true',
                        help='also stop when standard input closes (the parent process ended)')
    args = parser.parse_args(argv)
    if not 0 <= args.work_seconds < float('inf'):
        parser.error(f'--work-seconds {args.work_seconds:g}: give a number of seconds, 0 or more')

    topo = MEDIA if args.topology == 'media' else SEED
    try:
        topo = custom_topology(topo, args.exchange, args.bind)
    except ValueError as exc:
        parser.error(str(exc))
    queues = args.queues.split(',') if args.queues else None

    def work(body: Any, delivery: Delivery) -> str | None:
        seconds = args.work_seconds
        if isinstance(body, dict) and isinstance(body.get('work_seconds'), (int, float)):
            seconds = body['work_seconds']
        if seconds:
            time.sleep(seconds)
        return 'redelivered' if delivery.redelivered else None

    def say(kind: str, text: str, **fields: Any) -> None:
        print(event_line(kind, args.name, **fields) if args.json else text, flush=True)

    def fail(stage: str, exc: BaseException) -> int:
        print(f'error: {exc}', file=sys.stderr)
        if args.json:
            say(ERROR, '', stage=stage, error=str(exc), cause=_cause(exc))
        return 2

    log = EventLog()
    log.subscribe(lambda e: say(e.kind, f'{e.kind:>13} {e.queue or "-":<16} {e.routing_key:<20} {e.message_id}'
                                + (f'  ({e.detail})' if e.detail else ''), **event_fields(e)))
    try:
        worker = Worker(args.broker, queues, topology=topo, handlers=work, log=log,
                        prefetch_count=args.prefetch, name=args.name)
    except ValueError as exc:
        parser.error(str(exc))
    except config.BrokerError as exc:  # a URL no transport takes
        return fail('broker', exc)
    try:
        # The broker's own reason (a refused password, a missing vhost) at once, not a start timeout later.
        transport = config.check_broker(worker.url if args.broker is None else args.broker).transport
    except config.BrokerError as exc:
        return fail('broker', exc)
    if transport == 'memory':
        print(f'warning: {config.MEMORY_IS_PRIVATE}; use amqp:// or redis:// to share work', file=sys.stderr)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    if args.stop_on_eof:
        threading.Thread(target=lambda: (sys.stdin.read(), stopping.set()), daemon=True).start()
    try:
        worker.start()
    except (WorkerError, config.BrokerError) as exc:
        return fail('start', exc)
    say(READY, f'ready: {worker!r} (Ctrl+C to stop)', queues=worker.queue_names)
    stopping.wait()
    worker.stop()
    counts = {'acked': log.count(ACKED), 'dead_lettered': log.count(DEAD_LETTERED),
              'quarantined': log.count(QUARANTINED)}
    say(STOPPED, f'stopped: {counts["acked"]} acked, {counts["dead_lettered"]} dead-lettered, '
                 f'{counts["quarantined"]} quarantined', **counts)
    return 0


def custom_topology(topo: Topology, exchange: str | None, binds: list[str] | None) -> Topology:
    """``topo`` with another exchange name and/or other (queue, binding key) pairs."""
    if binds:
        pairs = []
        for item in binds:
            queue, sep, key = item.partition('=')
            if not sep or not queue:
                raise ValueError(f'--bind {item!r}: write QUEUE=KEY, as in --bind video_queue=video.#')
            pairs.append((queue, key))
        topo = Topology(exchange or topo.exchange_name, tuple(pairs), namespace=topo.namespace)
    elif exchange:
        topo = Topology(exchange, topo.bindings, namespace=topo.namespace)
    return topo


if __name__ == '__main__':
    sys.exit(main())
