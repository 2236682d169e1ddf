"""The shared fixtures contain a failed test's damage: what it left running cannot reach the next test."""
from __future__ import annotations

from pathlib import Path

from helpers.worker import running_workers

pytest_plugins = ['pytester']

CONFTEST = Path(__file__).resolve().parents[1] / 'conftest.py'

ABANDONS_A_WORKER = '''
from helpers.course_names import VIDEO_QUEUE
from helpers.worker import Worker

def test_forgets_to_stop_its_worker():
    Worker('memory://', queues=[VIDEO_QUEUE], name='abandoned').start()
'''


def test_a_worker_left_running_is_stopped_and_the_test_fails(pytester):
    """On redis:// such a worker would take the next tests' messages from queues of the same name."""
    pytester.makeconftest(CONFTEST.read_text(encoding='utf-8'))
    pytester.makepyfile(ABANDONS_A_WORKER)
    try:
        result = pytester.runpytest_inprocess('-p', 'no:cacheprovider')
        left = [w.name for w in running_workers()]
    finally:
        for worker in running_workers():
            if worker.name == 'abandoned':
                worker.stop()
    result.assert_outcomes(passed=1, errors=1)
    assert "threads left running after the test: ['helpers-worker-abandoned']" in result.stdout.str()
    assert 'abandoned' not in left, 'the abandoned worker still runs after its test ended'
