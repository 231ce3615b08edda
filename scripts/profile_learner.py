"""Where one learner step's time goes, at the demo's shape (8 prompts x 8 completions of up to 64 tokens).

    python scripts/profile_learner.py [--model artifacts/tiny-base] [--threads 2] [OVERRIDES ...]

Builds a batch from the model's own train prompts with random completions of 30-64 tokens (advantages +-1),
times `Learner.step` (median of 5 after a warm-up), then prints torch.profiler's table of operators by self
CPU time for one more step. OVERRIDES are Hydra overrides of `experiment=tiny` (e.g. optim.micro_batch_size=16).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "artifacts" / "tiny-base")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    import torch
    from torch.profiler import ProfilerActivity, profile

    from rlvr.batching import collate
    from rlvr.config import compose
    from rlvr.data import load_samples
    from rlvr.learner import Learner
    from rlvr.model import load_model, load_tokenizer
    from rlvr.rollout.base import encode_prompts
    from rlvr.types import Rollout

    torch.set_num_threads(args.threads)
    m = args.model
    cfg = compose([
        "experiment=tiny", f"model.path={m}", f"data.path={m / 'train.jsonl'}", f"eval.data.path={m / 'heldout.jsonl'}",
        "run_dir=/tmp/unused", *args.overrides,
    ])  # fmt: skip
    tokenizer = load_tokenizer(cfg.model)
    torch.manual_seed(0)
    learner = Learner(cfg, load_model(cfg.model, torch.device("cpu")), torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    rollouts = []
    for sample in load_samples(cfg.data, tokenizer)[:8]:
        prompt_ids = encode_prompts(tokenizer, [sample.prompt])[0]
        for _ in range(8):
            n = int(torch.randint(30, 65, (1,), generator=generator))
            ids = torch.randint(5, len(tokenizer) - 5, (n,), generator=generator).tolist()
            rollouts.append(Rollout(sample, prompt_ids, ids, "", [-1.0] * n, "length"))
    advantages = torch.tensor([1.0 if i % 2 else -1.0 for i in range(len(rollouts))])
    batch = collate(rollouts, advantages, torch.ones(len(rollouts)), tokenizer.pad_token_id)
    real = int(batch.prompt_mask.sum() + batch.completion_mask.sum())
    slots = batch.prompt_mask.numel() + batch.completion_mask.numel()
    print(f"batch {tuple(batch.prompt_ids.shape)} prompts + {tuple(batch.completion_ids.shape)} completions; "
          f"{real} of {slots} token slots real ({100 * real / slots:.0f}%)")  # fmt: skip
    learner.step(batch)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        learner.step(batch)
        times.append(time.perf_counter() - start)
    print(f"learner step: median {statistics.median(times):.3f} s of 5")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        learner.step(batch)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
