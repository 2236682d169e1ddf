"""The Python commands the README and the teacher's guide give run verbatim from the README's set-up.

The README's set-up installs ``requirements.txt`` into ``.venv``; it does not install the course as a
package (``.ci/setup`` does, with ``pip install -e .``, which would hide a tool that cannot import
``helpers``). So each command runs here as ``python -S`` with the venv's site-packages on ``PYTHONPATH``:
the requirements are there, the editable install's path hook is not. Every script and module a command
names is started with ``--help`` from the repository's folder.  The guide's re-execution command runs whole,
word for word, where a teacher runs it: after the guide's adaptation, in .ci/run's ``adapt`` job
(tools/adapt_check.py); an unchanged notebook re-executed keeps its bytes: tests/notebooks/test_execute.py.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tools.guide_commands import bash_blocks

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / 'README.md', ROOT / 'docs' / 'teachers-guide.md', ROOT / 'helpers' / 'solutions' / 'README.md']
PYTHON = re.compile(r'^(?:\./|\.\./)?(?:\.venv/bin/)?python3?$')


def commands(text: str) -> list[str]:
    """The shell commands in ``text``: lines of its bash blocks (``&&`` split) and inline code."""
    found = [part.strip() for block in bash_blocks(text) for line in block for part in line.split('&&')]
    found += re.findall(r'`((?:[A-Z_]+=\S+ )*(?:\./|\.\./)?(?:\.venv/bin/)?python3? [^`]+)`', text)
    return found


def python_target(command: str) -> tuple[str, ...] | None:
    """``('-m', 'helpers.demo')`` or ``('tools/execute.py',)`` for a command that runs Python on one, else None."""
    words = shlex.split(command)
    while words and re.match(r'^[A-Z_]+=', words[0]):
        words.pop(0)
    if len(words) < 2 or not PYTHON.match(words[0]) or words[0].startswith('../'):
        return None
    if words[1] == '-m' and len(words) > 2:
        return ('-m', words[2])
    return (words[1],) if words[1].endswith('.py') else None


def readme_setup_env() -> dict[str, str]:
    """The environment of a venv with the requirements but without the course installed (with ``python -S``)."""
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME')}
    env['PYTHONPATH'] = sysconfig.get_paths()['purelib']
    return env


def guide_execute_command() -> str:
    """The guide's command that re-executes a notebook of the course on memory:// (the first it gives)."""
    given = commands((ROOT / 'docs' / 'teachers-guide.md').read_text(encoding='utf-8'))
    runs = [c for c in given if c.startswith('BROKER_URL=memory:// ') and 'tools/execute.py notebooks/' in c
            and (ROOT / shlex.split(c)[-1]).is_file()]  # not a pattern such as notebooks/NN_name.ipynb
    assert runs, 'the guide gives no command that re-executes a notebook on memory://'
    return runs[0]


TARGETS = sorted({t for doc in DOCS for c in commands(doc.read_text(encoding='utf-8')) if (t := python_target(c))})


def test_the_docs_name_the_tools_a_teacher_runs():
    assert ('tools/execute.py',) in TARGETS and ('tools/handout.py',) in TARGETS and ('-m', 'helpers.demo') in TARGETS
    assert guide_execute_command().endswith('.ipynb')


def test_without_the_course_installed_helpers_cannot_be_imported():
    """The control: the set-up used below really lacks the editable install."""
    done = subprocess.run([sys.executable, '-S', '-c', 'import helpers'], cwd=ROOT / 'tools', env=readme_setup_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "No module named 'helpers'" in done.stderr, done.stderr


@pytest.mark.parametrize('target', TARGETS, ids=' '.join)
def test_each_command_starts_from_the_readme_setup(target):
    # A ceiling under the suite's 300 s: `pytest --help` takes 9 s on a quiet machine, over 120 s under CI's load.
    done = subprocess.run([sys.executable, '-S', *target, '--help'], cwd=ROOT, env=readme_setup_env(),
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, f'{" ".join(target)} --help:\n{done.stderr[-2000:]}'
    assert 'usage' in done.stdout.lower(), done.stdout
