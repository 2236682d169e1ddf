"""pyproject.toml (what `pip install` of the course brings, e.g. in Colab) agrees with requirements.txt."""
from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip('tomllib', reason='Python 3.10 has no tomllib; 3.11 and later check the files')

ROOT = Path(__file__).resolve().parents[2]


def _project() -> dict:
    return tomllib.loads((ROOT / 'pyproject.toml').read_text(encoding='utf-8'))['project']


def _requirement_lines() -> set[str]:
    lines = (ROOT / 'requirements.txt').read_text(encoding='utf-8').splitlines()
    return {line.split('#')[0].strip() for line in lines} - {''}


def test_every_pin_of_the_package_is_the_one_requirements_txt_gives():
    project = _project()
    pins = [*project['dependencies'], *(pin for extra in project['optional-dependencies'].values() for pin in extra)]
    assert [pin for pin in pins if pin not in _requirement_lines()] == []


def test_the_widgets_and_celery_are_extras_so_that_colab_keeps_its_own_widgets():
    project = _project()
    assert not [pin for pin in project['dependencies'] if pin.startswith(('ipywidgets', 'celery'))]
    assert project['optional-dependencies']['widgets'] == ['ipywidgets~=8.1.9']
    assert project['optional-dependencies']['celery'] == ['celery~=5.7.0']


def test_the_package_holds_every_room_of_helpers():
    """A pip install (Colab's) brings each package under helpers/, the views and the checks among them."""
    listed = tomllib.loads((ROOT / 'pyproject.toml').read_text(encoding='utf-8'))['tool']['setuptools']['packages']
    on_disk = sorted('.'.join(p.parent.relative_to(ROOT).parts) for p in (ROOT / 'helpers').rglob('__init__.py'))
    assert 'helpers.views' in on_disk and sorted(listed) == on_disk
