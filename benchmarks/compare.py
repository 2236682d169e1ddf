"""How fast the course's Worker consumes, next to a bare kombu loop and raw pika, on one transport.

    python -m benchmarks.compare [--broker URL] [--messages N] [--prefetch N] [--repeat N] [--json]

In one process and one run: fill a fresh queue with N small JSON messages,
then drain it (consume, decode, ack each message) with the helpers' Worker,
with a bare kombu ``Consumer`` + ``drain_events`` loop on the same transport
and prefetch, and on ``amqp://`` with raw pika when it is installed.
Each contender is measured ``--repeat`` times, interleaved (default 5; every
other round in reverse order, so a drifting load favours no one), and
reported as the median with the lowest and highest try: on a busy machine a
single short drain can lose half its speed to another process, so one try
proves little.  A rate is (N - 1) / (last ack - first delivery), the same
clock for every contender.  Beside it, the CPU time the process spent per
message during each drain (all its threads; set-up and tear-down included),
which another process's load slows much less than it slows the clock.  The ratios are ours ÷ theirs, from the medians;
beside them, the median of the ratios of each round's tries, which share
the machine's load of that moment.
Then messages are published one at a time and publish→handled latency is
read from the EventLog's times.  The machine's load is printed beside the
figures (``benchmarks.machine``): the load average (1, 5 and 15 minutes) as
the run starts and as it ends, and the share of the CPUs that other processes
used during the run: on a busy machine the same code measures differently, and
a figure without its load cannot be compared.  Progress goes to stderr from the
first message (``--json`` keeps stdout to one JSON object).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from kombu import Consumer

from helpers import config
from helpers.bench import ROUTING_KEY, TICK, Spread, Tick, bench_topology, fill, helpers_rate, no_tick, rate
from helpers.events import ACKED, EventLog
from helpers.producer import Publisher
from helpers.progress import Bars
from helpers.topology import Topology
from helpers.worker import Worker

from .machine import Usage, UsageReport

__all__ = ['BenchResult', 'bare_kombu_rate', 'pika_rate', 'latency_ms', 'percentile', 'run_bench', 'main']


@dataclass(frozen=True)
class BenchResult:
    """One benchmark run (rates: medians in messages per second; None where not measured)."""

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
    repeat: int = 1
    spreads: dict[str, tuple[float, float]] = field(default_factory=dict)  # contender: (lowest, highest)
    paired: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # contender: ours ÷ it per round
    cpu_us: dict[str, float] = field(default_factory=dict)  # contender: median CPU µs a message, all its threads
    machine: UsageReport | None = None  # the machine's load during the run

    def as_dict(self) -> dict:
        """The result as a JSON-ready dict."""
        return asdict(self)

    def table(self) -> str:
        """A small text table for the terminal (only the contenders that were measured)."""
        rows = [('helpers Worker', 'ours', self.helpers_msgs_per_s, None),
                ('bare kombu loop', 'bare', self.bare_kombu_msgs_per_s, self.ratio_vs_bare),
                ('raw pika', 'pika', self.pika_msgs_per_s, self.ratio_vs_pika)]
        lines = [f'{self.transport}: {self.messages} messages, prefetch {self.prefetch}, '
                 f'median of {self.repeat} tries',
                 f'{"consume + ack":<18}{"median":>14}  {"lowest – highest":>20}  {"ours ÷ this":>11}  '
                 f'{"CPU µs/msg":>10}  {"this ÷ ours":>11}']
        for name, key, median, ratio in rows:
            if median is None:
                continue
            low, high = self.spreads.get(key, (median, median))
            cpu, ours_cpu = self.cpu_us.get(key), self.cpu_us.get('ours')
            by_cpu = '' if cpu is None or ours_cpu is None or key == 'ours' else f'{cpu / ours_cpu:.2f}'
            lines.append(f'{name:<18}{median:>10,.0f} /s  {f"{low:,.0f} – {high:,.0f}":>20}  '
                         f'{"" if ratio is None else f"{ratio:.2f}":>11}  {"" if cpu is None else f"{cpu:.1f}":>10}  '
                         f'{by_cpu:>11}')
        for name, key, _median, _ratio in rows[1:]:
            if key in self.paired:
                middle, low, high = self.paired[key]
                lines.append(f'ours ÷ {name}, round by round (tries a second apart): median {middle:.2f}, '
                             f'{low:.2f} – {high:.2f}')
        lines.append(f'publish → handled latency: p50 {self.latency_ms_p50:.2f} ms, '
                     f'p99 {self.latency_ms_p99:.2f} ms')
        if self.machine is not None:
            lines.append(self.machine.line())
        return '\n'.join(lines)


def bare_kombu_rate(url: str, topology: Topology, count: int, prefetch: int, timeout: float = 120.0,
                    tick: Tick = no_tick) -> float:
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
        shown = 0
        with consumer:
            while len(times) < count:
                if time.monotonic() > deadline:
                    raise TimeoutError(f'the bare loop handled {len(times)} of {count} messages in {timeout:g} s')
                try:
                    conn.drain_events(timeout=1)
                except TimeoutError:
                    pass
                if len(times) - shown >= TICK:
                    tick(len(times) - shown)
                    shown = len(times)
        channel.close()
    tick(count - shown)
    return rate(count, times[0], times[-1])


def pika_rate(url: str, topology: Topology, count: int, prefetch: int, tick: Tick = no_tick) -> float | None:
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
        if len(times) % TICK == 0:
            tick(TICK)
        if len(times) >= count:
            tick(count % TICK)
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
    return rate(count, times[0], times[-1])


def latency_ms(url: str, topology: Topology, count: int, prefetch: int, timeout: float = 10.0,
               tick: Tick = no_tick) -> list[float]:
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
                # Spread the sends over a polling cycle of the virtual transports (20 ms on memory://):
                # sent in lockstep with the acks, every message would wait a whole cycle.
                time.sleep((n % 10) * 0.002)
                acked.clear()
                sent = time.monotonic()
                publisher.publish(ROUTING_KEY, {'n': n})
                if not acked.wait(timeout):
                    raise TimeoutError(f'message {n} was not handled within {timeout:g} s')
                samples.append((log.events(ACKED)[-1].time - sent) * 1000)
                tick(1)
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


def percentile(values: Sequence[float], q: float) -> float:
    """The value at fraction ``q`` (0 to 1) of ``values`` in ascending order (nearest rank)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _contenders(url: str, topology: Topology, messages: int, prefetch: int, tick: Tick) -> dict[str, Callable]:
    contenders = {'ours': lambda: helpers_rate(url, topology, messages, prefetch, tick=tick),
                  'bare': lambda: bare_kombu_rate(url, topology, messages, prefetch, tick=tick)}
    if config.transport_of(url) == 'amqp' and _has_pika():
        contenders['pika'] = lambda: pika_rate(url, topology, messages, prefetch, tick=tick)
    return contenders


