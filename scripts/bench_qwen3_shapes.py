"""Qwen3-0.6B-Base at the book recipe's real shapes on this machine, and a projection to one H100.

    python scripts/bench_qwen3_shapes.py [--steps 2] [--skip-run]

1. Measured: `rlvr train experiment=qwen3_math500` on a randomly initialised model with Qwen3-0.6B-Base's
   exact architecture (local tokenizer; a random model never stops early, so every rollout is the full 512
   tokens), 1 prompt x 8 rollouts x 512 new tokens, 2 steps, micro-batches of 2: step time, generation vs
   learning time, peak resident memory.
2. Measured: the per-token dispatch cost of HF `generate` for a 28-layer Qwen3 (the same ops per token as
   the real model at a width where the arithmetic is negligible): the framework overhead that bounds HF
   decoding on a GPU, where the arithmetic is fast.
3. Projected (not measured): 50 steps on one H100 from the FLOPs and bytes of a step, with the assumptions
   printed next to the result.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MATH500 = ROOT.parent / "shared" / "data" / "math500_test.json"

# H100 SXM: dense bf16 989 TFLOP/s, HBM3 3.35 TB/s. Efficiencies are assumptions, stated with the result.
H100_FLOPS, H100_BYTES_S = 989e12, 3.35e12
TRAIN_MFU, DECODE_BW_EFFICIENCY = 0.35, 0.6
VLLM_STEP_OVERHEAD_S = 0.002  # a CUDA-graph decode step of a small model: launch-bound floor


def measure_run(steps: int, run_dir: Path, shape: Path) -> dict:
    from rlvr.config import compose
    from rlvr.run import train
    from rlvr.tracking import read_metrics

    cfg = compose([
        "experiment=qwen3_math500", f"model.path={shape}", "model.from_config=true", "model.device=cpu",
        f"data.path={MATH500}", f"eval.data.path={MATH500}", "eval.before_training=false",
        "eval.after_training=false", "checkpoint.save_final=false", f"steps={steps}", f"run_dir={run_dir}",
        "tracking.wandb=disabled", "tracking.progress=false", "threads=2",
        # the same loss in micro-batches of 2 sequences: 8 x 662 tokens of activations at once do not fit
        # next to the optimizer in this machine's 24 GB (an H100 has 80 GB)
        "optim.micro_batch_size=2",
    ])  # fmt: skip
    train(cfg)
    rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if "reward/mean" in r]
    return {
        "steps": [
            {
                k: r[k]
                for k in (
                    "step",
                    "time/step_s",
                    "time/generate_s",
                    "time/learn_s",
                    "rollout/length_mean",
                    "learn/tokens",
                )
            }
            for r in rows
        ],
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def hf_dispatch_overhead_s(tokenizer_dir: Path) -> float:
    """Seconds per generated token of HF generate (batch 8) for a 28-layer Qwen3 of negligible width."""
    import torch
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=64, num_hidden_layers=28,
        num_attention_heads=1, num_key_value_heads=1, head_dim=64, tie_word_embeddings=True,
    )  # fmt: skip
    model = Qwen3ForCausalLM(config).eval()
    ids = torch.randint(0, len(tokenizer), (8, 32))
    with torch.no_grad():
        model.generate(ids, max_new_tokens=16, min_new_tokens=16, do_sample=True)
        start = time.perf_counter()
        model.generate(ids, max_new_tokens=128, min_new_tokens=128, do_sample=True)
    return (time.perf_counter() - start) / 128


def projection(run: dict, overhead_s: float, steps: int = 50) -> dict:
    from rlvr.tiny.qwen3_shape import QWEN3_0_6B_BASE as c

    layers, hidden, inter = c["num_hidden_layers"], c["hidden_size"], c["intermediate_size"]
    q, kv, head = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    per_layer = hidden * head * (q + 2 * kv) + q * head * hidden + 3 * hidden * inter
    params_matmul = layers * per_layer + hidden * c["vocab_size"]  # + the (tied) output projection
    weight_bytes = 2 * (layers * per_layer + hidden * c["vocab_size"])  # bf16, embedding stored once
    rollouts, new_tokens, prompt_tokens = 8, 512, 150
    seq_tokens = rollouts * (prompt_tokens + new_tokens)
    learn_flops = 6 * params_matmul * seq_tokens  # forward + backward
    learn_s = learn_flops / (H100_FLOPS * TRAIN_MFU)
    decode_memory_s = weight_bytes / (H100_BYTES_S * DECODE_BW_EFFICIENCY)  # every decode step reads all weights
    hf_gen_s = new_tokens * max(decode_memory_s, overhead_s)
    vllm_gen_s = new_tokens * max(decode_memory_s, VLLM_STEP_OVERHEAD_S)
    # MATH-500 greedy eval at steps 0 and 50, up to 2048 new tokens: a batch decodes until its longest answer
    # ends, so count 2048 steps per batch (64 prompts per HF call; vLLM takes all 500 at once)
    eval_tokens, problems = 2048, 500
    hf_eval_s = 2 * -(-problems // 64) * eval_tokens * max(decode_memory_s, overhead_s)
    vllm_step_s = max(decode_memory_s, 2 * params_matmul * problems / (H100_FLOPS * TRAIN_MFU), VLLM_STEP_OVERHEAD_S)
    vllm_eval_s = 2 * eval_tokens * vllm_step_s
    return {
        "matmul_params_millions": params_matmul / 1e6,
        "learn_tflop_per_step": learn_flops / 1e12,
        "decode_gb_read_per_step": new_tokens * weight_bytes / 1e9,
        "learn_s_per_step": learn_s,
        "hf_generate_s_per_step": hf_gen_s,
        "vllm_generate_s_per_step": vllm_gen_s,
        "hf_50_steps_min": steps * (learn_s + hf_gen_s) / 60,
        "vllm_50_steps_min": steps * (learn_s + vllm_gen_s) / 60,
        "hf_two_evals_min": hf_eval_s / 60,
        "vllm_two_evals_min": vllm_eval_s / 60,
        "hf_total_min": (steps * (learn_s + hf_gen_s) + hf_eval_s) / 60,
        "vllm_total_min": (steps * (learn_s + vllm_gen_s) + vllm_eval_s) / 60,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--tokenizer", type=Path, default=ROOT / "artifacts" / "tiny-base")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_qwen3_shapes")
    parser.add_argument("--skip-run", action="store_true", help="reuse the measurement in --out/measured.json")
    args = parser.parse_args()
    from rlvr.tiny import qwen3_shape

    shape = qwen3_shape.write(args.out / "qwen3-0.6b-shape", args.tokenizer)
    measured_path = args.out / "measured.json"
    if args.skip_run:
        run = json.loads(measured_path.read_text())
    else:
        run = measure_run(args.steps, args.out / "run", shape)
        measured_path.write_text(json.dumps(run, indent=1))
    overhead = hf_dispatch_overhead_s(args.tokenizer)
    proj = projection(run, overhead)
    print("measured on this machine (random-init Qwen3-0.6B-Base architecture, bf16, 1 x 8 x 512):")
    for s in run["steps"]:
        print(
            f"  step {s['step']}: {s['time/step_s']:.0f} s = generate {s['time/generate_s']:.0f} s + learn "
            f"{s['time/learn_s']:.0f} s; mean length {s['rollout/length_mean']:.0f} tokens"
        )
    print(f"  peak resident memory {run['peak_rss_gb']:.1f} GB")
    print(f"  HF generate dispatch cost, 28 layers, batch 8: {1000 * overhead:.1f} ms per token")
    print(
        "projected for one H100 (bf16 989 TFLOP/s at 35% MFU for learning; decode reads all weights per token "
        "at 60% of 3.35 TB/s, floored by the dispatch cost: HF measured above, vLLM with CUDA graphs 2 ms):"
    )
    for key, value in proj.items():
        print(f"  {key:28} {value:10.2f}")
    (args.out / "projection.json").write_text(json.dumps({"hf_dispatch_s": overhead, **proj}, indent=1))


if __name__ == "__main__":
    main()
