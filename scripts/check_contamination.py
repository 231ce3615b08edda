"""Audit a tiny base model's held-out set: is every held-out problem new to the model by identity?

    python scripts/check_contamination.py MODEL_DIR      (what `rlvr make-tiny` wrote)

A held-out problem's identity is its two-step chain (`a op b = m`, `m op c = r`), whatever names its story uses.
It is contaminated when the model saw that chain: in the RL train set (`train.jsonl`, by its `steps`), or in
the exact pretraining text (`pretrain.txt`) as consecutive facts (working, drill pages) or as the same story
with the same numbers under any names. Single facts (`7 + 5 = 12`) may appear: a base model has read them.

A code build (`rlvr make-tiny --kind code`) is audited the same way: a held-out task's identity is its family and
constant (`returns x plus 7`, whatever the function is called); it is contaminated when a train row has it, or
when the pretraining text describes it or writes its correct line (`return x + 7`). The wordings and correct
lines below are this script's own statement of the families, not the generator's.

This reads only the files, with its own parsing (it shares nothing with the generator but the word lists of
names and items); exit 0 when clean, 1 with the offending problems listed, 2 when the files are unusable.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FACT = re.compile(r"(\d+) ([-+*]) (\d+) = (\d+)")


def load_rows(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for row in rows:
        if "steps" not in row or "kind" not in row or len(row["steps"]) != 2:
            raise ValueError(f"{path}: row {row.get('id')} has no kind and two steps (rebuild with rlvr make-tiny)")
    return rows


def chain_of(row: dict) -> tuple:
    return tuple(tuple(step) for step in row["steps"])


def chains_written(text: str) -> set[tuple]:
    """Consecutive facts in `text` whose second starts from the first's result."""
    facts = [(int(a), op, int(b), int(r)) for a, op, b, r in FACT.findall(text)]
    return {(f, g) for f, g in itertools.pairwise(facts) if g[0] == f[3]}


def normaliser():
    """Text with every name and item word replaced by a placeholder: the same story under other names reads
    the same."""
    from rlvr.tiny.problems import ITEMS, NAMES

    names = re.compile(r"\b(" + "|".join(map(re.escape, NAMES)) + r")\b")
    items = re.compile(r"\b(" + "|".join(map(re.escape, ITEMS)) + r")\b")
    return lambda text: items.sub("ITEM", names.sub("NAME", text))


def audit(model_dir: Path) -> dict:
    tokenizer_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    eos = tokenizer_config["eos_token"]
    eos = eos["content"] if isinstance(eos, dict) else eos
    documents = [d for d in (model_dir / "pretrain.txt").read_text().split(f"\n{eos}\n") if d.strip()]
    first = json.loads((model_dir / "heldout.jsonl").read_text().splitlines()[0])
    if "family" in first:  # a code build
        return audit_code(model_dir, documents)
    heldout = load_rows(model_dir / "heldout.jsonl")
    train = load_rows(model_dir / "train.jsonl")
    held = {chain_of(row): row for row in heldout}
    in_train = sorted(row["id"] for row in train if chain_of(row) in held)
    seen_chains: set[tuple] = set()
    for doc in documents:
        seen_chains |= chains_written(doc)
    as_facts = sorted(row["id"] for chain, row in held.items() if chain in seen_chains)
    normal = normaliser()
    corpus = normal("\n".join(documents))
    as_story = sorted(row["id"] for row in heldout if normal(row["problem"]) in corpus)
    return {
        "heldout": len(heldout),
        "train": len(train),
        "documents": len(documents),
        "facts_in_pretraining": sum(len(FACT.findall(d)) for d in documents),
        "heldout_chains_in_train": in_train,
        "heldout_chains_written_in_pretraining": as_facts,
        "heldout_stories_in_pretraining": as_story,
    }


# family -> (the task's wording, its correct return line), each with the constant as the one group
CODE_FAMILIES = {
    "add": (r"returns x plus (\d+)\.", r"return x \+ (\d+)"),
    "sub": (r"returns x minus (\d+)\.", r"return x - (\d+)"),
    "mul": (r"returns x times (\d+)\.", r"return x \* (\d+)"),
    "div": (r"returns x divided by (\d+), rounded down\.", r"return x // (\d+)"),
    "mod": (r"returns the remainder of x divided by (\d+)\.", r"return x % (\d+)"),
    "multiple": (r"returns True if x is a multiple of (\d+)\.", r"return x % (\d+) == 0"),
    "greater": (r"returns True if x is greater than (\d+)\.", r"return x > (\d+)"),
    "first": (r"returns the first (\d+) items of the list xs\.", r"return xs\[:(\d+)\]"),
    "last": (r"returns the last (\d+) items of the list xs\.", r"return xs\[-(\d+):\]"),
    "repeat": (r"returns the string s repeated (\d+) times\.", r"return s \* (\d+)"),
}


def code_identities(text: str, which: int) -> set[tuple[str, int]]:
    """(family, constant) of every task `text` describes (`which=0`) or solves correctly (`which=1`)."""
    found = set()
    for family, patterns in CODE_FAMILIES.items():
        pattern = re.compile(patterns[which] + ("$" if which else ""), re.MULTILINE)
        found |= {(family, int(k)) for k in pattern.findall(text)}
    return found


def load_code_rows(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for row in rows:
        if "family" not in row or "k" not in row:
            raise ValueError(f"{path}: row {row.get('id')} has no family and k (rebuild with rlvr make-tiny)")
    return rows


def audit_code(model_dir: Path, documents: list[str]) -> dict:
    heldout = load_code_rows(model_dir / "heldout.jsonl")
    train = load_code_rows(model_dir / "train.jsonl")
    held = {(row["family"], row["k"]): row["id"] for row in heldout}
    described: set = set()
    solved: set = set()
    for doc in documents:
        described |= code_identities(doc, 0)
        solved |= code_identities(doc, 1)
    return {
        "heldout": len(heldout),
        "train": len(train),
        "documents": len(documents),
        "what": "tasks",
        "heldout_tasks_in_train": sorted(r["id"] for r in train if (r["family"], r["k"]) in held),
        "heldout_tasks_described_in_pretraining": sorted(i for key, i in held.items() if key in described),
        "heldout_tasks_solved_in_pretraining": sorted(i for key, i in held.items() if key in solved),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/check_contamination.py MODEL_DIR", file=sys.stderr)
        return 2
    try:
        report = audit(Path(argv[0]))
    except (OSError, ValueError, KeyError, IndexError) as exc:
        print(f"check_contamination: {exc}", file=sys.stderr)
        return 2
    bad = {k: v for k, v in report.items() if k.startswith("heldout_") and v}
    what = report.get("what", "problems")
    facts = f" ({report['facts_in_pretraining']} written facts)" if "facts_in_pretraining" in report else ""
    print(
        f"{report['heldout']} held-out {what} against {report['train']} RL train {what} and "
        f"{report['documents']} pretraining documents{facts}: " + ("clean" if not bad else "CONTAMINATED")
    )
    for key, ids in bad.items():
        print(f"  {key}: {len(ids)}: {', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
