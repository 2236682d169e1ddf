"""The course in classic Notebook 6.5 with ipywidgets 7.7 (Colab's versions): 03's and 04's panels clicked for
real, and every notebook's stored outputs readable when opened without running.

Run by ``tools/colab_check.py`` inside its Colab-pinned venv, on copies whose install cell runs (a stand-in
``google.colab`` is imported by the kernel) against a clone of the commit under test.  Anywhere else
(``COLAB_CHECK_DIR`` unset) it skips: the JupyterLab and Notebook 7 tests cover ipywidgets 8.
"""
from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

CHECK_DIR = os.environ.get('COLAB_CHECK_DIR')
if not CHECK_DIR:
    pytest.skip('runs inside tools/colab_check.py (classic Notebook 6.5 and ipywidgets 7.7, as Colab pins them)',
                allow_module_level=True)

from helpers import course_names  # noqa: E402 (the Colab venv has the course once its install cells ran)
from helpers.topology import MEDIA, SEED  # noqa: E402

pytestmark = pytest.mark.browser

def _panel(notebook: str, topology, buttons: tuple[str, ...], free_key: str) -> tuple[str, str, str, str]:
    """(notebook, its first button's key, a queue it reaches besides the audit trail, a key typed into the box)."""
    key = buttons[0]
    return notebook, key, next(q for q in topology.route(key) if q != course_names.AUDIT_QUEUE), free_key


PANELS = [_panel('03_producer.ipynb', SEED, course_names.SEED_BUTTONS, 'audit.login'),
          _panel('04_full_run.ipynb', MEDIA, course_names.MEDIA_BUTTONS, 'user.signup')]
RUN_TIMEOUT = 240  # s: the install cell pip-installs the course from the clone first


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def classic(tmp_path_factory):
    """``jupyter notebook`` 6.5 serving COLAB_CHECK_DIR; yields its base URL and token."""
    import notebook
    assert notebook.__version__.startswith('6.'), f'classic Notebook 6 expected, found {notebook.__version__}'
    base = tmp_path_factory.mktemp('classic')
    token, port = secrets.token_hex(16), _free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(base / 'config'), JUPYTER_RUNTIME_DIR=str(base / 'runtime'),
               IPYTHONDIR=str(base / 'ipython'))
    env.pop('BROKER_URL', None)  # Colab has no broker: memory://
    log = base / 'notebook.log'
    with log.open('wb') as out:
        process = subprocess.Popen(
            [sys.executable, '-m', 'notebook', '--no-browser', '--ip=127.0.0.1', f'--port={port}',
             '--NotebookApp.port_retries=0', f'--NotebookApp.token={token}', f'--notebook-dir={CHECK_DIR}',
             '--allow-root'], env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    url = f'http://127.0.0.1:{port}'
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f'{url}/api/status?token={token}', timeout=2).read()
            break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f'classic Notebook did not start:\n{log.read_text(errors="replace")[-3000:]}')
            time.sleep(0.2)  # polling the server until it answers, bounded by the deadline
    yield url, token
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def classic_page(browser):
    context = browser.new_context(viewport={'width': 1280, 'height': 900})
    page = context.new_page()
    yield page
    context.close()


def _cells_done(page, upto: int, timeout: float) -> None:
    """Wait until code cells [0, upto) show a number in their prompt; fail at once on an error output."""
    page.wait_for_function(
        """(upto) => {
             const cells = Jupyter.notebook.get_cells().slice(0, upto);
             if (document.querySelector('.output_error')) return true;
             return !Jupyter.notebook.kernel_busy && cells.every(
               c => c.cell_type !== 'code' || typeof c.input_prompt_number === 'number');
           }""", arg=upto, timeout=timeout * 1000, polling=200)
    errors = page.locator('.output_error')
    assert not errors.count(), f'a cell raised:\n{errors.first.inner_text()[:2000]}'


