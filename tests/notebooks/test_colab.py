"""tools/colab.py: Colab badges and install lines generated from course.toml, tested on temporary copies."""
from __future__ import annotations

import difflib
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location('colab_tool', ROOT / 'tools' / 'colab.py')
colab = sys.modules["colab_tool"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(colab)

UPSTREAM = 'https://github.com/kombu-routing-lab/kombu-routing-lab'
FORK = 'https://github.com/ms-rivera/kombu-lab-spring'


def jupyter_json(nb: dict) -> str:
    """A notebook file as Jupyter writes it: one-space indent, sorted keys, text as is, a final newline."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + '\n'


def course_toml(url: str = UPSTREAM, branch: str = 'main') -> str:
    return f'# a comment\n[repository]\nurl = "{url}"\nbranch = "{branch}"\n'


def convention_notebook(name: str, url: str = UPSTREAM, branch: str = 'main') -> dict:
    """A small notebook in the course's shape: title cell with badge, goals, guarded install, one more cell."""
    course = colab.Course(*colab.GITHUB_RE.match(url).groups(), branch)
    title = (f'# {name}\n\nOne sentence.\n\n{colab.badge(course, f"notebooks/{name}.ipynb")}\n\n'
             'Previous: — · Next: —')
    install = ("import sys\n\nIN_COLAB = 'google.colab' in sys.modules\nif IN_COLAB:\n"
               "    from IPython import get_ipython\n"
               f"    get_ipython().run_line_magic('pip', 'install -q {colab.install_target(course)}')\n")
    other = "print('git+https://github.com/somebody/else stays as it is')"
    cells = [
        {'cell_type': 'markdown', 'metadata': {}, 'source': title.splitlines(keepends=True)},
        {'cell_type': 'markdown', 'metadata': {}, 'source': ['## You will learn\n', '\n', '- things']},
        {'cell_type': 'code', 'execution_count': 1, 'metadata': {}, 'outputs': [],
         'source': install.splitlines(keepends=True)},
        {'cell_type': 'code', 'execution_count': 2, 'metadata': {},
         'outputs': [{'name': 'stdout', 'output_type': 'stream', 'text': ['git+https://github.com/somebody/else\n']}],
         'source': [other]},
    ]
    return {'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}


@pytest.fixture
def course_dir(tmp_path: Path) -> Path:
    """A temporary repository: course.toml (upstream) and two notebooks that follow the convention."""
    (tmp_path / 'notebooks').mkdir()
    (tmp_path / 'course.toml').write_text(course_toml())
    for name in ('00_intro', '01_more'):
        text = jupyter_json(convention_notebook(name))
        (tmp_path / 'notebooks' / f'{name}.ipynb').write_text(text, encoding='utf-8')
    (tmp_path / 'notebooks' / 'scratch.ipynb').write_text('not a course notebook: never touched')
    return tmp_path


def run(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / 'tools' / 'colab.py'), '--root', str(root), *args],
                          capture_output=True, text=True, timeout=60)


def snapshot(root: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding='utf-8') for p in sorted((root / 'notebooks').iterdir())}


@pytest.mark.parametrize('url, branch, badge_target, install', [
    (UPSTREAM, 'main', 'kombu-routing-lab/kombu-routing-lab/blob/main/notebooks/05_x.ipynb',
     'git+https://github.com/kombu-routing-lab/kombu-routing-lab'),
    (FORK, 'main', 'ms-rivera/kombu-lab-spring/blob/main/notebooks/05_x.ipynb',
     'git+https://github.com/ms-rivera/kombu-lab-spring'),
    (FORK + '.git', 'spring-2027', 'ms-rivera/kombu-lab-spring/blob/spring-2027/notebooks/05_x.ipynb',
     'git+https://github.com/ms-rivera/kombu-lab-spring@spring-2027'),
    (FORK + '/', 'main', 'ms-rivera/kombu-lab-spring/blob/main/notebooks/05_x.ipynb',
     'git+https://github.com/ms-rivera/kombu-lab-spring'),
])
def test_badge_and_install_from_config(tmp_path, url, branch, badge_target, install):
    (tmp_path / 'course.toml').write_text(course_toml(url, branch))
    course = colab.load_course(tmp_path / 'course.toml')
    assert colab.badge(course, 'notebooks/05_x.ipynb') == (
        '[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]'
        f'(https://colab.research.google.com/github/{badge_target})')
    assert colab.install_target(course) == install


@pytest.mark.parametrize('text, message', [
    (course_toml('https://gitlab.com/a/b'), 'GitHub only'),
    (course_toml('github.com/a/b'), 'https://github.com/OWNER/REPO'),
    (course_toml(UPSTREAM, 'two words'), 'branch name'),
    ('[repository]\n', 'https://github.com/OWNER/REPO'),
])
def test_bad_config_is_explained(tmp_path, text, message):
    (tmp_path / 'course.toml').write_text(text)
    with pytest.raises(colab.CourseError, match=message):
        colab.load_course(tmp_path / 'course.toml')


