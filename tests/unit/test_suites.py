"""Every test lives in a suite, .ci/run runs each suite as a step of its own, and the README names them."""
from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


def suites() -> list[str]:
    """The folders of tests/ that hold test files."""
    return sorted(path.name for path in TESTS.iterdir() if path.is_dir() and any(path.glob('test_*.py')))


def test_no_test_file_is_outside_a_suite():
    assert sorted(path.name for path in TESTS.glob('test_*.py')) == []
    assert suites() == ['broker', 'browser', 'notebooks', 'unit']


def test_ci_runs_each_suite_alone_unit_first():
    run = (ROOT / '.ci' / 'run').read_text(encoding='utf-8')
    steps = re.findall(r'\$PY -m pytest (tests/[a-z]+)\s', run)
    assert steps[0] == 'tests/unit' and sorted(set(steps)) == [f'tests/{suite}' for suite in suites()]


def test_the_python_matrix_runs_the_unit_suite():
    pythons = (ROOT / '.ci' / 'pythons').read_text(encoding='utf-8')
    assert re.search(r'-m pytest tests/unit ', pythons)


def test_the_readme_gives_each_suites_command():
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    for suite in suites():
        assert f'`.venv/bin/python -m pytest tests/{suite}`' in readme, suite