def bench_steps(url: str | None, messages: int, repeat: int, latency_messages: int) -> int:
    """How many messages a run_bench with these arguments publishes and handles (for a progress bar)."""
    url = config.broker_url(url)
    contenders = 3 if config.transport_of(url) == 'amqp' and _has_pika() else 2
    return 2 * messages * repeat * contenders + latency_messages


def run_bench(url: str | None = None, messages: int = 10000, prefetch: int = 100,
              latency_messages: int | None = None, repeat: int = 5, tick: Tick = no_tick) -> BenchResult:
    """Run every measurement on the broker at ``url`` (``repeat`` times, interleaved; medians reported)."""
    url = config.broker_url(url)
    if messages < 2:
        raise ValueError(f'messages is {messages}: a rate needs at least 2 messages')
    if repeat < 1:
        raise ValueError(f'repeat is {repeat}: measure at least once')
    config.quiet_kombu_logging()
    topology = bench_topology()
    usage = Usage.start()
    try:
        contenders = _contenders(url, topology, messages, prefetch, tick)
        tries: dict[str, list[float]] = {name: [] for name in contenders}
        cpu: dict[str, list[float]] = {name: [] for name in contenders}
        for turn in range(repeat):
            # Every other round in reverse order (ours, bare, pika; pika, bare, ours; ...), so that a load
            # that rises or falls through the run does not favour whoever goes first.
            for name, measure in (list(contenders.items()) if turn % 2 == 0 else reversed(contenders.items())):
                fill(url, topology, messages, tick=tick)
                began = time.process_time()  # every thread of this process: the worker's and the waiting one
                tries[name].append(measure())
                cpu[name].append((time.process_time() - began) / messages * 1e6)
        samples = latency_ms(url, topology, latency_messages or min(messages, 200), prefetch, tick=tick)
    finally:
        with config.connect(url) as conn:
            topology.delete(conn)
    spread = {name: Spread.of(values) for name, values in tries.items()}
    # The load on a shared machine changes within seconds; two tries of one round share it.
    rounds = {name: Spread.of([a / b for a, b in zip(tries['ours'], values)])
              for name, values in tries.items() if name != 'ours'}
    median = {name: round(s.median, 1) for name, s in spread.items()}
    ours, bare, pika = (median.get(name) for name in ('ours', 'bare', 'pika'))
    return BenchResult(
        transport=config.transport_of(url), messages=messages, prefetch=prefetch,
        helpers_msgs_per_s=ours, bare_kombu_msgs_per_s=bare,
        ratio_vs_bare=round(ours / bare, 3),
        pika_msgs_per_s=pika,
        ratio_vs_pika=None if pika is None else round(ours / pika, 3),
        latency_ms_p50=round(percentile(samples, 0.50), 3), latency_ms_p99=round(percentile(samples, 0.99), 3),
        repeat=repeat, spreads={name: (round(s.low, 1), round(s.high, 1)) for name, s in spread.items()},
        paired={name: (round(r.median, 3), round(r.low, 3), round(r.high, 3)) for name, r in rounds.items()},
        cpu_us={name: round(statistics.median(values), 2) for name, values in cpu.items()},
        machine=usage.end(),
    )


