"""The layout rule of DESIGN.md section 1, checked by reading source (ast; nothing is imported).

Every import counts: at the top of a module, inside a function, under TYPE_CHECKING. A module
may import its own stage and the stages below it; ingest and match stand side by side and may
not import each other; nothing may form a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

# (stage, rank) of each package or module under the top package, lowest first. A module may
# import its own stage and lower ranks. Modules not named here are shared by every stage (errors,
# hashing, hashspec, cores, synth): rank 0.
STAGES = {
    "store": ("store", 1),
    "ingest": ("ingest", 2),
    "match": ("match", 2),
    "evidence": ("evidence", 3),
    "api": ("api", 4),
    "": ("front door", 5),  # the package itself: `from framedb import FrameDB`
    "cli": ("cli", 5),
    "__main__": ("cli", 5),
}


def modules(root: Path) -> dict[str, Path]:
    """Module names (dotted, from the package folder `root`) -> their files."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of the tree that module `name` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in known:
                    found.add(target)  # `from framedb.store import mih`: the module itself
                elif base in known:
                    found.add(base)
    return found - {name}


def stage(name: str, top: str) -> tuple[str, int]:
    """(stage, rank) of a module: its first name under the package, ranked by STAGES."""
    first = name.removeprefix(top).lstrip(".").split(".")[0]
    return STAGES.get(first, ("shared", 0))


def problems(root: Path) -> list[str]:
    """Every import against the direction, and every cycle, in the package folder `root`."""
    top = root.name
    tree = modules(root)
    graph = {name: imports(name, path, set(tree)) for name, path in tree.items()}
    found = []
    for name, targets in sorted(graph.items()):
        here, rank = stage(name, top)
        for target in sorted(targets):
            there, other = stage(target, top)
            if other > rank or (other == rank and there != here and rank):
                found.append(f"{name} imports {target}: {here} may not import {there}")
    found += [" -> ".join(cycle) for cycle in cycles(graph)]
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that ends where it starts) for each group of modules that import
    each other, found by depth-first search."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found
