"""code_pass_rate: extraction, both test formats, and the reward never passing code that did not run the tests."""

import pytest

from rewards import sandbox
from rewards.code import code_pass_rate, extract_code
from tests.conftest import require

require("bwrap", sandbox.bwrap_path() is not None, "apt-get install bubblewrap")

ADD = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\n"


def test_extract_the_last_python_block():
    text = "```python\nx = 1\n```\nbetter:\n```py\nx = 2\n```\n```text\nnot code\n```"
    assert extract_code(text) == "x = 2\n"
    assert extract_code("no code at all") is None


def test_bare_code_counts_only_when_grading_leniently():
    bare = "Here is the function.\ndef add(a, b):\n    return a + b\n\nTask:\nWrite more."
    assert extract_code(bare) is None  # training and strict evaluation: no fenced block, nothing runs
    assert extract_code(bare, fallback_unfenced=True) == "def add(a, b):\n    return a + b\n"  # up to the blank line
    assert extract_code(ADD, fallback_unfenced=True) == "def add(a, b):\n    return a + b\n"  # a fence still wins
    tests = {"tests": ["assert add(1, 2) == 3"]}
    assert code_pass_rate(bare, tests)[0] == 0.0 and code_pass_rate(bare, tests, fallback_unfenced=True)[0] == 1.0


def test_assert_tests():
    tests = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 5"]
    assert code_pass_rate(ADD, {"tests": tests}) == (pytest.approx(2 / 3), {"passed": 2, "total": 3})


def test_tests_given_as_json_text():
    assert code_pass_rate(ADD, {"tests": '["assert add(1, 2) == 3"]'})[0] == 1.0


def test_stdin_stdout_tests_ignore_trailing_whitespace():
    program = "```python\nn = int(input())\nprint(n * 2)  \n```"
    tests = {"inputs": ["2\n", "5\n", "0\n"], "outputs": ["4\n", "10", "1\n"]}
    assert code_pass_rate(program, {"tests": tests})[0] == pytest.approx(2 / 3)


def test_exiting_early_does_not_pass_the_tests():
    program = "```python\nimport os, sys\nos._exit(0)\n```"
    assert code_pass_rate(program, {"tests": ["assert False"]})[0] == 0.0
    program = "```python\nimport sys\nsys.exit(0)\n```"
    assert code_pass_rate(program, {"tests": ["assert False"]})[0] == 0.0


def test_no_code_scores_zero_and_says_why():
    score, info = code_pass_rate("I would write a loop.", {"tests": ["assert True"]})
    assert score == 0.0 and info["reason"] == "no code block"


def test_hanging_solution_fails_only_its_tests():
    program = "```python\ndef f(x):\n    while x:\n        pass\n    return 0\n```"
    score, _ = code_pass_rate(program, {"tests": ["assert f(0) == 0", "assert f(1) == 0"]}, test_timeout_s=0.5)
    assert score == 0.5


def test_malformed_tests_are_an_error():
    with pytest.raises(ValueError, match="tests"):
        code_pass_rate(ADD, {"tests": {"inputs": ["1"]}})


def score(program: str, tests, **options) -> tuple[float, dict]:
    return code_pass_rate(f"```python\n{program}\n```", {"tests": tests}, **options)


MBPP_STYLE = """
import math
import itertools
from collections import Counter

LIMIT = 10
print("debugging at import")


class Shape:
    def __init__(self, r):
        self.r = r

    def area(self):
        return math.pi * self.r**2


def _helper(a, b):
    print("helper called with", a, b)
    return a + b


def add(a, b=0):
    return _helper(a, b)


def unique(items):
    return list(dict.fromkeys(items))


def area(r):
    return Shape(r).area()


def safe_div(a, b):
    if b == 0:
        raise ZeroDivisionError("b is zero")
    return a / b


def pairs(items):
    return list(itertools.combinations(items, 2))


def word_counts(text):
    return Counter(text.split())


def squares(n):
    return tuple(i * i for i in range(n))


def evens(n):
    return (i for i in range(n) if i % 2 == 0)


if __name__ == "__main__":
    print(add(int(input()), 1))
"""

