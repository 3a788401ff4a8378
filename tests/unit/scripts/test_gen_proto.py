"""The committed generated code must be exactly what `make proto` produces from proto/."""

from __future__ import annotations

import shutil
from pathlib import Path

from scripts.gen_proto import GEN_DIR, PROTO_DIR, generate, stale_files


def test_committed_generated_code_matches_the_protos(tmp_path: Path) -> None:
    generate(tmp_path)
    assert stale_files(GEN_DIR, tmp_path) == []


def test_check_notices_a_proto_changed_without_regeneration(tmp_path: Path) -> None:
    protos = tmp_path / "proto"
    shutil.copytree(PROTO_DIR, protos)
    market = protos / "exness" / "market" / "v1" / "market.proto"
    market.write_text(market.read_text().replace("string source = 3;", "string source = 3;\n  int64 extra = 4;"))
    generate(tmp_path / "gen", proto_dir=protos)
    assert stale_files(GEN_DIR, tmp_path / "gen") == [
        "exness/market/v1/market_pb2.py",
        "exness/market/v1/market_pb2.pyi",
    ]
