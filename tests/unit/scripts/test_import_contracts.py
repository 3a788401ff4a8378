"""The only_imports contract (scripts/import_contracts.py) on a package made here: the standard library,
the package itself and the allowed modules pass; a third-party or sibling import is reported with its line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

from scripts.import_contracts import OnlyImportsContract


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[grimp.ImportGraph]:
    (tmp_path / "shop" / "core").mkdir(parents=True)
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "units.py").write_text("")
    (tmp_path / "shop" / "io.py").write_text("import yaml\n")
    (tmp_path / "shop" / "core" / "__init__.py").write_text("from shop.core import rules\n")
    (tmp_path / "shop" / "core" / "rules.py").write_text(
        "import json\nfrom fractions import Fraction\nfrom shop.units import x\nimport yaml\nfrom shop import io\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield grimp.build_graph("shop", include_external_packages=True, cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))


def contract(allowed: list[str]) -> OnlyImportsContract:
    return OnlyImportsContract(
        name="core is pure",
        session_options={"root_packages": ["shop"]},
        contract_options={"source_modules": ["shop.core"], "allowed_modules": allowed},
    )


def test_imports_outside_the_stdlib_itself_and_the_allowed_are_broken_with_their_lines(
    graph: grimp.ImportGraph,
) -> None:
    check = contract(["shop.units"]).check(graph, verbose=False)
    assert not check.kept
    assert check.metadata["violations"] == [
        {"importer": "shop.core.rules", "imported": "shop.io", "lines": [5]},
        {"importer": "shop.core.rules", "imported": "yaml", "lines": [4]},
    ]


def test_allowing_them_keeps_the_contract(graph: grimp.ImportGraph) -> None:
    assert contract(["shop.units", "shop.io", "yaml"]).check(graph, verbose=False).kept