def test_course_toml_is_read_with_tomli_where_python_has_no_tomllib(tmp_path, monkeypatch):
    """Python 3.10 has no tomllib: tomli (the same parser) reads the file; without either, the error says so."""
    tomli = pytest.importorskip('tomli', reason='tomli is installed where pytest runs on Python 3.10')
    monkeypatch.setitem(sys.modules, 'tomllib', None)  # None in sys.modules: importing it fails
    text = (course_toml(FORK, 'spring').replace('"spring"', '"spring"  # trailing comment')
            + '\n[other]\nurl = "https://example.org/not/this"\nbranch = "not-this"\n')
    (tmp_path / 'course.toml').write_text(text)
    course = colab.load_course(tmp_path / 'course.toml')
    assert (course.url, course.branch) == (FORK, 'spring') and tomli.loads(text)['other']['branch'] == 'not-this'


def test_without_tomllib_or_tomli_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'tomllib', None)
    monkeypatch.setitem(sys.modules, 'tomli', None)
    (tmp_path / 'course.toml').write_text(course_toml(FORK, 'spring'))
    with pytest.raises(colab.CourseError, match='needs tomli: pip install tomli'):
        colab.load_course(tmp_path / 'course.toml')


def test_up_to_date_notebooks_pass_check_and_stay_byte_identical(course_dir):
    before = snapshot(course_dir)
    for args in (('--check',), ()):
        result = run(course_dir, *args)
        assert result.returncode == 0, result.stderr
        assert '2 notebooks, 0 ' in result.stdout
    assert snapshot(course_dir) == before


def test_a_fork_changes_exactly_two_lines_per_notebook(course_dir):
    before = snapshot(course_dir)
    (course_dir / 'course.toml').write_text(course_toml(FORK, 'spring'))

    check = run(course_dir, '--check')
    assert check.returncode == 1
    assert 'out of date: notebooks/00_intro.ipynb' in check.stdout
    assert snapshot(course_dir) == before, '--check must not write'

    update = run(course_dir)
    assert update.returncode == 0, update.stderr
    after = snapshot(course_dir)
    assert after['scratch.ipynb'] == before['scratch.ipynb']
    for name in ('00_intro.ipynb', '01_more.ipynb'):
        diff = [line for line in difflib.unified_diff(before[name].splitlines(), after[name].splitlines(), n=0)
                if line[:1] in '+-' and not line.startswith(('+++', '---'))]
        assert len(diff) == 4, diff  # two lines out, two lines in
        assert sum('colab.research.google.com/github/ms-rivera/kombu-lab-spring/blob/spring/notebooks/'
                   in line for line in diff if line.startswith('+')) == 1
        assert sum("install -q git+https://github.com/ms-rivera/kombu-lab-spring@spring')" in line
                   for line in diff if line.startswith('+')) == 1
        assert 'somebody/else' in after[name]  # other cells and outputs untouched

    again = run(course_dir)
    assert again.returncode == 0 and '0 updated' in again.stdout
    assert snapshot(course_dir) == after, 'a second run changes nothing'
    assert run(course_dir, '--check').returncode == 0

    (course_dir / 'course.toml').write_text(course_toml())
    assert run(course_dir).returncode == 0
    assert snapshot(course_dir) == before, 'going back to upstream restores the original bytes'


@pytest.mark.parametrize('breakage, message', [
    (lambda nb: nb['cells'][0].update(source=['# Title without a badge\n']), 'has no Colab badge'),
    (lambda nb: nb['cells'].pop(0), 'has no Colab badge'),
    (lambda nb: nb['cells'][2].update(source=['import helpers\n']), 'Colab-guarded install'),
    (lambda nb: nb['cells'][2].update(source=["get_ipython().run_line_magic('pip', 'install -q git+https://x/y')"]),
     'Colab-guarded install'),
])
def test_a_notebook_without_the_convention_is_reported_not_guessed(course_dir, breakage, message):
    path = course_dir / 'notebooks' / '01_more.ipynb'
    nb = json.loads(path.read_text())
    breakage(nb)
    path.write_text(jupyter_json(nb))
    before = snapshot(course_dir)
    for args in (('--check',), ()):
        result = run(course_dir, *args)
        assert result.returncode == 1
        assert message in result.stderr and 'notebooks/01_more.ipynb' in result.stderr
    assert snapshot(course_dir) == before


