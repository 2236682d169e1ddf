"""How busy the machine was while a benchmark ran: load average, and the CPU other processes took.

A rate measured on a shared machine depends on what else runs there, so the
benchmarks print this beside their figures.  ``Usage.start()`` reads the
kernel's CPU counters (``/proc/stat``) and this process's own CPU time;
``usage.end()`` reads them again and says what share of the machine's CPUs
this process and all the other processes used in between.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

__all__ = ['Usage', 'UsageReport', 'load_average']

_STAT = '/proc/stat'


def load_average() -> tuple[float, float, float] | None:
    """The machine's load average over 1, 5 and 15 minutes (None where the system does not say)."""
    try:
        return tuple(round(value, 2) for value in os.getloadavg())
    except OSError:
        return None


def _busy_seconds() -> float | None:
    """CPU seconds every process on the machine has used since boot (None without /proc/stat)."""
    try:
        with open(_STAT) as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    # cpu user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
    ticks = [int(value) for value in fields[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf('SC_CLK_TCK')


def _own_seconds() -> float:
    """CPU seconds this process (and the children it waited for) has used."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@dataclass(frozen=True)
class UsageReport:
    """The machine's load over one run: load averages at both ends and CPU shares in between."""

    load_start: tuple[float, float, float] | None
    load_end: tuple[float, float, float] | None
    cpus: int
    seconds: float
    ours_cpu: float            # this process's CPU time ÷ (seconds × cpus)
    others_cpu: float | None   # every other process's CPU time ÷ (seconds × cpus); None without /proc/stat

    def line(self) -> str:
        """One line for a terminal."""
        start, end = (' '.join(f'{v:.2f}' for v in load) if load else 'unknown'
                      for load in (self.load_start, self.load_end))
        text = f'load average (1, 5, 15 min) on {self.cpus} CPUs: {start} at the start, {end} at the end'
        if self.others_cpu is not None:
            text += (f'; over the {self.seconds:.0f} s run other processes used {self.others_cpu:.0%} '
                     f'of the CPUs, this one {self.ours_cpu:.0%}')
        return text


@dataclass(frozen=True)
class Usage:
    """Counters read at the start of a run."""

    load: tuple[float, float, float] | None
    wall: float
    busy: float | None
    own: float

    @classmethod
    def start(cls) -> Usage:
        """Read the counters now."""
        return cls(load_average(), time.monotonic(), _busy_seconds(), _own_seconds())

    def end(self) -> UsageReport:
        """What the machine did since ``start``."""
        cpus = os.cpu_count() or 1
        seconds = max(time.monotonic() - self.wall, 1e-9)
        own = (_own_seconds() - self.own) / (seconds * cpus)
        busy = _busy_seconds()
        # /proc/stat counts in clock ticks (10 ms): over a short busy run the share can read a little over
        # what is left to the others (1.014 was seen); it is clamped to that.
        others = None if busy is None or self.busy is None else \
            min(max(0.0, 1.0 - own), max(0.0, (busy - self.busy) / (seconds * cpus) - own))
        return UsageReport(self.load, load_average(), cpus, round(seconds, 1), round(own, 3),
                           None if others is None else round(others, 3))
