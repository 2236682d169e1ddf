"""Static HTML of a notebook shows each view's stored picture with the network off.

nbconvert's HTMLExporter prefers the widget-view mime type; its page then loads the widget manager from a
CDN, so offline every widget area is blank and the views' text/html snapshot is never used.  The course's
jupyter-config/jupyter_nbconvert_config.json puts text/html first, for WidgetsDataTypeFilter only (the
HTML exporters' choice; LaTeX/PDF keep theirs; JupyterLab, Notebook 7 and Colab render the live widget
as before).  Measured here in headless Chromium without a network.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools.guide_commands import bash_blocks, guide

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / 'jupyter-config'
WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'


def views(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    return sum(WIDGET_VIEW in out.get('data', {}) and 'text/html' in out['data']
               for cell in nb.cells for out in cell.get('outputs', []))


def to_html(path: Path, out: Path, config: bool) -> str:
    env = dict(os.environ)
    env.pop('JUPYTER_CONFIG_PATH', None)
    if config:
        env['JUPYTER_CONFIG_PATH'] = str(CONFIG_DIR)
    jupyter = str(Path(sys.executable).with_name('jupyter'))
    subprocess.run([jupyter, 'nbconvert', '--to', 'html', str(path), '--output-dir', str(out.parent),
                    '--output', out.stem], check=True, capture_output=True, env=env, timeout=300)
    return out.read_text(encoding='utf-8')


def guide_command() -> str:
    """The teacher's guide's command that exports a notebook to HTML with the course's setting."""
    [command] = [line for block in bash_blocks(guide()) for line in block if ' nbconvert --to html ' in line]
    return command


GUIDE_NOTEBOOK = Path(guide_command().split()[-1]).stem


def guide_export(repo: Path) -> str:
    """Run the guide's command verbatim in a copy of what it reads (jupyter-config/, the notebook, .venv)."""
    notebook = guide_command().split()[-1]
    shutil.copytree(CONFIG_DIR, repo / 'jupyter-config')
    (repo / notebook).parent.mkdir(parents=True)
    shutil.copy2(ROOT / notebook, repo / notebook)
    (repo / '.venv' / 'bin').mkdir(parents=True)
    shim = repo / '.venv' / 'bin' / 'jupyter'
    shim.write_text(f'#!/bin/sh\nexec {Path(sys.executable).with_name("jupyter")} "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != 'JUPYTER_CONFIG_PATH'}
    subprocess.run(['bash', '-c', guide_command()], cwd=repo, check=True, capture_output=True, env=env, timeout=300)
    return (repo / notebook).with_suffix('.html').read_text(encoding='utf-8')


def shown_offline(page: Path) -> int:
    """How many view pictures Chromium shows with the network off (scripts run, then the DOM is read)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip('no chromium')
    offline = ['unshare', '-n'] if os.geteuid() == 0 and shutil.which('unshare') else []
    args = [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--virtual-time-budget=5000', '--dump-dom',
            page.as_uri()]
    if not offline:  # no network namespace: make every host name fail instead
        args.insert(1, '--host-resolver-rules=MAP * ~NOTFOUND')
    dom = subprocess.run(offline + args, capture_output=True, text=True, timeout=180).stdout
    from bs4 import BeautifulSoup
    soup = BeautifulSoup(dom, 'html.parser')
    assert soup.body is not None, 'chromium gave no DOM'
    for script in soup.find_all('script'):
        script.decompose()
    return len(soup.select('.helpers-snapshot'))


@pytest.mark.parametrize('name', ['03_producer', '04_full_run'])
def test_nbconvert_html_shows_every_view_picture_offline(name, tmp_path):
    path = ROOT / 'notebooks' / f'{name}.ipynb'
    expected = views(path)
    assert expected >= 1
    if name == GUIDE_NOTEBOOK:  # the guide's own command, word for word, where its reader stands
        fixed = guide_export(tmp_path / 'repo')
        (tmp_path / f'{name}-fixed.html').write_text(fixed, encoding='utf-8')
    else:
        fixed = to_html(path, tmp_path / f'{name}-fixed.html', config=True)
    assert f'<script type="{WIDGET_VIEW}">' not in fixed and fixed.count('class="helpers-snapshot"') >= expected
    default = to_html(path, tmp_path / f'{name}-default.html', config=False)
    assert f'<script type="{WIDGET_VIEW}">' in default  # what the setting changes
    assert shown_offline(tmp_path / f'{name}-fixed.html') == expected
    print(name, 'pictures shown offline:', expected)
