"""A class, measured: K learners at once run notebooks 02 → 05 under nbval strict on one RabbitMQ.

    python tools/class_load.py --learners 20 --mode namespaces   # one shared vhost, LAB_NAMESPACE each
    python tools/class_load.py --learners 20 --mode vhosts       # a vhost and a user per learner

Each learner is its own pytest process with kernels of its own that talk over IPC sockets beside
their own connection files (tools/class_load_kernels.py), so kernels never collide on ports.  A
learner that does not finish within ``--timeout`` is killed with all its processes and reported as
hung.  A learner that fails is a finding, not a crash: the script reports pass/fail per learner,
time per learner against a solo run, the peak number of connections and the broker's memory (from
the management API, else rabbitmqctl), then removes every vhost, user and queue it made, and checks that
no vhost with its prefix is left.
Exit status: 0 when every learner passed and nothing was left, 1 when one failed or hung or a vhost was
left, 2 when the class could not start.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from teacher import classroom  # noqa: E402
from teacher.rabbitadmin import AdminError, admin_client  # noqa: E402

NOTEBOOKS = ('02_worker', '03_producer', '04_full_run', '05_scaling_out')


@dataclass
class Outcome:
    """How one learner's run ended."""

    name: str
    state: str  # 'pass', 'fail', 'hung' or 'crashed'
    seconds: float
    passed: int = 0
    failed: int = 0
    detail: str = ''


@dataclass
class Peaks:
    """The broker's busiest moment while the class ran."""

    connections: int = 0
    memory_bytes: int = 0
    samples: int = 0
    sample_errors: int = 0
    load: list = field(default_factory=list)


def run_learner(learner: classroom.Learner, folder: Path, notebooks: list[str], timeout: float) -> Outcome:
    """One learner: nbval strict over ``notebooks`` in a process tree of its own; never raises."""
    kernels = folder / 'k'
    kernels.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, 'BROKER_URL': learner.url, 'CLASSLOAD_KERNEL_DIR': str(kernels),
           'PYTHONPATH': os.pathsep.join(filter(None, [str(ROOT / 'tools'), os.environ.get('PYTHONPATH')]))}
    env.pop('LAB_NAMESPACE', None)
    if learner.namespace:
        env['LAB_NAMESPACE'] = learner.namespace
    junit = folder / 'junit.xml'
    command = [sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', '-p', 'class_load_kernels',
               '-p', 'tools.kernel_retry', '--nbval',
               *[f'notebooks/{nb}.ipynb' for nb in notebooks], '--nbval-current-env',
               '--nbval-sanitize-with', 'tests/nbval_sanitize.cfg', '--nbval-cell-timeout', '180',
               '-o', 'testpaths=notebooks', '-q', f'--junitxml={junit}']
    return run_command(learner.name, command, env, folder, timeout)


def run_command(name: str, command: list[str], env: dict, folder: Path, timeout: float) -> Outcome:
    """Run a learner's pytest with a deadline, killing its whole process tree if it hangs; never raises."""
    start = time.monotonic()
    try:
        with open(folder / 'pytest.log', 'w') as out:
            proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill_tree(proc.pid)
                return Outcome(name, 'hung', time.monotonic() - start,
                               detail=f'not done after {timeout:g} s; killed its processes ({_last_test(folder)})')
        return _outcome(name, time.monotonic() - start, proc.returncode, folder / 'junit.xml', folder)
    except Exception as exc:  # the harness reports; it does not stop the class
        return Outcome(name, 'crashed', time.monotonic() - start, detail=f'{type(exc).__name__}: {exc}')


def _kill_tree(pid: int) -> None:
    """Kill a learner's pytest and every process under it (kernels and 05's workers run in sessions of their own)."""
    try:
        family = {psutil.Process(pid)}
    except psutil.NoSuchProcess:
        return
    while True:  # stop the tree first, top down, until no new process appears: a running one could start another
        for process in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.suspend()
        found = set(family)
        for process in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                found.update(process.children(recursive=True))
        if found == family:
            break
        family = found
    for process in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(family, timeout=10)


def _last_test(folder: Path) -> str:
    lines = [line for line in (folder / 'pytest.log').read_text(errors='replace').splitlines() if line.strip()]
    return lines[-1][:120] if lines else 'no output'


def _outcome(name: str, seconds: float, code: int, junit: Path, folder: Path) -> Outcome:
    try:
        suite = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return Outcome(name, 'crashed', seconds, detail=f'pytest exited {code} without a report: {_last_test(folder)}')
    suite = suite if suite.tag == 'testsuite' else suite.find('testsuite')
    failing = [case for case in suite.iter('testcase')
               if case.find('failure') is not None or case.find('error') is not None]
    total = len(list(suite.iter('testcase')))
    detail = '; '.join(f'{_notebook(case.get("classname", ""))} {case.get("name")}' for case in failing[:3])
    state = 'pass' if code == 0 and not failing and total else 'fail'
    return Outcome(name, state, seconds, total - len(failing), len(failing), detail)


def _notebook(classname: str) -> str:
    """'notebooks.03_producer.ipynb' (how nbval names a cell's notebook) -> '03_producer'."""
    return classname.removeprefix('notebooks.').removesuffix('.ipynb')