def _run_range(page, start: int, end: int, timeout: float = RUN_TIMEOUT) -> None:
    page.evaluate('([a, b]) => Jupyter.notebook.execute_cell_range(a, b)', [start, end])
    _cells_done(page, end, timeout)


@pytest.mark.parametrize(('name', 'key', 'queue', 'free_key'), PANELS)
def test_panel_clicks_in_classic_notebook(classic, classic_page, name, key, queue, free_key):
    """Run every cell, as Run All does (no clean-up cells); real clicks on the panel show in its counter and log."""
    if not (Path(CHECK_DIR) / name).exists():
        pytest.skip(f'{name} was not selected for this run (tools/colab_check.py --notebooks)')
    url, token = classic
    page = classic_page
    page.goto(f'{url}/notebooks/{name}?token={token}')
    page.wait_for_function('() => window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel'
                           ' && Jupyter.notebook.kernel.is_connected()', timeout=60_000, polling=200)
    cells = nbformat.read(str(Path(CHECK_DIR) / name), as_version=4).cells
    started = time.monotonic()
    _run_range(page, 0, len(cells))
    ran = time.monotonic() - started

    publish = page.get_by_role('button', name='Publish', exact=True)
    panel = page.locator('.output_subarea').filter(has=publish).last
    counter = panel.get_by_text(re.compile(rf'^{queue}: \d+ acked'))
    counter.wait_for(timeout=15_000)
    latencies = []
    for _click in range(3):
        acked = int(re.match(rf'{queue}: (\d+) acked', counter.inner_text()).group(1))
        began = time.monotonic()
        panel.get_by_role('button', name=key, exact=True).click()
        panel.get_by_text(f'{queue}: {acked + 1} acked').wait_for(timeout=10_000)
        latencies.append(time.monotonic() - began)
    panel.locator('input[type="text"]').first.fill(free_key)
    publish.last.click()
    panel.get_by_text(re.compile(rf'acked\s+\S+\s+{re.escape(free_key)}')).first.wait_for(timeout=10_000)

    print(f'\n{name} in classic Notebook 6.5 + ipywidgets 7.7: all cells ran in {ran:.0f} s; '
          f'click -> counter: {", ".join(f"{t * 1000:.0f} ms" for t in latencies)}')


def _shown_outputs(outputs: list[dict]) -> int:
    """How many output areas classic Notebook draws: it merges a stream output into the one before of the same name."""
    shown, previous = 0, None
    for output in outputs:
        stream = output.get('name') if output['output_type'] == 'stream' else None
        shown += not (stream and stream == previous)
        previous = stream
    return shown


def _stored_notebooks() -> list[str]:
    return sorted(path.name for path in Path(CHECK_DIR).glob('*.ipynb'))


@pytest.mark.parametrize('name', _stored_notebooks())
def test_stored_outputs_open_as_pictures_not_widget_reprs(classic, classic_page, name):
    """Opened without running (as Colab's preview and GitHub show it), no output reads ``VBox(children=...``."""
    url, token = classic
    page = classic_page
    page.goto(f'{url}/notebooks/{name}?token={token}', wait_until='domcontentloaded')
    page.wait_for_function('() => window.Jupyter && Jupyter.notebook && Jupyter.notebook._fully_loaded',
                           timeout=60_000, polling=200)
    cells = nbformat.read(str(Path(CHECK_DIR) / name), as_version=4).cells
    stored = sum(_shown_outputs(cell.get('outputs', [])) for cell in cells)
    page.wait_for_function('(n) => document.querySelectorAll(".output_subarea").length >= n', arg=stored,
                           timeout=30_000, polling=200)  # every stored output rendered, widget views included
    texts = page.locator('.output_subarea').all_inner_texts()
    reprs = [t.strip()[:80] for t in texts if re.match(r'\s*(VBox|HBox|Box|HTML|Label|Button|Output|Text)\(', t)]
    assert not reprs, f'{name}: {len(reprs)} stored widget outputs show as text: {reprs[:3]}'
