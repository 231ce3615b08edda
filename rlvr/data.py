"""Prompt sources and templates: dataset rows in, rendered `Sample`s out, and a resumable sampler.

Local `.json`/`.jsonl` files are read with the standard library rather than `datasets`: they are small, it
avoids writing a cache next to the user's data, and it lets errors name the offending line. Parquet files and
hub dataset names go through `datasets`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlvr.config import DataConfig
from rlvr.errors import DataError
from rlvr.types import Sample

# The plain-text base-model prompt of *Build a Reasoning Model (From Scratch)*, ch. 6 (the MATH-500 recipe).
BOOK_TEMPLATE = (
    "You are a helpful math assistant.\n"
    "Answer the question and write the final result on a new line as:\n"
    "\\boxed{ANSWER}\n\nQuestion:\n{problem}\n\nAnswer:"
)
CODE_TEMPLATE = (
    "You are a helpful coding assistant.\nWrite the function in a fenced Python block.\n\nTask:\n{problem}\n\nSolution:"
)
TEMPLATES = {"book": BOOK_TEMPLATE, "code": CODE_TEMPLATE, "raw": "{problem}"}
LOCAL_SUFFIXES = (".json", ".jsonl", ".parquet")


def _read_json(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl" or (text.lstrip()[:1] == "{" and "\n{" in text):
        rows = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
        return rows
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of rows (or JSON lines)")
    return data


def load_rows(path: str, split: str = "train") -> list[dict[str, Any]]:
    """Rows of a local file or a hub dataset, as dicts."""
    local = Path(path).expanduser()
    if local.suffix in LOCAL_SUFFIXES or local.exists() or path.startswith((".", "/", "~")):
        if not local.is_file():
            raise DataError(f"dataset file not found: {path}")
        if local.suffix == ".parquet":
            import datasets

            return list(datasets.Dataset.from_parquet(str(local)))
        return _read_json(local)
    try:
        import datasets

        return list(datasets.load_dataset(path, split=split))
    except Exception as exc:  # the hub raises many types; the user needs to know which dataset and why
        raise DataError(f"could not load dataset {path!r} (split {split!r}): {type(exc).__name__}: {exc}") from None


def make_renderer(template: str, tokenizer: Any = None, system_prompt: str | None = None) -> Callable[[str], str]:
    """A function problem -> prompt text. `chat` uses the tokenizer's own chat template."""
    if template == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise DataError("data.template=chat needs a tokenizer with a chat template")

        def render_chat(problem: str) -> str:
            messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
            messages.append({"role": "user", "content": problem})
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

        return render_chat
    text = TEMPLATES.get(template, template)
    if "{problem}" not in text:
        raise DataError(f"data.template must be book, chat, raw or contain '{{problem}}', got {template!r}")
    # str.replace, not str.format: problems are LaTeX, full of braces.
    return lambda problem: text.replace("{problem}", problem)


def load_samples(cfg: DataConfig, tokenizer: Any = None) -> list[Sample]:
    """Load, validate and render a dataset. Every row must have the problem field and, if configured, the
    answer/tests field; the error names the first row that does not."""
    rows = load_rows(cfg.path, cfg.split)
    if cfg.limit is not None:
        rows = rows[: cfg.limit]
    if not rows:
        raise DataError(f"dataset {cfg.path!r} is empty")
    render = make_renderer(cfg.template, tokenizer, cfg.system_prompt)
    required = [k for k in (cfg.problem_key, cfg.answer_key, cfg.tests_key) if k]
    samples = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(f"dataset {cfg.path!r} row {i} is not an object: {str(row)[:80]}")
        missing = [k for k in required if row.get(k) is None]
        if missing:
            raise DataError(f"dataset {cfg.path!r} row {i} has no field {missing[0]!r} (keys: {sorted(row)})")
        known = {cfg.problem_key, cfg.answer_key, cfg.tests_key}
        samples.append(
            Sample(
                id=str(row[cfg.id_key]) if cfg.id_key and cfg.id_key in row else str(row.get("unique_id", i)),
                prompt=render(_with_tests(str(row[cfg.problem_key]), row, cfg)),
                answer=str(row[cfg.answer_key]) if cfg.answer_key else None,
                tests=row[cfg.tests_key] if cfg.tests_key else None,
                metadata={k: v for k, v in row.items() if k not in known},
            )
        )
    return samples


def _with_tests(problem: str, row: dict[str, Any], cfg: DataConfig) -> str:
    """The problem followed by its first `data.tests_in_prompt` assert tests (MBPP's prompt)."""
    tests = row.get(cfg.tests_key) if cfg.tests_in_prompt and cfg.tests_key else None
    if not isinstance(tests, list) or not tests:
        return problem
    shown = "\n".join(str(t) for t in tests[: cfg.tests_in_prompt])
    return f"{problem}\nYour code should pass these tests:\n{shown}"


class PromptSampler:
    """Endless stream of samples in epochs; the order is a function of (seed, epoch), so the cursor
    `(epoch, position)` is all a checkpoint needs to resume the exact same stream."""

    def __init__(self, samples: list[Sample], *, shuffle: bool, seed: int) -> None:
        self.samples = samples
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.position = 0
        self._order = self._epoch_order()

    def _epoch_order(self) -> list[int]:
        order = list(range(len(self.samples)))
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + self.epoch).shuffle(order)
        return order

    def take(self, n: int) -> list[Sample]:
        out = []
        for _ in range(n):
            if self.position == len(self._order):
                self.epoch, self.position = self.epoch + 1, 0
                self._order = self._epoch_order()
            out.append(self.samples[self._order[self.position]])
            self.position += 1
        return out

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._order = self._epoch_order()
