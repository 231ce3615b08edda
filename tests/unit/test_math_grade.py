"""rewards.math.grade: extraction, and equivalence case by case as a careful human grader decides it."""

import time

import pytest

from rewards.math import extract_answer, extract_boxed, grade, math_accuracy

EQUIVALENT = [
    # fractions in every spelling, decimals with the exact same value
    ("\\frac{1}{2}", "\\dfrac{1}{2}"), ("1/2", "\\frac12"), ("0.5", "\\frac{1}{2}"), ("\\tfrac{3}{4}", "0.75"),
    ("-\\frac{3}{8}", "\\frac{-3}{8}"), ("\\frac{9}{19}", "\\frac9{19}"), ("1.80", "1\\frac{4}{5}"),
    ("137.5", "137 \\frac{1}{2}"), (".0000672", "0.0000672"),
    # radicals, pi, powers
    ("2\\sqrt{5}", "\\sqrt{20}"), ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}"), ("11\\sqrt{2}", "11\\sqrt2"),
    ("\\frac{\\pi}{2}", "\\pi/2"), ("288\\pi", "288 \\pi"), ("2^{10}", "1024"), ("x^{2}", "x^2"),
    # notation that means nothing
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"), ("10,\\!080", "10080"), ("10{,}080", "10080"),
    ("90^\\circ", "90"), ("90^{\\circ}", "90"), ("90°", "90"), ("\\frac{270}{7}\\text{ degrees}", "\\frac{270}{7}"),
    ("\\text{5}", "5"), ("\\mbox{5}", "5"), ("5.4 \\text{ cents}", "5.4"), ("864 \\mbox{ inches}^2", "864"),
    ("15\\mbox{ cm}^2", "15"), ("\\$32,\\!348", "32348"), ("\\$18.90", "18.9"),
    # assignments
    ("x = 5", "5"), ("5", "x=5"), ("x \\in [-2,7]", "[-2,7]"), ("-2 \\le x \\le 7", "x \\in [-2,7]"),
    ("1 < x \\leq 3", "(1,3]"),
    # thousands, percent, scientific
    ("58,500", "58500"), ("11,\\! 111,\\! 111,\\! 100", "11111111100"), ("50\\%", "50"), ("0.5", "50\\%"),
    ("1.5\\times10^{3}", "1500"), ("1.5e3", "1500"), ("6.02 \\cdot 10^{2}", "602"),
    # plus-minus, sets and unordered lists
    ("1 \\pm \\sqrt{19}", "1+\\sqrt{19}, 1-\\sqrt{19}"), ("1-\\sqrt{19},1+\\sqrt{19}", "1 \\pm \\sqrt{19}"),
    ("3, 5, 7", "7,5,3"), ("\\{1,2\\}", "2, 1"), ("-2,1", "1, -2"),
    ("\\{1\\pm\\sqrt{5},-2\\}", "-2, 1-\\sqrt5, 1+\\sqrt5"),
    # tuples, intervals, unions
    ("(6,31,-1)", "\\left(6, 31, -1\\right)"), ("(3,4]", "\\left(3,4\\right]"), ("(-\\infty, 0]", "(-\\infty,0]"),
    ("(-\\infty, 2) \\cup (3, \\infty)", "(3,\\infty)\\cup(-\\infty,2)"), ("(2,\\infty)", "(2, \\infty)"),
    # matrices
    (
        "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}",
        "\\begin{bmatrix} -\\frac13 \\\\ \\frac23 \\\\ \\frac53 \\end{bmatrix}",
    ),
    ("\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{pmatrix}-1&0\\\\0&-1\\end{pmatrix}"),
    # complex numbers
    ("6 - 5i", "-5i + 6"), ("1+2i", "2i+1"), ("i^2", "-1"),
    # expressions and equations
    ("p - q", "-q + p"), ("(a+5)(b+2)", "ab + 2a + 5b + 10"), ("x^3+3x-6", "3x + x^3 - 6"), ("2k+2", "2(k+1)"),
    ("\\cot x", "\\frac{\\cos x}{\\sin x}"), ("y = 2x + 3", "y=3+2x"), ("y = 2x + 1", "2x - y + 1 = 0"),
    ("5x - 7y + 11z + 4 = 0", "-10x + 14y - 22z - 8 = 0"), ("y = -2x", "-2x"),
    # multiple choice and text
    ("\\text{(C)}", "C"), ("(C)", "\\text{(C)}"), ("\\textbf{(E)}", "E"), ("\\text{Evelyn}", "evelyn"),
    ("\\text{east}", "East"), ("\\text{ellipse}", "ellipse"),
    # other bases
    ("52_8", "52_{8}"), ("52_8", "52"), ("4210_{5}", "4210_5"),
]  # fmt: skip

