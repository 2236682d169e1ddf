"""Fixtures for the browser tests: one Chromium per session, a Jupyter server per app, a page per server.

``lab`` is a JupyterLab server (kernels on memory://) and ``page`` its page, kept from test to test as a
learner keeps the tab open (each test's documents closed after it, a new page after a failure); ``lab_amqp``
and ``amqp_page`` the same with the kernels on RabbitMQ; ``notebook7`` is a Notebook 7
(``jupyter notebook``) server and ``notebook7_page`` a page for that. Both servers are started by
``start_server(app, ...)`` on their own copy of the course (stored outputs included: a test clears
them in the browser after checking them) with their own Jupyter directories.  ``dark_page`` is a
page of the JupyterLab server in JupyterLab Dark (set in the server's settings file).

JupyterLab's kernels run with ``HELPERS_DROP_THREAD_SENDS=1``: a start-up file (tests/colab_sends.py)
makes their widgets drop updates sent from worker threads, as Colab's front end ignores them, so every
JupyterLab test proves that the views' front-end ticks alone keep them live.  Notebook 7's kernels send as usual.

When a page's test ends, its kernels are shut down and nothing they started may be left: no process of
their families, no RabbitMQ connection of theirs (tests/kernel_leftovers.py).

Chromium is Debian's (``/usr/bin/chromium``, or ``$CHROMIUM``); Playwright never downloads one.
Missing Chromium or Playwright skips these tests locally and fails them under ``CI=true``.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from kernel_leftovers import snapshot

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / 'fixtures'
IN_CI = os.environ.get('CI', '').lower() in ('1', 'true', 'yes')
CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync']
VIEWPORT = {'width': 1280, 'height': 900}

# JupyterLab user settings for the test servers (Notebook 7 reads the same ones): no news/update
# pop-ups, no extension manager (it would query PyPI), every cell kept in the DOM so prompts and
# screenshots see them all, and no blank space after the last cell.
LAB_SETTINGS = {
    '@jupyterlab/apputils-extension/notification.jupyterlab-settings':
        {'fetchNews': 'false', 'checkForUpdates': False},
    '@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings': {'enabled': False},
    '@jupyterlab/notebook-extension/tracker.jupyterlab-settings': {'windowingMode': 'none', 'scrollPastEnd': False},
}


def unavailable(reason: str) -> None:
    """Skip with ``reason`` on a developer's machine; fail under CI=true, where the test must run."""
    if IN_CI:
        pytest.fail(f'CI=true and the browser test cannot run: {reason}')
    pytest.skip(reason)


# the Jupyter apps a test can drive: the name ``start_server`` takes -> the module it runs
APPS = {'lab': 'jupyterlab', 'notebook': 'notebook'}


@dataclass
class Lab:
    """A running Jupyter server (``app`` 'lab' or 'notebook') on a copy of the course.

    Its root holds notebooks/, helpers/ and fixtures/.
    """

    url: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen = field(repr=False)
    app: str = 'lab'
    settings: Path = Path()
    broker_url: str = 'memory://'  # the BROKER_URL its kernels get

    def api(self, method: str, endpoint: str, timeout: float = 10) -> object:
        """Call the server's REST API; returns the decoded JSON (or None)."""
        request = urllib.request.Request(f'{self.url}/api/{endpoint}', method=method,
                                         headers={'Authorization': f'token {self.token}'})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def code_cells(self, path: str) -> int:
        """How many code cells the notebook file at ``path`` has."""
        return sum(cell.cell_type == 'code' for cell in nbformat.read(self.root / path, as_version=4).cells)

    def tagged(self, path: str, tag: str) -> list[int]:
        """The indices, among its code cells, of the notebook's code cells tagged ``tag``."""
        code = [cell for cell in nbformat.read(self.root / path, as_version=4).cells if cell.cell_type == 'code']
        return [i for i, cell in enumerate(code) if tag in cell.metadata.get('tags', [])]

    def shutdown_kernels(self, timeout: float = 15) -> None:
        """End every session and kernel (and so every worker thread a notebook started)."""
        for session in self.api('GET', 'sessions'):
            self.api('DELETE', f'sessions/{session["id"]}')
        deadline = time.monotonic() + timeout
        while self.api('GET', 'kernels'):
            if time.monotonic() > deadline:
                raise AssertionError(f'kernels still running {timeout:.0f} s after shutdown')
            time.sleep(0.1)  # polling the REST API, bounded by the deadline

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding='utf-8', errors='replace') if self.log.exists() else ''
        return '\n'.join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _copy_course(root: Path) -> None:
    ignore = shutil.ignore_patterns('.ipynb_checkpoints', '__pycache__', '*.pyc')
    root.mkdir()
    for name in ('notebooks', 'helpers', 'teacher'):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, root / name, ignore=ignore)
    (root / 'notebooks').mkdir(exist_ok=True)
    shutil.copytree(FIXTURES, root / 'fixtures', ignore=ignore)


