"""Run the course as Colab would: Colab's package versions, each notebook alone, ``google.colab`` present.

Usage (from the repository root; CI runs it from .ci/colab):

    python tools/colab_check.py                 # every notebook under nbval, then the classic-Notebook click test
    python tools/colab_check.py --notebooks 00 05 --no-browser

What it builds, in order:

1. a venv (``.venvs/colab``) on the Python that ``.ci/colab-constraints.txt`` names, holding Colab's
   versions of the Jupyter stack (pip constraints from that one file), plus nbval and playwright, the
   course's dependencies and what the install cells add (06: celery), all resolved under those pins;
2. a clone of the commit under test (``HEAD``) in a temporary folder: what Colab's install line gets;
3. a kernelspec ``python3`` whose kernel imports a stand-in ``google.colab`` at start-up, so each
   notebook's guarded install cell really runs, its ``git+https://...`` target pointed at the clone;
4. each notebook copied alone into an empty folder (Colab opens one file, without the repository),
   and nbval strict on the copies with the course's sanitizers; the one output Colab adds (the
   install cell's "Note: you may need to restart the kernel" from ``%pip``) is expected in the copies;
5. ``tests/browser/test_classic_notebook.py`` in that venv, in classic Notebook 6.5 with ipywidgets 7.7 and
   headless Chromium: 03 and 04 run and their panels clicked for real; every notebook opened unrun, its
   stored outputs checked for widget reprs (``VBox(children=...``) where a picture should be.

Only the real Colab front end (it draws widgets itself) cannot be had here: see the README.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import colab  # noqa: E402  (tools/colab.py: the install line's shape, shared with the badge writer)

__all__ = ['colab_python', 'build_venv', 'prepare_copies', 'main']

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / '.ci' / 'colab-constraints.txt'
COURSE_SANITIZE = ROOT / 'tests' / 'nbval_sanitize.cfg'
BROWSER_TEST = 'tests/browser/test_classic_notebook.py'
# What the check installs into the Colab venv; the constraints file decides every version it names.
PACKAGES = ['ipykernel', 'ipython', 'ipywidgets', 'widgetsnbextension', 'jupyter_client', 'notebook', 'tornado',
            'traitlets', 'matplotlib', 'psutil', 'pytest', 'nbval~=0.11.0', 'pytest-timeout~=2.4.0',
            'playwright~=1.65.2']
STUB = '"""Stand-in for Colab\'s own module: its presence is what the notebooks test (tools/colab_check.py)."""\n'
# The one output Colab prints that a checkout does not: the install line runs there, and IPython's %pip
# always ends with this note.  The copies expect it in the install cell; nothing else is sanitized.
# The check's time budget on a fresh clone, venv build included (README, CI).  Over it, the check says so.
BUDGET_S = 240
COLAB_INSTALL_OUTPUT = 'Note: you may need to restart the kernel to use updated packages.\n'
# Every %pip line of an install cell (the course's git+ line, and e.g. 06's ``celery~=5.7.0``).
PIP_LINE_RE = re.compile(r"""run_line_magic\(\s*(['"])pip\1\s*,\s*(['"])install -q ([^'"]+)\2\s*\)""")


class MissingPython(RuntimeError):
    """The interpreter Colab runs is not on this machine (a skip locally, a failure under CI=true)."""


def say(text: str) -> None:
    print(f'colab-check: {text}', flush=True)


def colab_python(constraints: Path = CONSTRAINTS) -> str:
    """The Python version Colab runs, from the ``# python: X.Y`` line of the constraints file."""
    found = re.search(r'^# python: (\d+\.\d+)\s*$', constraints.read_text(encoding='utf-8'), re.M)
    if not found:
        raise SystemExit(f'{constraints}: no "# python: X.Y" line saying which Python Colab runs')
    return found.group(1)


