"""Rollout throughput, HF vs vLLM backends, at the demo's batch shape; and weight-sync time per MB.

    python scripts/bench_rollout.py [--model artifacts/tiny-base] [--prompts 8] [--n 8] [--max-tokens 64]

Both engines sample the same prompts from the same weights (the learner's model for HF, a colocated vLLM
engine for vLLM); tokens/s counts generated completion tokens over wall time, median of --repeats calls
after a warm-up. Weight sync pushes the learner's full state into the running vLLM engine.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def tokens_per_s(engine, samples, params, repeats: int) -> float:
    engine.generate(samples, params)  # warm-up (compilation, caches)
    rates = []
    for i in range(repeats):
        start = time.perf_counter()
        groups = engine.generate(samples, dataclasses.replace(params, seed=i))
        rates.append(sum(len(r.completion_ids) for g in groups for r in g) / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "artifacts" / "tiny-base"))
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--eager", action="store_true", help="vLLM enforce_eager (no graph compilation)")
    args = parser.parse_args()

    import torch

    from rlvr.config import compose
    from rlvr.data import load_samples
    from rlvr.learner import Learner
    from rlvr.model import load_model, load_tokenizer
    from rlvr.rollout.base import SamplingParams
    from rlvr.rollout.factory import make_engine as make_vllm_engine
    from rlvr.rollout.hf import HFEngine

    torch.set_num_threads(2)
    model = Path(args.model)
    cfg = compose([
        "experiment=tiny", f"model.path={model}", f"data.path={model / 'train.jsonl'}",
        "rollout=vllm", "rollout.gpu_memory_utilization=0.1", f"rollout.enforce_eager={str(args.eager).lower()}",
    ])  # fmt: skip
    tokenizer = load_tokenizer(cfg.model)
    learner = Learner(cfg, load_model(cfg.model, torch.device("cpu")), torch.device("cpu"))
    samples = load_samples(cfg.data, tokenizer)[: args.prompts]
    params = SamplingParams(n=args.n, temperature=1.0, max_tokens=args.max_tokens, seed=0)
    hf_rate = tokens_per_s(HFEngine(learner.model, tokenizer, batch_size=64), samples, params, args.repeats)
    start = time.perf_counter()
    engine = make_vllm_engine(cfg, learner, tokenizer)
    startup = time.perf_counter() - start
    vllm_rate = tokens_per_s(engine, samples, params, args.repeats)
    syncs = [engine.update_weights(learner.named_weights, v) for v in range(1, 6)]
    engine.close()
    mb = syncs[0]["rollout/sync_mb"]
    sync_s = statistics.median(s["rollout/sync_s"] for s in syncs)
    shape = f"{args.prompts} prompts x {args.n} rollouts x {args.max_tokens} max new tokens"
    print(f"shape: {shape}; model {model.name}, {sum(p.numel() for p in learner.model.parameters()) / 1e6:.2f}M params")
    print(f"HF      {hf_rate:8.0f} tokens/s")
    ratio = vllm_rate / hf_rate
    print(f"vLLM    {vllm_rate:8.0f} tokens/s  ({ratio:.2f}x HF; engine start {startup:.0f} s, eager={args.eager})")
    print(f"weight sync: {mb:.2f} MB in {1000 * sync_s:.1f} ms median = {1000 * sync_s / mb:.1f} ms/MB")


if __name__ == "__main__":
    main()