def main(argv: list[str] | None = None) -> int:
    """Measure the helpers' worker against bare kombu (and pika on amqp://) and print a table or JSON."""
    parser = argparse.ArgumentParser(prog='python -m benchmarks.compare', description=main.__doc__)
    parser.add_argument('--broker', default=None, help='broker URL (default: $BROKER_URL or memory://)')
    parser.add_argument('--messages', type=int, default=10000,
                        help='messages per measurement (default 10000: a drain of 2000 on memory:// lasts 40 ms, '
                             'too short to outlast a busy machine\'s noise)')
    parser.add_argument('--prefetch', type=int, default=100, help='prefetch count for every consumer (default 100)')
    parser.add_argument('--repeat', type=int, default=5,
                        help='measure each rate N times, interleaved, and report the median (default 5)')
    parser.add_argument('--json', action='store_true', help='print one JSON object instead of a table')
    args = parser.parse_args(argv)
    try:
        latency = min(args.messages, 200)
        total = bench_steps(args.broker, args.messages, args.repeat, latency)
        with Bars({'published + handled': (total, ' msg')}) as bars:  # on stderr: --json stays clean
            done = [0]

            def tick(n: int) -> None:
                done[0] += n
                bars.update(**{'published + handled': done[0]})

            result = run_bench(args.broker, args.messages, args.prefetch, latency, repeat=args.repeat, tick=tick)
    except (config.BrokerError, TimeoutError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    print(json.dumps(result.as_dict()) if args.json else result.table())
    return 0


if __name__ == '__main__':
    sys.exit(main())
