"""Build the tiny "base models" of the CPU demos: Qwen3-architecture LMs pretrained on arithmetic word problems
(`--kind math`, the default) or on one-line Python tasks (`--kind code`).

They are the local stand-ins for Qwen3-0.6B-Base. Pretraining text mixes solution styles (see
`rlvr.tiny.problems` and `rlvr.tiny.code_tasks`): the math model computes answers well when it writes its
working, badly when it does not, and writes `\\boxed{}` only sometimes; the code model writes the right line
often but fences it only sometimes. The output directory is a normal `save_pretrained` checkpoint (model and
tokenizer) loaded through the same `from_pretrained` path as a hub model, plus the RL train and held-out
sets as JSONL and the exact pretraining text (`pretrain.txt`) for the audit (scripts/check_contamination.py).

Deterministic: same seed, same thread count, same bytes.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

from rlvr.checkpoint import readable_safetensors
from rlvr.tiny import code_tasks
from rlvr.tiny.problems import (
    Chain,
    Problem,
    arithmetic_drill,
    chains_in,
    pretraining_document,
    sample_problem,
    split_problems,
)
from rlvr.tiny.tokenizer import train_tokenizer


@dataclass
class TinyBaseSpec:
    """Everything that determines the tiny base model; saved next to it as `tiny_spec.json`."""

    seed: int = 0
    hidden_size: int = 128
    num_layers: int = 4
    intermediate_size: int = 512
    head_dim: int = 64  # vLLM's CPU attention needs head_dim >= 64
    n_documents: int = 45_000
    block_size: int = 128
    batch_size: int = 16
    lr: float = 3e-3
    warmup_steps: int = 50
    # how often pretraining text shows the working: less often than a bare "The answer is N.", so that greedy
    # decoding's first choice is a bare answer (mostly wrong on a held-out chain) and the base model's answers
    # are poor, not only unboxed; sampling still shows working often enough for RL to find it
    p_steps: float = 0.4
    p_boxed: float = 0.3  # how often a solution with working writes its result as \boxed{}
    p_boxed_direct: float = 0.08  # how often a bare answer is boxed
    p_answer_phrase: float = 0.8  # how often a plain result reads "The answer is N." (else two other phrasings)
    p_run_on: float = 0.15  # how often a document runs on into another question instead of stopping
    p_drill: float = 0.3  # fraction of documents that are pages of arithmetic facts
    n_train: int = 2000  # RL training problems
    n_heldout: int = 200  # never trained on, neither in pretraining nor in RL
    epochs: int = 1
    kind: str = "math"  # math | code: which world the model is pretrained on (WORLDS)
    p_correct: float = 0.3  # code: how often a solution is right
    p_off_by_one: float = 0.45  # code: how often it is off by one (more often than right: greedy is wrong)
    p_fenced: float = 0.3  # code: how often a solution is in a ```python block (what the reward runs)

    @classmethod
    def code(cls, **overrides: object) -> TinyBaseSpec:
        """The code model's defaults: fewer, shorter documents and RL tasks (`rlvr make-tiny --kind code`)."""
        # 190 identities (10 families x constants 2-20): 50 held out, the other 140 are the RL tasks
        return cls(**{"kind": "code", "n_documents": 20_000, "n_train": 140, "n_heldout": 50, **overrides})


def model_config(spec: TinyBaseSpec, vocab_size: int, eos_id: int) -> Qwen3Config:
    """Qwen3 architecture at toy width; the same code paths as Qwen3-0.6B-Base."""
    heads = spec.hidden_size // spec.head_dim
    return Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        head_dim=spec.head_dim,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )


def _math_corpus(spec: TinyBaseSpec, reserved: frozenset[Chain]) -> list[str]:
    """The pretraining documents: worked problems in mixed styles and drill pages, none of which writes a
    `reserved` (held-out) chain, as a story or as consecutive facts (also across a run-on's two problems)."""
    rng = random.Random(spec.seed + 1)
    docs: list[str] = []
    style = {
        "p_steps": spec.p_steps,
        "p_boxed": spec.p_boxed,
        "p_boxed_direct": spec.p_boxed_direct,
        "p_answer_phrase": spec.p_answer_phrase,
    }
    while len(docs) < spec.n_documents:
        if rng.random() < spec.p_drill:
            docs.append(arithmetic_drill(rng, reserved=reserved))
            continue
        doc = pretraining_document(rng, sample_problem(rng, reserved), **style)
        if rng.random() < spec.p_run_on:
            doc += "\n\n" + pretraining_document(rng, sample_problem(rng, reserved), **style)
        if not chains_in(doc) & reserved:
            docs.append(doc)
    return docs


def _math_world(spec: TinyBaseSpec) -> tuple[list[str], list[dict], list[dict]]:
    train, heldout = split_problems(spec.seed, spec.n_train, spec.n_heldout)
    corpus = _math_corpus(spec, frozenset(p.steps for p in heldout))
    return corpus, _problem_rows(train, "train"), _problem_rows(heldout, "heldout")


