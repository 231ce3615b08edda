"""Synthetic one-line Python tasks: the world of the tiny *code* demo model (`rlvr make-tiny --kind code`).

A task asks for a function of one argument, e.g. "Write a Python function solve(x) that returns x plus 7.",
and is checked by three assert tests run in the sandbox (`rewards.code.code_pass_rate`). Pretraining text
shows solutions the way a base model has seen code written:

* correct (`return x + 7`) or with a typical mistake: most often off by one (`return x + 8`), else the wrong
  operator, the operands swapped, `>=` for `>` (every mistake fails at least one of the task's tests: a unit
  test checks it);
* in a fenced ```python block (what the reward runs) or as bare code, which scores 0;
* sometimes running on into another task.

The off-by-one line is written more often than the right one, so the base model's likeliest (greedy) answer
is wrong, and it is fenced only sometimes: sampling finds right, fenced lines often enough for RL to learn
both. Lenient evaluation (bare code graded too) shows that RL made the code right, not only fenced.

A task's identity is its family and constant (`add`, 7), whatever the function is called: a held-out task is
new to the model when neither its description nor its correct line appears in the
pretraining text nor in the RL train set. `split_tasks` reserves the held-out identities first; documents that
would write one (a description, or a mistake that happens to be another task's correct line) are not used.
Test inputs and expected values come from each family's `semantics`, written apart from the code strings.

Everything here is deterministic given a `random.Random`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rlvr.data import CODE_TEMPLATE

# One function name. With ten, the 1M-parameter model did not learn in the demo's pretraining budget to copy the
# task's name into its `def` line (measured: 10% of samples, chance level), so nearly every completion failed
# its tests for the name alone; a task's identity never depended on the name.
NAMES = ["f"]
CONSTANTS = range(2, 21)

Identity = tuple[str, int]  # (family, constant)


@dataclass(frozen=True)
class Family:
    """A kind of task: its wording, its argument, its correct line, its typical mistakes, what it means."""

    name: str
    describe: str  # completes "that ...", with {k}
    arg: str
    body: str  # the correct expression, with {k}
    bugs: tuple[str, ...]  # expressions with typical mistakes, with {k} and {k1} = k + 1
    semantics: Callable[[Any, int], Any]  # the right answer, written independently of `body`
    inputs: Callable[[int], list[Any]]  # three inputs that tell the right line from every mistake


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("add", "returns x plus {k}", "x", "x + {k}", ("x - {k}", "x + {k1}", "x * {k}"),
               lambda x, k: x + k, lambda k: [0, 3, 10]),
        Family("sub", "returns x minus {k}", "x", "x - {k}", ("{k} - x", "x + {k}", "x - {k1}"),
               lambda x, k: x - k, lambda k: [0, 5, 40]),
        Family("mul", "returns x times {k}", "x", "x * {k}", ("x + {k}", "x ** {k}", "x * {k1}"),
               lambda x, k: x * k, lambda k: [0, 1, 3]),
        Family("div", "returns x divided by {k}, rounded down", "x", "x // {k}", ("x / {k}", "x % {k}", "x // {k1}"),
               lambda x, k: x // k, lambda k: [0, 3 * k + 1, 100]),
        Family("mod", "returns the remainder of x divided by {k}", "x", "x % {k}", ("x // {k}", "{k} % x", "x % {k1}"),
               lambda x, k: x % k, lambda k: [k + 1, 2 * k + 3, 50]),
        Family("multiple", "returns True if x is a multiple of {k}", "x", "x % {k} == 0",
               ("x % {k} == 1", "x // {k} == 0", "x % {k1} == 0"),
               lambda x, k: x % k == 0, lambda k: [0, k, k + 1]),
        Family("greater", "returns True if x is greater than {k}", "x", "x > {k}", ("x >= {k}", "x < {k}", "x > {k1}"),
               lambda x, k: x > k, lambda k: [k, k + 1, 0]),
        Family("first", "returns the first {k} items of the list xs", "xs", "xs[:{k}]",
               ("xs[{k}:]", "xs[:{k1}]", "xs[{k}]"),
               lambda xs, k: xs[:k], lambda k: [list(range(1, 26)), list(range(30, 60, 2)) + [7] * 10, [5] * 24]),
        Family("last", "returns the last {k} items of the list xs", "xs", "xs[-{k}:]",
               ("xs[:-{k}]", "xs[-{k1}:]", "xs[{k}:]"),
               lambda xs, k: xs[-k:], lambda k: [list(range(1, 26)), list(range(30, 80, 2)), [4] * 24]),
        Family("repeat", "returns the string s repeated {k} times", "s", "s * {k}",
               ("s + '{k}'", "s * {k1}", "s[{k}:]"),
               lambda s, k: s * k, lambda k: ["ab", "x", "hello"]),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Task:
    """One task as the RL data and the audit see it."""

    family: str
    k: int
    name: str  # the function's name (not part of the identity)

    @property
    def identity(self) -> Identity:
        return (self.family, self.k)

    @property
    def question(self) -> str:
        family = FAMILIES[self.family]
        return f"Write a Python function {self.name}({family.arg}) that {family.describe.format(k=self.k)}."

    def tests(self) -> list[str]:
        family = FAMILIES[self.family]
        return [f"assert {self.name}({x!r}) == {family.semantics(x, self.k)!r}" for x in family.inputs(self.k)]

    def line(self, bug: int | None = None) -> str:
        """The function's `return` expression: right (`bug=None`) or with mistake number `bug`."""
        family = FAMILIES[self.family]
        template = family.body if bug is None else family.bugs[bug]
        return template.format(k=self.k, k1=self.k + 1)

    def code(self, bug: int | None = None) -> str:
        return f"def {self.name}({FAMILIES[self.family].arg}):\n    return {self.line(bug)}"


