"""python -m benchmarks.compare: runs small and emits its contract (no timing assertions)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.compare import run_bench

ROOT = Path(__file__).resolve().parents[2]
KEYS = {'transport', 'messages', 'helpers_msgs_per_s', 'bare_kombu_msgs_per_s', 'ratio_vs_bare',
        'pika_msgs_per_s', 'ratio_vs_pika', 'latency_ms_p50', 'latency_ms_p99'}


def test_bench_cli_json_contract():
    env = {**os.environ, 'BROKER_URL': 'memory://', 'PYTHONPATH': str(ROOT)}
    done = subprocess.run([sys.executable, '-m', 'benchmarks.compare', '--json', '--messages', '30'], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert KEYS <= set(result)
    assert result['transport'] == 'memory' and result['messages'] == 30
    assert result['pika_msgs_per_s'] is None and result['ratio_vs_pika'] is None
    for key in ('helpers_msgs_per_s', 'bare_kombu_msgs_per_s', 'ratio_vs_bare', 'latency_ms_p50'):
        assert result[key] > 0, key
    assert result['ratio_vs_bare'] == round(result['helpers_msgs_per_s'] / result['bare_kombu_msgs_per_s'], 3)


@pytest.mark.broker
def test_bench_runs_on_every_broker(broker_url):
    result = run_bench(broker_url, messages=20, latency_messages=5).as_dict()
    assert KEYS <= set(result)
    measured_pika = result['pika_msgs_per_s'] is not None
    assert measured_pika == (result['transport'] == 'amqp')
    assert (result['ratio_vs_pika'] is not None) == measured_pika
    assert result['helpers_msgs_per_s'] > 0 and result['bare_kombu_msgs_per_s'] > 0


def test_bench_cli_shows_progress_on_stderr_from_the_first_message():
    env = {**os.environ, 'BROKER_URL': 'memory://', 'PYTHONPATH': str(ROOT)}
    done = subprocess.run([sys.executable, '-m', 'benchmarks.compare', '--json', '--messages', '30', '--repeat', '2'],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)  # stdout holds only the JSON object
    frames = [line for line in done.stderr.replace('\r', '\n').splitlines() if line.startswith('published')]
    total = 2 * 30 * 2 * 2 + 30  # (fill + drain) x messages x tries x contenders, then the latency messages
    assert f' 0/{total} ' in frames[0]  # drawn before the first message was published
    assert f'{total}/{total}' in frames[-1]
