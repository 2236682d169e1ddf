"""The class load script: it reads every learner's report and kills a hung one with its processes.

A real class (learners passing, nothing left on the broker: the script checks that itself) is .ci/run's
`class` job; it is not run a second time here.
"""
from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location('class_load', ROOT / 'tools' / 'class_load.py')
class_load = sys.modules["class_load"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(class_load)

PASSING = '''<testsuites><testsuite name="pytest" tests="2">
<testcase classname="notebooks.02_worker.ipynb" name="Cell 0"/>
<testcase classname="notebooks.02_worker.ipynb" name="Cell 1"/>
</testsuite></testsuites>'''
FAILING = '''<testsuites><testsuite name="pytest" tests="3">
<testcase classname="notebooks.02_worker.ipynb" name="Cell 0"/>
<testcase classname="notebooks.04_full_run.ipynb" name="Cell 7"><failure message="differs"/></testcase>
<testcase classname="notebooks.05_scaling_out.ipynb" name="Cell 2"><error message="boom"/></testcase>
</testsuite></testsuites>'''


@pytest.mark.parametrize('report, code, state, passed, failed, detail', [
    (PASSING, 0, 'pass', 2, 0, ''),
    (FAILING, 1, 'fail', 1, 2, '04_full_run Cell 7; 05_scaling_out Cell 2'),
    (PASSING, 1, 'fail', 2, 0, ''),  # pytest said no, whatever the report says
])
def test_a_learners_report_is_read_cell_by_cell(tmp_path, report, code, state, passed, failed, detail):
    (tmp_path / 'junit.xml').write_text(report)  # what the learner's pytest wrote; the learner exits with code
    outcome = class_load.run_command('class_01', [sys.executable, '-c', f'raise SystemExit({code})'], {}, tmp_path,
                                     timeout=30)
    assert (outcome.state, outcome.passed, outcome.failed, outcome.detail) == (state, passed, failed, detail)


def test_a_learner_without_a_report_crashed_and_says_its_last_line(tmp_path):
    says = "print('starting'); print('ImportError: no module named nbval'); raise SystemExit(4)"
    outcome = class_load.run_command('class_01', [sys.executable, '-c', says], {}, tmp_path, timeout=30)
    assert outcome.state == 'crashed' and 'ImportError' in outcome.detail


HANGS = textwrap.dedent('''
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True)
    open(sys.argv[1], 'w').write(str(child.pid))
    print('cell 3 running', flush=True)
    time.sleep(120)
''')


def test_a_hung_learner_is_killed_with_its_detached_children_and_reported(tmp_path):
    pid_file = tmp_path / 'child.pid'
    # 10 s: the script must have started its child before it counts as hung (over 2 s under CI's load)
    outcome = class_load.run_command('class_01', [sys.executable, '-c', HANGS, str(pid_file)], {}, tmp_path,
                                     timeout=10)
    assert outcome.state == 'hung' and 'cell 3 running' in outcome.detail
    child = int(pid_file.read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_a_learner_that_cannot_start_is_a_finding_not_a_crash_of_the_harness(tmp_path):
    outcome = class_load.run_command('class_01', ['/nonexistent/python'], {}, tmp_path, timeout=5)
    assert outcome.state == 'crashed' and 'FileNotFoundError' in outcome.detail
