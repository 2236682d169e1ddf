"""python -m helpers.demo --json: one JSON object whose counts add up, nothing lost."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from helpers.course_names import AUDIT_QUEUE, VIDEO_QUEUE
from helpers.topology import MEDIA

ROOT = Path(__file__).resolve().parents[2]
KEYS = {'published', 'delivered', 'acked', 'dead_lettered', 'duplicates', 'lost', 'seconds', 'queues', 'causes'}


def run_demo(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, 'BROKER_URL': 'memory://', 'PYTHONPATH': str(ROOT)}
    return subprocess.run([sys.executable, '-m', 'helpers.demo', *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_demo_json_contract():
    started = time.monotonic()
    done = run_demo('--json', '--messages', '50')
    wall = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # the whole of stdout is one JSON object
    assert KEYS <= set(report)
    assert report['published'] == 50 and report['lost'] == 0 and report['duplicates'] == 0
    assert sorted(report['queues']) == MEDIA.queue_names
    assert report['queues'][AUDIT_QUEUE]['delivered'] == 50  # '#' receives everything
    assert report['acked'] + report['dead_lettered'] + report['quarantined'] == report['expected']
    # the full run's seconds, from its first publish to its last settled copy: more than nothing, and
    # less than the whole process took (which also started Python and ran the seed's scenario)
    assert 0 < report['seconds'] < wall
    assert 0 < report['cpu_seconds']  # the CPU the process spent on the full run, every thread's


def test_demo_text_ends_in_the_reconciliation():
    done = run_demo('--messages', '20', '--workers', '2')
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f'video.upload  → {AUDIT_QUEUE}, {VIDEO_QUEUE}' in lines
    assert any(line.startswith('total') for line in lines)
    assert lines[-1] == '✅ every message accounted for'