MBPP_TESTS = [
    "assert add(1, 2) == 3",
    "assert add(1, b=2) == 3 and add(5) == 5",
    "assert set(unique([3, 1, 3, 2])) == set([1, 2, 3])",
    "assert math.isclose(area(1), 3.14159, rel_tol=1e-3)",
    "try:\n    safe_div(1, 0)\nexcept ZeroDivisionError:\n    pass\nelse:\n    raise AssertionError('no exception')",
    "assert safe_div(3, 2) == 1.5",
    "assert pairs([1, 2, 3]) == [(1, 2), (1, 3), (2, 3)]",
    "assert word_counts('a b a') == Counter({'a': 2, 'b': 1})",
    "assert squares(3) == (0, 1, 4) and squares(3) != [0, 1, 4]",
    "assert list(evens(6)) == [0, 2, 4]",
    "assert LIMIT == 10",
    "assert all(add(i, i) == 2 * i for i in range(5))",
]


def test_correct_solutions_pass_the_mbpp_way():
    # debug prints, stdlib imports, helpers and a class, a main guard that would read stdin, keyword arguments,
    # a test that expects an exception, tests that use the modules and names the program imported
    assert score(MBPP_STYLE, MBPP_TESTS) == (1.0, {"passed": len(MBPP_TESTS), "total": len(MBPP_TESTS)})


def test_a_humaneval_style_check_function_passes():
    program = "def total(items):\n    return sum(items)"
    check = "def check(candidate):\n    assert candidate([1, 2]) == 3\n    assert candidate([]) == 0\n\ncheck(total)"
    assert score(program, [check])[0] == 1.0
    assert score("def total(items):\n    return 3", [check])[0] == 0.0


def test_each_wrong_answer_fails_its_own_test():
    wrong = MBPP_STYLE.replace("return a + b", "return a - b").replace("math.pi *", "3 *")
    # add() is now wrong (3 tests use it) and area() too (1 test); the 8 others still pass
    assert score(wrong, MBPP_TESTS)[1]["passed"] == len(MBPP_TESTS) - 4


RESULTS = """
import collections, decimal, fractions
def value(kind):
    return {
        "tuple": (1, (2, 3)), "list": [1, [2, 3]], "set": {1, 2}, "frozenset": frozenset({1}),
        "dict": {(1, 2): [3], "k": {4}}, "nan": float("nan"), "inf": float("-inf"), "negzero": -0.0,
        "complex": 1 - 2j, "bytes": b"\\x00\\xff", "big": -(2**200) + 1, "bool": True, "none": None,
        "fraction": fractions.Fraction(1, 3), "decimal": decimal.Decimal("1.10"), "range": range(1, 9, 3),
        "ordered": collections.OrderedDict(b=1, a=2), "default": collections.defaultdict(list, {1: [2]}),
        "deque": collections.deque([1, 2], maxlen=3), "keys": {"a": 1, "b": 2}.keys(),
        "text": "naïve \\u2603", "nested": [({1: (2.5, "x")}, frozenset({(1, 2)}))],
    }[kind]
"""
RESULT_TESTS = [
    "assert value('tuple') == (1, (2, 3)) and type(value('tuple')[1]) is tuple",
    "assert value('list') == [1, [2, 3]] and value('list') != (1, [2, 3])",
    "assert value('set') == {1, 2} and type(value('set')) is set",
    "assert type(value('frozenset')) is frozenset and value('frozenset') == frozenset({1})",
    "assert value('dict') == {(1, 2): [3], 'k': {4}}",
    "import math\nassert math.isnan(value('nan'))",
    "assert value('inf') == float('-inf')",
    "import math\nassert value('negzero') == 0 and math.copysign(1, value('negzero')) == -1",
    "assert value('complex') == 1 - 2j",
    "assert value('bytes') == bytes([0, 255])",
    "assert value('big') == 1 - 2**200",
    "assert value('bool') is True and value('none') is None",
    "from fractions import Fraction\nassert value('fraction') == Fraction(1, 3)",
    "from decimal import Decimal\nassert str(value('decimal')) == '1.10' and value('decimal') == Decimal('1.1')",
    "assert value('range') == range(1, 9, 3) and list(value('range')) == [1, 4, 7]",
    "assert list(value('ordered')) == ['b', 'a']",
    "d = value('default')\nassert d[1] == [2] and d[7] == []",
    "from collections import deque\nassert value('deque') == deque([1, 2]) and value('deque').maxlen == 3",
    "assert value('keys') == {'a', 'b'} and list(value('keys')) == ['a', 'b']",
    "assert value('text') == 'na\\u00efve \\u2603'",
    "assert value('nested') == [({1: (2.5, 'x')}, frozenset({(1, 2)}))]",
]