def test_the_course_notebooks_follow_the_convention(tmp_path):
    """Copies of the committed notebooks: the default course.toml leaves them as they are."""
    shutil.copy(ROOT / 'course.toml', tmp_path / 'course.toml')
    (tmp_path / 'notebooks').mkdir()
    for path in sorted((ROOT / 'notebooks').glob('[0-9][0-9]_*.ipynb')):
        shutil.copy(path, tmp_path / 'notebooks' / path.name)
    before = snapshot(tmp_path)
    result = run(tmp_path, '--check')
    assert result.returncode == 0, result.stdout + result.stderr
    assert run(tmp_path).returncode == 0
    assert snapshot(tmp_path) == before


# tools/colab_check.py: the Colab-fidelity check's pure parts (CI runs the whole check: .ci/colab).
_check_spec = importlib.util.spec_from_file_location('colab_check_tool', ROOT / 'tools' / 'colab_check.py')
colab_check = sys.modules['colab_check_tool'] = importlib.util.module_from_spec(_check_spec)
_check_spec.loader.exec_module(colab_check)


def test_colab_python_is_read_from_the_constraints_file(tmp_path):
    assert colab_check.colab_python() == '3.13'
    pins = tmp_path / 'pins.txt'
    pins.write_text('ipykernel==6.17.1\n')
    with pytest.raises(SystemExit, match='no "# python: X.Y" line'):
        colab_check.colab_python(pins)


def test_the_constraints_pin_what_colab_runs():
    pins = dict(line.split('==') for line in (ROOT / '.ci' / 'colab-constraints.txt').read_text().splitlines()
                if '==' in line and not line.startswith('#'))
    assert {name: pins[name] for name in ('ipykernel', 'ipython', 'ipywidgets', 'notebook', 'traitlets')} == {
        'ipykernel': '6.17.1', 'ipython': '7.34.0', 'ipywidgets': '7.7.1', 'notebook': '6.5.7', 'traitlets': '5.7.1'}


def test_copies_stand_alone_with_the_install_line_aimed_at_the_commit(tmp_path):
    source = tmp_path / 'src'
    source.mkdir()
    for name in ('00_intro', '01_more'):
        (source / f'{name}.ipynb').write_text(jupyter_json(convention_notebook(name)), encoding='utf-8')
    target = 'git+file:///tmp/clone@0123abcd'
    copies = colab_check.prepare_copies(sorted(source.glob('*.ipynb')), tmp_path / 'run', target)
    assert [c.relative_to(tmp_path / 'run').as_posix() for c in copies] == ['00_intro/00_intro.ipynb',
                                                                             '01_more/01_more.ipynb']
    for copy in copies:
        assert sorted(p.name for p in copy.parent.iterdir()) == [copy.name], 'each notebook alone'
        install = json.loads(copy.read_text())['cells'][2]
        assert f"install -q {target}')" in ''.join(install['source'])
        assert 'github.com' not in ''.join(install['source'])
        assert install['outputs'] == [{'name': 'stdout', 'output_type': 'stream',
                                       'text': colab_check.COLAB_INSTALL_OUTPUT}]
    assert colab_check.compared_cells(copies) == 4


def test_a_notebook_without_the_guarded_install_is_refused(tmp_path):
    nb = convention_notebook('00_intro')
    nb['cells'][2]['source'] = ['import helpers\n']
    path = tmp_path / '00_intro.ipynb'
    path.write_text(jupyter_json(nb), encoding='utf-8')
    with pytest.raises(SystemExit, match='no Colab-guarded install line'):
        colab_check.prepare_copies([path], tmp_path / 'run', 'git+file:///x')


def test_a_second_pip_line_is_preinstalled_and_expected_once_more(tmp_path):
    nb = convention_notebook('06_more')
    nb['cells'][2]['source'].append("    get_ipython().run_line_magic('pip', 'install -q celery~=5.7.0')\n")
    path = tmp_path / '06_more.ipynb'
    path.write_text(jupyter_json(nb), encoding='utf-8')
    plain = tmp_path / '00_intro.ipynb'
    plain.write_text(jupyter_json(convention_notebook('00_intro')), encoding='utf-8')
    assert colab_check.extra_requirements([plain, path]) == ['celery~=5.7.0']
    assert colab_check.extra_requirements([plain]) == []
    copy, = colab_check.prepare_copies([path], tmp_path / 'run', 'git+file:///tmp/clone@0123abcd')
    install = json.loads(copy.read_text())['cells'][2]
    assert "install -q celery~=5.7.0')" in ''.join(install['source']), 'the second line is left as it is'
    assert install['outputs'] == [{'name': 'stdout', 'output_type': 'stream',
                                   'text': colab_check.COLAB_INSTALL_OUTPUT * 2}]


def test_the_course_install_cells_add_only_celery_pinned_as_requirements_pin_it():
    extras = colab_check.extra_requirements(sorted((ROOT / 'notebooks').glob('[0-9][0-9]_*.ipynb')))
    assert extras == ['celery~=5.7.0']
    assert set(extras) <= set((ROOT / 'requirements.txt').read_text().split())