NBGRADER_SERVER_EXTENSIONS = ('assignment_list', 'course_list', 'formgrader', 'validate_assignment')


def theme_settings(lab: Lab) -> Path:
    """The JupyterLab settings file that chooses the theme (read again by each new page)."""
    return lab.settings / '@jupyterlab/apputils-extension/themes.jupyterlab-settings'


def _environment(base: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    dirs = {
        'JUPYTER_CONFIG_DIR': base / 'config', 'JUPYTER_DATA_DIR': base / 'data',
        'JUPYTER_RUNTIME_DIR': base / 'runtime', 'JUPYTERLAB_SETTINGS_DIR': base / 'settings',
        'JUPYTERLAB_WORKSPACES_DIR': base / 'workspaces', 'IPYTHONDIR': base / 'ipython',
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    startup = dirs['IPYTHONDIR'] / 'profile_default' / 'startup'  # kernels drop thread sends if asked (as Colab)
    startup.mkdir(parents=True, exist_ok=True)
    (startup / '00-colab-sends.py').write_text(
        f'import sys\nsys.path.insert(0, {str(ROOT / "tests")!r})\nimport colab_sends\ncolab_sends.install()\n'
        f'sys.path.remove({str(ROOT / "tests")!r})\n', encoding='utf-8')
    # A learner's set-up (requirements.txt) has no nbgrader; the teacher's file puts its server extensions into
    # every server of this venv, and importing them took 20 s of a start under CI's load.  Off, as learners have it.
    (dirs['JUPYTER_CONFIG_DIR'] / 'jupyter_server_config.json').write_text(json.dumps({'ServerApp': {
        'jpserver_extensions': {f'nbgrader.server_extensions.{name}': False for name in NBGRADER_SERVER_EXTENSIONS}}}))
    for relative, settings in LAB_SETTINGS.items():
        target = dirs['JUPYTERLAB_SETTINGS_DIR'] / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(settings), encoding='utf-8')
    env.setdefault('BROKER_URL', 'memory://')
    env['PATH'] = f'{Path(sys.executable).parent}{os.pathsep}{env.get("PATH", "")}'
    env.pop('JUPYTER_TOKEN', None)
    env.update(extra or {})
    return env


def _launch(app: str, base: Path, root: Path, env: dict[str, str], timeout: float = 180) -> Lab:
    """Start ``jupyter <app>`` once (token, loopback, a free port) and wait until /api/status answers (a
    ceiling: a few seconds on idle cores; over 60 s once under a load average of 20 on 2 cores)."""
    token = secrets.token_hex(16)
    port = _free_port()
    log = base / f'jupyter-{app}-{port}.log'
    command = [sys.executable, '-m', APPS[app], '--no-browser', '--ip=127.0.0.1', f'--port={port}',
               '--ServerApp.port_retries=0', f'--IdentityProvider.token={token}',
               f'--ServerApp.root_dir={root}', '--ServerApp.terminals_enabled=False', '--allow-root']
    if app == 'lab':  # window.jupyterapp: the harness opens each test's notebook in the page's JupyterLab
        command.append('--LabApp.expose_app_in_browser=True')
    with log.open('wb') as out:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    lab = Lab(f'http://127.0.0.1:{port}', token, root, log, process, app, Path(env['JUPYTERLAB_SETTINGS_DIR']),
              env['BROKER_URL'])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f'jupyter {app} exited with {process.returncode}:\n{lab.log_tail()}')
        try:
            lab.api('GET', 'status', timeout=2)
            return lab
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)  # polling the server until it answers, bounded by the deadline
    stop_server(lab)
    raise RuntimeError(f'jupyter {app} did not answer /api/status in {timeout:.0f} s:\n{lab.log_tail()}')


