"""03 and 04 after Run All: the starter answer prints ❌ and a hint, the loaded solution ✅ (twice), in a fresh kernel.

Only the cells above the answer cell run first, so a solution that needs a name from below fails here.
"""
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from helpers import solutions

ROOT = Path(__file__).resolve().parents[1]


def tagged(nb, tag: str) -> int:
    [index] = [i for i, cell in enumerate(nb.cells) if tag in cell.metadata.get('tags', [])]
    return index


def text_of(cell) -> str:
    assert not [o for o in cell.outputs if o.output_type == 'error'], cell.outputs
    return ''.join(o.get('text', '') for o in cell.outputs if o.output_type == 'stream')


@pytest.mark.parametrize(('notebook', 'solution'), [('03_producer', 'nb03_producer'),
                                                    ('04_full_run', 'nb04_full_run')])
def test_starter_fails_kindly_and_solution_passes_after_the_cells_above(notebook, solution, monkeypatch):
    monkeypatch.setenv('BROKER_URL', 'memory://')
    nb = nbformat.read(ROOT / 'notebooks' / f'{notebook}.ipynb', as_version=4)
    answer = tagged(nb, 'answer')
    cleanup = min(i for i, cell in enumerate(nb.cells) if 'cleanup' in cell.metadata.get('tags', []))
    assert tagged(nb, 'self-check') < answer < cleanup
    starter = nb.cells[answer]
    # What '%load solutions.nbNN_x' leaves in the cell: the file's text, under the magic commented out.
    loaded = nbformat.v4.new_code_cell(f'# %load solutions.{solution}\n' + getattr(solutions, solution))
    nb.cells = nb.cells[:answer] + [starter, loaded]
    client = NotebookClient(nb, timeout=120, kernel_name='python3',
                            resources={'metadata': {'path': str(ROOT / 'notebooks')}})
    with client.setup_kernel(env={**os.environ, 'BROKER_URL': 'memory://'}):
        for index, cell in enumerate(nb.cells[:-1]):
            if cell.cell_type == 'code':
                client.execute_cell(cell, index)
        assert text_of(starter).startswith('❌'), text_of(starter)
        assert 'Traceback' not in text_of(starter)
        for _ in range(2):  # run twice, as a learner might: ✅ both times
            client.execute_cell(loaded, len(nb.cells) - 1)
            assert text_of(loaded).strip().splitlines()[-1].startswith('✅'), text_of(loaded)
