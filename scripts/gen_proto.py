"""Regenerate the Python code for every .proto under proto/ into a target directory (default gen/).

`--check` regenerates into a temporary directory and exits 1 when the committed gen/ differs.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
GEN_DIR = ROOT / "gen"


def generate(out: Path, proto_dir: Path = PROTO_DIR) -> None:
    out.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(proto_dir)) for p in proto_dir.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{proto_dir}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for directory in [out / "exness", *(p for p in (out / "exness").rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()


def tree(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def stale_files(committed: Path, fresh: Path) -> list[str]:
    old, new = tree(committed), tree(fresh)
    changed = [
        name
        for name in sorted(old.keys() | new.keys())
        if name not in old or name not in new or not filecmp.cmp(old[name], new[name], shallow=False)
    ]
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if gen/ is stale")
    args = parser.parse_args()
    if not args.check:
        shutil.rmtree(GEN_DIR / "exness", ignore_errors=True)
        generate(GEN_DIR)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        changed = stale_files(GEN_DIR, Path(tmp))
    if changed:
        print("generated code is stale; run `make proto`. Differs:", *changed, sep="\n  ", file=sys.stderr)
        return 1
    print("generated code is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
