"""The domain core stays pure: importing it loads only the standard library, sortedcontainers and the
stdlib-only units module, never a service, protobuf, a driver or the rest of `mesh`."""

from __future__ import annotations

import json
import subprocess
import sys

ALLOWED_PACKAGES = {"engine", "mesh", "sortedcontainers"}


def test_importing_the_domain_loads_nothing_but_the_stdlib_and_the_units_module() -> None:
    script = (
        "import sys, json; before = set(sys.modules); import engine.domain; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    # a fresh interpreter: this test process has long since imported everything else
    loaded = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, check=True).stdout)
    foreign = {name for name in loaded if name.split(".")[0] not in sys.stdlib_module_names | ALLOWED_PACKAGES}
    assert foreign == set()
    ours = {name for name in loaded if name.split(".")[0] in {"engine", "mesh"}}
    assert {name for name in ours if not name.startswith("engine.domain")} == {"engine", "mesh", "mesh.units"}
