"""Every notebook's exercise as a learner meets it, in a fresh kernel on memory://.

The notebook is read with nbformat and its cells are found by tag (``self-check``, ``answer``,
``cleanup``), never by their text. One kernel per notebook runs the cells above the answer cell; then
``%load solutions.nbNN_name`` run there prints ✅ (twice), the stored starter prints ❌ and a hint, and
the near misses listed in CASES print ❌ too. The tests of one notebook share its kernel, in the order
pytest groups them, as a learner's cells share theirs.
"""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from helpers import solutions

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(path.stem for path in (ROOT / 'notebooks').glob('[0-9][0-9]_*.ipynb'))
FIRST_LINE = '# Your answer. To see a solution, replace this cell with: %load solutions.nb{name}'
HINT = {'03_producer': 'It says:'}  # what marks the starter's hint; 'Hint:' elsewhere

# Near misses, each printed in the notebook's kernel after the cells above the answer cell:
# (notebook, expression, what its printed verdict starts with).
NEAR_MISS_BINDINGS = [
    {'thumbnail_queue': '#.upload', 'login_queue': '*.login.#', 'eu_queue': '#.eu'},
    {'thumbnail_queue': '*.upload', 'login_queue': '#.login.#', 'eu_queue': '#.eu'},
    {'thumbnail_queue': '*.upload', 'login_queue': '*.login.#', 'eu_queue': '*.eu'},
    {'thumbnail_queue': '*.upload', 'login_queue': '*.login*', 'eu_queue': '#.eu'},
    {'thumbnail_queue': '*.upload', 'login_queue': None, 'eu_queue': '#.eu'},
    {'thumbnail_queue': '*.upload', 'login_queue': '*.login.#'},
    None,
    ['*.upload', '*.login.#', '#.eu'],
]
CASES = [
    *[('01_topology', f'check_bindings({bindings!r})', '❌') for bindings in NEAR_MISS_BINDINGS],
    ('02_worker', 'check_exercise(lambda body, delivery: f"transcoded {body[\'file\']}")',
     "❌ dead-lettered [], expected ['ex2']"),
    ('02_worker', 'check_exercise(lambda body, delivery: None)', '❌'),
    ('02_worker', 'check_exercise(lambda body, delivery: 1 / 0)', '❌'),
    ('02_worker', "check_exercise('check_file')", '❌ check_exercise needs your handler function'),
    ('04_full_run', 'check_find_lost(lambda topology, log: None)', '❌ find_lost returned None'),
    ('04_full_run', 'check_find_lost(lambda topology, log: 1 / 0)', '❌ find_lost raised ZeroDivisionError'),
    ('04_full_run', "check_find_lost(lambda topology, log: [('image_queue', 'm3'), ('thumbnail_queue', 'm1'), "
                    "('user_queue', 'm2')])", '❌'),
    *[('06_celery', f'check_notify_route({{"exchange": MEDIA.exchange_name, "routing_key": {key!r}}})', '❌')
      for key in ('', 'user.notify.email', 'notify.user', 'user.*')],
]


def tagged(nb, tag: str) -> list[int]:
    """The indices of the cells carrying ``tag``."""
    return [i for i, cell in enumerate(nb.cells) if tag in cell.metadata.get('tags', [])]


def exercise_cells(nb) -> tuple[int, int]:
    """The indices of the one self-check cell and the one answer cell, checked against the conventions."""
    checks, answers = tagged(nb, 'self-check'), tagged(nb, 'answer')
    assert len(checks) == 1 and len(answers) == 1, f'self-check cells {checks}, answer cells {answers}'
    [check], [answer] = checks, answers
    assert check < answer, 'the self-check must come before the answer cell'
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == 'code']
    cleanup = tagged(nb, 'cleanup')
    assert all(i > answer for i in cleanup), 'cleanup cells come after the exercise'
    assert cleanup == code[len(code) - len(cleanup):], 'cleanup cells are the last code cells'
    return check, answer


