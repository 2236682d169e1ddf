"""The shell commands a document gives, as its reader copies them: the lines of its ```bash blocks."""
from __future__ import annotations

import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parent.parent / 'docs' / 'teachers-guide.md'
BASH_BLOCK = re.compile(r'```bash\n(.*?)```', re.S)


def bash_blocks(text: str) -> list[list[str]]:
    """Each bash block's command lines: continuation lines joined, comments and blank lines dropped."""
    blocks = []
    for block in BASH_BLOCK.findall(text):
        lines = [line.split('  #')[0].strip() for line in block.replace('\\\n', ' ').splitlines()]
        blocks.append([line for line in lines if line and not line.startswith('#')])
    return blocks


def section(text: str, heading: str) -> str:
    """The part of a Markdown text under ``## heading``, up to the next ``## `` heading."""
    return text.split(f'## {heading}\n', 1)[1].split('\n## ', 1)[0]


def guide() -> str:
    """The teacher's guide, as text."""
    return GUIDE.read_text(encoding='utf-8')
