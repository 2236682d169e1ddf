"""How fast the course's Worker drains a queue, at one prefetch or several (04_full_run's prefetch cell).

Each measurement fills a fresh queue with N small JSON messages, then drains it
(consume, decode, ack each message) with the helpers' Worker.  A rate is
(N - 1) / (last ack - first delivery).  The comparison with a bare kombu loop
and raw pika lives outside the course package: ``python -m benchmarks.compare``.
"""
from __future__ import annotations

import math
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kombu import Producer

from . import config
from .events import ACKED, DELIVERED, EventLog
from .topology import Topology
from .worker import Worker

__all__ = ['Spread', 'bench_topology', 'fill', 'helpers_rate', 'prefetch_rates', 'rate']

ROUTING_KEY = 'bench.item'
TICK = 100  # report progress every this many messages (cheap next to a message)

Tick = Callable[[int], None]


def no_tick(n: int) -> None:
    """A progress callback that shows nothing."""


@dataclass(frozen=True)
class Spread:
    """Repeated measurements of one rate: the median, the lowest and the highest."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """The spread of ``values`` (at least one, all finite)."""
        if not values or not all(math.isfinite(v) for v in values):
            raise ValueError(f'cannot summarise {list(values)!r}: need one or more finite rates')
        return cls(statistics.median(values), min(values), max(values))


def bench_topology() -> Topology:
    """A one-queue topology with a unique name, so a benchmark never meets other messages."""
    name = f'bench_{uuid.uuid4().hex[:10]}'
    return Topology(name, ((name, 'bench.#'),), durable=False)


def fill(url: str, topology: Topology, count: int, timeout: float = 60.0, tick: Tick = no_tick) -> None:
    """Publish ``count`` small JSON messages into the topology's queue and wait until they are all there."""
    queue_name = topology.queue_names[0]
    with config.connect(url) as conn:
        topology.declare(conn)
        producer = Producer(conn.default_channel, exchange=topology.exchange())
        for n in range(count):
            producer.publish({'n': n, 'file': f'clip-{n}.mp4'}, routing_key=ROUTING_KEY, serializer='json',
                             message_id=f'fill-{n}')
            if n % TICK == TICK - 1:
                tick(TICK)
        tick(count % TICK)
        deadline = time.monotonic() + timeout
        queue = topology.queue(queue_name).bind(conn.default_channel)
        while queue.queue_declare(passive=True).message_count < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f'the broker did not report {count} messages in {queue_name} within {timeout:g} s')
            time.sleep(0.01)


def rate(count: int, first: float, last: float) -> float:
    """Messages per second between the first and the last of ``count`` messages (NaN if undefined)."""
    return (count - 1) / (last - first) if count > 1 and last > first else float('nan')


def helpers_rate(url: str, topology: Topology, count: int, prefetch: int, timeout: float = 120.0,
                 tick: Tick = no_tick) -> float:
    """Drain ``count`` waiting messages with the helpers' Worker; messages per second.

    Everything runs in the worker's thread, as a bare kombu loop runs in its one thread: its handler
    shows progress every TICK messages and asks the worker to stop after the last one, and this
    thread only waits for the worker's thread to end.  A thread that woke to show progress while the
    worker drained would take the interpreter lock from it: on a busy machine each hand-off waits for
    the scheduler, which cost a quarter of the Worker's rate on RabbitMQ (benchmarks.compare, issue 19).
    """
    log = EventLog()
    handled = 0

    def handler(body, delivery) -> None:  # in the worker's thread, before its ack
        nonlocal handled
        handled += 1
        if handled % TICK == 0:
            tick(TICK)
        if handled >= count:
            worker.should_stop = True  # acked and recorded before the worker's loop looks at it

    worker = Worker(url, topology=topology, log=log, handlers=handler, prefetch_count=prefetch,
                    name=f'{topology.exchange_name}-w')
    worker.start()
    try:
        ended = worker.wait(timeout)
    finally:
        worker.stop()
    acked = log.count(ACKED)
    if acked < count:
        why = '' if worker.last_error is None else f' ({config.one_line(worker.last_error)})'
        raise TimeoutError(f'the worker handled {acked} of {count} messages in {timeout:g} s'
                           if not ended else f'the worker stopped after {acked} of {count} messages{why}')
    tick(count % TICK)
    return rate(count, log.events(DELIVERED)[0].time, log.events(ACKED)[-1].time)


def prefetch_rates(url: str | None = None, prefetches: Sequence[int] = (1, 10, 100), messages: int = 300,
                   repeat: int = 5, tick: Tick = no_tick) -> dict[int, list[float]]:
    """Drain ``messages`` waiting messages with one Worker at each prefetch, ``repeat`` times interleaved.

    Returns {prefetch: [rate of each try]}; each try fills a fresh queue first.
    """
    url = config.broker_url(url)
    config.quiet_kombu_logging()
    topology = bench_topology()
    rates: dict[int, list[float]] = {prefetch: [] for prefetch in prefetches}
    try:
        for _ in range(repeat):
            for prefetch in prefetches:
                fill(url, topology, messages, tick=tick)
                rates[prefetch].append(helpers_rate(url, topology, messages, prefetch, tick=tick))
    finally:
        with config.connect(url) as conn:
            topology.delete(conn)
    return rates
