"""Weight sync into a rollout actor: a weight file against a broadcast, side by side on this machine.

    python scripts/bench_weight_sync.py [--shape tiny|qwen3-0.6b] [--rounds 2] [--syncs 3]

For each transport (`rollout.weight_transport=file|broadcast`, alternating, `--rounds` times) it starts one HF
actor (`rollout.mode=actor`, a subprocess) beside a learner in this process, then times `--syncs` syncs of
changed weights (the first sync, at the actor's start, is not counted):

* learner's side: until `update_weights` returns (the file written into /dev/shm; or the broadcast delivered
  into the actor's staging copy), the time the learner cannot train;
* until loaded: until the actor's engine has loaded them (`wait_for_weights`).

Shapes: `tiny` is the demo's model (artifacts/tiny-base, float32); `qwen3-0.6b` is Qwen3-0.6B-Base's exact
architecture with random weights (`rlvr.tiny.qwen3_shape`, float32 on this CPU). Prints one JSON line per
round and transport, then the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(model_args: list[str], transport: str, syncs: int) -> dict:
    import torch

    from rlvr.config import compose
    from rlvr.learner import Learner
    from rlvr.model import load_model, load_tokenizer
    from rlvr.rollout.factory import make_engine

    cfg = compose([
        "experiment=tiny", *model_args, "rollout.mode=actor", "rollout.actor_backend=process", "rollout.threads=1",
        f"rollout.weight_transport={transport}", "tracking.wandb=disabled", "tracking.progress=false",
        f"run_dir={ROOT / 'runs' / 'bench_weight_sync'}",
    ])  # fmt: skip
    learner = Learner(cfg, load_model(cfg.model, torch.device("cpu")), torch.device("cpu"))
    engine = make_engine(cfg, learner, load_tokenizer(cfg.model))
    try:
        engine.wait_for_weights()
        sides, loaded, megabytes = [], [], 0.0
        parameter = next(learner.model.parameters())
        for version in range(1, syncs + 1):
            with torch.no_grad():
                parameter.add_(1e-3)  # new weights each time
            start = time.perf_counter()
            metrics = engine.update_weights(learner.named_weights, version)
            sides.append(time.perf_counter() - start)
            engine.wait_for_weights()
            loaded.append(time.perf_counter() - start)
            megabytes = metrics["rollout/sync_mb"]
        failed = [e for e in engine.events() if e["event"] == "weights_broadcast_failed"]
        if failed:
            raise SystemExit(f"a broadcast fell back to a file: {failed[0]['reason']}")
    finally:
        engine.close()
    return {"transport": transport, "mb": round(megabytes, 1), "learner_s": sides, "loaded_s": loaded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("tiny", "qwen3-0.6b"), default="tiny")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--syncs", type=int, default=3)
    parser.add_argument("--tokenizer", type=Path, default=ROOT / "artifacts" / "tiny-base")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_weight_sync")
    args = parser.parse_args()
    if args.shape == "tiny":
        model_args = [f"model.path={args.tokenizer}"]
    else:
        from rlvr.tiny import qwen3_shape

        shape = qwen3_shape.write(args.out / "qwen3-0.6b-shape", args.tokenizer)
        model_args = [f"model.path={shape}", "model.from_config=true"]
    results: dict[str, list[dict]] = {"file": [], "broadcast": []}
    for round_ in range(args.rounds):
        for transport in ("file", "broadcast") if round_ % 2 == 0 else ("broadcast", "file"):
            result = measure(model_args, transport, args.syncs)
            results[transport].append(result)
            print(json.dumps({"round": round_, **result}), flush=True)
    for transport, rows in results.items():
        side = statistics.median(s for r in rows for s in r["learner_s"])
        loaded = statistics.median(s for r in rows for s in r["loaded_s"])
        mb = rows[0]["mb"]
        print(
            f"{transport}: {mb} MB; learner's side {side * 1e3:.1f} ms ({side * 1e3 / mb:.2f} ms/MB), "
            f"until loaded {loaded * 1e3:.1f} ms ({loaded * 1e3 / mb:.2f} ms/MB)"
        )


if __name__ == "__main__":
    main()
