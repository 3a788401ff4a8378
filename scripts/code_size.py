"""`make lint`'s size check: no module in the service packages over 400 lines, no function over 60 lines,
none of cyclomatic complexity worse than radon's grade C (more than 20), unless its docstring says why in a
paragraph starting "Size exception:" (a module's docstring for the module's length).

    python scripts/code_size.py            # report, exit 0
    python scripts/code_size.py --enforce  # report, exit 1 on any finding (make lint with SIZE_CHECK=enforce)
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from radon.complexity import cc_rank, cc_visit

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "gateway", "pooler", "candles", "mesh")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
WORST_GRADE = "C"  # radon: A 1-5, B 6-10, C 11-20, D 21-30, E 31-40, F 41+
EXCEPTION_MARK = "Size exception:"


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _excused(node: ast.AST) -> bool:
    if not isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return False
    docstring = ast.get_docstring(node) or ""
    return any(
        line.strip().startswith(EXCEPTION_MARK) and line.strip() != EXCEPTION_MARK for line in docstring.splitlines()
    )


def check_source(source: str, path: str) -> list[Finding]:
    """Every finding in one module's source (`path` only names it)."""
    tree = ast.parse(source)
    findings = []
    lines = len(source.splitlines())
    if lines > MAX_MODULE_LINES and not _excused(tree):
        findings.append(Finding(path, 1, f"module has {lines} lines (limit {MAX_MODULE_LINES})"))
    functions = {
        node.lineno: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    for node in functions.values():
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        if length > MAX_FUNCTION_LINES and not _excused(node):
            findings.append(Finding(path, node.lineno, f"{node.name} has {length} lines (limit {MAX_FUNCTION_LINES})"))
    # radon's blocks: functions, methods and classes (a class's lineno names no function: skipped)
    for block in cc_visit(source):
        function = functions.get(block.lineno)
        if function is None or cc_rank(block.complexity) <= WORST_GRADE or _excused(function):
            continue
        grade = cc_rank(block.complexity)
        findings.append(
            Finding(
                path,
                block.lineno,
                f"{function.name} has cyclomatic complexity {block.complexity} "
                f"(grade {grade}, worst allowed {WORST_GRADE})",
            )
        )
    return sorted(findings, key=lambda f: f.line)


def modules(root: Path = REPO) -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((root / package).rglob("*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enforce", action="store_true", help="exit 1 when anything is over a limit")
    enforce = parser.parse_args(argv).enforce
    findings = [f for path in modules() for f in check_source(path.read_text(), str(path.relative_to(REPO)))]
    for finding in findings:
        print(finding)
    if findings:
        mode = "failing" if enforce else "report only; SIZE_CHECK=enforce makes it fail"
        print(f"code_size: {len(findings)} over the limits ({mode})", file=sys.stderr)
    return 1 if findings and enforce else 0


if __name__ == "__main__":
    sys.exit(main())
