"""tools/handout.py's learners' copy: no solutions, and ``%load solutions.nb02_worker`` there explains itself.

The copy is made once, as the guide says (``.venv/bin/python tools/handout.py DEST``). A kernel started in
its ``notebooks/`` runs 02's first two code cells (the path set-up and ``from helpers import solutions``),
then the learner's ``%load`` line and the cell it pastes; last, the copy's own exercise tests run in it.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import LATE_OUTPUT
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
WITHOUT = 'This copy of the course was handed out without solutions'
NOTEBOOKS = sorted(path.stem for path in (ROOT / 'notebooks').glob('[0-9][0-9]_*.ipynb'))


@pytest.fixture(scope='module')
def copy(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp('handout') / 'course-for-learners'
    done = subprocess.run([sys.executable, 'tools/handout.py', str(dest)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'without 7 solution files' in done.stdout, done.stdout
    return dest


def test_the_copy_holds_no_solution_and_lists_what_it_left_out(copy):
    left = sorted(p.name for p in (copy / 'helpers' / 'solutions').iterdir())
    assert left == ['README.md', '__init__.py', 'handed_out.py']
    assert not (copy / 'tests' / 'exercises').exists()  # the tests' own right answers
    listed = (copy / 'helpers' / 'solutions' / 'handed_out.py').read_text(encoding='utf-8')
    assert [f"'nb{name}'" for name in NOTEBOOKS] == [line.strip().rstrip(',') for line in listed.splitlines()
                                                     if line.startswith('    ')]


def test_every_answer_cell_of_the_copy_says_there_is_no_solution(copy):
    for name in NOTEBOOKS:
        nb = nbformat.read(copy / 'notebooks' / f'{name}.ipynb', as_version=4)
        [answer] = [c for c in nb.cells if 'answer' in c.metadata.get('tags', [])]
        assert answer.source.splitlines()[0].startswith(f'# Your answer. {WITHOUT}'), (name, answer.source)
        assert '%load' not in answer.source


def test_load_in_the_copy_explains_itself_in_a_kernel(copy):
    nb = nbformat.read(copy / 'notebooks' / '02_worker.ipynb', as_version=4)
    setup = [c for c in nb.cells if c.cell_type == 'code'][:2]
    assert 'from helpers import' in setup[1].source and 'solutions' in setup[1].source
    cells = [*setup, nbformat.v4.new_code_cell('print(solutions.__file__)'),
             nbformat.v4.new_code_cell('%load solutions.nb02_worker')]
    run = nbformat.v4.new_notebook(cells=cells)
    replies = []
    client = NotebookClient(run, timeout=120, kernel_name='python3', **LATE_OUTPUT,
                            resources={'metadata': {'path': str(copy / 'notebooks')}},
                            on_cell_executed=lambda **kw: replies.append(kw['execute_reply']))
    with client.setup_kernel(env={**os.environ, 'BROKER_URL': 'memory://'}):
        for index, cell in enumerate(cells):
            client.execute_cell(cell, index)
        assert cells[2].outputs[0].text.startswith(str(copy)), cells[2].outputs  # the copy's helpers, not ours
        [pasted] = [p['text'] for p in replies[-1]['content'].get('payload', []) if p['source'] == 'set_next_input']
        assert pasted.startswith(f'# %load solutions.nb02_worker\n# {WITHOUT}: there is no solutions.nb02_worker'), \
            pasted
        run.cells.append(nbformat.v4.new_code_cell(pasted))
        client.execute_cell(run.cells[-1], len(run.cells) - 1)
    printed = ''.join(out.get('text', '') for out in run.cells[-1].outputs)
    assert printed.startswith(f'{WITHOUT}: there is no solutions.nb02_worker to load.'), run.cells[-1].outputs
    assert not [out for cell in run.cells for out in cell.outputs if out.output_type == 'error']


def test_the_copys_own_exercise_tests_pass_in_it(copy):
    """The copy's tests/notebooks/test_exercises.py, run in the copy: 00 in a kernel on memory://, and the rest."""
    done = subprocess.run(
        [sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', '-q', 'tests/notebooks/test_exercises.py',
         '-k', '00_setup-memory or every_ or says_how'],
        cwd=copy, capture_output=True, text=True, timeout=600, env={**os.environ, 'BROKER_URL': 'memory://'})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert 'failed' not in done.stdout and ' passed' in done.stdout, done.stdout[-2000:]
