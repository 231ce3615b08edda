#!/usr/bin/env bash
# Measure `make demo` as a new user meets it: a fresh clone, no venv, no tiny model, then the whole demo.
# Prints the wall time and the demo's summary.json. Usage: scripts/measure_demo.sh [workdir]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
rm -rf "$work/rlvr-demo"
git clone -q "$repo" "$work/rlvr-demo"
cd "$work/rlvr-demo"
start=$(date +%s)
make demo
end=$(date +%s)
echo "make demo wall time: $((end - start)) s on $(nproc) cores ($(uname -m)), $(date -u +%Y-%m-%d)"
cat runs/demo/summary.json