def _code_world(spec: TinyBaseSpec) -> tuple[list[str], list[dict], list[dict]]:
    """Tasks in mixed styles; no document describes a held-out task or writes its correct line (a mistake
    in another task's solution can: such a document is not used)."""
    train, heldout = code_tasks.split_tasks(spec.seed, spec.n_train, spec.n_heldout)
    reserved = frozenset(t.identity for t in heldout)
    rng = random.Random(spec.seed + 1)
    style = {"p_correct": spec.p_correct, "p_off_by_one": spec.p_off_by_one, "p_fenced": spec.p_fenced}
    docs: list[str] = []
    while len(docs) < spec.n_documents:
        doc = code_tasks.pretraining_document(rng, code_tasks.sample_task(rng, reserved), **style)
        if rng.random() < spec.p_run_on:
            doc += "\n\n" + code_tasks.pretraining_document(rng, code_tasks.sample_task(rng, reserved), **style)
        if not code_tasks.identities_written(doc) & reserved:
            docs.append(doc)
    rows = [code_tasks.task_row(t, i, "train") for i, t in enumerate(train)]
    return docs, rows, [code_tasks.task_row(t, i, "heldout") for i, t in enumerate(heldout)]


# What each kind of tiny model is pretrained on: (pretraining documents, RL train rows, held-out rows).
WORLDS: dict[str, Callable[[TinyBaseSpec], tuple[list[str], list[dict], list[dict]]]] = {
    "math": _math_world,
    "code": _code_world,
}


def _blocks(token_ids: list[list[int]], eos_id: int, block_size: int) -> torch.Tensor:
    """Pack documents, each followed by EOS, into fixed-length training blocks (GPT-style packing)."""
    stream = [t for ids in token_ids for t in (*ids, eos_id)]
    n = len(stream) // block_size
    return torch.tensor(stream[: n * block_size]).view(n, block_size)


def pretrain(spec: TinyBaseSpec, out_dir: Path, log=print) -> Path:
    """Train the tokenizer and model, write them and the RL problem sets to `out_dir`."""
    torch.manual_seed(spec.seed)
    corpus, train_rows, heldout_rows = WORLDS[spec.kind](spec)
    tokenizer = train_tokenizer(corpus)
    blocks = _blocks(tokenizer(corpus)["input_ids"], tokenizer.eos_token_id, spec.block_size)
    model = Qwen3ForCausalLM(model_config(spec, len(tokenizer), tokenizer.eos_token_id))
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=0.1, betas=(0.9, 0.95))
    total = spec.epochs * (len(blocks) // spec.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min(1.0, (s + 1) / spec.warmup_steps) * 0.5 * (1 + math.cos(math.pi * min(s / total, 1.0))),
    )
    generator = torch.Generator().manual_seed(spec.seed)
    order = torch.cat([torch.randperm(len(blocks), generator=generator) for _ in range(spec.epochs)])
    model.train()
    start = time.time()
    for step in range(total):
        batch = blocks[order[step * spec.batch_size : (step + 1) * spec.batch_size]]
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        if step % 100 == 0 or step == total - 1:
            log(f"pretrain step {step + 1}/{total} loss {loss.item():.3f} ({time.time() - start:.0f}s)")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    readable_safetensors(out_dir)
    (out_dir / "tiny_spec.json").write_text(json.dumps(asdict(spec), indent=2))
    # the exact pretraining text, each document followed by the end-of-document line, for anyone to audit
    # (scripts/check_contamination.py)
    eos_line = f"\n{tokenizer.eos_token}\n"
    (out_dir / "pretrain.txt").write_text("".join(doc + eos_line for doc in corpus))
    for name, rows in (("train.jsonl", train_rows), ("heldout.jsonl", heldout_rows)):
        (out_dir / name).write_text("".join(json.dumps(row) + "\n" for row in rows))
    return out_dir


def _problem_rows(problems: list[Problem], split: str) -> list[dict]:
    return [
        {"id": f"{split}-{i}", "problem": p.question, "answer": str(p.answer), "kind": p.kind,
         "steps": [list(step) for step in p.steps]}
        for i, p in enumerate(problems)
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """`rlvr make-tiny --out DIR [--seed N] [--documents N]`: build the demo's base model if absent."""
    import argparse

    parser = argparse.ArgumentParser(prog="rlvr make-tiny", description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=sorted(WORLDS), default="math", help="what the model is pretrained on")
    parser.add_argument("--out", type=Path, default=None, help="default: artifacts/tiny-base (code: tiny-code)")
    parser.add_argument("--seed", type=int, default=TinyBaseSpec.seed)
    parser.add_argument("--documents", type=int, default=None, help="pretraining documents (default: the kind's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--force", action="store_true", help="rebuild even if the output exists")
    args = parser.parse_args(argv)
    args.out = args.out or Path("artifacts/tiny-base" if args.kind == "math" else f"artifacts/tiny-{args.kind}")
    if (args.out / "config.json").exists() and not args.force:
        print(f"{args.out} exists; --force rebuilds it")
        return
    torch.set_num_threads(args.threads)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # its own progress lines say enough
    overrides = {"seed": args.seed, **({"n_documents": args.documents} if args.documents else {})}
    spec = TinyBaseSpec.code(**overrides) if args.kind == "code" else TinyBaseSpec(**overrides)
    pretrain(spec, args.out)
    print(f"tiny base model written to {args.out}")
