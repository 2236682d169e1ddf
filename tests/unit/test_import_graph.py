"""The project's modules import each other without a circle (read from their source, nothing imported)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ('helpers', 'teacher', 'benchmarks', 'tools')


def _modules() -> dict[str, Path]:
    """{dotted name: file} of every module in the project's own folders."""
    found = {}
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob('*.py'):
            parts = list(path.relative_to(ROOT).with_suffix('').parts)
            if parts[-1] == '__init__':
                parts.pop()
            found['.'.join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str], tree: ast.AST | None = None) -> set[str]:
    """The project modules that module ``name`` (or the code ``tree``) imports, at any level of its code."""
    package = name.split('.') if path.name == '__init__.py' else name.split('.')[:-1]
    targets = set()
    for node in ast.walk(tree or ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            source = '.'.join(base + ([node.module] if node.module else []))
            targets |= {source, *(f'{source}.{alias.name}' for alias in node.names)}
        elif isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
    return (targets & known) - {name}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle a depth-first walk meets, each as the modules along it."""
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    path: list[str] = []
    circles = []

    def walk(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                circles.append(path[path.index(target):] + [target])
            elif target not in state:
                walk(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module)
    return circles


def test_no_module_imports_itself_through_others():
    modules = _modules()
    assert 'helpers.worker' in modules and 'helpers.worker_cli' in modules
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    assert 'helpers.worker' in graph['helpers.worker_cli'], 'the scan no longer sees an import it should'
    assert [' -> '.join(circle) for circle in _circles(graph)] == []


def test_the_scan_finds_a_circle():
    assert _circles({'a': {'b'}, 'b': {'a'}, 'c': set()}) == [['a', 'b', 'a']]
