"""The demo's progress bars, from a real demo process: on stderr, from zero."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
