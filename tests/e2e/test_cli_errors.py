"""Bad input at the command line: one readable line, a non-zero exit code, no traceback wall."""

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_cli_many, tiny_overrides


def assert_one_line_error(proc, *fragments: str) -> None:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in error_lines[0], error_lines[0]


def test_cfg_job_prints_the_composed_config():
    proc = run_cli("train", "--cfg", "job", "algo.adv_scale=none")
    assert proc.returncode == 0, proc.stderr
    assert "adv_scale: none" in proc.stdout and "group_size: 8" in proc.stdout


def test_help_lists_the_config_groups():
    proc = run_cli("train", "--help")
    assert proc.returncode == 0
    for group in ("algo:", "model:", "data:", "rollout:", "reward:", "experiment:"):
        assert group in proc.stdout


def test_unknown_key_is_hydras_error():
    proc = run_cli("train", "algo.adv_scal=none")
    assert proc.returncode != 0
    assert "adv_scal" in proc.stderr and "Traceback" not in proc.stderr


def test_invalid_choice_names_the_allowed_values():
    proc = run_cli("train", "algo.adv_scale=rank")
    assert proc.returncode != 0
    assert "group_std" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_command():
    proc = run_cli("trian")
    assert proc.returncode == 2 and "unknown command" in proc.stderr


INVALID_VALUES = [
    ("rollout.max_tokens=0", "rollout.max_tokens must be >= 1"),
    ("rollout.group_size=1", "group_size"),
    ("reward.custom=no/such/file.py:fn", "reward file not found"),
    ("reward.math.fn=not_a_reward", "unknown reward function"),
]

BAD_DATASETS = {  # file name -> (contents, fragments of the error)
    "rows.jsonl": (json.dumps({"problem": "1+1?", "answer": "2"}) + "\n" + json.dumps({"problem": "2+2?"}) + "\n",
                   ("row 1", "'answer'")),
    "empty.jsonl": ("", ("empty",)),
    "bad.jsonl": ('{"problem": "1+1?", "answer": "2"}\n{"problem": \n', ("bad.jsonl:2",)),
}  # fmt: skip


@pytest.fixture(scope="module")
def errors(tiny_model_dir, tmp_path_factory):
    """Every failing command line of this module, run once from one warm interpreter (see run_cli_many): case ->
    (the process, its own empty working directory)."""
    cases: dict[str, tuple[list[str], Path]] = {}

    def case(name: str, *overrides: str) -> None:
        cwd = tmp_path_factory.mktemp("cli-error")
        cases[name] = (["train", *tiny_overrides(tiny_model_dir, cwd / "run", *overrides)], cwd)

    for overrides, _ in INVALID_VALUES + CONFIG_ERRORS:
        case(overrides, *overrides.split())
    data_dir = tmp_path_factory.mktemp("datasets")
    for name, (contents, _) in BAD_DATASETS.items():
        (data_dir / name).write_text(contents)
        case(name, f"data.path={data_dir / name}")
    case("missing dataset", f"data.path={data_dir}/nope.jsonl")
    case("missing eval data", "eval.data.path=/no/such/heldout.jsonl")
    cwd = tmp_path_factory.mktemp("cli-error")
    cases["missing model"] = (["train", "experiment=tiny", f"model.path={cwd}/no-model", f"run_dir={cwd}/run"], cwd)
    results = run_cli_many(list(cases.values()))
    return {name: (proc, cases[name][1]) for name, proc in zip(cases, results, strict=True)}


@pytest.mark.parametrize(("override", "fragment"), INVALID_VALUES, ids=[o for o, _ in INVALID_VALUES])
def test_invalid_values(errors, override, fragment):
    assert_one_line_error(errors[override][0], fragment)


@pytest.mark.parametrize("name", list(BAD_DATASETS))
def test_malformed_datasets(errors, name):
    assert_one_line_error(errors[name][0], *BAD_DATASETS[name][1])


def test_missing_dataset_file(errors):
    assert_one_line_error(errors["missing dataset"][0], "dataset file not found", "nope.jsonl")


def test_missing_model(errors):
    assert_one_line_error(errors["missing model"][0], "no-model")


