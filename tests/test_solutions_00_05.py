"""00_setup and 05_scaling_out: in a fresh kernel on memory://, after the cells above the answer, the starter
prints ❌ with a hint and the loaded solution prints ✅ (what a learner's Run All then %load does)."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from helpers import solutions

ROOT = Path(__file__).resolve().parent.parent


def run_exercise(name: str, answer_source: str | None) -> str:
    """Execute the notebook's cells up to its answer cell, then the answer (stored or given); return its stdout."""
    nb = nbformat.read(ROOT / 'notebooks' / f'{name}.ipynb', as_version=4)
    at = next(i for i, cell in enumerate(nb.cells) if 'answer' in cell.metadata.get('tags', []))
    assert any('self-check' in cell.metadata.get('tags', []) for cell in nb.cells[:at]), 'self-check after answer'
    answer = nb.cells[at]
    assert answer.source.startswith('# Your answer. To see a solution, replace this cell with: '
                                    f'%load solutions.nb{name}')
    if answer_source is not None:
        answer.source = answer_source
    nb.cells = nb.cells[:at + 1]
    NotebookClient(nb, timeout=120, kernel_name='python3',
                   resources={'metadata': {'path': str(ROOT / 'notebooks')}}).execute()
    return ''.join(out.get('text', '') for out in nb.cells[-1].outputs if out.output_type == 'stream')


@pytest.mark.parametrize('name', ['00_setup', '05_scaling_out'])
def test_starter_fails_with_a_hint_and_solution_passes(name, monkeypatch):
    monkeypatch.setenv('BROKER_URL', 'memory://')
    starter = run_exercise(name, None)
    assert starter.startswith('❌') and 'Hint' in starter, starter
    solved = run_exercise(name, getattr(solutions, f'nb{name}'))
    assert solved.startswith('✅'), solved