def correct_lines() -> dict[str, Identity]:
    """Every identity's correct line (`"x + 7"` -> ("add", 7)): what a document must not write when the
    identity is held out."""
    return {Task(f, k, "f").line(): (f, k) for f in FAMILIES for k in CONSTANTS}


def all_identities() -> list[Identity]:
    return [(f, k) for f in FAMILIES for k in CONSTANTS]


def sample_task(rng: random.Random, reserved: frozenset[Identity] = frozenset()) -> Task:
    identities = all_identities()
    if reserved.issuperset(identities):
        raise ValueError("every task identity is held out: nothing is left to pretrain on")
    while True:
        family, k = rng.choice(identities)
        if (family, k) not in reserved:
            return Task(family, k, rng.choice(NAMES))


def identities_written(text: str) -> set[Identity]:
    """The identities whose correct line a text writes as a `return` line."""
    lines = correct_lines()
    found = set()
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("return "):
            expr = stripped[len("return ") :].strip()
            if expr in lines:
                found.add(lines[expr])
    return found


def write_solution(task: Task, rng: random.Random, *, p_correct: float, p_off_by_one: float, p_fenced: float) -> str:
    """A completion in one of the styles of the module docstring: right with probability `p_correct`, off by
    one (the constant plus one, the commonest mistake) with `p_off_by_one`, else another typical mistake."""
    bugs = FAMILIES[task.family].bugs
    off_by_one = next(i for i, bug in enumerate(bugs) if "{k1}" in bug)
    draw = rng.random()
    if draw < p_correct:
        bug = None
    elif draw < p_correct + p_off_by_one:
        bug = off_by_one
    else:
        bug = rng.choice([i for i in range(len(bugs)) if i != off_by_one])
    code = task.code(bug)
    if rng.random() < p_fenced:
        lead = rng.choice(["", "", "Here is the function.\n"])
        return f"{lead}```python\n{code}\n```"
    return rng.choice(["", "", "Here is the function.\n"]) + code


def pretraining_document(rng: random.Random, task: Task, **style: float) -> str:
    """A task in one of several prompt layouts followed by a solution (`style`: `write_solution`'s)."""
    layout = rng.random()
    if layout < 0.5:
        prompt = CODE_TEMPLATE.replace("{problem}", task.question)
    elif layout < 0.8:
        prompt = f"Task:\n{task.question}\n\nSolution:"
    else:
        prompt = f"# {task.question}\n"
    return prompt + "\n" + write_solution(task, rng, **style)


def split_tasks(seed: int, n_train: int, n_heldout: int) -> tuple[list[Task], list[Task]]:
    """Train and held-out tasks, disjoint by identity: `n_heldout` identities are drawn first and reserved;
    the train tasks are (at most `n_train` of) the rest, each once."""
    rng = random.Random(seed)
    identities = all_identities()
    rng.shuffle(identities)
    held, rest = identities[:n_heldout], identities[n_heldout:]
    heldout = [Task(family, k, rng.choice(NAMES)) for family, k in held]
    train = [Task(family, k, rng.choice(NAMES)) for family, k in rest[:n_train]]
    return train, heldout


def task_row(task: Task, index: int, split: str) -> dict[str, Any]:
    """A JSONL row of the RL data: the question, its tests, and its identity for the audit."""
    return {
        "id": f"{split}-{index}",
        "problem": task.question,
        "tests": task.tests(),
        "family": task.family,
        "k": task.k,
    }
