"""scripts/dependency_audit.py: a pip-audit or npm audit report is clean only when it audited packages
and found nothing; a run that skipped every package ("not found", the vulnerability service unreachable)
is a failure, never a clean result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.dependency_audit import judge_npm_audit, judge_pip_audit, main

NOT_FOUND = "Dependency not found on PyPI and could not be audited: grpcio (1.85.1)"


def _write(tmp_path: Path, report: object) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    return path


def test_a_run_that_audited_nothing_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # what pip-audit prints when its vulnerability service cannot be reached: everything skipped
    report = {"dependencies": [{"name": n, "skip_reason": NOT_FOUND} for n in ("grpcio", "fastapi")], "fixes": []}
    verdict = judge_pip_audit(report)
    assert (verdict.audited, len(verdict.skipped), verdict.clean) == (0, 2, False)
    assert main([str(_write(tmp_path, report))]) == 1
    assert "NOTHING WAS AUDITED" in capsys.readouterr().out


def test_skipped_packages_or_vulnerabilities_fail_and_a_full_clean_audit_passes(tmp_path: Path) -> None:
    audited = [{"name": "fastapi", "version": "0.115.0", "vulns": []}]
    partly = {"dependencies": [*audited, {"name": "grpcio", "version": "1.85.1", "skip_reason": NOT_FOUND}]}
    assert not judge_pip_audit(partly).clean
    vulnerable = {"dependencies": [{"name": "jinja2", "version": "2.0", "vulns": [{"id": "PYSEC-1"}]}]}
    assert judge_pip_audit(vulnerable).vulnerable == ["jinja2==2.0: PYSEC-1"]
    assert main([str(_write(tmp_path, vulnerable))]) == 1
    assert judge_pip_audit({"dependencies": []}).clean is False
    assert main([str(_write(tmp_path, {"dependencies": audited, "fixes": []}))]) == 0


def test_npm_reports(tmp_path: Path) -> None:
    refused = {"error": {"code": "ENOAUDIT", "summary": "audit endpoint returned an error"}}
    assert judge_npm_audit(refused).clean is False
    assert main(["--npm", str(_write(tmp_path, refused))]) == 1
    clean = {"vulnerabilities": {}, "metadata": {"dependencies": {"total": 9}}}
    assert judge_npm_audit(clean).clean and main(["--npm", str(_write(tmp_path, clean))]) == 0
    nothing = {"vulnerabilities": {}, "metadata": {"dependencies": {"total": 0}}}
    assert not judge_npm_audit(nothing).clean
    assert not judge_npm_audit({"vulnerabilities": {"esbuild": {}}, "metadata": {"dependencies": {"total": 9}}}).clean


def test_anything_else_is_not_a_report(tmp_path: Path) -> None:
    assert main([str(_write(tmp_path, ["not", "a", "report"]))]) == 2
    (tmp_path / "broken.json").write_text("{")
    assert main([str(tmp_path / "broken.json")]) == 2