def _sample(admin, vhosts: set[str], peaks: Peaks, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        try:
            connections = sum(1 for c in admin.connections() if c['vhost'] in vhosts)
            memory = admin.memory_bytes()
        except Exception:  # a busy broker may not answer one sample; count it and go on
            peaks.sample_errors += 1
            continue
        peaks.samples += 1
        peaks.connections = max(peaks.connections, connections)
        peaks.memory_bytes = max(peaks.memory_bytes, memory)
        peaks.load.append(os.getloadavg()[0])


def class_places(admin, mode: str, count: int, prefix: str, host: str, port: int) -> list[classroom.Learner]:
    """Create the class's vhosts and users (and, for namespaces, the shared vhost the guest user uses)."""
    if mode == 'namespaces':
        shared = f'{prefix}shared'
        admin.add_vhost(shared)
        admin.set_permissions(shared, 'guest')
        return classroom.plan(count, mode, prefix=prefix, url=f'amqp://guest:guest@{host}:{port}/{shared}')
    learners = classroom.plan(count, mode, prefix=prefix, host=host, port=port)
    classroom.create(admin, learners)
    return learners


def remove_places(admin, learners: list[classroom.Learner]) -> None:
    classroom.remove(admin, learners)
    for vhost in {learner.vhost for learner in learners if learner.namespace}:
        admin.delete_vhost(vhost)


def run_class(admin, mode: str, count: int, notebooks: list[str], timeout: float, prefix: str, host: str,
              port: int, workdir: Path) -> tuple[list[Outcome], Peaks, float]:
    """Run ``count`` learners at once; return their outcomes, the broker's peaks and the wall time."""
    learners = class_places(admin, mode, count, prefix, host, port)
    peaks, stop = Peaks(), threading.Event()
    sampler = threading.Thread(target=_sample, args=(admin, {learner.vhost for learner in learners}, peaks, stop),
                               daemon=True)
    start = time.monotonic()
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=count) as pool:
            outcomes = list(pool.map(lambda learner: run_learner(learner, workdir / learner.name, notebooks,
                                                                 timeout), learners))
    finally:
        stop.set()
        sampler.join()
        remove_places(admin, learners)
    return outcomes, peaks, time.monotonic() - start


def report(mode: str, outcomes: list[Outcome], peaks: Peaks, wall: float, solo: float | None,
           memory_before: int) -> str:
    passed = sum(o.state == 'pass' for o in outcomes)
    times = [o.seconds for o in outcomes]
    lines = [f'== {mode}: {passed}/{len(outcomes)} learners passed; wall {wall:.0f} s; '
             f'per learner median {statistics.median(times):.0f} s, max {max(times):.0f} s'
             + (f' (solo {solo:.1f} s: x{statistics.median(times) / solo:.1f})' if solo else '')]
    lines.append(f'   peak connections {peaks.connections}; broker memory {memory_before / 2**20:.0f} MiB before, '
                 f'peak {peaks.memory_bytes / 2**20:.0f} MiB ({peaks.samples} samples, '
                 f'{peaks.sample_errors} unanswered); load average peak '
                 f'{max(peaks.load, default=0):.1f} on {os.cpu_count()} cores')
    for o in outcomes:
        lines.append(f'   {o.name:<14} {o.state:<7} {o.seconds:6.1f} s  {o.passed} cells passed, {o.failed} failed'
                     + (f'  {o.detail}' if o.detail else ''))
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python tools/class_load.py', description=__doc__.splitlines()[0])
    parser.add_argument('--learners', type=int, default=4)
    parser.add_argument('--mode', choices=['namespaces', 'vhosts', 'both'], default='both')
    parser.add_argument('--notebooks', default=','.join(NOTEBOOKS), help='comma-separated, without .ipynb')
    parser.add_argument('--timeout', type=float, default=900, help='seconds before a learner counts as hung')
    parser.add_argument('--solo', action=argparse.BooleanOptionalAction, default=True,
                        help='first time one learner alone (default: yes)')
    parser.add_argument('--prefix', default='class_load', help='names of the vhosts, users and namespaces')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=5672)
    parser.add_argument('--json', default=None, help='also write the results to this file')
    args = parser.parse_args(argv)
    notebooks = args.notebooks.split(',')
    workdir = Path(tempfile.mkdtemp(prefix='krl-class-'))
    results: dict = {'learners': args.learners, 'notebooks': notebooks, 'cores': os.cpu_count(),
                     'load_before': os.getloadavg()[0], 'runs': []}
    try:
        admin = admin_client()
        memory_before = admin.memory_bytes()
        solo = None
        if args.solo:
            [alone], _, _ = run_class(admin, 'namespaces', 1, notebooks, args.timeout, f'{args.prefix}_solo',
                                      args.host, args.port, workdir / 'solo')
            print(f'== solo: {alone.state} in {alone.seconds:.1f} s' + (f'  {alone.detail}' if alone.detail else ''),
                  flush=True)
            solo = alone.seconds if alone.state == 'pass' else None
            results['solo'] = asdict(alone)
        modes = ['namespaces', 'vhosts'] if args.mode == 'both' else [args.mode]
        for mode in modes:
            outcomes, peaks, wall = run_class(admin, mode, args.learners, notebooks, args.timeout,
                                              f'{args.prefix}_', args.host, args.port, workdir / mode)
            print(report(mode, outcomes, peaks, wall, solo, memory_before), flush=True)
            results['runs'].append({'mode': mode, 'wall': wall, 'peaks': asdict(peaks),
                                    'memory_before': memory_before, 'outcomes': [asdict(o) for o in outcomes]})
        left = [v for v in admin.vhosts() if v.startswith(args.prefix)]
        results['left_behind'] = left
    except (AdminError, ValueError) as exc:
        print(f'error: the class could not start: {exc}', file=sys.stderr)
        return 2
    finally:
        if args.json:  # what there is, also when the class could not start
            Path(args.json).write_text(json.dumps(results, indent=1) + '\n')
    everyone = [o for run in results['runs'] for o in run['outcomes']]
    if left:
        print(f'left behind on the broker: the vhosts {", ".join(sorted(left))}')
    ok = bool(everyone) and all(o['state'] == 'pass' for o in everyone) and not left
    if ok:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f'the learners\' pytest logs are in {workdir}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
