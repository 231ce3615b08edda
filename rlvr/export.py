"""`rlvr export RUN_DIR [--step N] --out DIR`: a run's weights as one Hugging Face checkpoint that
`transformers` and vLLM load with nothing else (a LoRA adapter is merged into its base).

The weights come from the run's checkpoint of step N (the newest when no step is given), loaded the way a
resumed run loads them (`rlvr.model.load_model` with `model.checkpoint`), so the export is the policy the run
itself was sampling from. It is written to a temporary directory beside `--out` and renamed into place;
`--out` must not already hold files, and nothing in the run directory is modified.
"""

from __future__ import annotations

from pathlib import Path

from rlvr.checkpoint import CheckpointManager, save_pretrained_atomically
from rlvr.config import CheckpointConfig, ModelConfig, model_config_of_run
from rlvr.errors import ConfigError, one_line_parser
from rlvr.rundir import reading


def checkpoint_of(run_dir: Path, step: int | None) -> Path:
    """The checkpoint directory to export, or a one-line ConfigError listing the steps there are."""
    checkpoints = CheckpointManager(run_dir, CheckpointConfig())
    steps = checkpoints.steps()
    if not steps:
        raise ConfigError(f"{run_dir} holds no checkpoint (checkpoints/step_*); nothing to export")
    if step is None:
        step = steps[-1]
    if step not in steps:
        raise ConfigError(f"{run_dir} has no checkpoint of step {step}; it has steps {', '.join(map(str, steps))}")
    return checkpoints.path(step)


def export(run_dir: Path, out: Path, *, step: int | None = None, dtype: str | None = None) -> Path:
    """Write the merged checkpoint of `run_dir` (step `step`) to `out`; returns the checkpoint it came from."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out} already exists and is not an empty directory; choose another")
    source = checkpoint_of(run_dir, step)
    model_cfg: ModelConfig = model_config_of_run(source)  # the checkpoint's own config: the run's may be newer
    model_cfg.checkpoint = str(source)
    dtype = dtype or model_cfg.dtype

    import torch

    from rlvr.model import DTYPES, load_model, load_tokenizer

    if dtype not in DTYPES:
        raise ConfigError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")

    tokenizer = load_tokenizer(model_cfg)
    model = load_model(model_cfg, torch.device("cpu"))
    if hasattr(model, "merge_and_unload"):  # a PEFT model: fold the adapter into the base weights
        model = model.merge_and_unload()
    model = model.to(DTYPES[dtype])
    save_pretrained_atomically(model, tokenizer, out)  # `out` is absent or empty (checked above)
    return source


def main(argv: list[str]) -> None:
    """`rlvr export`."""
    parser = one_line_parser("rlvr export", "a run's policy as one Hugging Face checkpoint (LoRA merged)")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: the newest)")
    parser.add_argument("--out", type=Path, required=True, help="directory to write (must not hold files)")
    parser.add_argument("--dtype", default=None, help="float32 | bfloat16 | float16 (default: the run's model.dtype)")
    args = parser.parse_args(argv)
    with reading(args.run_dir) as run_dir:
        source = export(run_dir, args.out, step=args.step, dtype=args.dtype)
    print(f"wrote {args.out} (from {source.name} of {args.run_dir})")
