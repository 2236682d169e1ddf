"""How fast the course's worker is, next to a bare kombu loop and raw pika, on one transport (04_full_run).

    python -m helpers.bench [--broker URL] [--messages N] [--prefetch N] [--repeat N] [--json]

In one process and one run: fill a fresh queue with N small JSON messages,
then drain it (consume, decode, ack each message) with the helpers' Worker,
with a bare kombu ``Consumer`` + ``drain_events`` loop on the same transport
and prefetch, on ``amqp://`` with raw pika when it is installed, and with the
Worker on ``helpers.fastamqp`` (py-amqp reading the socket in 64 KiB chunks,
then also with its acks coalesced; every message still acked by itself).
Each rate is the best of ``--repeat`` interleaved tries (default 3: the
machine is shared).  A rate is (N - 1) / (last ack - first delivery), the
same clock for every contender.  Then messages are published one at a time
and publish→handled latency is read from the EventLog's times.
"""
from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from kombu import Consumer, Producer

from . import config
from .events import ACKED, DELIVERED, EventLog
from .producer import Publisher
from .topology import Topology
from .worker import Worker

__all__ = ['BenchResult', 'bench_topology', 'fill', 'helpers_rate', 'bare_kombu_rate', 'pika_rate',
           'latency_ms', 'run_bench', 'main']

ROUTING_KEY = 'bench.item'


@dataclass(frozen=True)
class BenchResult:
    """One benchmark run (rates in messages per second; None where not measured)."""

    transport: str
    messages: int
    prefetch: int
    helpers_msgs_per_s: float
    bare_kombu_msgs_per_s: float
    ratio_vs_bare: float
    pika_msgs_per_s: float | None
    ratio_vs_pika: float | None
    latency_ms_p50: float
    latency_ms_p99: float
    helpers_fast_msgs_per_s: float | None = None  # the Worker on helpers.fastamqp (amqp:// only)
    ratio_fast_vs_pika: float | None = None
    helpers_coalesced_msgs_per_s: float | None = None  # ...and with its acks coalesced per read
    ratio_coalesced_vs_pika: float | None = None

    def as_dict(self) -> dict:
        """The result as a JSON-ready dict."""
        return asdict(self)

    def table(self) -> str:
        """A small text table for the terminal."""
        def rate(value: float | None) -> str:
            return 'not measured' if value is None else f'{value:,.0f} msg/s'

        def ratio(value: float | None) -> str:
            return '' if value is None else f'{value:.2f}'

        rows = [('helpers Worker', rate(self.helpers_msgs_per_s), ''),
                ('bare kombu loop', rate(self.bare_kombu_msgs_per_s), ratio(self.ratio_vs_bare)),
                ('raw pika', rate(self.pika_msgs_per_s), ratio(self.ratio_vs_pika))]
        if self.helpers_fast_msgs_per_s is not None:
            rows.append(('Worker, fastamqp', rate(self.helpers_fast_msgs_per_s), ''))
        if self.helpers_coalesced_msgs_per_s is not None:
            rows.append(('...acks coalesced', rate(self.helpers_coalesced_msgs_per_s), ''))
        lines = [f'{self.transport}: {self.messages} messages, prefetch {self.prefetch}',
                 f'{"consume + ack":<18}{"rate":>16}  {"helpers/it":>10}']
        lines += [f'{name:<18}{value:>16}  {r:>10}' for name, value, r in rows]
        if self.ratio_fast_vs_pika is not None:
            lines.append(f'Worker on fastamqp / raw pika: {self.ratio_fast_vs_pika:.2f}, '
                         f'with acks coalesced: {self.ratio_coalesced_vs_pika:.2f}')
        lines.append(f'publish → handled latency: p50 {self.latency_ms_p50:.2f} ms, '
                     f'p99 {self.latency_ms_p99:.2f} ms')
        return '\n'.join(lines)


def bench_topology() -> Topology:
    """A one-queue topology with a unique name, so a benchmark never meets other messages."""
    name = f'bench_{uuid.uuid4().hex[:10]}'
    return Topology(name, ((name, 'bench.#'),), durable=False)


