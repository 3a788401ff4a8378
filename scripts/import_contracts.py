"""An import-linter contract type the built-in ones cannot express: "these packages import nothing but
themselves, the standard library and the modules listed". `make lint` runs it through pyproject.toml's
[tool.importlinter] (`contract_types`); it keeps `engine.domain` pure.

    [[tool.importlinter.contracts]]
    type = "only_imports"
    source_modules = ["engine.domain"]
    allowed_modules = ["mesh.units"]
"""

from __future__ import annotations

import sys
from typing import Any

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


class OnlyImportsContract(Contract):
    """Every module in `source_modules` imports only modules inside its own package, the standard library
    (`sys.stdlib_module_names`) and `allowed_modules` (and their submodules). Needs the graph's external
    packages (`include_external_packages = true`), or an import of a third-party package would go unseen."""

    type_name = "only imports"

    source_modules = fields.ListField(subfield=fields.ModuleField())
    allowed_modules = fields.ListField(subfield=fields.StringField(), required=False, default=[])

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        allowed: list[str] = list(self.allowed_modules)  # type: ignore[call-overload]
        violations: list[dict[str, Any]] = []
        for source in self.source_modules:  # type: ignore[attr-defined]
            for importer in sorted({source.name, *graph.find_descendants(source.name)}):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    if (
                        _within(imported, source.name)
                        or imported.split(".")[0] in sys.stdlib_module_names
                        or any(_within(imported, name) for name in allowed)
                    ):
                        continue
                    lines = [d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)]
                    violations.append({"importer": importer, "imported": imported, "lines": lines})
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for violation in check.metadata["violations"]:
            lines = ", ".join(f"l.{n}" for n in violation["lines"])
            output.print_error(f"{violation['importer']} imports {violation['imported']} ({lines})", bold=False)
        output.new_line()
