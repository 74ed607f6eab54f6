"""framedb's imports flow one way (DESIGN.md section 1), and the check would catch it if not."""

from __future__ import annotations

from pathlib import Path

import framedb
from tests.layout import problems

PACKAGE = Path(framedb.__file__).parent


def test_imports_flow_one_way_without_cycles() -> None:
    assert problems(PACKAGE) == []


def test_no_module_is_over_500_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 500
    }
    assert long == {}


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_a_cycle_is_reported_with_its_modules(tmp_path: Path) -> None:
    pkg = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "store/__init__.py": "",
            "store/a.py": "from pkg.store import b\n",
            "store/b.py": "def f():\n    from pkg.store.c import g\n",
            "store/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from pkg.store.a import x\n",
        },
    )
    assert problems(pkg) == ["pkg.store.a -> pkg.store.b -> pkg.store.c -> pkg.store.a"]


def test_an_import_against_the_direction_names_both_modules(tmp_path: Path) -> None:
    pkg = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "errors.py": "",
            "api.py": "from pkg.match.groups import find\n",
            "store/__init__.py": "",
            "store/rows.py": "from pkg import errors\nfrom pkg.api import FrameDB\n",
            "match/__init__.py": "",
            "match/groups.py": "from pkg.store import rows\nfrom pkg.ingest.run import x\n",
            "ingest/__init__.py": "",
            "ingest/run.py": "from ..store.rows import Store\n",  # relative, resolved
        },
    )
    assert problems(pkg) == [
        "pkg.match.groups imports pkg.ingest.run: match may not import ingest",
        "pkg.store.rows imports pkg.api: store may not import api",
        "pkg.api -> pkg.match.groups -> pkg.ingest.run -> pkg.store.rows -> pkg.api",
    ]
