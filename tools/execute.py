"""Re-execute notebooks in place and normalise what must not churn: python tools/execute.py [NB ...].

Runs each notebook top to bottom in a fresh kernel (working directory ``notebooks/``, ``BROKER_URL``
from the environment; 05 is stored from RabbitMQ, so run it with an ``amqp://`` URL), keeps the
widget state, then makes the file the same on every run of unchanged code: no execution
timestamps, widget model ids numbered in order of appearance, one kernelspec for every notebook.
With no arguments it executes every notebook in ``notebooks/``.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / 'notebooks'
KERNELSPEC = {'display_name': 'Python 3 (ipykernel)', 'language': 'python', 'name': 'python3'}
MODEL_ID = re.compile(r'[0-9a-f]{32}')


def normalise(nb: nbformat.NotebookNode, name: str) -> str:
    """Return the notebook's JSON text with timestamps dropped and widget ids made stable."""
    nb.metadata['kernelspec'] = dict(KERNELSPEC)
    nb.metadata.get('language_info', {}).pop('version', None)
    for cell in nb.cells:
        cell.metadata.pop('execution', None)
    state = nb.metadata.get('widgets', {}).get('application/vnd.jupyter.widget-state+json', {}).get('state', {})
    # Number ids in a stable order: as the outputs show them, then the models those refer to,
    # then any model nothing refers to, by its content.
    views = [out.get('data', {}).get('application/vnd.jupyter.widget-view+json', {}).get('model_id')
             for cell in nb.cells for out in cell.get('outputs', [])]
    widget_ids = set(state) | {v for v in views if v}
    order: list[str] = []
    pending = MODEL_ID.findall(json.dumps([cell.get('outputs', []) for cell in nb.cells], sort_keys=True))
    while pending:
        found = pending.pop(0)
        if found in widget_ids and found not in order:
            order.append(found)
            pending += MODEL_ID.findall(json.dumps(state.get(found, {}), sort_keys=True))
    order += sorted((i for i in state if i not in order), key=lambda i: json.dumps(state[i], sort_keys=True))
    stable = {old: uuid.uuid5(uuid.NAMESPACE_URL, f'{name}#{n}').hex for n, old in enumerate(order)}
    text = MODEL_ID.sub(lambda m: stable.get(m.group(0), m.group(0)), nbformat.writes(nb))
    return nbformat.writes(nbformat.reads(text, as_version=4)) + '\n'


def execute(path: Path, timeout: int = 600) -> None:
    """Execute ``path`` in place and write it back normalised."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name='python3', store_widget_state=True,
                   resources={'metadata': {'path': str(path.parent)}}).execute()
    path.write_text(normalise(nb, path.stem), encoding='utf-8')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('notebooks', nargs='*', type=Path, help='notebooks to execute (default: all)')
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob('[0-9][0-9]_*.ipynb'))
    for path in paths:
        print(f'executing {path.name} ...', flush=True)
        execute(path.resolve())
    return 0


if __name__ == '__main__':
    sys.exit(main())