CONFIG_ERRORS = [
    ("rollout.sync_every=0", "rollout.sync_every must be >= 1"),
    ("eval.n=0", "eval.n and eval.batch_size must be >= 1"),
    ("eval.n=2 eval.temperature=0.7 eval.ks=[1,4]", "every k of pass@k/maj@k needs 1 <= k <= eval.n=2"),
    ("rollout.batch_size=0", "rollout.batch_size must be >= 1"),
    ("eval.batch_size=0", "eval.n and eval.batch_size must be >= 1"),
    ("algo.max_resample_rounds=-1", "algo.max_resample_rounds must be >= 0"),
    ("algo.overlong=soft_penalty algo.overlong_buffer=24", "algo.overlong_buffer=24 must be smaller than"),
    ("reward.math.weight=abc", "weight"),
    ("eval.temperature=-0.5", "eval.temperature must be >= 0"),
    ("data.limit=-1", "data.limit must be >= 0"),
    ("data.max_prompt_tokens=0", "data.max_prompt_tokens must be >= 1"),
    ("data.max_prompt_tokens=1", "data.max_prompt_tokens=1 drops every prompt"),
    ("rollout.top_k=-1", "rollout.top_k must be >= 0"),
    ("rollout.temperature=0", "rollout.temperature=0 makes the 4 rollouts of a group identical"),
    ("eval.n=4 eval.temperature=0", "greedy decoding gives 4 identical samples"),
    ("rollout=vllm rollout.max_model_len=40", "leave long prompts out with data.max_prompt_tokens=16"),
    ("resume=auto overwrite=true", "overwrite=true deletes run_dir first"),
    ("rollout.actors=0", "rollout.actors must be >= 1"),
    ("rollout.actors=2", "rollout.actors=2 needs rollout.mode=actor"),
    ("rollout.mode=actor rollout.max_staleness=-1", "rollout.max_staleness must be >= 0"),
    ("rollout.max_staleness=1", "rollout.max_staleness=1 needs rollout.mode=actor"),
    ("rollout.mode=actor rollout.max_staleness=1 algo.tis_cap=0", "set algo.tis_cap"),
    ("rollout.mode=actor rollout.threads=-1", "rollout.threads must be >= 0"),
    ("resume=/no/such/checkpoint", "not a checkpoint directory"),
    ("learner.world_size=0", "learner.world_size must be >= 1"),
    ("learner.world_size=2", "learner.world_size=2 needs rollout.mode=actor"),
    (f"learner.world_size={len(os.sched_getaffinity(0)) + 1} rollout.mode=actor", "needs a CPU core per rank"),
    ("model.lora.rank=4 model.lora.target_modules=[q_proj,lm_head]", "LoRA on lm_head, whose weight is tied"),
    (  # found where the model is loaded, by each learner rank: the same one line
        "model.lora.rank=4 model.lora.target_modules=[q_proj,lm_head] learner.world_size=2 rollout.mode=actor",
        "LoRA on lm_head, whose weight is tied",
    ),
    (  # a Ray instance the run starts for itself is this machine: its cores bound the ranks as under cluster=local
        f"cluster=ray learner.world_size={len(os.sched_getaffinity(0)) + 1} rollout.mode=actor",
        "needs a CPU core per rank",
    ),
    ("cluster=banana", "Could not find 'cluster/banana'"),
    ("cluster.nodes=2", "place processes with Ray: add cluster=ray"),
    ("cluster=ray rollout.mode=actor rollout.actor_backend=process", "cluster=ray runs rollout actors on Ray"),
    ("cluster=ray cluster.actor_gpus=1", "cluster.actor_gpus needs GPUs: set cluster.gpus_per_node"),
    (
        "cluster=ray cluster.gpus_per_node=2 learner.world_size=2 rollout.mode=actor cluster.actor_gpus=1",
        "need 3 GPUs; cluster.nodes=1 x cluster.gpus_per_node=2 give 2",
    ),
    (
        "cluster=ray cluster.gpus_per_node=8 learner.world_size=2 rollout.mode=actor rollout.tensor_parallel_size=2",
        "actors that share the learner's GPUs (cluster.actor_gpus=0) run one GPU each",
    ),
    (
        "cluster=ray cluster.gpus_per_node=2 rollout.mode=actor cluster.actor_gpus=1",
        "one learner runs in this process, outside Ray's placement",
    ),
]


@pytest.mark.parametrize(("overrides", "fragment"), CONFIG_ERRORS, ids=[o for o, _ in CONFIG_ERRORS])
def test_config_errors_are_one_line_before_anything_is_written(errors, overrides, fragment):
    proc, cwd = errors[overrides]
    assert_one_line_error(proc, fragment)
    assert proc.returncode == 2
    assert list(cwd.iterdir()) == []  # nothing written: no run directory, no Hydra output in the cwd


def test_missing_eval_data_is_not_read_when_evaluation_is_off(errors, tiny_model_dir, tmp_path):
    extra = (
        "eval.data.path=/no/such/heldout.jsonl",
        "eval.every=0",
        "eval.before_training=false",
        "eval.after_training=false",
    )
    proc = run_cli("train", *tiny_overrides(tiny_model_dir, tmp_path / "run", "steps=1", *extra))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_one_line_error(errors["missing eval data"][0], "dataset file not found", "heldout.jsonl")
