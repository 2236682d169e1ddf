"""Collecting the tests asks no broker anything: a broker is probed only by a test that needs it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Collects every suite in a fresh interpreter that counts connections (except Unix sockets) and processes.
COLLECT = '''
import json, socket, subprocess, sys
import pytest
seen = []
for name in ('connect', 'connect_ex'):
    real = getattr(socket.socket, name)
    def counted(sock, address, real=real):
        if sock.family != socket.AF_UNIX:
            seen.append(repr(address))
        return real(sock, address)
    setattr(socket.socket, name, counted)
start = subprocess.Popen.__init__
def popen(self, args, *more, **kwargs):
    seen.append(repr(args))
    return start(self, args, *more, **kwargs)
subprocess.Popen.__init__ = popen
code = pytest.main(['tests', '--collect-only', '-q', '-p', 'no:cacheprovider'])
print('SEEN ' + json.dumps(seen))
sys.exit(code)
'''


def test_collecting_every_suite_opens_no_connection_and_starts_no_process():
    env = {**os.environ, 'AMQP_URL': 'amqp://guest:guest@127.0.0.1:1//', 'REDIS_URL': 'redis://127.0.0.1:1/0'}
    done = subprocess.run([sys.executable, '-c', COLLECT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=280)  # a ceiling, under the suite's 300 s: 18 s quiet, over 120 s under CI's load
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert ' tests collected' in done.stdout
    [seen] = [line for line in done.stdout.splitlines() if line.startswith('SEEN ')]
    assert seen == 'SEEN []'
