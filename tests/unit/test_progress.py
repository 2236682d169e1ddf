"""Long runs show progress from the start, publishing included, on stderr (helpers.progress, fullrun, demo)."""
import json
import os
import subprocess
import sys
from pathlib import Path

from helpers.fullrun import full_run, scenario
from helpers.topology import MEDIA

ROOT = Path(__file__).resolve().parents[2]


def test_full_run_reports_from_before_the_first_publish_to_the_last_settled_copy():
    calls = []
    run = full_run('memory://', messages=60, workers=2, producers=2, topology=MEDIA.renamed('progress'),
                   progress=lambda *args: calls.append(args))
    expected = sum(len(MEDIA.route(key)) for key, _ in scenario(60))
    assert calls[0] == (0, 0, expected)  # before any producer thread started
    assert calls[-1] == (60, expected, expected)
    published = [call[0] for call in calls]
    settled = [call[1] for call in calls]
    assert published == sorted(published) and settled == sorted(settled)
    assert run.reconciliation.ok


def test_demo_progress_goes_to_stderr_and_starts_at_zero():
    env = {**os.environ, 'BROKER_URL': 'memory://', 'PYTHONPATH': str(ROOT)}
    done = subprocess.run([sys.executable, '-m', 'helpers.demo', '--json', '--messages', '200'], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)  # stdout holds the JSON object and nothing else
    frames = done.stderr.replace('\r', '\n').splitlines()
    published = [line for line in frames if line.startswith('published')]
    assert '0/200' in published[0]  # drawn before publishing began
    assert '200/200' in published[-1]
    assert any(line.startswith('settled') for line in frames)