def start_server(app: str, base: Path, extra_env: dict[str, str] | None = None) -> Lab:
    """``jupyter <app>`` ('lab' or 'notebook') on a fresh copy of the course under ``base``.

    Isolated JUPYTER_* directories, BROKER_URL=memory:// unless set; fails the test if it
    does not start in three attempts (the free port can be taken between choosing and binding it).
    """
    if app not in APPS:
        raise ValueError(f'unknown Jupyter app {app!r}; use one of {sorted(APPS)}')
    root = base / 'root'
    _copy_course(root)
    env = _environment(base, extra_env)
    errors = []
    for _attempt in range(3):
        try:
            return _launch(app, base, root, env)
        except RuntimeError as exc:
            errors.append(str(exc))
    pytest.fail(f'jupyter {app} did not start:\n' + '\n---\n'.join(errors))


def stop_server(lab: Lab) -> None:
    """Ask the server to shut down (it ends its kernels), then make sure its process group is gone."""
    if lab.process.poll() is None:
        try:
            lab.api('POST', 'shutdown', timeout=5)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        try:
            lab.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(lab.process.pid, sig)  # the group we created: the server and its kernels
        except ProcessLookupError:
            break
        try:
            lab.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope='session')
def browser():
    """Headless Debian Chromium driven by Playwright (skips locally, fails under CI=true, if missing)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable(f'Playwright is not installed ({exc}); pip install -r requirements-dev.txt')
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f'no Chromium at {CHROMIUM}; apt-get install chromium (or set $CHROMIUM)')
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Exception as exc:
        playwright.stop()
        unavailable(f'Chromium at {CHROMIUM} did not start: {str(exc).splitlines()[0]}')
    yield chromium
    _KEPT.clear()  # closed with the browser
    chromium.close()
    playwright.stop()


@pytest.fixture(scope='session')
def lab(tmp_path_factory, browser):
    """JupyterLab on a copy of notebooks/, helpers/ and the browser fixtures; stopped at the end."""
    server = start_server('lab', tmp_path_factory.mktemp('jupyterlab'),
                          {'HELPERS_DROP_THREAD_SENDS': '1', 'BROKER_URL': 'memory://'})
    yield server
    stop_server(server)


@pytest.fixture(scope='session')
def lab_amqp(tmp_path_factory, browser):
    """JupyterLab whose kernels run on RabbitMQ: ``BROKER_URL`` is the tests' RabbitMQ, chosen as
    tests/conftest.py chooses it (``AMQP_URL``, else the vhost ``krl_tests``); skips locally, fails under
    CI=true, when it does not answer."""
    from conftest import BROKERS, require_broker
    url = require_broker(BROKERS['amqp'])
    server = start_server('lab', tmp_path_factory.mktemp('jupyterlab-amqp'),
                          {'HELPERS_DROP_THREAD_SENDS': '1', 'BROKER_URL': url})
    yield server
    stop_server(server)


@pytest.fixture(scope='session')
def notebook7(tmp_path_factory, browser):
    """Notebook 7 (``jupyter notebook``) on its own copy of the course; stopped at the end."""
    server = start_server('notebook', tmp_path_factory.mktemp('notebook7'))
    yield server
    stop_server(server)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f'report_{report.when}', report)
    return report


@dataclass
class BrowserPage:
    """A page in a context of its own, and the errors its console and scripts reported."""

    context: object
    page: object
    problems: list[str] = field(default_factory=list)


def _new_page(browser) -> BrowserPage:
    """A page in a new context (own cookies, 1280×900) that records console errors and page errors."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    opened = BrowserPage(context, context.new_page())
    opened.page.on('pageerror', lambda exc: opened.problems.append(f'page error: {exc}'))
    opened.page.on('console', lambda msg: opened.problems.append(f'console {msg.type}: {msg.text}')
                   if msg.type == 'error' else None)
    return opened


