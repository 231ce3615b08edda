"""Write benchmarks/math_equivalence.json: for each MATH-500 problem, rewrites of its gold answer that a
careful grader must accept ("equivalent") and near-misses it must reject ("different").

The rewrites are ours: hand-written below for every answer that is not a plain number, and produced by
value-preserving (or value-changing) rules for integers, decimals, fractions, degrees, bases and letters.
Only the rewrites are stored, keyed by the problem's `unique_id`; the gold answers are read from
../shared/data/math500_test.json whenever the set is used (tests, scripts/bench_verifier.py).

    python scripts/make_equivalence_set.py [--math500 ../shared/data/math500_test.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "math_equivalence.json"

# gold -> (equivalent rewrites, near-misses). Keys are the exact gold strings of MATH-500.
HAND: dict[str, tuple[list[str], list[str]]] = {
    "(-1,6)": (["\\left(-1, 6\\right)", "( -1 , 6 )"], ["(1,6)", "(-1,-6)", "(6,-1)"]),
    "(-2,1)": (["\\left( -2, 1 \\right)", "(-2, 1)"], ["(2,1)", "(1,-2)", "(-2,-1)"]),
    "(-\\infty, 0]": (
        ["(-\\infty,0]", "\\left(-\\infty, 0\\right]"],
        ["(-\\infty, 0)", "[0, \\infty)", "(-\\infty, 1]"],
    ),
    "(-\\infty, 2) \\cup (3, \\infty)": (
        ["(3, \\infty) \\cup (-\\infty, 2)", "(-\\infty,2)\\cup(3,\\infty)"],
        ["(-\\infty, 2] \\cup [3, \\infty)", "(2, 3)", "(-\\infty, 3) \\cup (2, \\infty)"],
    ),
    "(-\\sqrt{3}, \\sqrt{3})": (
        ["\\left(-\\sqrt3, \\sqrt3\\right)", "(-3^{1/2}, 3^{1/2})"],
        ["[-\\sqrt{3}, \\sqrt{3}]", "(-3, 3)", "(-\\sqrt{2}, \\sqrt{2})"],
    ),
    "(0,9) \\cup (9,36)": (
        ["(9,36) \\cup (0,9)", "\\left(0,9\\right)\\cup\\left(9,36\\right)"],
        ["(0,36)", "[0,9) \\cup (9,36]", "(0,9) \\cup (9,35)"],
    ),
    "(1,-16,-4,43)": (
        ["\\left(1, -16, -4, 43\\right)", "(1, -16, -4, 43)"],
        ["(1,-16,4,43)", "(1,16,-4,43)", "(-16,1,-4,43)"],
    ),
    "(15,-29)": (["\\left(15,-29\\right)", "(15, -29)"], ["(15,29)", "(-29,15)", "(-15,-29)"]),
    "(2,12) \\cup (12,102)": (
        ["(12,102) \\cup (2,12)", "\\left(2,12\\right) \\cup \\left(12,102\\right)"],
        ["(2,102)", "(2,12] \\cup [12,102)", "(2,12) \\cup (12,100)"],
    ),
    "(2,4)": (["\\left(2,4\\right)", "(2, 4)"], ["(4,2)", "[2,4]", "(2,5)"]),
    "(2,\\infty)": (["(2, \\infty)", "\\left(2,\\infty\\right)"], ["[2, \\infty)", "(-\\infty, 2)", "(3, \\infty)"]),
    "(3,4]": (["\\left(3,4\\right]", "(3, 4]"], ["[3,4]", "(3,4)", "[3,4)"]),
    "(5,\\infty)": (["(5, \\infty)", "\\left( 5, \\infty \\right)"], ["[5,\\infty)", "(-\\infty,5)", "(6,\\infty)"]),
    "(6,31,-1)": (["\\left(6,31,-1\\right)", "(6, 31, -1)"], ["(6,-1,31)", "(6,31,1)", "(-6,31,-1)"]),
    "(8,-2)": (["\\left(8, -2\\right)", "(8, -2)"], ["(-2,8)", "(8,2)", "(-8,-2)"]),
    "(a+5)(b+2)": (["(b+2)(a+5)", "ab+2a+5b+10"], ["(a+2)(b+5)", "(a+5)(b-2)", "ab+10"]),
    "-13x+3": (["3-13x", "-13 x + 3"], ["13x+3", "-13x-3", "-3x+13"]),
    "-2 + 7i": (["7i-2", "-2+7 i"], ["-2-7i", "2+7i", "-7+2i"]),
    "-2,1": (["1,-2", "\\{-2, 1\\}"], ["-2", "2,1", "-2,-1"]),
    "-\\frac{\\pi}{6}": (["-\\pi/6", "\\frac{-\\pi}{6}"], ["\\frac{\\pi}{6}", "-\\frac{\\pi}{3}", "-30"]),
    "-\\sqrt{3}": (["-3^{1/2}", "-\\sqrt3"], ["\\sqrt{3}", "-\\sqrt{2}", "-3"]),
    "1 - 12i": (["-12i+1", "1-12 i"], ["1+12i", "12-i", "-1-12i"]),
    "1 \\pm \\sqrt{19}": (
        ["1+\\sqrt{19}, 1-\\sqrt{19}", "1-\\sqrt{19},1+\\sqrt{19}"],
        ["1+\\sqrt{19}", "1 \\pm \\sqrt{17}", "-1 \\pm \\sqrt{19}"],
    ),
    "1+274i": (["274i+1", "1 + 274 i"], ["1-274i", "274+i", "1+247i"]),
    "1+2\\sqrt{3}": (["2\\sqrt{3}+1", "1+\\sqrt{12}"], ["1+3\\sqrt{2}", "1-2\\sqrt{3}", "3\\sqrt{3}"]),
    "1+2i": (["2i+1", "1 + 2 i"], ["1-2i", "2+i", "1+2"]),
    "1,-2": (["-2,1", "\\{1, -2\\}"], ["1,2", "-1,2", "1"]),
    "10,\\!080": (["10080", "10,080", "10{,}080"], ["10800", "1080", "10081"]),
    "11 \\sqrt{5} + 11": (["11+11\\sqrt{5}", "11(\\sqrt{5}+1)"], ["11\\sqrt{5}", "11\\sqrt{5}-11", "22\\sqrt{5}"]),
    "11,\\! 111,\\! 111,\\! 100": (["11111111100", "11,111,111,100"], ["1111111100", "11111111101", "11111111000"]),
    "11\\sqrt2": (["11\\sqrt{2}", "\\sqrt{242}"], ["2\\sqrt{11}", "11\\sqrt{3}", "12\\sqrt{2}"]),
    "12\\pi": (["12 \\pi", "\\pi \\cdot 12"], ["12", "6\\pi", "24\\pi"]),
    "137 \\frac{1}{2}": (["137.5", "\\frac{275}{2}"], ["137", "138.5", "\\frac{137}{2}"]),
    "15\\mbox{ cm}^2": (["15", "15 \\text{ cm}^2"], ["150", "16", "225"]),
    "15x - 80": (["-80+15x", "5(3x-16)"], ["15x+80", "15x-8", "-15x+80"]),
    "16 \\sqrt{3}": (["16\\sqrt3", "\\sqrt{768}"], ["3\\sqrt{16}", "16\\sqrt{2}", "8\\sqrt{3}"]),
    "18+2\\pi": (["2\\pi+18", "2(9+\\pi)"], ["18+\\pi", "20\\pi", "18-2\\pi"]),
    "1\\frac{4}{5}": (["1.8", "\\frac{9}{5}"], ["\\frac{4}{5}", "1.45", "\\frac{5}{4}"]),
    "2 \\sqrt{5}": (["2\\sqrt5", "\\sqrt{20}"], ["5\\sqrt{2}", "2\\sqrt{6}", "20"]),
    "288 \\pi": (["288\\pi", "\\pi \\cdot 288"], ["288", "144\\pi", "289\\pi"]),
    "2\\sqrt{113}": (["\\sqrt{452}", "2 \\sqrt{113}"], ["\\sqrt{113}", "2\\sqrt{112}", "113\\sqrt{2}"]),
    "2\\sqrt{5}": (["\\sqrt{20}", "2\\sqrt5"], ["5\\sqrt{2}", "2\\sqrt{6}", "\\sqrt{10}"]),
    "2k": (["k \\cdot 2", "k+k"], ["k", "2k+1", "k^2"]),
    "2k+2": (["2(k+1)", "2+2k"], ["2k+1", "2k", "k+2"]),
    "3 \\pm 2 \\sqrt{2}": (
        ["3+2\\sqrt{2}, 3-2\\sqrt{2}", "3-\\sqrt{8}, 3+\\sqrt{8}"],
        ["3+2\\sqrt{2}", "3 \\pm \\sqrt{2}", "2 \\pm 3\\sqrt{2}"],
    ),
    "3 \\sqrt{5}": (["3\\sqrt5", "\\sqrt{45}"], ["5\\sqrt{3}", "3\\sqrt{6}", "\\sqrt{15}"]),
    "3, 5, 7": (["7, 5, 3", "\\{3,5,7\\}", "5,3,7"], ["3, 5", "3, 5, 7, 9", "3, 5, 8"]),
    "3R^2": (["3 R^2", "3R \\cdot R"], ["3R", "9R^2", "3R^3"]),
    "3\\sqrt{13}": (["\\sqrt{117}", "3\\sqrt {13}"], ["13\\sqrt{3}", "3\\sqrt{12}", "\\sqrt{39}"]),
    "5.4 \\text{ cents}": (["5.4", "\\frac{27}{5}"], ["54", "5.5", "0.054"]),
    "58,500": (["58500", "58{,}500"], ["5850", "58,000", "585000"]),
    "5r^5": (["5 r^{5}", "r^5 \\cdot 5"], ["5r^4", "25r^5", "5r"]),
    "5x - 7y + 11z + 4 = 0": (
        ["-5x + 7y - 11z - 4 = 0", "10x - 14y + 22z + 8 = 0"],
        ["5x - 7y + 11z - 4 = 0", "5x + 7y + 11z + 4 = 0", "5x - 7y + 11z = 0"],
    ),
    "6 - 5i": (["-5i+6", "6-5 i"], ["6+5i", "5-6i", "-6-5i"]),
    "6+9i": (["9i+6", "3(2+3i)"], ["6-9i", "9+6i", "6+9"]),
    "6\\sqrt{2}": (["\\sqrt{72}", "6\\sqrt2"], ["2\\sqrt{6}", "6\\sqrt{3}", "\\sqrt{12}"]),
    "6r^2-4r-24": (["2(3r^2-2r-12)", "-24-4r+6r^2"], ["6r^2+4r-24", "6r^2-4r+24", "3r^2-2r-12"]),
    "70 \\sqrt{2}": (["70\\sqrt2", "\\sqrt{9800}"], ["2\\sqrt{70}", "70\\sqrt{3}", "140"]),
    "7\\pi": (["7 \\pi", "\\pi \\cdot 7"], ["7", "14\\pi", "\\frac{7}{\\pi}"]),
    "8 \\pi": (["8\\pi", "\\pi\\cdot 8"], ["8", "4\\pi", "16\\pi"]),
    "864 \\mbox{ inches}^2": (["864", "864 \\text{ square inches}"], ["846", "864^2", "8640"]),
    "8n^2 + 4n + 1": (["1+4n+8n^2", "4n(2n+1)+1"], ["8n^2+4n", "8n^2-4n+1", "4n^2+8n+1"]),
    "\\$18.90": (["18.90", "18.9", "\\$18.9"], ["18.09", "189", "19.80"]),
    "\\$32,\\!348": (["32348", "\\$32,348", "32{,}348"], ["32384", "3234.8", "32,349"]),
    "\\$36": (["36", "\\$36.00", "36 \\text{ dollars}"], ["63", "\\$3.60", "35"]),
    "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}": (
        ["\\begin{bmatrix} -1 & 0 \\\\ 0 & -1 \\end{bmatrix}", "\\begin{pmatrix}-1&0\\\\0&-1\\end{pmatrix}"],
        ["\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}", "\\begin{pmatrix} -1 & 0 \\\\ 0 & 1 \\end{pmatrix}", "-1"],
    ),
    "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}": (
        [
            "\\begin{pmatrix} -\\frac{1}{3} \\\\ \\frac{2}{3} \\\\ \\frac{5}{3} \\end{pmatrix}",
            "\\begin{bmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{bmatrix}",
        ],
        [
            "\\begin{pmatrix} 1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}",
            "\\begin{pmatrix} -1/3 \\\\ 5/3 \\\\ 2/3 \\end{pmatrix}",
            "\\begin{pmatrix} -1 \\\\ 2 \\\\ 5 \\end{pmatrix}",
        ],
    ),
    "\\begin{pmatrix} -18 \\\\ -49 \\\\ 96 \\end{pmatrix}": (
        ["\\begin{bmatrix} -18 \\\\ -49 \\\\ 96 \\end{bmatrix}", "\\begin{pmatrix}-18\\\\-49\\\\96\\end{pmatrix}"],
        [
            "\\begin{pmatrix} -18 \\\\ 49 \\\\ 96 \\end{pmatrix}",
            "\\begin{pmatrix} 18 \\\\ -49 \\\\ 96 \\end{pmatrix}",
            "(-18,-49,95)",
        ],
    ),
    "\\begin{pmatrix} -2 \\\\ -14 \\\\ -7 \\end{pmatrix}": (
        ["\\begin{bmatrix} -2 \\\\ -14 \\\\ -7 \\end{bmatrix}", "\\begin{pmatrix}-2\\\\-14\\\\-7\\end{pmatrix}"],
        [
            "\\begin{pmatrix} 2 \\\\ 14 \\\\ 7 \\end{pmatrix}",
            "\\begin{pmatrix} -2 \\\\ -7 \\\\ -14 \\end{pmatrix}",
            "-23",
        ],
    ),
    "\\begin{pmatrix} -7 \\\\ 16 \\\\ 5 \\end{pmatrix}": (
        ["\\begin{bmatrix} -7 \\\\ 16 \\\\ 5 \\end{bmatrix}", "\\begin{pmatrix}-7\\\\16\\\\5\\end{pmatrix}"],
        ["\\begin{pmatrix} 7 \\\\ 16 \\\\ 5 \\end{pmatrix}", "\\begin{pmatrix} -7 \\\\ 5 \\\\ 16 \\end{pmatrix}", "14"],
    ),
    "\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}": (
        [
            "\\begin{pmatrix} \\frac{1}{5} \\\\ -\\frac{18}{5} \\end{pmatrix}",
            "\\begin{pmatrix} 0.2 \\\\ -3.6 \\end{pmatrix}",
        ],
        [
            "\\begin{pmatrix} 1/5 \\\\ 18/5 \\end{pmatrix}",
            "\\begin{pmatrix} -18/5 \\\\ 1/5 \\end{pmatrix}",
            "\\begin{pmatrix} 1 \\\\ -18 \\end{pmatrix}",
        ],
    ),
    "\\begin{pmatrix} 16/49 \\\\ 48/49 \\\\ 24/49 \\end{pmatrix}": (
        [
            "\\begin{pmatrix} \\frac{16}{49} \\\\ \\frac{48}{49} \\\\ \\frac{24}{49} \\end{pmatrix}",
            "\\begin{bmatrix} 16/49 \\\\ 48/49 \\\\ 24/49 \\end{bmatrix}",
        ],
        [
            "\\begin{pmatrix} 16/49 \\\\ 24/49 \\\\ 48/49 \\end{pmatrix}",
            "\\begin{pmatrix} 16 \\\\ 48 \\\\ 24 \\end{pmatrix}",
            "\\begin{pmatrix} 16/49 \\\\ 48/49 \\\\ 25/49 \\end{pmatrix}",
        ],
    ),
    "\\cot x": (["\\frac{\\cos x}{\\sin x}", "\\frac{1}{\\tan x}"], ["\\tan x", "\\cos x", "-\\cot x"]),
    "\\frac{11+9a}{20}": (
        ["\\frac{9a+11}{20}", "\\frac{11}{20}+\\frac{9a}{20}"],
        ["\\frac{11+9a}{2}", "\\frac{9+11a}{20}", "11+9a"],
    ),
    "\\frac{20000}{\\pi}": (["20000/\\pi", "\\frac{40000}{2\\pi}"], ["20000\\pi", "\\frac{2000}{\\pi}", "6366"]),
    "\\frac{270}7\\text{ degrees}": (
        ["\\frac{270}{7}", "\\frac{270}{7}^\\circ", "38\\frac{4}{7}"],
        ["\\frac{7}{270}", "38", "\\frac{270}{17}"],
    ),
    "\\frac{3\\sqrt{3}}{4}": (
        ["\\frac{3}{4}\\sqrt{3}", "0.75\\sqrt{3}"],
        ["\\frac{3\\sqrt{3}}{2}", "\\frac{\\sqrt{3}}{4}", "\\frac{3}{4}"],
    ),
    "\\frac{\\sqrt{21}}{5}": (
        ["\\frac{1}{5}\\sqrt{21}", "\\sqrt{\\frac{21}{25}}"],
        ["\\frac{21}{5}", "\\frac{\\sqrt{21}}{25}", "\\sqrt{21}"],
    ),
    "\\frac{\\sqrt{3}}{3}": (
        ["\\frac{1}{\\sqrt{3}}", "\\frac{1}{3}\\sqrt{3}"],
        ["\\sqrt{3}", "\\frac{\\sqrt{3}}{2}", "\\frac{3}{\\sqrt{3}}"],
    ),
    "\\left( 3, \\frac{\\pi}{2} \\right)": (
        ["(3, \\frac{\\pi}{2})", "(3,\\pi/2)"],
        ["(3, \\pi)", "(\\frac{\\pi}{2}, 3)", "(3, 90)"],
    ),
    "\\left( \\frac{3}{2}, -13 \\right)": (
        ["(1.5, -13)", "\\left(\\frac32,-13\\right)"],
        ["(-13, \\frac{3}{2})", "(\\frac{3}{2}, 13)", "(\\frac{2}{3}, -13)"],
    ),
    "\\left(\\frac{3}{5},\\frac{8}{3}\\right]": (
        ["(0.6, \\frac{8}{3}]", "(\\frac{3}{5}, \\frac{8}{3}]"],
        ["[\\frac{3}{5},\\frac{8}{3}]", "(\\frac{3}{5},\\frac{8}{3})", "(\\frac{5}{3},\\frac{8}{3}]"],
    ),
    "\\left[ \\frac{\\pi^2}{8}, \\frac{5 \\pi^2}{4} \\right]": (
        ["[\\frac{\\pi^2}{8}, \\frac{5\\pi^2}{4}]", "\\left[\\pi^2/8, 5\\pi^2/4\\right]"],
        [
            "(\\frac{\\pi^2}{8}, \\frac{5 \\pi^2}{4}]",
            "[\\frac{\\pi}{8}, \\frac{5\\pi}{4}]",
            "[\\frac{\\pi^2}{4}, \\frac{5\\pi^2}{4}]",
        ],
    ),
    "\\pi": (["\\frac{2\\pi}{2}", "1\\pi"], ["3.14", "2\\pi", "\\frac{\\pi}{2}"]),
    "\\sqrt{51}": (["51^{1/2}", "\\sqrt {51}"], ["51", "\\sqrt{15}", "7"]),
    "\\sqrt{53}": (["53^{\\frac{1}{2}}", "\\sqrt {53}"], ["53", "\\sqrt{35}", "7.28"]),
    "\\sqrt{5}": (["5^{1/2}", "\\frac{5}{\\sqrt{5}}"], ["5", "\\sqrt{3}", "2.236"]),
    "\\sqrt{66}": (["66^{1/2}", "\\sqrt {66}"], ["66", "\\sqrt{6}", "8.12"]),
    "\\{1\\pm\\sqrt{5},-2\\}": (
        ["-2, 1+\\sqrt{5}, 1-\\sqrt{5}", "\\{-2, 1-\\sqrt5, 1+\\sqrt5\\}"],
        ["1 \\pm \\sqrt{5}", "\\{1\\pm\\sqrt{5}, 2\\}", "-2, 1+\\sqrt{5}"],
    ),
    "p - q": (["-q+p", "-(q-p)"], ["q - p", "p + q", "pq"]),
    "x \\in [-2,7]": (["[-2,7]", "[-2, 7]", "-2 \\le x \\le 7"], ["(-2,7)", "[-2,7)", "[-7,2]"]),
    "x=5": (["5", "x = 5"], ["x=-5", "6", "x = 25"]),
    "x^3+3x-6": (["3x+x^3-6", "x^{3}+3x-6"], ["x^3-3x-6", "x^3+3x+6", "x^2+3x-6"]),
    "x^5 - x^4 + x^3 - x^2 + x - 1": (
        ["-1+x-x^2+x^3-x^4+x^5", "(x-1)(x^4+x^2+1)"],
        ["x^5 + x^4 + x^3 + x^2 + x + 1", "x^5 - x^4 + x^3 - x^2 + x + 1", "x^4 - x^3 + x^2 - x + 1"],
    ),
    "x^8 + x^7 + x^6 + x^5 + x^4 + x^3 + x^2 + x + 1": (
        ["1+x+x^2+x^3+x^4+x^5+x^6+x^7+x^8", "(x^2+x+1)(x^6+x^3+1)"],
        ["x^8 + x^7 + x^6 + x^5 + x^4 + x^3 + x^2 + x", "x^9 + 1", "x^8 - x^7 + x^6 - x^5 + x^4 - x^3 + x^2 - x + 1"],
    ),
    "y = -2x": (["y=-2x", "2x + y = 0", "-2x"], ["y = 2x", "y = -2x + 1", "y = -x"]),
    "y = 2x + 3": (["y=3+2x", "2x - y + 3 = 0", "2x+3"], ["y = 2x - 3", "y = 3x + 2", "y = 2x"]),
    # text answers and multiple choice
    "\\text{Evelyn}": (["Evelyn", "\\textbf{Evelyn}", "evelyn"], ["Navin", "Evelin", "\\text{Eve}"]),
    "\\text{east}": (["east", "\\text{East}", "EAST"], ["west", "\\text{north}", "northeast"]),
    "\\text{even}": (["even", "\\text{Even}", "\\textbf{even}"], ["odd", "\\text{neither}", "\\text{odd}"]),
    "\\text{ellipse}": (["ellipse", "\\text{Ellipse}", "\\mbox{ellipse}"], ["circle", "\\text{hyperbola}", "parabola"]),
    "\\text{Navin}": (["Navin", "\\text{navin}", "\\textbf{Navin}"], ["Evelyn", "\\text{Navi}", "Marco"]),
}


def _digest(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)


def _pick(options: list[str], k: int, key: str) -> list[str]:
    """k distinct options chosen deterministically by the problem id (so every id gets a different mix)."""
    options = list(dict.fromkeys(options))
    start = _digest(key) % max(1, len(options))
    return (options[start:] + options[:start])[:k]


def integer_pairs(n: int, key: str) -> tuple[list[str], list[str]]:
    equivalent = [
        f"{n}.0", f"\\frac{{{2 * n}}}{{2}}", f"x = {n}", f"\\text{{{n}}}", f"{n}.00", f"\\dfrac{{{3 * n}}}{{3}}",
        f"{{{n}}}", f"{n}^{{1}}", f"\\mathbf{{{n}}}", f"{n} \\text{{ units}}",
    ]  # fmt: skip
    if n > 0:
        equivalent.append(f"+{n}")
    chosen = _pick(equivalent, 3, key)
    if abs(n) >= 1000:
        chosen += [f"{n:,}", f"{n:,}".replace(",", ",\\!"), f"{n:,}".replace(",", "{,}")]
    square = f"({n})^2" if n < 0 else f"{n}^2"  # -1^2 is -(1^2) = -1 in LaTeX, not a near-miss
    different = [str(n + 1), str(n - 1), f"{n}.5", str(10 * n) if n else "10", square if n not in (0, 1) else "2"]
    if n != 0:
        different += [str(-n), f"\\frac{{{n}}}{{2}}"]
    reversed_digits = str(abs(n))[::-1].lstrip("0")
    if reversed_digits and int(reversed_digits) != abs(n):
        different.append(("-" if n < 0 else "") + reversed_digits)
    return chosen, _pick(different, 3, key + "/different")


def decimal_pairs(text: str, key: str) -> tuple[list[str], list[str]]:
    value = Fraction(text)
    equivalent = [f"\\frac{{{value.numerator}}}{{{value.denominator}}}", text + "0"]
    equivalent.append(
        text[1:]
        if text.startswith("0.")
        else ("0" + text if text.startswith(".") else f"{value.numerator}/{value.denominator}")
    )
    different = [
        str(float(value * 10)),
        str(float(value + Fraction(1, 100))),
        f"\\frac{{{value.denominator}}}{{{value.numerator}}}",
    ]
    return equivalent, different


def fraction_pairs(num: int, den: int, key: str) -> tuple[list[str], list[str]]:
    sign = "-" if num < 0 else ""
    a = abs(num)
    equivalent = [f"{sign}{a}/{den}", f"{sign}\\dfrac{{{a}}}{{{den}}}", f"{sign}\\frac{{{2 * a}}}{{{2 * den}}}"]
    value = Fraction(num, den)
    d = den
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d == 1:  # a terminating decimal is the same exact value
        equivalent.append(str(float(value)))
    different = [f"{sign}\\frac{{{den}}}{{{a}}}" if a != den else "2", f"{sign}\\frac{{{a + 1}}}{{{den}}}"]
    different.append(f"{'' if sign else '-'}\\frac{{{a}}}{{{den}}}")
    if d != 1:
        different.append(f"{float(value):.3f}")  # a rounded decimal is not the exact value
    return _pick(equivalent, 3, key), _pick(different, 3, key + "/different")


def degree_pairs(n: int, key: str) -> tuple[list[str], list[str]]:
    equivalent = [str(n), f"{n}^{{\\circ}}", f"{n} \\text{{ degrees}}", f"{n}°"]
    different = [f"{n + 1}^\\circ", f"{180 - n}^\\circ" if 180 - n != n else f"{2 * n}^\\circ", f"{n // 2}^\\circ"]
    return _pick(equivalent, 3, key), different


def base_pairs(digits: str, base: str, key: str) -> tuple[list[str], list[str]]:
    last = int(digits[-1])
    changed = digits[:-1] + str((last + 1) % int(base))
    return [f"{digits}_{{{base}}}", f"{digits}_{base}", digits], [
        f"{changed}_{base}",
        f"{digits}_{{{int(base) + 1}}}",
        digits[::-1] + f"_{base}",
    ]


def choice_pairs(letter: str, key: str) -> tuple[list[str], list[str]]:
    others = [c for c in "ABCDE" if c != letter]
    return [letter, f"({letter})", f"\\textbf{{({letter})}}"], [others[0], f"({others[1]})", f"\\text{{({others[2]})}}"]


def pairs_for(gold: str, key: str) -> tuple[list[str], list[str]]:
    gold = gold.strip()
    if gold in HAND:
        return HAND[gold]
    if re.fullmatch(r"-?\d+", gold):
        return integer_pairs(int(gold), key)
    if re.fullmatch(r"-?\d*\.\d+", gold):
        return decimal_pairs(gold, key)
    m = re.fullmatch(r"(-?)\\d?frac\s*\{?(\d+)\}?\s*\{?(\d+)\}?", gold)
    if m:
        return fraction_pairs(int(m.group(1) + m.group(2)), int(m.group(3)), key)
    m = re.fullmatch(r"(\d+)\^\\circ", gold)
    if m:
        return degree_pairs(int(m.group(1)), key)
    m = re.fullmatch(r"([0-9]+)_\{?(\d+)\}?", gold)
    if m:
        return base_pairs(m.group(1), m.group(2), key)
    m = re.fullmatch(r"\\text\{\(([A-E])\)\}", gold)
    if m:
        return choice_pairs(m.group(1), key)
    raise KeyError(f"no rewrites for gold answer {gold!r} ({key}): add it to HAND")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--math500", type=Path, default=ROOT.parent / "shared" / "data" / "math500_test.json")
    args = parser.parse_args()
    rows = json.loads(args.math500.read_text())
    out = {}
    for row in rows:
        equivalent, different = pairs_for(row["answer"], row["unique_id"])
        out[row["unique_id"]] = {"equivalent": list(equivalent), "different": list(different)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps({"source": "MATH-500 (HuggingFaceH4/MATH-500), rewrites by rlvr", "pairs": out}, indent=1)
    )
    n = sum(len(v["equivalent"]) + len(v["different"]) for v in out.values())
    print(f"{n} pairs for {len(out)} problems -> {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