def fill(url: str, topology: Topology, count: int, timeout: float = 60.0) -> None:
    """Publish ``count`` small JSON messages into the topology's queue and wait until they are all there."""
    queue_name = topology.queue_names[0]
    with config.connect(url) as conn:
        topology.declare(conn)
        producer = Producer(conn.default_channel, exchange=topology.exchange())
        for n in range(count):
            producer.publish({'n': n, 'file': f'clip-{n}.mp4'}, routing_key=ROUTING_KEY, serializer='json',
                             message_id=f'fill-{n}')
        deadline = time.monotonic() + timeout
        queue = topology.queue(queue_name).bind(conn.default_channel)
        while queue.queue_declare(passive=True).message_count < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f'the broker did not report {count} messages in {queue_name} within {timeout:g} s')
            time.sleep(0.01)


def _rate(count: int, first: float, last: float) -> float:
    return (count - 1) / (last - first) if count > 1 and last > first else float('nan')


def helpers_rate(url: str, topology: Topology, count: int, prefetch: int, timeout: float = 120.0,
                 fast: str | None = None) -> float:
    """Drain ``count`` waiting messages with the helpers' Worker; messages per second.

    ``fast`` names a transport class of ``helpers.fastamqp`` to consume with (amqp:// only).
    """
    log = EventLog()
    worker = Worker(url, topology=topology, log=log, prefetch_count=prefetch, name=f'{topology.exchange_name}-w')
    if fast:
        from . import fastamqp

        fastamqp.consume_with(worker, fast)
    deadline = time.monotonic() + timeout
    worker.start()
    try:
        while len(log) < 2 * count:  # one delivered and one acked event per message
            if time.monotonic() > deadline or not worker.is_running:
                raise TimeoutError(f'the worker handled {log.count(ACKED)} of {count} messages in {timeout:g} s')
            time.sleep(0.005)
    finally:
        worker.stop()
    first = log.events(DELIVERED)[0].time
    return _rate(count, first, log.events(ACKED)[-1].time)


def bare_kombu_rate(url: str, topology: Topology, count: int, prefetch: int, timeout: float = 120.0) -> float:
    """Drain ``count`` waiting messages with a bare kombu Consumer that acks in its callback."""
    times: list[float] = []

    def on_message(body, message) -> None:
        message.ack()
        times.append(time.monotonic())

    with config.connect(url) as conn:
        channel = conn.channel()
        consumer = Consumer(channel, queues=[topology.queues()[0]], callbacks=[on_message], accept=['json'],
                            prefetch_count=prefetch)
        deadline = time.monotonic() + timeout
        with consumer:
            while len(times) < count:
                if time.monotonic() > deadline:
                    raise TimeoutError(f'the bare loop handled {len(times)} of {count} messages in {timeout:g} s')
                try:
                    conn.drain_events(timeout=1)
                except socket.timeout:
                    pass
        channel.close()
    return _rate(count, times[0], times[-1])


def pika_rate(url: str, topology: Topology, count: int, prefetch: int) -> float | None:
    """Drain ``count`` waiting messages with raw pika (basic_consume + basic_ack); None off amqp or without pika."""
    if config.transport_of(url) != 'amqp':
        return None
    try:
        import pika
    except ImportError:
        return None
    times: list[float] = []

    def on_message(channel, method, properties, body) -> None:
        json.loads(body)
        channel.basic_ack(method.delivery_tag)
        times.append(time.monotonic())
        if len(times) >= count:
            channel.stop_consuming()

    parameters = pika.URLParameters(url.replace('pyamqp://', 'amqp://', 1))
    if urlsplit(url).path in ('', '/', '//'):  # kombu reads '//' as the default vhost '/'; pika does not
        parameters.virtual_host = '/'
    connection = pika.BlockingConnection(parameters)
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=prefetch)
        queue = topology.broker_queue_name(topology.queue_names[0])
        channel.basic_consume(queue, on_message_callback=on_message)
        channel.start_consuming()
    finally:
        connection.close()
    return _rate(count, times[0], times[-1])


def latency_ms(url: str, topology: Topology, count: int, prefetch: int, timeout: float = 10.0) -> list[float]:
    """Publish ``count`` messages one at a time with the helpers' Publisher; ms from publish to acked, sorted."""
    log = EventLog()
    acked = threading.Event()
    unsubscribe = log.subscribe(lambda event: acked.set() if event.kind == ACKED else None)
    worker = Worker(url, topology=topology, log=log, prefetch_count=prefetch, name=f'{topology.exchange_name}-l')
    samples = []
    try:
        worker.start()
        with Publisher(url, topology=topology, log=log, name='latency') as publisher:
            for n in range(count):
                # Spread the sends over a polling cycle of the virtual transports (5 ms on memory://):
                # sent in lockstep with the acks, every message would wait a whole cycle.
                time.sleep((n % 10) * 0.0005)
                acked.clear()
                sent = time.monotonic()
                publisher.publish(ROUTING_KEY, {'n': n})
                if not acked.wait(timeout):
                    raise TimeoutError(f'message {n} was not handled within {timeout:g} s')
                samples.append((log.events(ACKED)[-1].time - sent) * 1000)
    finally:
        worker.stop()
        unsubscribe()
    return sorted(samples)