def test_results_cross_the_boundary_with_their_types_and_values():
    assert score(RESULTS, RESULT_TESTS) == (1.0, {"passed": len(RESULT_TESTS), "total": len(RESULT_TESTS)})


def test_arguments_cross_the_boundary_with_their_types():
    program = "def kinds(*args, **kwargs):\n    return [type(a).__name__ for a in args], sorted(kwargs)"
    tests = [
        "assert kinds((1,), [1], {1}, {1: 2}, b'x', 2**100, 1.5, None) == "
        "(['tuple', 'list', 'set', 'dict', 'bytes', 'int', 'float', 'NoneType'], [])",
        "assert kinds(x=1, y=(2,)) == ([], ['x', 'y'])",
    ]
    assert score(program, tests)[0] == 1.0


def test_exceptions_come_back_as_the_builtin_class_of_the_same_name():
    program = """
class Negative(ValueError):
    pass
class Custom(Exception):
    pass
def f(x):
    if x < 0:
        raise Negative('negative')
    if x == 0:
        raise Custom('zero')
    return {}[x]
"""
    # a class of the program's own arrives as its nearest builtin ancestor, with the same message
    tests = [
        "try:\n    f(-1)\nexcept ValueError as exc:\n    assert str(exc) == 'negative'\nelse:\n    assert False",
        "try:\n    f(1)\nexcept KeyError:\n    pass\nelse:\n    assert False",
        "try:\n    f(0)\nexcept Exception as exc:\n    assert type(exc) is Exception and str(exc) == 'zero'",
        "try:\n    f(-1)\nexcept TypeError:\n    pass",  # the wrong exception: ValueError escapes, the test fails
        "assert f(1) == 0",
    ]
    assert score(program, tests)[1]["passed"] == 3


def test_printing_a_lot_while_answering_does_not_block_or_fail():
    program = "def f(x):\n    for i in range(2000):\n        print('debug line', i, x)\n    return x + 1"
    assert score(program, [f"assert f({i}) == {i + 1}" for i in range(5)])[0] == 1.0


def test_a_program_that_does_not_load_fails_every_test_and_says_why():
    score_, info = score("def f(x):\n    return x\nundefined_name", ["assert f(1) == 1", "assert f(2) == 2"])
    assert score_ == 0.0 and info["passed"] == 0 and "NameError" in info["reason"]


def test_a_test_of_a_missing_function_fails():
    assert score("def g(x):\n    return x", ["assert f(1) == 1", "assert g(1) == 1"])[0] == 0.5


def test_a_crash_in_one_call_costs_one_test_and_the_program_is_restarted():
    program = "import os\ncalls = []\ndef f(x):\n    calls.append(x)\n    if x == 2:\n        os._exit(1)\n"
    program += "    return len(calls)"
    # one program instance serves the tests in order (as in MBPP's own harness) until it dies; then a fresh one
    tests = ["assert f(1) == 1", "assert f(1) == 2", "assert f(2) == 3", "assert f(1) == 1"]
    assert score(program, tests)[1]["passed"] == 3


def test_stdin_stdout_tests_need_exit_code_0():
    tests = {"inputs": ["2\n"], "outputs": ["4\n"]}
    assert score("print(int(input()) * 2)", tests)[0] == 1.0
    assert score("print(int(input()) * 2)\nimport sys\nsys.exit(1)", tests)[0] == 0.0
    assert score("import sys\nsys.exit(0)\nprint(int(input()) * 2)", tests)[0] == 0.0


def test_the_harness_also_runs_from_source(monkeypatch):
    # when the sandbox's interpreter cannot precompile the harness, each sandbox compiles it itself
    from rewards import code_session

    monkeypatch.setattr(code_session, "compiled_harness", lambda python: None)
    assert score(MBPP_STYLE, MBPP_TESTS)[0] == 1.0


def test_assert_tests_without_bwrap_only_when_allowed(monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="allow_unsandboxed"):
        code_pass_rate(ADD, {"tests": ["assert add(1, 2) == 3"]})
    assert code_pass_rate(ADD, {"tests": ["assert add(1, 2) == 3"]}, allow_unsandboxed=True)[0] == 1.0