def find_interpreter(minor: str) -> Path | None:
    """The newest pyenv interpreter of ``minor`` (e.g. 3.13), else python3.13 on PATH, else None."""
    try:
        root = Path(subprocess.run(['pyenv', 'root'], capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        root = Path.home() / '.pyenv'
    versions = sorted((root / 'versions').glob(f'{minor}.*'),
                      key=lambda p: [int(x) for x in re.findall(r'\d+', p.name)])
    if versions:
        return versions[-1] / 'bin' / 'python'
    on_path = shutil.which(f'python{minor}')
    return Path(on_path) if on_path else None


def course_dependencies() -> list[str]:
    """What the course package needs (pyproject's dependencies): what the install line brings to Colab."""
    import tomllib
    return tomllib.loads((ROOT / 'pyproject.toml').read_text(encoding='utf-8'))['project']['dependencies']


def install_cell(nb: dict) -> dict:
    """The notebook's first code cell: the one holding the Colab-guarded install lines."""
    return next(cell for cell in nb['cells'] if cell['cell_type'] == 'code')


def _source(cell: dict) -> str:
    return ''.join(cell['source']) if isinstance(cell['source'], list) else cell['source']


def extra_requirements(notebooks: list[Path]) -> list[str]:
    """What the install cells add besides the course itself (e.g. 06's ``celery~=5.7.0``), sorted."""
    found = set()
    for path in notebooks:
        source = _source(install_cell(json.loads(path.read_text(encoding='utf-8'))))
        for match in PIP_LINE_RE.finditer(source):
            found.update(spec for spec in match.group(3).split() if not spec.startswith('git+'))
    return sorted(found)


def build_venv(venv: Path, extras: list[str] = ()) -> Path:
    """Create (or refresh) the Colab-pinned venv; return its python.

    The course's own dependencies (kombu) and the install cells' other packages (``extras``: celery) are
    installed here too, under Colab's pins, which proves they resolve there; the notebooks' install lines
    then only add the course package, and pip prints on this machine what it prints on Colab (with ``-q``,
    nothing) rather than remarks about this machine's package indexes.
    """
    minor = colab_python()
    python = venv / 'bin' / 'python'
    if not python.exists():
        interpreter = find_interpreter(minor)
        if interpreter is None:
            raise MissingPython(f'no Python {minor} found (pyenv or PATH): Colab runs {minor}, the check needs it')
        subprocess.run([str(interpreter), '-m', 'venv', str(venv)], check=True)
    # uv (which .ci/setup installs) where it is: the same packages in seconds, not minutes; the venv keeps pip for
    # the notebooks' own %pip lines.
    uv = Path(sys.executable).with_name('uv')
    installer = [str(uv), 'pip', 'install', '--python', str(python)] if uv.exists() else \
        [str(python), '-m', 'pip', 'install', '--disable-pip-version-check', '--no-compile']
    subprocess.run([*installer, '-q', '-c', str(CONSTRAINTS), *PACKAGES, *course_dependencies(), *extras], check=True)
    return python


def clone_head(where: Path) -> tuple[Path, str]:
    """Clone the commit under test (HEAD) into ``where``; return the clone and the commit."""
    commit = subprocess.run(['git', '-C', str(ROOT), 'rev-parse', 'HEAD'], capture_output=True, text=True,
                            check=True).stdout.strip()
    subprocess.run(['git', 'clone', '-q', '--no-checkout', str(ROOT), str(where)], check=True)
    subprocess.run(['git', '-C', str(where), 'checkout', '-q', commit], check=True)
    return where, commit


def write_kernel(jupyter_path: Path, stub_dir: Path, python: Path) -> None:
    """A kernelspec ``python3`` that imports the stand-in ``google.colab`` before the first cell."""
    (stub_dir / 'google' / 'colab').mkdir(parents=True)
    (stub_dir / 'google' / 'colab' / '__init__.py').write_text(STUB, encoding='utf-8')
    spec = jupyter_path / 'kernels' / 'python3'
    spec.mkdir(parents=True)
    (spec / 'kernel.json').write_text(json.dumps({
        'argv': [str(python), '-m', 'ipykernel_launcher', '-f', '{connection_file}',
                 '--IPKernelApp.exec_lines=import google.colab'],
        'display_name': 'Python 3 (Colab check)', 'language': 'python',
        'env': {'PYTHONPATH': str(stub_dir)},
    }, indent=1), encoding='utf-8')


def prepare_copies(notebooks: list[Path], dest: Path, target: str, alone: bool = True) -> list[Path]:
    """Copy each notebook (alone in a folder of its own when ``alone``), its install line aimed at ``target``."""
    copies = []
    for path in notebooks:
        folder = dest / path.stem if alone else dest
        folder.mkdir(parents=True, exist_ok=True)
        nb = json.loads(path.read_text(encoding='utf-8'))
        first = install_cell(nb)
        source = _source(first)
        if colab.COLAB_GUARD not in source or not colab.INSTALL_RE.search(source):
            raise SystemExit(f'{path.name}: its first code cell has no Colab-guarded install line')
        first['source'] = colab.INSTALL_RE.sub(lambda m: f'{m.group(1)}{target}{m.group(4)}', source, count=1)
        if first.get('execution_count') is not None:  # IPython's %pip prints its note once per line
            notes = COLAB_INSTALL_OUTPUT * len(PIP_LINE_RE.findall(source))
            first['outputs'] = [{'name': 'stdout', 'output_type': 'stream', 'text': notes}]
        copy = folder / path.name
        copy.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
        copies.append(copy)
    return copies


def compared_cells(notebooks: list[Path]) -> int:
    """How many code cells nbval strict compares (stored execution count, output not ignored)."""
    count = 0
    for path in notebooks:
        for cell in json.loads(path.read_text(encoding='utf-8'))['cells']:
            tags = cell.get('metadata', {}).get('tags', [])
            if (cell['cell_type'] == 'code' and cell.get('execution_count') is not None
                    and not {'nbval-ignore-output', 'nbval-skip'} & set(tags)):
                count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    """Build the Colab-like environment and run the notebooks (and the click test) in it."""
    parser = argparse.ArgumentParser(prog='python tools/colab_check.py', description=main.__doc__)
    parser.add_argument('--venv', type=Path, default=ROOT / '.venvs' / 'colab')
    parser.add_argument('--notebooks', nargs='*', default=None, help='numbers, e.g. 00 05 (default: all)')
    parser.add_argument('--no-browser', action='store_true', help='skip the classic-Notebook click test')
    parser.add_argument('--source', type=Path, default=ROOT / 'notebooks',
                        help='where the notebooks are (default: notebooks/; e.g. re-executed scratch copies)')
    args = parser.parse_args(argv)
    start = time.monotonic()
    notebooks = sorted(args.source.glob('[0-9][0-9]_*.ipynb'))
    if args.notebooks:
        notebooks = [p for p in notebooks if p.name[:2] in args.notebooks]
    try:
        python = build_venv(args.venv.resolve(), extra_requirements(notebooks))
    except MissingPython as exc:
        say(str(exc))
        return 1 if os.environ.get('CI', '').lower() in ('1', 'true', 'yes') else 0
    versions = subprocess.run([str(python), '-c', 'import platform, ipykernel, IPython, ipywidgets, notebook; '
                               'print(platform.python_version(), ipykernel.__version__, IPython.__version__, '
                               'ipywidgets.__version__, notebook.__version__)'],
                              capture_output=True, text=True, check=True).stdout.split()
    say('venv ready in {:.0f} s: python {}, ipykernel {}, ipython {}, ipywidgets {}, notebook {}'.format(
        time.monotonic() - start, *versions))
    status = 0
    with tempfile.TemporaryDirectory(prefix='colab-check-') as tmp:
        tmp = Path(tmp)
        clone, commit = clone_head(tmp / 'clone')
        target = f'git+file://{clone}@{commit}'
        write_kernel(tmp / 'jupyter', tmp / 'stub', python)
        env = {k: v for k, v in os.environ.items() if k not in ('BROKER_URL', 'PYTHONPATH', 'VIRTUAL_ENV')}
        env.update(JUPYTER_PATH=str(tmp / 'jupyter'), JUPYTER_CONFIG_DIR=str(tmp / 'config'),
                   JUPYTER_DATA_DIR=str(tmp / 'data'), JUPYTER_RUNTIME_DIR=str(tmp / 'runtime'),
                   PIP_DISABLE_PIP_VERSION_CHECK='1', PYDEVD_DISABLE_FILE_VALIDATION='1')
        # A fresh VM each time: the course package comes from the notebook's own install line.
        subprocess.run([str(python), '-m', 'pip', 'uninstall', '-q', '-y', 'kombu-routing-lab'],
                       capture_output=True)
        copies = prepare_copies(notebooks, tmp / 'run', target)
        (tmp / 'pytest.ini').write_text('[pytest]\n', encoding='utf-8')
        say(f'commit {commit[:10]}: {len(copies)} notebooks, each alone, {compared_cells(copies)} cells compared '
            'under nbval strict')
        began = time.monotonic()
        nbval = subprocess.run([str(python), '-m', 'pytest', '-p', 'no:cacheprovider', '-q', '-W',
                                'ignore::DeprecationWarning', '-c', str(tmp / 'pytest.ini'), '--rootdir', str(tmp),
                                '--nbval', *map(str, copies), '--nbval-sanitize-with', str(COURSE_SANITIZE),
                                '--nbval-cell-timeout', '180', '--timeout', '900', '--durations=5'], env=env, cwd=tmp)
        say(f'nbval on the copies: {"passed" if nbval.returncode == 0 else "FAILED"} '
            f'in {time.monotonic() - began:.0f} s')
        status |= nbval.returncode != 0
        if not args.no_browser:
            began = time.monotonic()
            prepare_copies(notebooks, tmp / 'browser', target, alone=False)
            env['COLAB_CHECK_DIR'] = str(tmp / 'browser')
            browser = subprocess.run([str(python), '-m', 'pytest', '-p', 'no:cacheprovider', '-q', '-s', '-rs',
                                      '--durations=0', '--timeout', '600', BROWSER_TEST], env=env, cwd=ROOT)
            say(f'classic Notebook click test: {"passed" if browser.returncode == 0 else "FAILED"} '
                f'in {time.monotonic() - began:.0f} s')
            status |= browser.returncode != 0
    took = time.monotonic() - start
    say(f'{"passed" if status == 0 else "FAILED"} in {took:.0f} s '
        f'({"within" if took <= BUDGET_S else "OVER"} its {BUDGET_S} s budget)')
    return status


if __name__ == '__main__':
    sys.exit(main())