def _has_pika() -> bool:
    try:
        import pika  # noqa: F401
    except ImportError:
        return False
    return True


def _percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def run_bench(url: str | None = None, messages: int = 2000, prefetch: int = 100,
              latency_messages: int | None = None, repeat: int = 1) -> BenchResult:
    """Run every measurement on the broker at ``url`` (``repeat`` times, interleaved; best rate kept)."""
    url = config.broker_url(url)
    if messages < 2:
        raise ValueError(f'messages is {messages}: a rate needs at least 2 messages')
    if repeat < 1:
        raise ValueError(f'repeat is {repeat}: measure at least once')
    config.quiet_kombu_logging()
    topology = bench_topology()
    try:
        contenders = {'ours': lambda: helpers_rate(url, topology, messages, prefetch),
                      'bare': lambda: bare_kombu_rate(url, topology, messages, prefetch)}
        if config.transport_of(url) == 'amqp' and _has_pika():
            contenders['pika'] = lambda: pika_rate(url, topology, messages, prefetch)
            contenders['fast'] = lambda: helpers_rate(url, topology, messages, prefetch, fast='FastTransport')
            contenders['coalesced'] = lambda: helpers_rate(url, topology, messages, prefetch,
                                                           fast='CoalescingTransport')
        best: dict[str, float] = {}
        for _ in range(repeat):
            for name, measure in contenders.items():
                fill(url, topology, messages)
                best[name] = max(best.get(name, 0.0), measure())
        ours, bare, pika, fast, coalesced = (best.get(name) for name in ('ours', 'bare', 'pika', 'fast', 'coalesced'))
        samples = latency_ms(url, topology, latency_messages or min(messages, 200), prefetch)
    finally:
        with config.connect(url) as conn:
            topology.delete(conn)
    return BenchResult(
        transport=config.transport_of(url), messages=messages, prefetch=prefetch,
        helpers_msgs_per_s=round(ours, 1), bare_kombu_msgs_per_s=round(bare, 1),
        ratio_vs_bare=round(ours / bare, 3),
        pika_msgs_per_s=None if pika is None else round(pika, 1),
        ratio_vs_pika=None if pika is None else round(ours / pika, 3),
        latency_ms_p50=round(_percentile(samples, 0.50), 3), latency_ms_p99=round(_percentile(samples, 0.99), 3),
        helpers_fast_msgs_per_s=None if fast is None else round(fast, 1),
        ratio_fast_vs_pika=None if fast is None or pika is None else round(fast / pika, 3),
        helpers_coalesced_msgs_per_s=None if coalesced is None else round(coalesced, 1),
        ratio_coalesced_vs_pika=None if coalesced is None or pika is None else round(coalesced / pika, 3),
    )


def main(argv: list[str] | None = None) -> int:
    """Measure the helpers' worker against bare kombu (and pika on amqp://) and print a table or JSON."""
    parser = argparse.ArgumentParser(prog='python -m helpers.bench', description=main.__doc__)
    parser.add_argument('--broker', default=None, help='broker URL (default: $BROKER_URL or memory://)')
    parser.add_argument('--messages', type=int, default=2000, help='messages per measurement (default 2000)')
    parser.add_argument('--prefetch', type=int, default=100, help='prefetch count for every consumer (default 100)')
    parser.add_argument('--repeat', type=int, default=3,
                        help='measure each rate N times, interleaved, and keep the best (default 3)')
    parser.add_argument('--json', action='store_true', help='print one JSON object instead of a table')
    args = parser.parse_args(argv)
    try:
        result = run_bench(args.broker, args.messages, args.prefetch, repeat=args.repeat)
    except (config.BrokerError, TimeoutError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    print(json.dumps(result.as_dict()) if args.json else result.table())
    return 0


if __name__ == '__main__':
    sys.exit(main())
