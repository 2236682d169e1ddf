"""Every link to a section of the teacher's guide, from the docs, the README and the notebooks, finds its heading."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / 'docs' / 'teachers-guide.md'
LINK = re.compile(r'\]\(([^)\s]*)\)')


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of ``markdown``: lower case, punctuation dropped, spaces as hyphens."""
    found: set[str] = set()
    prose = re.sub(r'(?ms)^```.*?^```', '', markdown)  # a '#' line in a code block is no heading
    for heading in re.findall(r'(?m)^#{1,6} (.+?)\s*$', prose):
        slug = re.sub(r'[^\w\- ]', '', heading.lower()).replace(' ', '-')
        anchor, n = slug, 0
        while anchor in found:
            n += 1
            anchor = f'{slug}-{n}'
        found.add(anchor)
    return found


def sources() -> list[tuple[str, Path, str]]:
    """(where, its folder, its markdown): the repository's markdown files and the notebooks' markdown cells."""
    found = [(str(path.relative_to(ROOT)), path.parent, path.read_text(encoding='utf-8'))
             for path in sorted(ROOT.glob('*.md')) + sorted((ROOT / 'docs').glob('*.md'))
             + sorted((ROOT / 'helpers').rglob('*.md'))]
    for path in sorted((ROOT / 'notebooks').glob('*.ipynb')):
        nb = nbformat.read(path, as_version=4)
        found += [(f'{path.name} cell {i}', path.parent, cell.source)
                  for i, cell in enumerate(nb.cells) if cell.cell_type == 'markdown']
    return found


def guide_links() -> list[tuple[str, str]]:
    """(where, anchor) for every link to a section of the guide."""
    links = []
    for where, folder, text in sources():
        for target in LINK.findall(text):
            path, _, anchor = target.partition('#')
            if not anchor:
                continue
            if (path and (folder / path).resolve() == GUIDE) or (not path and where == 'docs/teachers-guide.md'):
                links.append((where, anchor))
    return links


def test_the_anchors_follow_githubs_rules():
    assert anchors('## memory:// and redis:// versus RabbitMQ\n## What the course does not do (yet)\n'
                   '### 06: Celery\n```bash\n# class_01: not a heading\n```\n## Known limits\n## Known limits\n') == {
        'memory-and-redis-versus-rabbitmq', 'what-the-course-does-not-do-yet', '06-celery', 'known-limits',
        'known-limits-1'}


def test_links_to_the_guide_are_found():
    wheres = {where.split(' cell ')[0] for where, _anchor in guide_links()}
    assert {'docs/teachers-guide.md', 'docs/glossary.md', '05_scaling_out.ipynb'} <= wheres, wheres


@pytest.mark.parametrize('where, anchor', guide_links(), ids=lambda v: v)
def test_every_link_to_a_section_of_the_guide_resolves(where, anchor):
    assert anchor in anchors(GUIDE.read_text(encoding='utf-8')), f'{where}: no heading for #{anchor} in the guide'


def test_the_guides_relative_links_point_at_files_that_exist():
    text = GUIDE.read_text(encoding='utf-8')
    missing = [target for target in LINK.findall(text) if target and not target.startswith(('#', 'http'))
               and not (GUIDE.parent / target.partition('#')[0]).exists()]
    assert not missing, missing
