"""02_worker's exercise: the solution passes its self-check, wrong answers get ❌, a stuck handler never blocks."""
import contextlib
import io
import threading
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / 'notebooks' / '02_worker.ipynb'


@pytest.fixture
def check_exercise(monkeypatch):
    """The notebook's set-up and self-check cells (found by tag), run on memory://; returns the check."""
    monkeypatch.setenv('BROKER_URL', 'memory://')
    monkeypatch.chdir(NOTEBOOK.parent)
    cells = [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == 'code']
    setup = [c for c in cells if 'from helpers import config' in c.source]
    checks = [c for c in cells if 'self-check' in c.metadata.get('tags', [])]
    assert len(setup) == 1 and len(checks) == 1
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in (*setup, *checks):
            exec(compile(cell.source, NOTEBOOK.name, 'exec'), namespace)
    return namespace


def run_solution(namespace: dict) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile((ROOT / 'helpers' / 'solutions' / 'nb02_worker.py').read_text(), 'nb02_worker.py', 'exec'),
             namespace)
    return out.getvalue()


def test_the_solution_passes(check_exercise):
    assert run_solution(check_exercise).startswith('✅')


@pytest.mark.parametrize('handler', [
    lambda body, delivery: f"transcoded {body['file']}",   # the starter
    lambda body, delivery: None,
    lambda body, delivery: 1 / 0,
    'check_file',
])
def test_wrong_answers_get_a_cross_not_an_exception(check_exercise, handler):
    assert check_exercise['check_exercise'](handler).startswith('❌')


def test_a_stuck_handler_is_one_line_and_the_next_attempt_passes(check_exercise):
    release = threading.Event()
    verdict = check_exercise['check_exercise'](lambda body, delivery: release.wait(30), patience=0.3)
    try:
        assert verdict.startswith('❌ your handler was still busy') and '\n' not in verdict
        assert run_solution(check_exercise).startswith('✅')
    finally:
        release.set()
