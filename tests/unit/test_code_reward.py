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
