#!/usr/bin/env bash
# Reproduce the book's Qwen3-0.6B-Base MATH-500 jump (15.2% -> 47.4% after 50 GRPO steps) and run our fast
# recipe on the same model and data. Needs a GPU and the model/dataset hubs (or local copies: pass
# data.path=... eval.data.path=... model.path=... as extra overrides).
#
#   scripts/reproduce_qwen3_math500.sh                # both recipes, 50 steps
#   scripts/reproduce_qwen3_math500.sh steps=500      # extra overrides go to both runs
set -euo pipefail
cd "$(dirname "$0")/.."
make install >/dev/null
RLVR=.venv/bin/rlvr
$RLVR train experiment=qwen3_math500 "$@"
$RLVR train experiment=qwen3_math500_fast "$@"
.venv/bin/python - <<'PY'
import json
for name in ("qwen3_math500", "qwen3_math500_fast"):
    s = json.load(open(f"runs/{name}/summary.json"))
    print(f"{name:22} MATH-500 {100 * s['accuracy_before']:.1f}% -> {100 * s['accuracy_after']:.1f}% "
          f"after {s['steps']} steps, {s['wall_s'] / 60:.1f} min")
print("book (ch. 6):          MATH-500 15.2% -> 47.4% after 50 steps, about 20-35 min on one H100")
PY