class ExerciseKernel:
    """A kernel that has run a notebook's cells above its answer cell; runs more code in that place."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nb = nbformat.read(ROOT / 'notebooks' / f'{name}.ipynb', as_version=4)
        _check, answer = exercise_cells(self.nb)
        self.starter = self.nb.cells[answer].source
        self.nb.cells = self.nb.cells[:answer]
        self.replies: list[dict] = []
        self.client = NotebookClient(self.nb, timeout=120, kernel_name='python3',
                                     resources={'metadata': {'path': str(ROOT / 'notebooks')}},
                                     on_cell_executed=lambda **kw: self.replies.append(kw['execute_reply']))
        self.session = self.client.setup_kernel(env={**os.environ, 'BROKER_URL': 'memory://'})

    def __enter__(self) -> ExerciseKernel:
        self.session.__enter__()
        try:
            for index, cell in enumerate(list(self.nb.cells)):
                if cell.cell_type == 'code':
                    self.client.execute_cell(cell, index)
        except BaseException:
            self.session.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.session.__exit__(*exc)

    def run(self, source: str) -> str:
        """Run ``source`` as the next cell (an error fails the test); return what it printed."""
        self.nb.cells.append(nbformat.v4.new_code_cell(source))
        cell = self.client.execute_cell(self.nb.cells[-1], len(self.nb.cells) - 1)
        text = ''.join(out.get('text', '') for out in cell.outputs if out.output_type == 'stream')
        assert 'Traceback' not in text, text
        return ''.join(out.text for out in cell.outputs if out.output_type == 'stream' and out.name == 'stdout')

    def load(self, line: str) -> str:
        """Run the ``%load`` line and return the text IPython puts in the cell in its place."""
        self.run(line)
        [payload] = [p for p in self.replies[-1]['content'].get('payload', []) if p['source'] == 'set_next_input']
        return payload['text']


@pytest.fixture(scope='module', params=NOTEBOOKS)
def kernel(request):
    with ExerciseKernel(request.param) as kernel:
        yield kernel


def test_every_notebook_has_a_solution_and_every_solution_a_notebook():
    assert solutions.available() == [f'nb{name}' for name in NOTEBOOKS]


def test_the_answer_cell_says_how_to_load_the_solution(kernel):
    assert kernel.starter.splitlines()[0] == FIRST_LINE.format(name=kernel.name)


def test_the_loaded_solution_prints_a_tick_twice(kernel):
    text = kernel.load(f'%load solutions.nb{kernel.name}')
    assert text.startswith(f'# %load solutions.nb{kernel.name}\n')
    assert text.endswith(getattr(solutions, f'nb{kernel.name}'))
    for _ in range(2):  # run twice, as a learner might
        out = kernel.run(text)
        assert out.strip().splitlines()[-1].startswith('✅') and '❌' not in out, out


def test_the_stored_starter_prints_a_cross_and_a_hint(kernel):
    out = kernel.run(kernel.starter)
    assert out.startswith('❌') and HINT.get(kernel.name, 'Hint:') in out, out


@pytest.mark.parametrize(('kernel', 'expression', 'verdict'), CASES, indirect=['kernel'], scope='module')
def test_a_near_miss_prints_a_cross(kernel, expression, verdict):
    out = kernel.run(f'print({expression})')
    assert out.startswith(verdict) and out.count('\n') == 1, out


@pytest.mark.parametrize('kernel', ['02_worker'], indirect=True)
def test_a_stuck_handler_gets_one_line_and_the_next_attempt_passes(kernel):
    kernel.run('import threading\nstuck = threading.Event()')
    try:
        out = kernel.run('print(check_exercise(lambda body, delivery: stuck.wait(30), patience=0.3))')
        assert out.startswith('❌ your handler was still busy') and out.count('\n') == 1, out
        out = kernel.run(kernel.load('%load solutions.nb02_worker'))
        assert out.startswith('✅'), out
    finally:
        kernel.run('stuck.set()')