#: {server URL: its page}: JupyterLab's page is kept from test to test, as a learner keeps the tab open and opens
#: the next notebook (loading JupyterLab took 4-5 s of Chromium's CPU, a third of a learner-path test's).
_KEPT: dict[str, BrowserPage] = {}


def _fresh_page(request, browser, lab: Lab, keep: bool = False):
    """A browser page for ``lab``: a new one, or with ``keep`` the JupyterLab page the last test left (its
    documents closed; a new one after a failure); on failure a screenshot; kernels ended afterwards."""
    from .harness import close_documents, screenshot
    opened = _KEPT.pop(lab.url, None) if keep else None
    if opened is None:
        opened = _new_page(browser)
    opened.problems.clear()
    yield opened.page
    report = getattr(request.node, 'report_call', None)
    failed = report is not None and report.failed
    if failed:
        try:
            path = screenshot(opened.page, f'FAILED-{request.node.name}', full=True)
            print(f'screenshot of the failure: {path}')
        except Exception as exc:  # the page may be gone; the test's own error matters more
            print(f'no failure screenshot: {exc}')
        print('\n'.join(opened.problems[-20:]) or 'no browser console errors')
        print(f'jupyter {lab.app} log (tail):\n{lab.log_tail()}')
    if keep and not failed:
        try:
            if close_documents(opened.page, lab):
                _KEPT[lab.url] = opened
            else:
                print('a dialog is open over the page: the next test gets a new one')
        except Exception as exc:  # a page that cannot close its documents is not kept
            print(f'the page is not kept for the next test: {exc}')
    if _KEPT.get(lab.url) is not opened:
        opened.context.close()
    # nothing outlives the kernels: note their families (and AMQP connections) before the shutdown
    noted = snapshot(lab.process.pid, include_self=False)
    lab.shutdown_kernels()
    processes, connections = noted.leftovers(lab.broker_url)
    noted.kill()
    if (processes or connections) and not (report is not None and report.failed):
        pytest.fail(f'after its kernel shut down, left behind: processes {processes}, '
                    f'RabbitMQ connections {connections}')


@pytest.fixture
def page(request, browser, lab):
    """The JupyterLab server's page (see ``_fresh_page``: kept from test to test)."""
    yield from _fresh_page(request, browser, lab, keep=True)


@pytest.fixture
def amqp_page(request, browser, lab_amqp):
    """The RabbitMQ JupyterLab server's page (see ``_fresh_page``: kept from test to test)."""
    yield from _fresh_page(request, browser, lab_amqp, keep=True)


@pytest.fixture
def dark_page(request, browser, lab):
    """A fresh page for the JupyterLab server in JupyterLab Dark (the theme is reset afterwards)."""
    settings = theme_settings(lab)
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({'theme': 'JupyterLab Dark'}), encoding='utf-8')
    try:
        yield from _fresh_page(request, browser, lab)
    finally:
        settings.unlink()


@pytest.fixture
def notebook7_page(request, browser, notebook7):
    """A fresh page for the Notebook 7 server (see ``_fresh_page``)."""
    yield from _fresh_page(request, browser, notebook7)


@pytest.fixture(autouse=True)
def no_thread_left_behind():
    """tests/conftest.py's check, minus Playwright's executor threads (``asyncio_N``, session-long)."""
    before = set(threading.enumerate())
    yield
    started = [t for t in threading.enumerate() if t not in before and not t.name.startswith('asyncio_')
               and (t.name.startswith('helpers-') or not t.daemon)]
    for thread in started:
        thread.join(timeout=2)
    alive = [t.name for t in started if t.is_alive()]
    assert not alive, f'threads left running after the test: {alive}'