DIFFERENT = [
    ("0.333", "\\frac{1}{3}"), ("\\frac{1}{2}", "\\frac{1}{3}"), ("2\\sqrt{5}", "5\\sqrt{2}"), ("\\pi", "3.14"),
    ("[3,4]", "(3,4]"), ("(3,4)", "(3,4]"), ("(-\\infty, 0)", "(-\\infty,0]"), ("(1,2)", "(2,1)"),
    ("1, 2, 3", "1, 2"), ("(6,31,-1)", "(6,-1,31)"), ("3+4i", "3-4i"), ("4i", "4"), ("x^2", "x^3"),
    ("y = 2x + 2", "y = 2x + 1"), ("5x - 7y + 11z + 4 = 0", "5x - 7y + 11z - 4 = 0"), ("B", "\\text{(C)}"),
    ("\\text{west}", "\\text{east}"), ("53_8", "52_8"), ("90", "91^\\circ"), ("0.4", "50\\%"), ("50", "0.5"),
    ("1 + \\sqrt{19}", "1 \\pm \\sqrt{19}"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}"),
    ("\\begin{pmatrix} 1 & 2 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"), ("", "5"), ("5", "-5"),
    ("1000", "1,001"), ("p + q", "p - q"), ("\\frac{\\pi}{2}", "90^\\circ"), ("-2 < x \\le 7", "[-2,7]"),
    # hedging is not answering
    ("5 \\text{ or } 6", "5"), ("5, 6", "5"), ("5 \\pm 1", "5"), ("x", "5"), ("\\text{five}", "5"),
]  # fmt: skip


@pytest.mark.parametrize(("prediction", "gold"), EQUIVALENT)
def test_equivalent(prediction, gold):
    assert grade(f"The answer is \\boxed{{{prediction}}}.", gold)


@pytest.mark.parametrize(("prediction", "gold"), DIFFERENT)
def test_different(prediction, gold):
    assert not grade(f"\\boxed{{{prediction}}}", gold)


def test_extraction_takes_the_last_complete_box_with_nested_braces():
    text = "First \\boxed{1}, then \\fbox{\\frac{3}{4}} and finally \\boxed{\\frac{\\sqrt{2}}{2}} done"
    assert extract_boxed(text) == "\\frac{\\sqrt{2}}{2}"
    assert extract_boxed("\\boxed {7}") == "7"
    assert extract_boxed("cut off \\boxed{\\frac{1}{2") is None
    assert extract_boxed("no box here 42") is None


def test_fallback_to_the_last_number_is_opt_in():
    assert extract_answer("so the total is 1,200.") is None
    assert extract_answer("so the total is 1,200.", fallback_last_number=True) == "1,200"
    assert not grade("so it is 12", "12")
    assert grade("so it is 12", "12", fallback_last_number=True)


def test_the_last_box_wins():
    assert not grade("\\boxed{5} no wait \\boxed{6}", "5")
    assert grade("\\boxed{5} no wait \\boxed{6}", "6")


def test_power_tower_and_huge_answers_return_false_quickly():
    start = time.monotonic()
    assert not grade("\\boxed{9^{9^{9^{9}}}}", "5")
    assert not grade("\\boxed{" + "1+" * 50_000 + "1}", "5")  # a 100 kB answer
    assert not grade("x" * 100_000 + "\\boxed{(" + "(" * 5000 + "}", "5")
    assert time.monotonic() - start < 3


def test_reward_function():
    assert math_accuracy("\\boxed{\\frac{14}{3}}", {"answer": "\\frac{14}{3}"}) == 1.0
    assert math_accuracy("14/3", {"answer": "\\frac{14}{3}"}) == 0.0
    assert math_accuracy("14/3", {"answer": "\\frac{14}{3}"}, fallback_last_number=True) == 1.0
