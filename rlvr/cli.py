"""`rlvr` command line: `rlvr train ...`, `rlvr eval ...`, `rlvr plot RUN_DIR`, ...; Hydra does the config.

    rlvr train experiment=tiny algo.adv_scale=none      # compose recipes/, override anything
    rlvr train --cfg job                                # print the composed config
    rlvr train --help                                   # config groups and options

User mistakes (bad paths, malformed data, invalid values, unknown keys and config group options) end with one
`error: ...` line and exit code 2; a run the monitor gave up on (too many rollbacks) or whose learner rank died
ends with one `stopped: ...` line and exit code 3. Bugs keep their traceback.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

USAGE = """usage: rlvr <command> [hydra overrides...]

commands:
  train      run GRPO training (default recipe: experiment=tiny, the CPU demo)
  eval       evaluate a model on a held-out set (pass@1, pass@k, maj@k)
  bench      time training steps of a recipe: where a step's time goes, tokens/s, peak memory
  make-tiny  build the tiny arithmetic base model used by the demo
  plot       PNG plots of a finished run (reward, accuracy, length, entropy, KL, clipping, step time)
  inspect    a step's completions with their rewards and the verifier's reasons: inspect RUN_DIR --step N
  export     a run's policy as one Hugging Face checkpoint, LoRA merged: export RUN_DIR --out DIR

`rlvr <command> --help` shows the config groups; `--cfg job` prints the composed config."""


def _user_errors() -> tuple[type[BaseException], ...]:
    from rewards.registry import RewardConfigError
    from rlvr.errors import RlvrError

    return (RlvrError, RewardConfigError)


def run_hydra(config_name: str, task: Callable, argv: list[str]) -> None:
    """Run `task(cfg)` under Hydra with `argv` as overrides; user errors become one line and exit 2."""
    import hydra
    from omegaconf import DictConfig

    from rlvr.config import recipes_dir, register_configs

    register_configs()
    errors = _user_errors()

    from rlvr.errors import TrainingStopped

    @hydra.main(version_base=None, config_path=str(recipes_dir()), config_name=config_name)
    def _main(cfg: DictConfig) -> None:
        _unwind_on_signals()
        try:
            task(cfg)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)
        except TrainingStopped as exc:
            print(f"stopped: {exc}", file=sys.stderr)
            sys.exit(3)
        except errors as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)

    _check_composes(config_name, argv)
    sys.argv = [f"rlvr {config_name}", *argv]
    _main()


def _check_composes(config_name: str, argv: list[str]) -> None:
    """Compose the config once before Hydra's app does, so a group option that does not exist (`cluster=banana`)
    or a malformed override is one line and exit 2 (Hydra's app prints a paragraph and exits 1). Runs only for
    plain overrides: Hydra's own flags (`--cfg job`, `--help`) and `hydra.*` keys are the app's business."""
    if any(arg.startswith("-") or arg.lstrip("+~").startswith("hydra") for arg in argv):
        return
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from rlvr.config import recipes_dir

    try:
        with initialize_config_dir(config_dir=str(recipes_dir()), version_base=None):
            compose(config_name=config_name, overrides=argv)
    except (HydraException, OmegaConfBaseException) as exc:
        cause = f"\n{exc.__cause__}" if exc.__cause__ is not None else ""
        print(f"error: {_one_line(f'{exc}{cause}')}", file=sys.stderr)
        sys.exit(2)
    except _user_errors():
        return  # a value the schema refuses: the app reports it, the same way as every other


def _one_line(hydra_message: str) -> str:
    """Hydra's paragraph as one line: what failed, why, and the choices a config group offers."""
    lines = hydra_message.strip().splitlines()
    noise = ("To append", "Available options", "Config search path", "Set the environment")
    why = [line for line in lines[1:] if line.strip() and not line[0].isspace() and not line.startswith(noise)]
    options = [line.strip() for line in lines if line.startswith("\t") and "provider=" not in line]
    text = ": ".join([lines[0].rstrip("."), *why[:1]])
    return f"{text} (choose from: {', '.join(options)})" if options else text


CLEANUP_GRACE_S = 30.0


def _unwind_on_signals() -> None:
    """SIGTERM (what `timeout`, Slurm and Kubernetes send) unwinds the run like Ctrl-C does, so every engine,
    actor and worker is closed on the way out instead of being orphaned.

    Either signal lands wherever the learner happens to be, possibly inside a lock another thread then waits
    for while the run closes; so each also arms a deadline: if the unwinding has not ended the process within
    CLEANUP_GRACE_S (or at a second Ctrl-C), it exits at once. That is the path of a learner killed outright,
    which the actors watch for: each then ends its own processes and removes its shared memory and weight
    files (tests/integration/test_exit_paths.py)."""
    import os
    import threading
    import time

    armed: list[int] = []

    def arm(code: int, what: str) -> None:
        if armed:  # a second signal: no more waiting
            print(f"{what} again: exiting now", file=sys.stderr, flush=True)
            os._exit(armed[0])
        armed.append(code)

        def deadline() -> None:
            time.sleep(CLEANUP_GRACE_S)
            print(f"{what}: cleanup took over {CLEANUP_GRACE_S:g} s, exiting now", file=sys.stderr, flush=True)
            os._exit(code)

        threading.Thread(target=deadline, daemon=True, name="rlvr-exit-deadline").start()

    def on_sigterm(signum: int, frame: object) -> None:
        arm(128 + signum, "terminated")
        raise SystemExit(128 + signum)

    def on_sigint(signum: int, frame: object) -> None:
        arm(130, "interrupted")
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, on_sigint)


def train_task(cfg) -> None:
    from rlvr.config import to_config

    config = to_config(cfg)  # before the heavy imports: a config mistake is reported in a second
    from rlvr.run import train

    train(config)


def eval_task(cfg) -> None:
    from rlvr.config import to_config

    config = to_config(cfg)
    from rlvr.run import evaluate_only

    evaluate_only(config)


def bench(argv: list[str]) -> None:
    """`rlvr bench`: the recipe is composed from the arguments (no Hydra app), so its errors are caught here."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from rlvr.bench import main as bench_main

    try:
        bench_main(argv)
    except (*_user_errors(), HydraException, OmegaConfBaseException) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)


def make_tiny(argv: list[str]) -> None:
    from rlvr.tiny.pretrain import main as make_tiny_main

    make_tiny_main(argv)


def run_tool(module: str) -> Callable[[list[str]], None]:
    """A command that reads a finished run (`module.main(argv)`); its user errors are one line, exit 2."""

    def command(argv: list[str]) -> None:
        import importlib

        try:
            importlib.import_module(module).main(argv)
        except _user_errors() as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)

    return command


COMMANDS: dict[str, Callable[[list[str]], None]] = {
    "train": lambda argv: run_hydra("train", train_task, argv),
    "eval": lambda argv: run_hydra("eval", eval_task, argv),
    "bench": bench,
    "make-tiny": make_tiny,
    "plot": run_tool("rlvr.plots"),
    "inspect": run_tool("rlvr.inspect_run"),
    "export": run_tool("rlvr.export"),
}


def main() -> None:
    argv = sys.argv[1:]
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        sys.exit(0 if argv else 2)
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        sys.exit(2)
    COMMANDS[command](rest)


if __name__ == "__main__":
    main()
