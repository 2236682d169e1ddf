"""Re-execute notebooks in place and normalise what must not churn: python tools/execute.py [NB ...].

Runs each notebook top to bottom in a fresh kernel (working directory ``notebooks/``, ``BROKER_URL``
from the environment; 05 is stored from RabbitMQ, so run it with an ``amqp://`` URL), keeps the
widget state, then makes the file the same on every run of unchanged code: no execution
timestamps, stream outputs joined as nbval joins them, widget model ids numbered in order of
appearance, one kernelspec for every notebook.

Some outputs differ on every run however unchanged the code: timings (cells tagged
``nbval-ignore-output``, which assert their invariants in code) and live logs of concurrent events
(widgets with the class ``helpers.views.snapshot.LIVE_CLASS``).  Such an output keeps its stored value
when the new one has the same shape (the same kinds of output, and the same text once numbers are
masked), its cell's source is unchanged and it holds no error; a live widget's state is kept only when
every other output came out as stored.  It says how many it kept.  ``--refresh`` takes every new output as it is.
``--check`` writes nothing and exits 1 when a fresh run would change a file: nbval compares outputs only,
this also compares the widget state the file stores (what static HTML and a page opened as stored show).
With no arguments it executes every notebook in ``notebooks/``.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import uuid
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # README's set-up installs the requirements, not the helpers package
from helpers.views.snapshot import LIVE_CLASS  # noqa: E402
from tools import kernel_retry  # noqa: E402

NOTEBOOKS = ROOT / 'notebooks'
# nbclient waits 4 s by default for a cell's last output after its reply, then stores the cell without it: under
# CI's load (load average 20 on 2 cores) 04's cell 4 was stored with no stdout so.  Wait longer; fail past that.
LATE_OUTPUT = {'iopub_timeout': 60, 'raise_on_iopub_timeout': True}
KERNELSPEC = {'display_name': 'Python 3 (ipykernel)', 'language': 'python', 'name': 'python3'}
MODEL_ID = re.compile(r'[0-9a-f]{32}')
VARIABLE = 'nbval-ignore-output'
WIDGET_STATE = 'application/vnd.jupyter.widget-state+json'
NUMBER = re.compile(r'\s*\d[\d.,]*')


def normalise(nb: nbformat.NotebookNode, name: str) -> str:
    """Return the notebook's JSON text with timestamps dropped, streams joined and widget ids made stable."""
    nb.metadata['kernelspec'] = dict(KERNELSPEC)
    nb.metadata.get('language_info', {}).pop('version', None)
    for cell in nb.cells:
        cell.metadata.pop('execution', None)
        if cell.cell_type == 'code':
            cell.outputs = _join_streams(cell.outputs)
    state = _widget_state(nb)
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


def _join_streams(outputs: list) -> list:
    """Consecutive stream outputs of one stream as one output: how the kernel split them is chance."""
    joined: list = []
    for out in outputs:
        last = joined[-1] if joined else None
        if out.output_type == 'stream' and last is not None and last.output_type == 'stream' \
                and last.name == out.name:
            last.text += out.text
        else:
            joined.append(out)
    return joined


def _widget_state(nb: nbformat.NotebookNode) -> dict:
    return nb.metadata.get('widgets', {}).get(WIDGET_STATE, {}).get('state', {})


def _shape(outputs: list) -> list:
    """What must match for a variable output to keep its stored value: kinds, and text with numbers masked."""
    shape = []
    for out in outputs:
        data = out.get('data', {})
        texts = {mime: NUMBER.sub(' #', ''.join(value) if isinstance(value, list) else str(value))
                 for mime, value in data.items() if not mime.startswith('image/')}
        shape.append((out.output_type, out.get('name'), NUMBER.sub(' #', out.get('text', '')), sorted(data), texts))
    return shape


