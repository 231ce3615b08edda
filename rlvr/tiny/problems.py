"""Synthetic arithmetic word problems: the world the tiny demo model lives in.

The tiny base model (see `rlvr.tiny.pretrain`) is pretrained on worked solutions of these problems written in a
mix of styles, the way a web-scale base model has seen maths written every which way:

* with or without step-by-step working (`7 + 5 = 12. 12 - 3 = 9.`) before the result; a small model gets
  two-step problems right much more often when it writes the steps, because each step is one fact it knows;
* with the final result written as `\\boxed{9}` (what the RLVR reward checks) or as plain text (`The answer is 9.`);
* sometimes running on into another question, as base models do when nobody taught them to stop.

So the pretrained model *can* solve most problems but only sometimes says so in the checked format, which is
the situation of Qwen3-0.6B-Base on MATH-500: RL has to unlock what pretraining put there.

A held-out problem is new to the model by identity, not only by wording: its two-step chain
(`a op b = m`, `m op c = r`) appears nowhere in what the model is trained on, neither as a story (with any
names), nor as working, nor as consecutive lines of a drill page (`split_problems` reserves the held-out
chains; `sample_problem`, `arithmetic_drill` and `chains_in` keep everything else clear of them). Single facts
do appear: a base model has read `7 + 5 = 12`.

Everything here is deterministic given a `random.Random`.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass

from rlvr.data import BOOK_TEMPLATE

NAMES = ["Ann", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo", "Kai", "Lea", "Max", "Nia"]
ITEMS = ["apples", "books", "coins", "pens", "cards", "shells", "stamps", "marbles", "cookies", "stickers"]


Fact = tuple[int, str, int, int]  # (left, op, right, result)
Chain = tuple[Fact, Fact]  # a problem's identity: what it asks, whatever the names in its story


@dataclass(frozen=True)
class Problem:
    """One word problem with its worked steps; `steps` are its two (left, op, right, result) facts."""

    question: str
    answer: int
    steps: Chain
    kind: str


def _apply(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


def _story(rng: random.Random, kind: str, nums: tuple[int, int, int]) -> str:
    a, b, c = nums
    name, other = rng.sample(NAMES, 2)
    item = rng.choice(ITEMS)
    stories = {
        "buy_give": f"{name} has {a} {item}. {name} buys {b} more {item} and then gives {c} {item} to "
        f"{other}. How many {item} does {name} have now?",
        "lose_find": f"{name} had {a} {item}. {name} lost {b} of them and then found {c} more. "
        f"How many {item} does {name} have?",
        "box_fill": f"A box holds {a} {item}. {name} puts in {b} more and {other} puts in {c} more. "
        f"How many {item} are in the box?",
        "bags_eat": f"{name} has {a} bags with {b} {item} in each bag. {name} gives away {c} {item}. "
        f"How many {item} are left?",
        "share_take": f"There are {a} {item} on a table. {name} takes {b} of them and {other} takes {c}. "
        f"How many {item} are still on the table?",
        "plain_sum": f"What is {a} + {b} - {c}?",
    }
    return stories[kind]


# (kind, ops): the two operations each story performs, left to right.
KINDS: dict[str, tuple[str, str]] = {
    "buy_give": ("+", "-"),
    "lose_find": ("-", "+"),
    "box_fill": ("+", "+"),
    "bags_eat": ("*", "-"),
    "share_take": ("-", "-"),
    "plain_sum": ("+", "-"),
}


def _numbers(rng: random.Random, kind: str) -> tuple[int, int, int] | None:
    """One draw of (a, b, c) for a story of `kind`; None when a result would not be positive."""
    op1, op2 = KINDS[kind]
    a, b = (rng.randint(2, 9), rng.randint(2, 9)) if op1 == "*" else (rng.randint(5, 20), rng.randint(2, 9))
    c = rng.randint(2, 9)
    mid = _apply(a, op1, b)
    return (a, b, c) if mid > 0 and _apply(mid, op2, c) > 0 else None


def make_problem(rng: random.Random, kind: str, nums: tuple[int, int, int]) -> Problem:
    """The problem of `kind` with numbers `nums`, told with names and items drawn from `rng`."""
    a, b, c = nums
    op1, op2 = KINDS[kind]
    mid = _apply(a, op1, b)
    result = _apply(mid, op2, c)
    return Problem(_story(rng, kind, nums), result, ((a, op1, b, mid), (mid, op2, c, result)), kind)


def sample_problem(rng: random.Random, reserved: frozenset[Chain] = frozenset()) -> Problem:
    """Draw one two-step problem whose intermediate and final results are positive and whose chain is not
    `reserved` (the held-out chains)."""
    while True:
        kind = rng.choice(list(KINDS))
        nums = None
        while nums is None:
            nums = _numbers(rng, kind)
        problem = make_problem(rng, kind, nums)
        if problem.steps not in reserved:
            return problem


FACT = re.compile(r"(\d+) ([-+*]) (\d+) = (\d+)")


def chains_in(text: str) -> set[Chain]:
    """Every two-step chain written out in `text`: consecutive facts where the second starts from the first's
    result (as working and drill pages write them)."""
    facts = [(int(a), op, int(b), int(r)) for a, op, b, r in FACT.findall(text)]
    return {(f, g) for f, g in itertools.pairwise(facts) if g[0] == f[3]}


def _working(problem: Problem) -> str:
    return " ".join(f"{x} {op} {y} = {z}." for x, op, y, z in problem.steps)


def write_solution(
    problem: Problem,
    rng: random.Random,
    *,
    p_steps: float,
    p_boxed: float,
    p_boxed_direct: float,
    p_answer_phrase: float = 1 / 3,
) -> str:
    """One worked solution in a randomly chosen style (see the module docstring).

    Without working the result is the model's "direct guess": in pretraining text it is always right, but
    a small model cannot compute two operations in one token, so at sampling time it is often wrong.
    Careful solutions (with working) box their result more often (`p_boxed`) than bare ones (`p_boxed_direct`).
    A plain result is "The answer is N." with probability `p_answer_phrase`, else one of two other phrasings.
    """
    working = _working(problem) if rng.random() < p_steps else ""
    if rng.random() < (p_boxed if working else p_boxed_direct):
        final = rng.choice(["\\boxed{%d}", "The answer is \\boxed{%d}."]) % problem.answer
        return f"{working}\n{final}" if working else final
    phrase = "The answer is %d." if rng.random() < p_answer_phrase else rng.choice(["So the result is %d.", "%d"])
    final = phrase % problem.answer
    return f"{working} {final}" if working else final


def arithmetic_drill(rng: random.Random, n_facts: int = 10, reserved: frozenset[Chain] = frozenset()) -> str:
    """A page of arithmetic facts of the kind the problems need (the tables a base model has read); no two
    consecutive lines form a `reserved` chain."""
    while True:
        facts = [step for _ in range(n_facts // 2) for step in sample_problem(rng, reserved).steps]
        page = "\n".join(f"{x} {op} {y} = {z}" for x, op, y, z in facts)
        if not chains_in(page) & reserved:
            return page


def pretraining_document(rng: random.Random, problem: Problem, **style: float) -> str:
    """A pretraining document: a prompt in one of several styles followed by a worked solution."""
    layout = rng.random()
    if layout < 0.5:
        prompt = BOOK_TEMPLATE.replace("{problem}", problem.question)
    elif layout < 0.8:
        prompt = f"Question:\n{problem.question}\n\nAnswer:"
    else:
        prompt = f"Q: {problem.question}\nA:"
    solution = write_solution(problem, rng, **style)  # the style probabilities of `write_solution`
    return prompt + " " + solution


def split_problems(seed: int, n_train: int, n_heldout: int) -> tuple[list[Problem], list[Problem]]:
    """Train and held-out problem sets, disjoint by chain: held-out chains are drawn first and reserved (see
    the module docstring); the train set is drawn from the rest."""
    rng = random.Random(seed)
    heldout: dict[Chain, Problem] = {}
    while len(heldout) < n_heldout:
        problem = sample_problem(rng)
        heldout.setdefault(problem.steps, problem)
    reserved = frozenset(heldout)
    train: dict[Chain, Problem] = {}
    while len(train) < n_train:
        problem = sample_problem(rng, reserved)
        train.setdefault(problem.steps, problem)
    return list(train.values()), list(heldout.values())
