"""The exercise solutions of 00_setup and 01_topology pass the notebooks' own self-checks."""
import contextlib
import io
import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / 'notebooks'


def checker_namespace(notebook: str, checker: str) -> dict:
    """Run the notebook's import, answer and ``checker`` cells; return the names they define."""
    cells = json.loads((NOTEBOOKS / notebook).read_text())['cells']
    sources = [''.join(cell['source']) for cell in cells if cell['cell_type'] == 'code']
    wanted = [src for src in sources if 'from helpers import config' in src]
    wanted += [src for src in sources if src.startswith('MY_')]  # the placeholder answer
    wanted += [src for src in sources if f'def {checker}(' in src]
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for source in wanted:
            exec(compile(source, notebook, 'exec'), namespace)
    assert checker in namespace
    return namespace


@pytest.mark.parametrize(('notebook', 'checker'), [
    ('00_setup.ipynb', 'check_classroom_url'),
    ('01_topology.ipynb', 'check_bindings'),
])
def test_solution_passes_the_self_check(notebook, checker):
    namespace = checker_namespace(notebook, checker)
    solution = NOTEBOOKS.parent / 'helpers' / 'solutions' / ('nb' + notebook.replace('.ipynb', '.py'))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(solution.read_text(), str(solution), 'exec'), namespace)
    assert out.getvalue().startswith('✅'), out.getvalue()


@pytest.mark.parametrize('bindings', [
    {'thumbnail_queue': '#.upload', 'login_queue': '*.login.#', 'eu_queue': '#.eu'},
    {'thumbnail_queue': '*.upload', 'login_queue': '#.login.#', 'eu_queue': '#.eu'},
    {'thumbnail_queue': '*.upload', 'login_queue': '*.login.#', 'eu_queue': '*.eu'},
    {'thumbnail_queue': '*.upload', 'login_queue': '*.login*', 'eu_queue': '#.eu'},
    {'thumbnail_queue': '*.upload', 'login_queue': None, 'eu_queue': '#.eu'},
    {'thumbnail_queue': '*.upload', 'login_queue': '*.login.#'},
    None,
    ['*.upload', '*.login.#', '#.eu'],
])
def test_near_misses_fail_the_01_self_check(bindings):
    check = checker_namespace('01_topology.ipynb', 'check_bindings')['check_bindings']
    assert check(bindings).startswith('❌')
