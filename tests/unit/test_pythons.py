"""The supported Pythons are said once and agree everywhere: pyproject, ruff, README, 00's check, CI, Colab."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]


def text(relative: str) -> str:
    return (ROOT / relative).read_text(encoding='utf-8')


def matrix() -> tuple[str, str]:
    """The oldest and newest Python that .ci/pythons installs and tests the course on."""
    script = text('.ci/pythons')
    return re.search(r'^OLDEST=(\S+)$', script, re.M).group(1), re.search(r'^NEWEST=(\S+)$', script, re.M).group(1)


def minor(version: str) -> tuple[int, int]:
    return tuple(int(part) for part in version.split('.')[:2])


def test_ci_proves_the_oldest_python_that_pyproject_allows():
    oldest, _newest = matrix()
    assert re.search(rf'^requires-python = ">={re.escape(oldest)}"', text('pyproject.toml'), re.M)
    assert re.search(rf'^target-version = "py{oldest.replace(".", "")}"', text('pyproject.toml'), re.M)


def test_readme_names_the_pythons_ci_proves():
    oldest, newest = matrix()
    assert f'Python {oldest} to {newest}' in text('README.md')


def test_setup_notebook_checks_the_same_minimum():
    nb = nbformat.read(ROOT / 'notebooks' / '00_setup.ipynb', as_version=4)
    source = '\n'.join(cell.source for cell in nb.cells if cell.cell_type == 'code')
    oldest, _newest = matrix()
    assert f"'python': '>={oldest}'" in source


def test_colab_runs_a_python_inside_the_proven_range():
    colab = re.search(r'^# python: (\S+)$', text('.ci/colab-constraints.txt'), re.M).group(1)
    oldest, newest = matrix()
    assert minor(oldest) <= minor(colab) <= minor(newest)


def test_run_calls_the_matrix_and_the_colab_check():
    run = text('.ci/run')
    assert 'bash .ci/pythons' in run and 'bash .ci/colab' in run
