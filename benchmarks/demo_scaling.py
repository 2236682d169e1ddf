"""Whether the full run's cost per message stays flat as the run grows (issue 11's benchmark).

    python -m benchmarks.demo_scaling [--broker URL] [--sizes 1000,10000,50000] [--repeat 3] [--json]

Runs ``python -m helpers.demo --messages N --json`` in a fresh process for each
size, ``--repeat`` times interleaved, and reports the median of the demo's own
``seconds`` (first publish to last settled copy) and that median per message,
and beside it the median CPU time the demo spent on its full run per message
(every thread of its process), which another process's load changes much less;
it includes starting the workers, which weighs more in a small run.
A fresh process per run keeps one run's log and threads out of the next.
The machine's load is printed beside the figures (``benchmarks.machine``): the
load average at the start and the end, and the CPU other processes took meanwhile.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from .machine import Usage

ROOT = Path(__file__).resolve().parent.parent


def demo_seconds(url: str, messages: int) -> tuple[float, float]:
    """One ``helpers.demo --json`` run's seconds and CPU seconds; RuntimeError if it did not account for all."""
    done = subprocess.run([sys.executable, '-m', 'helpers.demo', '--broker', url, '--messages', str(messages),
                           '--json'], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, 'PYTHONPATH': str(ROOT)})
    report = json.loads(done.stdout)
    if not report.get('ok'):
        raise RuntimeError(f'the demo with {messages} messages failed: {report.get("error") or report}')
    return report['seconds'], report['cpu_seconds']


def main(argv: list[str] | None = None) -> int:
    """Print the median seconds and milliseconds per message of the demo at each size."""
    parser = argparse.ArgumentParser(prog='python -m benchmarks.demo_scaling', description=main.__doc__)
    parser.add_argument('--broker', default='memory://')
    parser.add_argument('--sizes', default='1000,10000,50000', help='comma-separated message counts')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(',')]
    runs: dict[int, list[float]] = {size: [] for size in sizes}
    cpu: dict[int, list[float]] = {size: [] for size in sizes}
    usage = Usage.start()
    for _ in range(args.repeat):
        for size in sizes:
            seconds, cpu_seconds = demo_seconds(args.broker, size)
            runs[size].append(seconds)
            cpu[size].append(cpu_seconds)
    rows = {size: {'runs': seconds, 'median_s': statistics.median(seconds),
                   'ms_per_message': 1000 * statistics.median(seconds) / size,
                   'cpu_ms_per_message': 1000 * statistics.median(cpu[size]) / size} for size, seconds in runs.items()}
    machine = usage.end()
    first, last = rows[sizes[0]]['ms_per_message'], rows[sizes[-1]]['ms_per_message']
    cpu_growth = rows[sizes[-1]]['cpu_ms_per_message'] / rows[sizes[0]]['cpu_ms_per_message']
    if args.json:
        print(json.dumps({'broker': args.broker, 'sizes': rows, 'growth': last / first, 'cpu_growth': cpu_growth,
                          'machine': dataclasses.asdict(machine)}))
    else:
        for size, row in rows.items():
            print(f'{size:>7} messages: median {row["median_s"]:6.2f} s, {row["ms_per_message"]:.3f} ms/message '
                  f'(runs: {", ".join(f"{s:.2f}" for s in row["runs"])}); '
                  f'CPU {row["cpu_ms_per_message"]:.3f} ms/message')
        print(f'ms per message at {sizes[-1]} ÷ at {sizes[0]}: {last / first:.2f} (CPU: {cpu_growth:.2f})')
        print(machine.line())
    return 0


if __name__ == '__main__':
    sys.exit(main())
