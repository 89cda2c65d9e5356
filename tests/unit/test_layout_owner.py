"""`layout.py` owns every path of a run: no other module of the package joins a run file's name onto a folder."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from nemo_pipeline.layout import PACKAGE_DIR

# The names of a run directory's files and folders (layout.py's docstring draws the tree).
RUN_NAMES = re.compile(
    r"^(run|plan|metrics|summary|job|export|campaign|cancelled|local-status|submitted|nemo-run)\.json(\.stamp)?$"
    r"|^(eval-results|logs|jobs|data)$|\.log$|^output|\.jsonl$|^summary\.(md|csv)$|^report\.html$"
)
# Joins of such a name that are not in a run directory.
NOT_A_RUN = {
    ("datasets/_benchmark.py", "data"),  # the prepared-data cache: <cache>/data/<benchmark>/test.jsonl
    ("datasets/_benchmark.py", "test.jsonl"),
    ("sandbox/_local.py", "sandbox.log"),  # a sandbox started with no log path logs into its own temporary folder
}


def _text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _joins(path: Path) -> list[tuple[int, str]]:
    """`folder / "name"` expressions whose name is a run file's or folder's."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            text = _text(node.right)
            if text is not None and RUN_NAMES.search(text):
                found.append((node.lineno, text))
    return found


def test_the_scan_finds_a_hand_built_run_path(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('out = run / "metrics.json"\nlog = folder / f"{job}.log"\nother = root / "cgroup.procs"\n')
    assert _joins(sample) == [(1, "metrics.json"), (2, "{}.log")]


def test_no_module_but_layout_joins_a_run_relative_path() -> None:
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR).as_posix()
        if relative == "layout.py":
            continue
        found += [f"{relative}:{line}: {text}" for line, text in _joins(path) if (relative, text) not in NOT_A_RUN]
    assert found == [], "ask nemo_pipeline/layout.py for these paths instead:\n" + "\n".join(found)