def keep_variable(new: nbformat.NotebookNode, stored: nbformat.NotebookNode) -> tuple[int, int]:
    """Give ``new`` the stored values of its variable outputs where the rule allows; (cells, widgets) kept."""
    twins: dict[str, list] = {}
    for old in stored.cells:
        if old.cell_type == 'code':
            twins.setdefault(old.source, []).append(old)
    kept_cells, same_elsewhere = 0, True
    for cell in (c for c in new.cells if c.cell_type == 'code'):
        # The stored cell with the same source, if exactly one has it.
        old = twins[cell.source][0] if len(twins.get(cell.source, ())) == 1 else None
        old_outputs = None if old is None else _join_streams(old.outputs)
        if VARIABLE not in cell.metadata.get('tags', []):
            same_elsewhere = same_elsewhere and cell.outputs == old_outputs
        elif old_outputs is not None and cell.outputs != old_outputs \
                and _shape(cell.outputs) == _shape(old_outputs) \
                and not any(out.output_type == 'error' for out in cell.outputs):
            cell.outputs = old_outputs
            kept_cells += 1
    kept_widgets = 0
    if same_elsewhere:
        state, old_state = _widget_state(new), _widget_state(stored)
        for model_id, model in state.items():
            old = old_state.get(model_id)
            if old is not None and old != model and _live(model) and _live(old) \
                    and old.get('model_name') == model.get('model_name') and set(old['state']) == set(model['state']):
                state[model_id] = old
                kept_widgets += 1
    return kept_cells, kept_widgets


def _live(model: dict) -> bool:
    return LIVE_CLASS in model.get('state', {}).get('_dom_classes', ())


def execute(path: Path, timeout: int = 600, refresh: bool = False, check: bool = False) -> str:
    """Execute ``path`` in place and write it back normalised; returns what was kept from the stored file.

    With ``check`` the file is left alone and a StaleNotebook names the first lines that would change."""
    stored = nbformat.read(path, as_version=4)
    nb = nbformat.read(path, as_version=4)
    kernel_retry.execute(NotebookClient(nb, timeout=timeout, kernel_name='python3', **LATE_OUTPUT,
                                        store_widget_state=True, resources={'metadata': {'path': str(path.parent)}}))
    new = nbformat.reads(normalise(nb, path.stem), as_version=4)
    kept = (0, 0) if refresh else keep_variable(new, stored)
    text = nbformat.writes(new) + '\n'
    if check:
        old = path.read_text(encoding='utf-8')
        if text != old:
            changed = list(difflib.unified_diff(old.splitlines(), text.splitlines(), 'stored', 'fresh run', n=1,
                                                lineterm=''))
            raise StaleNotebook(f'{path.name}: a fresh run differs from the stored file '
                                f'({sum(line.startswith("+") for line in changed) - 1} line(s)); the first:\n'
                                + '\n'.join(changed[:30]))
    else:
        path.write_text(text, encoding='utf-8')
    return (f'kept the stored output of {kept[0]} variable cell(s) and the stored state of {kept[1]} live '
            'widget(s) (--refresh takes the new ones)')


class StaleNotebook(Exception):
    """A stored notebook is not what re-executing it gives (``--check``)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('notebooks', nargs='*', type=Path, help='notebooks to execute (default: all)')
    parser.add_argument('--refresh', action='store_true',
                        help='store every new output, timings and live logs included (after changing a helper)')
    parser.add_argument('--check', action='store_true',
                        help='write nothing; exit 1 if a fresh run would change a file (outputs or widget state)')
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob('[0-9][0-9]_*.ipynb'))
    stale = 0
    for path in paths:
        print(f'{"checking" if args.check else "executing"} {path.name} ...', flush=True)
        try:
            print(f'  {execute(path.resolve(), refresh=args.refresh, check=args.check)}', flush=True)
        except StaleNotebook as exc:
            print(f'  STALE: {exc}', flush=True)
            stale += 1
    if args.check:
        print(f'{len(paths) - stale} of {len(paths)} notebooks are as a fresh run stores them'
              + ('' if not stale else ': re-execute the others with tools/execute.py and commit them'))
    return 1 if stale else 0


if __name__ == '__main__':
    sys.exit(main())
