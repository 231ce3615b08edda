"""Format rewards, by hand."""

import pytest

from rewards.format import boxed_format, language_consistency, tag_count, think_format


def test_boxed_format():
    assert boxed_format("so \\boxed{3}") == 1.0
    assert boxed_format("so \\boxed{3") == 0.0
    assert boxed_format("so 3") == 0.0


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<think>add them</think> The answer is \\boxed{3}.", 1.0),
        ("  <think>\nadd them\n</think>\n\\boxed{3}", 1.0),
        ("The answer <think>late</think> 3", 0.0),  # not at the start
        ("<think>a</think><think>b</think> 3", 0.0),  # two blocks
        ("<think>add them</think>", 0.0),  # no answer after it
        ("<think> </think> 3", 0.0),  # empty thought
        ("<think>never closed 3", 0.0),
    ],
)
def test_think_format(completion, expected):
    assert think_format(completion) == expected


def test_think_format_when_the_prompt_opens_the_block():
    sample = {"prompt": "<|im_start|>assistant\n<think>"}
    assert think_format("add them</think> 3", sample) == 1.0
    assert think_format("<think>add them</think> 3", sample) == 0.0  # now it is a second opening tag


def test_tag_count_gives_a_quarter_per_tag():
    full = "<think>\nreason\n</think>\n<answer>\n3\n</answer>"
    assert tag_count(full) == 1.0
    assert tag_count("<think>\nreason\n</think>\n3") == 0.5
    assert tag_count("<think>\n<think>\nreason") == 0.0  # used twice: no credit
    assert tag_count("3") == 0.0


def test_language_consistency():
    assert language_consistency("only english words") == 1.0
    assert language_consistency("abcd 中文") == pytest.approx(4 / 6)  # 4 Latin letters, 2 CJK
    assert language_consistency("abcd 中文", target_script="CJK") == pytest.approx(2 / 6)
    assert language_consistency("12 + 3 = 15") == 1.0
