#!/usr/bin/env bash
# Installs checkov (the security/best-practice linter of the k8s manifests and the Dockerfile) into a
# virtualenv of its own, .venv/k8s-tools, and prints the path of its `checkov`. Its own venv because
# checkov pins dependencies (packaging, networkx, boto3, ...) that would downgrade the project's.
# Idempotent and quick once installed; the k8s tests call it (tests/integration/k8s), nothing else must.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECKOV_VERSION=3.3.30
TOOLS=.venv/k8s-tools
stamp=$TOOLS/.installed-checkov-$CHECKOV_VERSION
if [ ! -f "$stamp" ]; then
  echo "k8s_tools: installing checkov $CHECKOV_VERSION into $TOOLS" >&2
  rm -rf "$TOOLS"
  .venv/bin/python -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION" 2>&1 \
    | grep -v "is ignored: it is neither" >&2 || true
  "$TOOLS/bin/checkov" --version >/dev/null
  touch "$stamp"
fi
echo "$PWD/$TOOLS/bin/checkov"
