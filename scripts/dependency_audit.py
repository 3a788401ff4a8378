"""Reads a dependency audit's JSON report and fails unless it really audited something: a pip-audit run
whose every package was skipped ("not found", as when the vulnerability service cannot be reached) also
ends in "No known vulnerabilities found", which audited nothing, and must never be read as clean.

    pip-audit -r requirements/runtime.lock -f json -o pip-audit.json; python scripts/dependency_audit.py pip-audit.json
    npm audit --json > npm-audit.json; python scripts/dependency_audit.py --npm npm-audit.json

Exit 0: every package was audited and none has a known vulnerability. Exit 1: vulnerabilities, skipped
packages, nothing audited or an npm error. Exit 2: the report is not one of these tools' JSON."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class AuditVerdict:
    audited: int = 0
    skipped: list[str] = field(default_factory=list)
    vulnerable: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.audited > 0 and not self.skipped and not self.vulnerable and not self.problems

    def lines(self) -> list[str]:
        out = [f"audited {self.audited} packages, skipped {len(self.skipped)}, vulnerable {len(self.vulnerable)}"]
        out += [f"  not audited: {name}" for name in self.skipped[:20]]
        out += [f"  vulnerable: {name}" for name in self.vulnerable]
        out += [f"  {problem}" for problem in self.problems]
        if self.audited == 0:
            out.append("  NOTHING WAS AUDITED: this is not a clean result (is the vulnerability service reachable?)")
        out.append("clean" if self.clean else "NOT CLEAN")
        return out


class NotAReport(ValueError):
    pass


def judge_pip_audit(report: Any) -> AuditVerdict:
    """pip-audit's `-f json`: {"dependencies": [{"name", "version", "vulns": [...]} or {"name",
    "skip_reason"}], "fixes": [...]}."""
    if not isinstance(report, dict) or not isinstance(report.get("dependencies"), list):
        raise NotAReport("not pip-audit JSON: no 'dependencies' list")
    verdict = AuditVerdict()
    for dependency in report["dependencies"]:
        name = f"{dependency.get('name')}=={dependency.get('version', '?')}"
        if dependency.get("skip_reason") or "vulns" not in dependency:
            verdict.skipped.append(f"{name} ({dependency.get('skip_reason', 'no result')})")
            continue
        verdict.audited += 1
        if dependency["vulns"]:
            verdict.vulnerable.append(f"{name}: " + ", ".join(str(v.get("id")) for v in dependency["vulns"]))
    if not report["dependencies"]:
        verdict.problems.append("the report lists no dependencies at all")
    return verdict


def judge_npm_audit(report: Any) -> AuditVerdict:
    """`npm audit --json` (v7+): {"vulnerabilities": {...}, "metadata": {"dependencies": {"total": N}}};
    a refused audit is {"error": {...}}."""
    if not isinstance(report, dict):
        raise NotAReport("not npm audit JSON")
    verdict = AuditVerdict()
    if "error" in report:
        verdict.problems.append(f"npm audit failed: {json.dumps(report['error'])[:300]}")
        return verdict
    metadata = report.get("metadata")
    if not isinstance(metadata, dict) or "dependencies" not in metadata:
        raise NotAReport("not npm audit JSON: no metadata.dependencies")
    dependencies = metadata["dependencies"]
    verdict.audited = int(dependencies.get("total", 0) if isinstance(dependencies, dict) else dependencies)
    verdict.vulnerable = sorted(report.get("vulnerabilities") or {})
    return verdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path, help="the audit's JSON report")
    parser.add_argument("--npm", action="store_true", help="the report is npm audit's, not pip-audit's")
    args = parser.parse_args(argv)
    try:
        report = json.loads(args.report.read_text())
        verdict = judge_npm_audit(report) if args.npm else judge_pip_audit(report)
    except (OSError, json.JSONDecodeError, NotAReport) as exc:
        print(f"dependency audit: cannot read {args.report}: {exc}", file=sys.stderr)
        return 2
    print("\n".join(verdict.lines()))
    return 0 if verdict.clean else 1


if __name__ == "__main__":
    sys.exit(main())
