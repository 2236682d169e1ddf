"""tools/execute.py: an unchanged notebook re-executed stays byte for byte; variable outputs keep their stored value."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from helpers.views.snapshot import LIVE_CLASS

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location('execute_tool', ROOT / 'tools' / 'execute.py')
execute_tool = sys.modules['execute_tool'] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(execute_tool)

VARIABLE = ['nbval-ignore-output']


def _stream(text: str):
    return new_output('stream', name='stdout', text=text)


def _notebook(timing: str, checked: str = 'routed to 2 queues\n', *, source: str = 'print(seconds)',
              outputs=None, live: str = 'last: video.upload') -> nbformat.NotebookNode:
    """A stored or new run: one checked cell, one timing cell, and the state of one live widget."""
    nb = new_notebook(cells=[
        new_code_cell('print(route)', outputs=[_stream(checked)]),
        new_code_cell(source, outputs=outputs if outputs is not None else [_stream(timing)],
                      metadata={'tags': VARIABLE}),
    ])
    nb.metadata['widgets'] = {execute_tool.WIDGET_STATE: {'state': {'m1': {
        'model_name': 'HTMLModel', 'state': {'value': live, '_dom_classes': [LIVE_CLASS]}}}}}
    return nb


def _timing(nb) -> str:
    return nb.cells[1].outputs[0].get('text', '')


def _live(nb) -> str:
    return execute_tool._widget_state(nb)['m1']['state']['value']


def test_a_timing_keeps_its_stored_value_and_a_live_widget_its_stored_state():
    stored, new = _notebook('took 1.25 s (9,812 per second)\n'), _notebook('took 0.7 s (17,120 per second)\n',
                                                                          live='last: image.upload')
    assert execute_tool.keep_variable(new, stored) == (1, 1)
    assert (_timing(new), _live(new)) == ('took 1.25 s (9,812 per second)\n', 'last: video.upload')


@pytest.mark.parametrize('new', [
    _notebook('took 0.7 minutes\n'),
    _notebook('took 0.7 s (17,120 per second)\n', source='print(seconds, 1)'),
    _notebook('', outputs=[new_output('error', ename='E', evalue='x', traceback=[])]),
    _notebook('', outputs=[_stream('took 0.7 s\n'), new_output('display_data', data={'text/plain': 'x'})]),
], ids=['other words', 'cell edited', 'error', 'other kinds of output'])
def test_a_timing_whose_shape_changed_takes_the_new_output(new):
    expected = [dict(out) for out in new.cells[1].outputs]
    execute_tool.keep_variable(new, _notebook('took 1.25 s (9,812 per second)\n'))
    assert [dict(out) for out in new.cells[1].outputs] == expected


def test_a_live_widget_is_refreshed_when_a_checked_output_changed():
    new = _notebook('took 0.7 s (17,120 per second)\n', checked='routed to 3 queues\n', live='last: image.upload')
    assert execute_tool.keep_variable(new, _notebook('took 1.25 s (9,812 per second)\n')) == (1, 0)
    assert _live(new) == 'last: image.upload'


def test_a_widget_without_the_live_class_is_never_kept():
    stored, new = _notebook('took 1 s\n'), _notebook('took 1 s\n', live='Publish')
    for nb in (stored, new):
        execute_tool._widget_state(nb)['m1']['state']['_dom_classes'] = []
    assert execute_tool.keep_variable(new, stored) == (0, 0)
    assert _live(new) == 'Publish'


def test_the_kernel_s_split_streams_are_joined():
    nb = new_notebook(cells=[new_code_cell('x', outputs=[_stream('a'), _stream('\n'), _stream('b\n')])])
    text = execute_tool.normalise(nb, 'nb')
    assert [out['text'] for out in nbformat.reads(text, as_version=4).cells[0].outputs] == ['a\nb\n']


SMALL = [
    'import time, random\nimport ipywidgets as widgets\nfrom helpers.views.snapshot import LIVE_CLASS',
    "print('same every run')",
    ('import sys\nprint(f"{time.perf_counter():.3f} s", end="")\nsys.stdout.flush()\ntime.sleep(0.05)\n'
     'print(" later")', VARIABLE),
    "log = widgets.HTML(value='nothing yet')\nlog.add_class(LIVE_CLASS)\nlog",
    'log.value = str(random.random())  # as a worker thread would, after the display',
    "widgets.Button(description='fixed')",
]


@pytest.mark.slow
def test_executing_an_unchanged_notebook_twice_leaves_its_bytes_alone(tmp_path):
    cells = [new_code_cell(c) if isinstance(c, str) else new_code_cell(c[0], metadata={'tags': c[1]}) for c in SMALL]
    path = tmp_path / 'small.ipynb'
    nbformat.write(new_notebook(cells=cells), path)
    assert execute_tool.execute(path).startswith('kept the stored output of 0 variable cell(s) and the stored '
                                                 'state of 0 live widget(s)')
    first = path.read_bytes()
    assert execute_tool.execute(path).startswith('kept the stored output of 1 variable cell(s) and the stored '
                                                 'state of 1 live widget(s)')
    assert path.read_bytes() == first
    assert execute_tool.main(['--check', str(path)]) == 0 and path.read_bytes() == first
    nb = nbformat.read(path, as_version=4)
    nb.metadata['widgets'][execute_tool.WIDGET_STATE]['state'] = {
        k: v for k, v in execute_tool._widget_state(nb).items() if v['model_name'] != 'ButtonModel'}
    nbformat.write(nb, path)  # a stored file whose widget state is not what a run gives (nbval cannot see it)
    stale = path.read_bytes()
    with pytest.raises(execute_tool.StaleNotebook, match='a fresh run differs from the stored file'):
        execute_tool.execute(path, check=True)
    assert path.read_bytes() == stale  # --check writes nothing
    execute_tool.execute(path, refresh=True)
    assert path.read_bytes() != first  # --refresh stores the new timing and the new live value
