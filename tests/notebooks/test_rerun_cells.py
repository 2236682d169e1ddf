"""Issue 18, "Run All, then play": after Run All, every code cell can be run again, one after the other, with
no error and no traceback (a cell that cannot run again says why). One kernel per notebook and broker
(memory://, and RabbitMQ when AMQP_URL, or the test vhost, answers), as a learner's cells share theirs.

04 has its own, longer test (tests/notebooks/test_04_play.py: each cell again, and interrupted ones).
The answer cell is left out: its starter prints ❌ by design (tests/notebooks/test_exercises.py).
Found before this test existed: 03's serializer cell, run again after Run All, timed out with a
traceback, because the panel's worker (started further down, alive after Run All) took its bodies,
and the worker it left running then took the panel cell's messages too.
"""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from conftest import BROKERS, require_broker
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(path.stem for path in (ROOT / 'notebooks').glob('[0-9][0-9]_*.ipynb')
                   if path.stem != '04_full_run')


def shown(cell) -> str:
    """What a cell showed: its streams and its errors."""
    parts = []
    for out in cell.outputs:
        if out.output_type == 'stream':
            parts.append(out.text)
        elif out.output_type == 'error':
            parts.append(f'{out.ename}: {out.evalue}')
    return ''.join(parts)


@pytest.mark.parametrize('broker', ['memory', 'amqp'])
@pytest.mark.parametrize('name', NOTEBOOKS)
def test_after_run_all_every_cell_runs_again(name, broker):
    url = require_broker(BROKERS[broker])
    nb = nbformat.read(ROOT / 'notebooks' / f'{name}.ipynb', as_version=4)
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == 'code']
    client = NotebookClient(nb, timeout=180, kernel_name='python3',
                            resources={'metadata': {'path': str(ROOT / 'notebooks')}})
    problems = []
    with client.setup_kernel(env={**os.environ, 'BROKER_URL': url}):
        for index in code:  # Run All (the answer cell too, as Run All does)
            client.execute_cell(nb.cells[index], index)
        for index in [i for i in code if 'answer' not in nb.cells[i].metadata.get('tags', [])]:  # each again
            try:
                client.execute_cell(nb.cells[index], index)
            except CellExecutionError as exc:
                problems.append(f'cell {index} ({nb.cells[index].get("id")}): {str(exc).strip().splitlines()[-1]}')
                continue
            text = shown(nb.cells[index])
            if 'Traceback' in text or any(out.output_type == 'error' for out in nb.cells[index].outputs):
                problems.append(f'cell {index} ({nb.cells[index].get("id")}): {text[-300:]}')
    assert not problems, f'{name} on {broker}, run again after Run All:\n' + '\n'.join(problems)
