"""Write tests/durations.json, seconds per test file, from a JUnit XML report of a full run:

    pytest -n 2 --dist loadfile --junitxml=report.xml && python scripts/test_durations.py report.xml

`make test` hands whole files to two processes, longest first (tests/conftest.py reads this file): a greedy
longest-first order keeps the two busy to the end, where an order by test count left one long file running
alone. Refresh it when a file's cost changes a lot; a file missing from it is costed by its slow marks.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "durations.json"


def file_seconds(report: Path) -> dict[str, float]:
    seconds: dict[str, float] = defaultdict(float)
    for case in ET.parse(report).iter("testcase"):
        module = case.get("classname", "").split("::")[0]
        path = module.replace(".", "/") + ".py"
        if not Path(path).name.startswith("test_"):  # a test class: drop the class name
            path = "/".join(module.split(".")[:-1]) + ".py"
        seconds[path] += float(case.get("time", 0))
    return dict(seconds)


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python scripts/test_durations.py REPORT.xml", file=sys.stderr)
        return 2
    seconds = file_seconds(Path(sys.argv[1]))
    ordered = {path: round(s, 1) for path, s in sorted(seconds.items(), key=lambda kv: -kv[1])}
    OUT.write_text(json.dumps(ordered, indent=1) + "\n")
    print(f"{len(ordered)} files, {sum(ordered.values()):.0f} s in all -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
