"""A learners' copy without solutions: %load's text for a left-out solution, and the answer cells' first line."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
import types
from pathlib import Path

import nbformat
import pytest

from helpers import solutions

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location('handout_tool', ROOT / 'tools' / 'handout.py')
handout_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(handout_tool)
NOTEBOOKS = sorted((ROOT / 'notebooks').glob('[0-9][0-9]_*.ipynb'))


@pytest.fixture
def handed_out(monkeypatch):
    """This checkout seen as a copy handed out without nb99_extra (its real solutions stay)."""
    listed = types.ModuleType('helpers.solutions.handed_out')
    listed.LEFT_OUT = ('nb99_extra',)
    monkeypatch.setitem(sys.modules, 'helpers.solutions.handed_out', listed)


def test_the_course_itself_left_nothing_out():
    assert solutions.left_out() == []
    with pytest.raises(solutions.SolutionMissing, match="no solution called 'nb99_extra'"):
        solutions.nb99_extra  # noqa: B018


def test_a_left_out_solution_loads_as_a_cell_that_says_so(handed_out):
    assert solutions.left_out() == ['nb99_extra']
    text = solutions.nb99_extra
    assert text.startswith(f'# {solutions.WITHOUT}: there is no solutions.nb99_extra to load.\n')
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(text, 'nb99_extra', 'exec'), {})
    assert printed.getvalue().startswith(f'{solutions.WITHOUT}: there is no solutions.nb99_extra to load.')
    assert solutions.nb02_worker == (ROOT / 'helpers' / 'solutions' / 'nb02_worker.py').read_text(encoding='utf-8')
    with pytest.raises(solutions.SolutionMissing):
        solutions.nb98_typo  # noqa: B018


def test_only_solutions_and_the_tests_right_answers_are_left_out():
    assert handout_tool.is_solution('helpers/solutions/nb02_worker.py')
    assert handout_tool.is_solution('tests/exercises/nb02_worker.py')
    assert not handout_tool.is_solution('helpers/solutions/__init__.py')
    assert not handout_tool.is_solution('helpers/solutions/README.md')
    assert not handout_tool.is_solution('tests/browser/fixtures/nb99_learner_fixture.py')


@pytest.mark.parametrize('path', NOTEBOOKS, ids=lambda p: p.stem)
def test_the_copy_changes_the_answer_cells_first_line_and_nothing_else(path):
    text = path.read_text(encoding='utf-8')
    copied = nbformat.reads(handout_tool.without_solutions(text, solutions.available()), as_version=4)
    original = nbformat.reads(text, as_version=4)
    changed = [i for i, (a, b) in enumerate(zip(original.cells, copied.cells)) if a != b]
    answers = [i for i, cell in enumerate(original.cells) if 'answer' in cell.metadata.get('tags', [])]
    assert changed == answers and len(answers) == 1
    [i] = answers
    assert copied.cells[i].source.splitlines()[0] == solutions.ANSWER_LINE
    assert copied.cells[i].source.splitlines()[1:] == original.cells[i].source.splitlines()[1:]
    assert copied.cells[i].outputs == original.cells[i].outputs
