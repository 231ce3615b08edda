"""Write tests/data/math500_rewrites.json: completions for MATH-500 problems, labelled by a person, not by a grader.

For every problem whose gold answer is not a plain integer, the rewrites below were written by hand (reasoning
as a careful grader: same value and meaning in other notation = equivalent; a changed value, a changed interval
end, a wrong order where order matters, a hedge, a range or several alternatives = different). Integer golds get
rewrites made by construction rules (`integer_pairs`) whose labels follow from the rule itself. A third part,
`OWN`, holds pairs with their own gold strings for families MATH-500's golds do not show (times, hedges on
words, matrices that lost their braces, labelled multi-part answers).

Nothing here imports or calls `rewards`: the labels cannot come from the code under test. Only the problem ids
and the completions are stored; golds are read from ../shared/data/math500_test.json at run time. The file is
frozen: its sha256 is recorded in BENCHMARKS.md and in scripts/bench_verifier.py, which refuses a changed file.

A prediction string is the content of a `\\boxed{}` unless it starts with `@`, in which case the rest is the whole
completion (text, several boxes, no box).

    python scripts/make_equivalence_set.py [--math500 ../shared/data/math500_test.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "math500_rewrites.json"

# MATH-500 index -> (equivalent rewrites, different ones). Written by hand for every non-integer gold.
HAND: dict[int, tuple[list[str], list[str]]] = {
    0: (  # \left( 3, \frac{\pi}{2} \right)
        [
            r"(3,\frac{\pi}{2})",
            r"(3, \pi/2)",
            r"\left(3,\tfrac{\pi}{2}\right)",
            "(3, pi/2)",
            r"(r,\theta)=(3,\frac\pi2)",
        ],
        [r"(3, \pi)", r"(\frac{\pi}{2}, 3)", r"(3, \frac{\pi}{4})", r"(-3, \frac{\pi}{2})", r"(3, \frac{3\pi}{2})"],
    ),
    1: (["-q+p", "p-q", r"p + (-q)", "-(q-p)"], ["q-p", "p+q", "p-2q", r"p - q \text{ or } q - p"]),
    2: (
        [r"\dfrac{14}{3}", r"\frac{14}3", "14/3", "@$f(-2)+f(-1)+f(0)=\\boxed{\\frac{14}{3}}$"],
        [r"\frac{3}{14}", r"\frac{13}{3}", "4.67", r"\frac{14}{3} \text{ or } \frac{13}{3}"],
    ),
    4: (
        [r"\text{Evelyn}", "Evelyn", r"\textbf{Evelyn}", r"\text{ Evelyn }"],
        ["Carla", r"\text{Briana}", r"\text{Evelyn or Carla}"],
    ),
    7: (["90", r"90^{\circ}", r"90 \text{ degrees}", "90°", r"90\,^\circ"], ["45", "180", r"90 \text{ or } 45", "91"]),
    8: (
        [r"3\sqrt{13}", "3sqrt(13)", r"3\cdot\sqrt{13}", r"\sqrt{13}\cdot 3"],
        [r"3\sqrt{12}", r"13\sqrt{3}", r"\sqrt{113}", "10.8", r"9\sqrt{13}"],
    ),
    11: (
        [r"\frac{3}{56}", r"\dfrac3{56}", "3/56", r"\tfrac{3}{56}"],
        [r"\frac{56}{3}", r"\frac{3}{65}", r"-\frac{3}{56}", "0.0536"],
    ),
    14: (
        [r"\sqrt{51}", r"\sqrt51", "sqrt(51)", r"51^{1/2}", r"\sqrt{ 51 }"],
        [r"\sqrt{15}", "51", r"\sqrt{49}", "7.14"],
    ),
    15: (["6-5i", "-5i+6", "6 - 5 i", "6+(-5)i", r"6 - 5\,i"], ["6+5i", "5-6i", "-6-5i", "6"]),
    17: ([r"\pi", "pi", r"1\pi", r"\frac{2\pi}{2}"], ["3.14", r"2\pi", r"\frac{\pi}{2}", "1"]),
    20: (["6+9i", "9i+6", "6 + 9 i", "3(2+3i)"], ["6-9i", "9+6i", "6+9", "-6+9i"]),
    23: (
        ["5", "x = 5", "x=5", r"\{5\}", "@So the only solution is $x = \\boxed{5}$."],
        ["3", "x=3", "3, 5", "5, 3", r"x = 5 \text{ or } x = 3"],
    ),
    25: (
        [
            "1,-2",
            "-2,1",
            "-2, 1",
            r"\{1, -2\}",
            r"n = 1, -2",
            r"1 \text{ and } -2",
            "@The integers are $\\boxed{-2}$ and $\\boxed{1}$.",
        ],
        ["1", "-2", "1, 2", "-1, 2", "1, -2, 3"],
    ),
    28: (["-2+7i", "7i-2", "-2 + 7 i", "i7 - 2"], ["2+7i", "-2-7i", "7-2i", "-7+2i"]),
    30: (["52_8", "52_{8}", "52", r"52_{\text{8}}"], ["42", "52_9", "53_8", "25_8", "42_{10}"]),
    31: (
        [r"11\sqrt{2}", r"11 \sqrt 2", "11sqrt(2)", r"11 \cdot \sqrt{2}"],
        [r"11\sqrt{3}", r"2\sqrt{11}", r"121\sqrt{2}", "15.56", r"12\sqrt{2}"],
    ),
    33: (
        [r"\frac{243}{625}", "243/625", r"\dfrac{243}{625}"],
        [r"\frac{625}{243}", r"\frac{81}{625}", "0.389", r"\frac{243}{6250}"],
    ),
    36: (
        ["3, 5, 7", "7, 5, 3", "5,3,7", r"\{3, 5, 7\}", r"x = 3, 5, 7", r"3, 5, \text{ and } 7", r"x=3,\ x=5,\ x=7"],
        ["3, 5", "3, 7", "3, 5, 7, 10", "5", "3, 5, 8"],
    ),
    43: (
        [r"70\sqrt{2}", r"70 \sqrt2", r"\sqrt{9800}", "70sqrt(2)", r"70\sqrt{2}"],
        ["70", r"70\sqrt{3}", "98.99", r"7\sqrt{2}"],
    ),
    44: (["1.25", "1.250", r"1.25 \text{ miles}", "1.25 miles"], ["1.2", "1.3", "12.5", "1.52"]),
    48: ([r"\frac{3}{2}", "3/2", r"\frac32", r"\dfrac{3}{2}"], [r"\frac{2}{3}", "2", r"\frac{3}{4}", r"\frac{1}{2}"]),
    51: (
        [
            "x^5 - x^4 + x^3 - x^2 + x - 1",
            "x^5-x^4+x^3-x^2+x-1",
            "-1+x-x^2+x^3-x^4+x^5",
            "(x-1)(x^4+x^2+1)",
            r"x^{5}-x^{4}+x^{3}-x^{2}+x-1",
        ],
        [
            "x^5 + x^4 + x^3 + x^2 + x + 1",
            "x^5 - x^4 + x^3 - x^2 + x + 1",
            "x^5 - x^4 + x^3 - x^2 + x",
            "x^4 - x^3 + x^2 - x + 1",
        ],
    ),
    53: (
        [r"-\frac{\pi}{6}", r"-\pi/6", r"\frac{-\pi}{6}", "-pi/6", r"-\frac16\pi"],
        [r"\frac{\pi}{6}", r"-\frac{\pi}{3}", "-30", r"\frac{11\pi}{6}"],
    ),
    54: (["0.15", ".15", "0.150", r"0.15\,"], ["1.5", "0.015", "0.51", "0.2"]),
    60: (
        ["(6,31,-1)", r"\left(6, 31, -1\right)", "( 6 , 31 , -1 )", "(p,q,r)=(6,31,-1)", "p=6, q=31, r=-1"],
        ["(6,-1,31)", "(6,31,1)", "(-6,31,-1)", "(31,6,-1)", r"\{6, 31, -1\}"],
    ),
    64: (
        [r"\frac{35}{64}", "35/64", r"\dfrac{35}{64}", "d = 35/64"],
        [r"\frac{64}{35}", r"\frac{35}{32}", r"-\frac{35}{64}", r"\frac{7}{64}"],
    ),
    66: (
        ["x^3+3x-6", "3x + x^3 - 6", "x^{3}+3x-6", "-6+3x+x^3", "x^3 + 3 x - 6"],
        ["x^3+3x+6", "x^3-3x-6", "x^2+3x-6", "x^3+3x"],
    ),
    70: (["40_9", "40_{9}", "40"], ["36", "41_9", "40_8", "04_9"]),
    71: (["2516_8", "2516_{8}", "2516"], ["2516_9", "1358", "2517_8", "6152_8"]),
    73: (
        [r"\frac{3\sqrt{3}}{4}", r"\frac{3}{4}\sqrt{3}", r"\frac34\sqrt3", r"\frac{3\sqrt 3}4", "3sqrt(3)/4"],
        [r"\frac{3\sqrt{3}}{2}", r"\frac{\sqrt{3}}{4}", r"\frac{3}{4}", r"\frac{3\sqrt{2}}{4}", "1.299"],
    ),
    74: (
        [r"\cot x", r"\cot(x)", r"\frac{\cos x}{\sin x}", r"\frac{1}{\tan x}", "cot(x)"],
        [r"\tan x", r"\cos x", r"\csc x", r"-\cot x"],
    ),
    75: ([r"\frac{11}{36}", "11/36", r"\dfrac{11}{36}"], [r"\frac{1}{36}", r"\frac{11}{30}", r"\frac{25}{36}", "0.31"]),
    78: (
        ["(-2,1)", r"\left(-2, 1\right)", "(a,b)=(-2,1)", "a=-2, b=1", "( -2 , 1 )"],
        ["(1,-2)", "(2,1)", "(-2,-1)", r"\{-2, 1\}"],
    ),
    82: ([r"\frac{3}{2}", "3/2", r"\frac32"], [r"\frac{2}{3}", "1", r"\frac{5}{2}", r"\frac{3}{2} \text{ or } 1"]),
    85: ([r"\sqrt{5}", r"\sqrt5", "sqrt(5)", r"\sqrt{5} \text{ meters}"], ["5", r"2\sqrt{5}", r"\sqrt{10}", "2.24"]),
    90: ([r"\frac{3}{2}", "3/2", "1.5", r"\dfrac32"], [r"\frac{2}{3}", "15", r"\frac{3}{20}"]),
    92: (
        [r"\frac{448}{15625}", "448/15625", "0.028672", r"\dfrac{448}{15625}"],
        [r"\frac{448}{3125}", r"\frac{4}{15625}", "0.0287", r"\frac{64}{15625}"],
    ),
    96: (
        [
            r"1 \pm \sqrt{19}",
            r"1+\sqrt{19}, 1-\sqrt{19}",
            r"1-\sqrt{19}, 1+\sqrt{19}",
            r"1\pm\sqrt19",
            r"x = 1 \pm \sqrt{19}",
            r"\{1+\sqrt{19},1-\sqrt{19}\}",
        ],
        [r"1+\sqrt{19}", r"1 \pm \sqrt{17}", r"-1 \pm \sqrt{19}", r"1 \pm 19"],
    ),
    97: (
        [r"\text{east}", "east", "East", r"\text{East}", r"\textbf{east}"],
        ["west", r"\text{north}", r"\text{south}", r"\text{east or west}"],
    ),
    98: (["2k+2", "2(k+1)", "2 + 2k", "2k + 2", "2(1+k)"], ["2k-2", "2k", "4k+2", "-2k+2"]),
    99: (
        [
            r"\begin{pmatrix} -1/3 \\ 2/3 \\ 5/3 \end{pmatrix}",
            r"\begin{pmatrix} -\frac{1}{3} \\ \frac{2}{3} \\ \frac{5}{3} \end{pmatrix}",
            r"\begin{bmatrix} -\frac13 \\ \frac23 \\ \frac53 \end{bmatrix}",
            r"\begin{pmatrix}-1/3\\2/3\\5/3\end{pmatrix}",
            r"\frac{1}{3}\begin{pmatrix} -1 \\ 2 \\ 5 \end{pmatrix}",
        ],
        [
            r"\begin{pmatrix} 1/3 \\ 2/3 \\ 5/3 \end{pmatrix}",
            r"\begin{pmatrix} -1/3 \\ 5/3 \\ 2/3 \end{pmatrix}",
            r"\begin{pmatrix} -1 \\ 2 \\ 5 \end{pmatrix}",
            r"\begin{pmatrix} -1/3 & 2/3 & 5/3 \end{pmatrix}",
        ],
    ),
    100: (["145", r"145^{\circ}", r"145 \text{ degrees}", "145°"], ["35", "155", r"145 \text{ or } 35", "146"]),
    102: (
        ["(a+5)(b+2)", "(b+2)(a+5)", "(5+a)(2+b)", r"\left(a+5\right)\left(b+2\right)"],
        ["(a+2)(b+5)", "(a+5)(b-2)", "(a-5)(b+2)", "ab+10"],
    ),
    103: (
        ["(3,4]", r"\left(3,4\right]", r"(3, 4]", r"3 < \lambda \le 4", r"\lambda \in (3,4]", r"3<\lambda\leq4"],
        ["[3,4]", "(3,4)", "[3,4)", r"3 \le \lambda \le 4", "(3,5]"],
    ),
    106: (
        [r"\frac43", r"\frac{4}{3}", "4/3", r"y = \frac{4}{3}", r"1\frac{1}{3}"],
        [r"\frac{3}{4}", "1.33", "4", r"-\frac{4}{3}"],
    ),
    109: (["120", r"120^\circ", r"120 \text{ degrees}"], ["60", "-120", "240"]),
    120: (
        [r"\text{even}", "even", "Even", r"\textbf{even}"],
        [r"\text{odd}", "neither", r"\text{odd or even}", r"\text{not even}"],
    ),
    124: (
        [r"\frac{11}{2}", "11/2", r"x = \frac{11}{2}"],
        [r"\frac{1}{2}", r"\frac{2}{11}", r"\frac{11}{4}", r"5\frac{1}{3}"],
    ),
    126: (["1+274i", "274i+1", "1 + 274 i", r"1+274\,i"], ["1-274i", "274+i", "1+247i", "1+274"]),
    127: (["4210_{5}", "4210_5", "4210"], ["4211_5", "4210_6", "555", "0124_5"]),
    129: (
        [r"\frac{3840}{289}", "3840/289", r"\dfrac{3840}{289}", r"13\frac{83}{289}"],
        [r"\frac{289}{3840}", r"\frac{3840}{17}", "13.29", r"\frac{384}{289}"],
    ),
    137: (["204_5", "204_{5}", "204"], ["203_5", "402_5", "104_5", "54"]),
    138: ([r"\frac{1}{3}", "1/3", r"\frac13", r"\dfrac{1}{3}"], ["0.333", "0.33", r"\frac{1}{2}", r"\frac{2}{3}"]),
    143: (
        [r"3\sqrt{5}", r"3\sqrt5", r"\sqrt{45}", "3sqrt(5)", r"\frac{6\sqrt{5}}{2}"],
        [r"5\sqrt{3}", r"6\sqrt{5}", "6.7", r"\frac{3\sqrt{5}}{2}"],
    ),
    144: (
        ["(15,-29)", r"\left(15, -29\right)", "(x,y)=(15,-29)", "( 15, -29 )"],
        ["(-29,15)", "(15,29)", "(-15,-29)", "(15,-27)"],
    ),
    146: (
        [r"\frac{\sqrt{3}}{3}", r"\frac{\sqrt3}3", "sqrt(3)/3", r"\frac{1}{3}\sqrt{3}"],
        [r"\sqrt{3}", r"\frac{\sqrt{3}}{2}", r"\frac{1}{3}", "0.577", r"\frac{3}{\sqrt{3}}"],
    ),
    153: (
        [r"\frac{2}{21}", "2/21", r"\dfrac{2}{21}", r"\tfrac{2}{21}"],
        [r"\frac{1}{21}", r"\frac{2}{27}", r"\frac{21}{2}", "0.095"],
    ),
    154: (
        [r"2\sqrt{113}", "2sqrt(113)", r"2 \sqrt {113}", r"2\cdot\sqrt{113}"],
        [r"\sqrt{113}", r"2\sqrt{131}", r"4\sqrt{113}", "21.26"],
    ),
    155: ([r"\frac{1}{4}", "1/4", r"\frac14"], [r"\frac{1}{2}", r"\frac{1}{8}", "4", r"\frac{3}{4}"]),
    156: (["30", r"30^\circ", r"30^{\circ}", r"30 \text{ degrees}"], ["60", "150", "31"]),
    157: (
        [r"\frac65", r"\frac{6}{5}", "6/5", "1.2", r"1\frac{1}{5}"],
        [r"\frac{5}{6}", r"-\frac{6}{5}", r"\frac{24}{5}", "6"],
    ),
    159: (["3.21", "3.210", "b+c=3.21"], ["3.2", "3.12", "2.21", "32.1"]),
    162: (
        [r"\dfrac{17}{50}", r"\frac{17}{50}", "17/50"],
        [r"\frac{17}{100}", r"\frac{33}{100}", r"\frac{1}{3}", "0.35"],
    ),
    163: (
        [r"-\frac{35}{9}", r"\frac{-35}{9}", "-35/9", r"-\dfrac{35}{9}"],
        [r"\frac{35}{9}", r"-\frac{9}{35}", r"-\frac{35}{3}", "-3.89"],
    ),
    164: ([r"-\sqrt{3}", r"-\sqrt3", "-sqrt(3)", r"- \sqrt{3}"], [r"\sqrt{3}", "-3", r"-\sqrt{2}", "-1.732"]),
    165: (
        [r"\frac{4}{9}", "4/9", r"\dfrac49", r"\tfrac{4}{9}"],
        [r"\frac{9}{4}", r"\frac{4}{7}", "0.44", r"\frac{5}{9}"],
    ),
    166: (
        [r"\frac{270}{7}", r"\frac{270}{7}^\circ", r"\frac{270}7", r"\frac{270}{7} \text{ degrees}", "270/7"],
        [r"\frac{7}{270}", "38", r"\frac{270}{17}", "38.57"],
    ),
    171: ([r"\frac{13}{15}", "13/15", r"\dfrac{13}{15}"], [r"\frac{3}{8}", r"\frac{15}{13}", "0.87", r"\frac{2}{15}"]),
    176: ([".0000672", "0.0000672", "0.00006720"], ["0.000672", ".000672", "0.0000627", "6.72"]),
    177: (["30", r"30^\circ", r"30\text{ degrees}"], ["60", "45", "15"]),
    179: (
        [
            "5x - 7y + 11z + 4 = 0",
            "5x-7y+11z+4=0",
            "-5x + 7y - 11z - 4 = 0",
            "10x - 14y + 22z + 8 = 0",
            "5x - 7y + 11z = -4",
        ],
        ["5x - 7y + 11z - 4 = 0", "5x + 7y + 11z + 4 = 0", "5x - 7y + 11z = 0", "5x - 7y + 11z + 4"],
    ),
    181: (
        [r"\frac{\sqrt{3}}{3}", r"\frac{\sqrt3}{3}", "sqrt(3)/3", r"\dfrac{\sqrt{3}}{3}"],
        [r"\frac{\sqrt{3}}{9}", r"\frac{1}{3}", r"\sqrt{3}", "0.58"],
    ),
    184: (
        [r"(2,\infty)", r"(2, \infty)", r"\left(2,\infty\right)", r"(2, +\infty)", r"x > 2", r"2 < x"],
        [r"[2,\infty)", r"(-\infty, 2)", r"(3,\infty)", "2", r"x \ge 2"],
    ),
    190: (
        [r"\frac{13}{18}", "13/18", r"\dfrac{13}{18}"],
        [r"\frac{5}{18}", r"\frac{18}{13}", r"\frac{13}{36}", "0.72"],
    ),
    194: ([r"\frac{1}{4}", "1/4", "0.25", r"\frac14"], [r"\frac{1}{2}", "4", r"\frac{1}{6}"]),
    198: (["10,\\!080", "10080", "10,080", "10{,}080", "10\\,080"], ["10800", "1080", "5040", "40320"]),
    202: ([r"\frac{2}{3}", "2/3", r"\frac23", r"\dfrac{2}{3}"], [r"\frac{1}{3}", "0.67", "0.666", r"\frac{3}{4}"]),
    205: (
        [
            r"\begin{pmatrix} -2 \\ -14 \\ -7 \end{pmatrix}",
            r"\begin{bmatrix} -2 \\ -14 \\ -7 \end{bmatrix}",
            r"\begin{pmatrix}-2\\-14\\-7\end{pmatrix}",
            r"-\begin{pmatrix} 2 \\ 14 \\ 7 \end{pmatrix}",
        ],
        [
            r"\begin{pmatrix} 2 \\ 14 \\ 7 \end{pmatrix}",
            r"\begin{pmatrix} -2 \\ -7 \\ -14 \end{pmatrix}",
            r"\begin{pmatrix} -2 \\ -14 \\ 7 \end{pmatrix}",
            "-23",
        ],
    ),
    206: (
        [
            r"\left( \frac{3}{2}, -13 \right)",
            r"(\frac32, -13)",
            "(1.5, -13)",
            "(3/2, -13)",
            r"(m,b)=\left(\frac{3}{2},-13\right)",
        ],
        [r"(-13, \frac{3}{2})", r"(\frac{2}{3}, -13)", r"(\frac{3}{2}, 13)", r"(\frac{3}{2}, -\frac{13}{2})"],
    ),
    217: (
        ["11,\\! 111,\\! 111,\\! 100", "11111111100", "11,111,111,100", "11{,}111{,}111{,}100"],
        ["1111111100", "11111111000", "111111111100", "11111111101"],
    ),
    218: (["(-1,6)", r"\left(-1, 6\right)", "(x,y)=(-1,6)", "( -1 , 6 )"], ["(1,6)", "(-1,-6)", "(6,-1)", "(-1,6.5)"]),
    219: (
        [r"\frac{1}{2}", "1/2", "0.5", r"\frac12", r"50\%"],
        [r"\frac{1}{3}", r"\frac{2}{3}", "0.6", r"\frac{5}{12}"],
    ),
    220: (
        [r"\frac{16}{27}", "16/27", r"\dfrac{16}{27}", r"\frac{16}{27} \text{ gallons}"],
        [r"\frac{8}{27}", r"\frac{16}{9}", r"\frac{27}{16}", "0.59"],
    ),
    224: (
        [r"\frac{9}{256}", "9/256", r"\dfrac{9}{256}", "0.03515625"],
        [r"\frac{3}{256}", r"\frac{9}{128}", r"\frac{81}{256}", "0.035"],
    ),
    227: ([r"\text{(C)}", "C", "(C)", r"\textbf{(C)}", r"\text{C}"], ["A", "(B)", r"\text{(D)}", r"\text{Plane}\ (D)"]),
    228: (
        [r"288 \pi", r"288\pi", r"\pi \cdot 288", "288pi", r"288 \pi \text{ cubic units}"],
        ["288", r"144\pi", r"288\pi^2", "904.78"],
    ),
    230: (
        [r"\frac{16}{5}", "16/5", "3.2", r"3\frac{1}{5}", r"e = \frac{16}{5}"],
        [r"\frac{5}{16}", r"\frac{16}{3}", "3", r"\frac{8}{5}"],
    ),
    232: (
        [r"\frac{1997}{2}", "1997/2", "998.5", r"998\frac{1}{2}"],
        ["1997", "998", r"\frac{1996}{2}", r"\frac{2}{1997}"],
    ),
    233: (["30", r"30^\circ", r"30 \text{ degrees}"], ["60", "150", "45"]),
    235: ([r"\frac 59", r"\frac{5}{9}", "5/9", r"\dfrac59"], [r"\frac{5}{8}", r"\frac{9}{5}", "0.555", r"\frac{4}{9}"]),
    242: (
        ["\\$32,\\!348", "32348", "32,348", "\\$32348", "32{,}348 \\text{ dollars}"],
        ["32347", "32349", "3234.8", "\\$32,\\!438"],
    ),
    245: (["-13x+3", "3-13x", "-13 x + 3", "3 - 13x"], ["13x+3", "-13x-3", "-3x+13", "-13x"]),
    247: (
        [r"\frac{10}{11}", "10/11", r"\dfrac{10}{11}"],
        [r"\frac{11}{10}", r"\frac{10}{13}", r"-\frac{10}{11}", "0.909"],
    ),
    248: (
        [
            r"\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix}",
            r"\begin{pmatrix}-1&0\\0&-1\end{pmatrix}",
            r"\begin{bmatrix} -1 & 0 \\ 0 & -1 \end{bmatrix}",
            r"-\begin{pmatrix} 1 & 0 \\ 0 & 1 \end{pmatrix}",
        ],
        [
            r"\begin{pmatrix} 1 & 0 \\ 0 & 1 \end{pmatrix}",
            r"\begin{pmatrix} -1 & 0 \\ 0 & 1 \end{pmatrix}",
            r"\begin{pmatrix} 0 & -1 \\ -1 & 0 \end{pmatrix}",
            "-1",
        ],
    ),
    253: (
        [r"\frac{1}{8}", "1/8", "0.125", r"\frac18"],
        [r"\frac{1}{6}", "8", r"\frac{3}{24} \text{ or } \frac{1}{4}", r"\frac{1}{4}"],
    ),
    255: ([r"\text{(E)}", "E", "(E)", r"\textbf{(E)}"], ["D", "(C)", r"\text{(A)}"]),
    256: (
        [r"\frac{8}{21}", "8/21", r"\dfrac{8}{21}", r"\tfrac{8}{21}"],
        [r"\frac{21}{8}", r"\frac{8}{35}", r"\frac{4}{21}", "0.38"],
    ),
    257: (
        [r"864 \mbox{ inches}^2", "864", r"864 \text{ square inches}", r"864 \text{ in}^2", r"864\text{ sq. in.}"],
        ["144", "846", "6", "8640"],
    ),
    260: (["120", r"120^\circ", r"120 \text{ degrees}"], ["60", "30", "150"]),
    261: (["76", r"76^\circ", r"76 \text{ degrees}"], ["14", "104", "66"]),
    264: (
        [r"1\frac{4}{5}", r"1 \frac45", r"1\tfrac{4}{5}", r"1\dfrac{4}{5}"],
        [r"\frac{4}{5}", r"1\frac{5}{4}", r"\frac{5}{9}", "1.45"],
    ),
    266: (
        [r"\dfrac{33}{100}", r"\frac{33}{100}", "0.33", r"33\%", "33/100"],
        [r"\frac{1}{3}", r"\frac{33}{101}", "0.34", r"\frac{34}{100}"],
    ),
    267: (["180", r"180^\circ", r"180 \text{ degrees}"], ["90", "360", "120"]),
    274: (
        [r"18+2\pi", r"2\pi+18", r"2(9+\pi)", "18 + 2pi", r"18 + 2 \pi \text{ units}"],
        [r"18+\pi", r"9+2\pi", r"18\pi", "24.28"],
    ),
    277: ([r"\sqrt{53}", r"\sqrt53", "sqrt(53)", r"\sqrt{ 53}"], ["53", r"\sqrt{35}", "7.28", r"2\sqrt{13}"]),
    279: ([r"7\pi", r"7 \pi", r"\pi \cdot 7", "7pi"], ["7", r"14\pi", "21.99", r"7\pi^2"]),
    281: (["36", r"36^\circ", r"36 \text{ degrees}"], ["72", "144", "35"]),
    284: (
        [
            r"3 \pm 2 \sqrt{2}",
            r"3+2\sqrt{2}, 3-2\sqrt{2}",
            r"3-\sqrt{8}, 3+\sqrt{8}",
            r"3\pm2\sqrt2",
            r"x = 3 \pm 2\sqrt{2}",
        ],
        [r"3+2\sqrt{2}", r"3 \pm \sqrt{2}", r"2 \pm 3\sqrt{2}", r"-3 \pm 2\sqrt{2}"],
    ),
    286: ([r"\frac{17}{21}", "17/21", r"\dfrac{17}{21}"], [r"\frac{21}{17}", r"\frac{17}{12}", "0.81"]),
    293: (
        [
            r"\left(\frac{3}{5},\frac{8}{3}\right]",
            r"(\frac35, \frac83]",
            r"(0.6, \frac{8}{3}]",
            r"\frac{3}{5} < p \le \frac{8}{3}",
            r"(3/5, 8/3]",
            r"p \in \left(\frac{3}{5}, \frac{8}{3}\right]",
        ],
        [r"[\frac{3}{5},\frac{8}{3}]", r"(\frac{3}{5},\frac{8}{3})", r"(\frac{5}{3},\frac{8}{3}]", r"(\frac35, 2.67]"],
    ),
    296: ([r"\text{(B)}", "B", "(B)", r"\textbf{(B)}"], ["C", "(A)", r"\text{(E)}"]),
    298: (
        [
            r"\begin{pmatrix} -18 \\ -49 \\ 96 \end{pmatrix}",
            r"\begin{bmatrix} -18 \\ -49 \\ 96 \end{bmatrix}",
            r"\begin{pmatrix}-18\\-49\\96\end{pmatrix}",
        ],
        [
            r"\begin{pmatrix} -18 \\ 49 \\ 96 \end{pmatrix}",
            r"\begin{pmatrix} 18 \\ -49 \\ 96 \end{pmatrix}",
            r"\begin{pmatrix} -18 \\ -49 \\ 69 \end{pmatrix}",
        ],
    ),
    301: (
        [r"5.4 \text{ cents}", "5.4", r"5.4\text{ cents}", "5.40", r"5.4 \text{ cents}"],
        ["5.5", "54", "0.054", "5.3"],
    ),
    305: (
        [r"\frac9{19}", r"\frac{9}{19}", "9/19", r"\dfrac{9}{19}", r"x = \frac{9}{19}"],
        [r"\frac{19}{9}", r"\frac{9}{17}", "0.47", r"\frac{3}{19}"],
    ),
    307: (
        [r"(-\infty, 0]", r"(-\infty,0]", r"\left(-\infty, 0\right]", r"y \le 0", r"(-\infty, 0 ]"],
        [r"(-\infty, 0)", r"[0, \infty)", r"(-\infty, 1]", "0"],
    ),
    308: (
        [r"1+2\sqrt{3}", r"2\sqrt{3}+1", r"1+\sqrt{12}", "1 + 2sqrt(3)", r"1+2\sqrt3"],
        [r"1+3\sqrt{2}", r"1-2\sqrt{3}", r"3\sqrt{3}", r"2+2\sqrt{3}"],
    ),
    312: (
        [r"(5,\infty)", r"(5, \infty)", r"\left( 5, \infty \right)", r"x > 5", r"x \in (5, \infty)"],
        [r"[5,\infty)", r"(-\infty,5)", r"(6,\infty)", r"x \ge 5"],
    ),
    313: (
        [r"12\pi", r"12 \pi", "12pi", r"\pi \cdot 12", r"12\pi \text{ inches per second}"],
        ["12", r"6\pi", r"24\pi", "37.7"],
    ),
    314: (["(2,4)", r"\left(2,4\right)", "(2, 4)", "(x,y)=(2,4)"], ["(4,2)", "(2,5)", "(2,-4)", "[2,4]"]),
    318: (
        [r"\frac{11+9a}{20}", r"\frac{9a+11}{20}", "(11+9a)/20", r"\dfrac{11+9a}{20}"],
        [r"\frac{11+9a}{2}", r"\frac{9+11a}{20}", "11+9a", r"\frac{11-9a}{20}"],
    ),
    320: (
        [r"-\frac{24}{25}", r"\frac{-24}{25}", "-24/25", "-0.96"],
        [r"\frac{24}{25}", r"-\frac{7}{25}", r"-\frac{25}{24}", "-0.9"],
    ),
    323: ([r"\frac{1}{3}", "1/3", r"\frac13"], [r"\frac{1}{2}", "0.33", r"\frac{1}{4}"]),
    326: ([r"\frac{9}{100}", "9/100", "0.09", r"9\%"], [r"\frac{9}{10}", r"\frac{1}{100}", "0.9", r"\frac{3}{10}"]),
    331: (
        [r"\frac{13}{6}", "13/6", r"\dfrac{13}{6}"],
        [r"\frac{6}{13}", r"\frac{13}{3}", "2.16", r"\frac{\sqrt{13}}{6}"],
    ),
    338: (["4343_6", "4343_{6}", "4343"], ["4344_6", "3434_6", "999", "4343_7"]),
    339: (["2k", "2 k", "k+k", "k \\cdot 2"], ["k", "2k+1", "-2k", "4k"]),
    340: (["55", r"55^\circ", r"55 \text{ degrees}"], ["29", "84", "125"]),
    343: (["58,500", "58500", "58{,}500", "58,\\!500"], ["58000", "5850", "65000", "58,600"]),
    347: (
        ["6r^2-4r-24", "6r^2 - 4r - 24", "-24 - 4r + 6r^2", "6r^{2}-4r-24"],
        ["6r^2+4r-24", "6r^2-4r+24", "6r^3-4r-24", "6r^2-24"],
    ),
    351: ([r"\frac{1}{16}", "1/16", "0.0625", r"\frac1{16}"], [r"-\frac{1}{16}", r"\frac{1}{8}", r"\frac{1}{32}"]),
    352: (
        [r"11 \sqrt{5} + 11", r"11+11\sqrt{5}", r"11(\sqrt{5}+1)", r"11(1+\sqrt5)", "11sqrt(5) + 11"],
        [r"11\sqrt{5}", r"11\sqrt{5}-11", r"22\sqrt{5}", r"11\sqrt{5}+12"],
    ),
    356: (
        [
            r"(-\sqrt{3}, \sqrt{3})",
            r"\left(-\sqrt3, \sqrt3\right)",
            r"(-3^{1/2}, 3^{1/2})",
            r"-\sqrt{3} < x < \sqrt{3}",
            "(-sqrt(3), sqrt(3))",
        ],
        [r"[-\sqrt{3}, \sqrt{3}]", r"(-3, 3)", r"(-\sqrt{2}, \sqrt{2})", r"(0, \sqrt{3})"],
    ),
    358: (
        [r"\text{ellipse}", "ellipse", "Ellipse", r"\text{Ellipse}"],
        ["circle", r"\text{hyperbola}", r"\text{ellipse or circle}"],
    ),
    360: ([r"\frac{7}{4}", "7/4", "1.75", r"1\frac{3}{4}"], [r"\frac{4}{7}", r"\frac{7}{2}", "2"]),
    361: (
        [r"16 \sqrt{3}", r"16\sqrt3", r"\sqrt{768}", "16sqrt(3)"],
        [r"16\sqrt{2}", r"8\sqrt{3}", "27.7", r"3\sqrt{16}"],
    ),
    362: ([r"\frac14", r"\frac{1}{4}", "1/4"], [r"\frac{1}{2}", r"\frac{1}{8}", "4"]),
    364: (
        ["(1,-16,-4,43)", r"\left(1, -16, -4, 43\right)", "(a,b,c,d)=(1,-16,-4,43)", "( 1 , -16 , -4 , 43 )"],
        ["(1,-16,4,43)", "(1,16,-4,43)", "(-16,1,-4,43)", r"\{1, -16, -4, 43\}"],
    ),
    372: (["90", r"90^\circ", r"90 \text{ degrees}"], ["45", "180", "60"]),
    373: (["1+2i", "2i+1", "1 + 2 i", r"1+2\,i"], ["1-2i", "2+i", "1+2", r"\frac{11}{5}-\frac{2}{5}i"]),
    376: (["(8,-2)", r"\left(8, -2\right)", "(a,b)=(8,-2)", "( 8 , -2 )"], ["(-2,8)", "(8,2)", "(-8,-2)", "(8,-3)"]),
    380: (
        [
            r"(0,9) \cup (9,36)",
            r"(9,36) \cup (0,9)",
            r"\left(0,9\right)\cup\left(9,36\right)",
            r"(0,9)\cup(9,36)",
            r"x \in (0, 9) \cup (9, 36)",
        ],
        ["(0,36)", r"[0,9) \cup (9,36]", r"(0,9) \cup (9,35)", r"(0,9] \cup [9,36)"],
    ),
    381: ([r"\frac{1}{2}", "1/2", "0.5", r"\frac12"], [r"\frac{1}{3}", r"\frac{2}{9}", r"\frac{1}{4}"]),
    382: (
        [r"\frac{20000}{\pi}", r"20000/\pi", r"\frac{20,000}{\pi}", r"\frac{2\cdot 10^4}{\pi}"],
        [r"20000\pi", r"\frac{2000}{\pi}", "6366.2", r"\frac{10000}{\pi}"],
    ),
    383: (
        [r"x \in [-2,7]", "[-2,7]", r"[-2, 7]", r"-2 \le x \le 7", r"-2\leq x\leq 7", r"\left[-2,7\right]"],
        [r"(-2,7)", r"[-2,7)", r"-2 < x \le 7", r"[-7,2]", r"(-\infty, -2] \cup [7, \infty)"],
    ),
    384: (["15x - 80", "15x-80", "-80+15x", "15 x - 80"], ["15x+80", "15x-82", "-15x-80", "19x-80"]),
    388: ([r"\frac{11}{2}", "11/2", "5.5", r"x = \frac{11}{2}"], [r"\frac{2}{11}", "11", r"\frac{11}{4}"]),
    389: (
        [r"\frac{\sqrt{21}}{5}", r"\frac{1}{5}\sqrt{21}", r"\sqrt{\frac{21}{25}}", "sqrt(21)/5", r"\frac{\sqrt21}5"],
        [r"\frac{21}{5}", r"\frac{\sqrt{21}}{25}", r"\sqrt{21}", r"\frac{2}{5}"],
    ),
    392: ([r"\sqrt{66}", r"\sqrt66", "sqrt(66)", r"66^{1/2}"], ["66", r"\sqrt{6}", "8.12", r"6\sqrt{6}"]),
    393: ([r"\frac 34", r"\frac{3}{4}", "3/4"], [r"\frac{4}{3}", r"\frac{3}{5}", r"\frac{3}{8}"]),
    394: (
        [r"-\frac{3}{8}", r"\frac{-3}{8}", "-3/8", "-0.375", r"x = -\frac{3}{8}"],
        [r"\frac{3}{8}", r"-\frac{8}{3}", r"-\frac{3}{4}"],
    ),
    398: ([r"\text{Navin}", "Navin", r"\textbf{Navin}"], ["Luka", r"\text{Ian}", r"\text{Navin or Luka}"]),
    399: (["326.5", "326.50", "313.9 + 12.6 = 326.5"], ["326", "325.5", "32.65", "326.6"]),
    400: ([r"\frac{14}{3}", "14/3", r"\frac{14}{3} \text{ inches}"], [r"\frac{3}{14}", r"\frac{7}{3}", "4.67"]),
    401: ([r"\frac{13}{4}", "13/4", "3.25", r"3\frac{1}{4}"], [r"\frac{4}{13}", r"\frac{13}{2}", "3"]),
    402: (["1 - 12i", "1-12i", "-12i+1", "1 - 12 i"], ["1+12i", "12-i", "-1-12i", "1-12"]),
    408: (
        [
            r"\begin{pmatrix} 1/5 \\ -18/5 \end{pmatrix}",
            r"\begin{pmatrix} \frac{1}{5} \\ -\frac{18}{5} \end{pmatrix}",
            r"\begin{pmatrix} 0.2 \\ -3.6 \end{pmatrix}",
            r"\frac{1}{5}\begin{pmatrix} 1 \\ -18 \end{pmatrix}",
        ],
        [
            r"\begin{pmatrix} 1/5 \\ 18/5 \end{pmatrix}",
            r"\begin{pmatrix} -18/5 \\ 1/5 \end{pmatrix}",
            r"\begin{pmatrix} 1 \\ -18 \end{pmatrix}",
        ],
    ),
    409: ([r"2 \sqrt{5}", r"2\sqrt{5}", r"\sqrt{20}", "2sqrt(5)"], [r"\sqrt{5}", r"4\sqrt{5}", r"5\sqrt{2}", "4.47"]),
    413: (["5r^5", "5r^{5}", "5 r^5", r"5\cdot r^5", "r^5 \\cdot 5"], ["5r^4", "5r^6", "40r^5", "r^5"]),
    416: ([r"\frac{1}{8}", "1/8", "0.125", r"\frac18"], [r"\frac{1}{4}", r"\frac{1}{16}", "8"]),
    418: (
        [r"2\sqrt{5}", r"2\sqrt5", "2sqrt(5)", r"2 \sqrt 5"],
        [r"\sqrt{5}", r"2\sqrt{3}", r"\frac{10}{\sqrt{3}}", "4.5"],
    ),
    419: (
        [
            r"\begin{pmatrix} -7 \\ 16 \\ 5 \end{pmatrix}",
            r"\begin{bmatrix} -7 \\ 16 \\ 5 \end{bmatrix}",
            r"\begin{pmatrix}-7\\16\\5\end{pmatrix}",
        ],
        [r"\begin{pmatrix} 7 \\ 16 \\ 5 \end{pmatrix}", r"\begin{pmatrix} -7 \\ 5 \\ 16 \end{pmatrix}", "14"],
    ),
    420: (
        [
            r"\begin{pmatrix} 16/49 \\ 48/49 \\ 24/49 \end{pmatrix}",
            r"\begin{pmatrix} \frac{16}{49} \\ \frac{48}{49} \\ \frac{24}{49} \end{pmatrix}",
            r"\frac{8}{49}\begin{pmatrix} 2 \\ 6 \\ 3 \end{pmatrix}",
        ],
        [
            r"\begin{pmatrix} 16/49 \\ 24/49 \\ 48/49 \end{pmatrix}",
            r"\begin{pmatrix} 16 \\ 48 \\ 24 \end{pmatrix}",
            r"\begin{pmatrix} 16/49 \\ 48/49 \\ 25/49 \end{pmatrix}",
        ],
    ),
    422: (
        [
            r"\{1\pm\sqrt{5},-2\}",
            r"-2, 1+\sqrt{5}, 1-\sqrt{5}",
            r"\{-2, 1-\sqrt5, 1+\sqrt5\}",
            r"1+\sqrt5, 1-\sqrt5, -2",
            r"\{1 \pm \sqrt{5}, -2\}",
        ],
        [r"1 \pm \sqrt{5}", r"\{1\pm\sqrt{5}, 2\}", r"-2, 1+\sqrt{5}", r"\{1\pm\sqrt{3},-2\}"],
    ),
    425: (["3R^2", "3 R^2", r"3R^{2}", r"R^2 \cdot 3"], ["3R", "9R^2", "3R^3", "R^2"]),
    426: ([r"6\sqrt{2}", r"6\sqrt2", "6sqrt(2)", r"6 \sqrt 2"], [r"2\sqrt{6}", r"6\sqrt{3}", "8.49", r"12\sqrt{2}"]),
    430: (["4.5", "4.50", r"\frac{9}{2} = 4.5"], ["4.25", "45", "5.4", "4"]),
    431: (
        [
            r"\left[ \frac{\pi^2}{8}, \frac{5 \pi^2}{4} \right]",
            r"[\frac{\pi^2}{8}, \frac{5\pi^2}{4}]",
            r"\left[\pi^2/8, 5\pi^2/4\right]",
            r"\frac{\pi^2}{8} \le f(x) \le \frac{5\pi^2}{4}",
        ],
        [
            r"(\frac{\pi^2}{8}, \frac{5 \pi^2}{4}]",
            r"[\frac{\pi}{8}, \frac{5\pi}{4}]",
            r"[\frac{\pi^2}{4}, \frac{5\pi^2}{4}]",
            r"[0, \frac{5\pi^2}{4}]",
        ],
    ),
    433: ([".35625", "0.35625", "0.356250"], ["0.3562", "0.356", "3.5625", "0.35265"]),
    435: (
        [
            r"(-\infty, 2) \cup (3, \infty)",
            r"(3, \infty) \cup (-\infty, 2)",
            r"(-\infty,2)\cup(3,\infty)",
            r"x < 2 \text{ or } x > 3",
            r"\left(-\infty, 2\right) \cup \left(3, \infty\right)",
        ],
        [r"(-\infty, 2] \cup [3, \infty)", "(2, 3)", r"(-\infty, 3) \cup (2, \infty)", r"(-\infty, 2) \cup (3, 4)"],
    ),
    439: (
        [
            "x^8 + x^7 + x^6 + x^5 + x^4 + x^3 + x^2 + x + 1",
            "1+x+x^2+x^3+x^4+x^5+x^6+x^7+x^8",
            "(x^2+x+1)(x^6+x^3+1)",
            r"x^{8}+x^{7}+x^{6}+x^{5}+x^{4}+x^{3}+x^{2}+x+1",
        ],
        [
            "x^8 + x^7 + x^6 + x^5 + x^4 + x^3 + x^2 + x",
            "x^9 + 1",
            "x^8 - x^7 + x^6 - x^5 + x^4 - x^3 + x^2 - x + 1",
            "x^8 + x^6 + x^4 + x^2 + 1",
        ],
    ),
    444: ([r"\frac{1}{2}", "1/2", "0.5", r"\frac12"], [r"\frac{1}{4}", "2", r"\frac{2}{5}"]),
    451: (
        [r"\frac{639}{40}", "639/40", r"\dfrac{639}{40}"],
        [r"\frac{40}{639}", r"\frac{639}{4}", "15.9", r"\frac{693}{40}"],
    ),
    454: (
        ["y = 2x + 3", "y=2x+3", "y = 3 + 2x", "2x - y + 3 = 0", "y - 2x = 3", "2x + 3"],
        ["y = 2x + 1", "y = 3x + 2", "y = -2x + 3", "y = 2x - 3"],
    ),
    456: (
        ["-2,1", "1,-2", "-2, 1", r"\{-2, 1\}", r"x = -2, 1", "@The integer roots are $\\boxed{-2}$ and $\\boxed{1}$."],
        ["-2", "2,1", "-2,-1", "-2, 1, 7"],
    ),
    459: (["\\$18.90", "18.90", "18.9", "\\$18.9", r"18.90 \text{ dollars}"], ["18.09", "19.90", "1890", "\\$18"]),
    460: (["75", r"75^\circ", r"75 \text{ degrees}"], ["15", "105", "65"]),
    466: ([r"8 \pi", r"8\pi", "8pi", r"\pi \cdot 8"], ["8", r"4\pi", r"16\pi"]),
    467: (
        [r"15\mbox{ cm}^2", "15", r"15 \text{ cm}^2", r"15\text{ cm}^{2}", r"15 \text{ square centimeters}"],
        ["150", "16", "225", "30"],
    ),
    472: (
        [r"137 \frac{1}{2}", r"137\frac12", r"137 \tfrac{1}{2}", r"137\dfrac{1}{2}"],
        ["137", "138.5", r"\frac{137}{2}", r"137\frac{1}{4}"],
    ),
    478: (
        [r"\frac{2}{1005}", "2/1005", r"\dfrac{2}{1005}", r"\tfrac{2}{1005}"],
        [r"\frac{1005}{2}", r"\frac{2}{1004}", r"\frac{1}{1005}"],
    ),
    481: (
        ["8n^2 + 4n + 1", "8n^2+4n+1", "1 + 4n + 8n^2", r"8n^{2}+4n+1"],
        ["8n^2 + 4n", "8n^2 - 4n + 1", "4n^2 + 4n + 1", "8n^2 + 4n + 2"],
    ),
    483: ([r"\frac{8}{15}", "8/15", r"\dfrac{8}{15}"], [r"\frac{15}{8}", r"\frac{8}{17}", r"\frac{15}{17}"]),
    488: (["\\$36", "36", "36.00", r"36 \text{ dollars}", "\\$36.00"], ["35", "24", "\\$14.40", "36.5"]),
    492: (["y = -2x", "y=-2x", "-2x", "2x + y = 0", "y = -2x + 0"], ["y = 2x", "y = -2x + 1", "y = -x/2", "x = -2y"]),
    494: ([r"\frac{1}{4}", "1/4", "0.25", r"\frac14"], [r"\frac{1}{2}", r"\frac{3}{4}", "4"]),
    495: (
        [
            r"(2,12) \cup (12,102)",
            r"(12,102) \cup (2,12)",
            r"\left(2,12\right) \cup \left(12,102\right)",
            r"x \in (2, 12) \cup (12, 102)",
        ],
        ["(2,102)", r"(2,12] \cup [12,102)", r"(2,12) \cup (12,100)", r"[2,12) \cup (12,102)"],
    ),
    496: ([r"\frac{5}{13}", "5/13", r"\dfrac{5}{13}"], [r"\frac{13}{5}", r"\frac{5}{12}", "0.38"]),
    497: ([r"\frac{7}{2}", "7/2", "3.5", r"3\frac{1}{2}"], [r"\frac{2}{7}", "7", r"\frac{5}{2}"]),
    499: (["106", r"106^\circ", r"106 \text{ degrees}"], ["74", "54", "126"]),
}

# (gold, prediction, equivalent, family): golds that MATH-500 does not have, for families it does not show.
OWN: list[tuple[str, str, bool, str]] = [
    # times are not ratios or divisions
    ("12:00", "12:00", True, "time"),
    ("12:00", "1:00", False, "time"),
    ("1:00", "12:00", False, "time"),
    ("9:30", "09:30", True, "time"),
    ("9:30", "9:03", False, "time"),
    ("3:45", "3:45", True, "time"),
    ("3:45", "4:35", False, "time"),
    # hedges, ranges and alternatives are not answers
    ("5", r"5 \text{ or more}", False, "hedge"),
    ("10", r"10 \text{ or more}", False, "hedge"),
    ("10", r"\text{at least } 10", False, "hedge"),
    ("10", r"10 \text{ or fewer}", False, "hedge"),
    ("10", r"\text{at most } 10", False, "hedge"),
    ("10", r"\text{about } 10", False, "hedge"),
    ("2", r"2 \text{ or } 3", False, "hedge"),
    ("3", r"2 \text{ or } 3", False, "hedge"),
    ("3", r"\text{between } 2 \text{ and } 5", False, "hedge"),
    ("4", r"\text{between 2 and 5}", False, "hedge"),
    ("7", r"\text{more than } 6", False, "hedge"),
    ("7", r"7 \text{ or } 8", False, "hedge"),
    ("12", r"12 \text{ or less}", False, "hedge"),
    ("12", r"\text{no more than } 12", False, "hedge"),
    ("12", "12 or more", False, "hedge"),
    ("12", "at least 12", False, "hedge"),
    ("5", "5 or 6", False, "hedge"),
    ("5", r"\text{either } 5 \text{ or } 6", False, "hedge"),
    ("6", r"6 \text{ students}", True, "units"),
    ("6", r"6 \text{ cm}", True, "units"),
    ("20", r"20\%", True, "percent"),
    ("20", r"20 \%", True, "percent"),
    (r"20\%", "20", True, "percent"),
    (r"20\%", "0.2", True, "percent"),
    ("20", r"21\%", False, "percent"),
    # sloppy LaTeX
    (r"\frac{1}{2}", r"\frac12", True, "sloppy-latex"),
    (r"\frac{1}{2}", r"\frac1{2}", True, "sloppy-latex"),
    (r"\frac{1}{2}", r"\frac{1}2", True, "sloppy-latex"),
    (r"\frac{1}{2}", r"\dfrac12", True, "sloppy-latex"),
    (r"\frac{1}{2}", r"\tfrac 1 2", True, "sloppy-latex"),
    (r"\frac{3}{7}", r"\frac37", True, "sloppy-latex"),
    (r"\frac{3}{7}", r"\frac73", False, "sloppy-latex"),
    (r"\sqrt{2}", r"\sqrt2", True, "sloppy-latex"),
    (r"2\sqrt{2}", r"2\sqrt2", True, "sloppy-latex"),
    (r"\frac{\sqrt{2}}{2}", r"\frac{\sqrt2}2", True, "sloppy-latex"),
    (r"\frac{\sqrt{2}}{2}", r"\frac{\sqrt{2}}{3}", False, "sloppy-latex"),
    (r"(1,2)", r"\left(1,2\right)", True, "sloppy-latex"),
    (r"(1,2)", r"\left( 1 , 2 \right)", True, "sloppy-latex"),
    (r"\sqrt[3]{2}", r"2^{1/3}", True, "sloppy-latex"),
    (r"\sqrt[3]{2}", r"\sqrt{2}", False, "sloppy-latex"),
    (r"2^{10}", "1024", True, "sloppy-latex"),
    (r"2^{10}", "2^10", True, "sloppy-latex"),
    # plain-text maths
    (r"\sqrt{2}", "sqrt(2)", True, "plain-text"),
    (r"\sqrt{2}", "sqrt2", True, "plain-text"),
    (r"\pi", "pi", True, "plain-text"),
    (r"\frac{2\pi}{3}", "2pi/3", True, "plain-text"),
    (r"\frac{2\pi}{3}", "2*pi/3", True, "plain-text"),
    (r"\frac{2\pi}{3}", "pi/3", False, "plain-text"),
    (r"\frac{1}{2}", "1/2", True, "plain-text"),
    (r"x^2", "x^2", True, "plain-text"),
    (r"x^2+1", "x**2 + 1", True, "plain-text"),
    (r"\frac{\sqrt{3}}{2}", "sqrt(3)/2", True, "plain-text"),
    (r"\frac{\sqrt{3}}{2}", "sqrt(3/2)", False, "plain-text"),
    (r"3\sqrt{5}", "3*sqrt(5)", True, "plain-text"),
    (r"\frac{\pi}{4}", "pi/4", True, "plain-text"),
    (r"\frac{\pi}{4}", "45", False, "plain-text"),
    # inequalities and intervals in any equivalent form
    (r"x > 3", r"3 < x", True, "interval"),
    (r"x > 3", r"(3, \infty)", True, "interval"),
    (r"(3,\infty)", r"x > 3", True, "interval"),
    (r"x > 3", r"x \ge 3", False, "interval"),
    (r"x > 3", r"[3, \infty)", False, "interval"),
    (r"x \le -1", r"(-\infty, -1]", True, "interval"),
    (r"x \le -1", r"-1 \ge x", True, "interval"),
    (r"x \le -1", r"x < -1", False, "interval"),
    (r"-1 < x < 4", r"(-1, 4)", True, "interval"),
    (r"-1 < x < 4", r"4 > x > -1", True, "interval"),
    (r"-1 < x < 4", r"[-1, 4)", False, "interval"),
    (r"x \neq 2", r"(-\infty, 2) \cup (2, \infty)", True, "interval"),
    (r"x < 0 \text{ or } x > 5", r"(-\infty,0)\cup(5,\infty)", True, "interval"),
    (r"x < 0 \text{ or } x > 5", r"(0, 5)", False, "interval"),
    # sets in any order, tuples in order
    (r"\{1, 2, 3\}", r"\{3, 1, 2\}", True, "set"),
    (r"\{1, 2, 3\}", "3, 2, 1", True, "set"),
    (r"\{1, 2, 3\}", r"\{1, 2\}", False, "set"),
    (r"\{1, 2, 3\}", r"\{1, 2, 4\}", False, "set"),
    ("(1, 2, 3)", "(3, 2, 1)", False, "tuple"),
    ("(3, -1)", "(-1, 3)", False, "tuple"),
    ("(3, -1)", r"(x, y) = (3, -1)", True, "tuple"),
    (r"(1,2),(3,4)", r"(3,4),(1,2)", True, "set"),
    (r"(1,2),(3,4)", r"(2,1),(4,3)", False, "set"),
    # labelled and multi-part answers
    ("(p,q)=(3,2)", "(3,2)", True, "labelled"),
    ("(p,q)=(3,2)", "(2,3)", False, "labelled"),
    ("(p,q)=(3,2)", "p=3, q=2", True, "labelled"),
    ("(p,q)=(3,2)", "q=2, p=3", True, "labelled"),
    ("(p,q)=(3,2)", "p=2, q=3", False, "labelled"),
    ("AB=4, CD=5", "4, 5", True, "labelled"),
    ("AB=4, CD=5", "AB=4, CD=5", True, "labelled"),
    ("AB=4, CD=5", "CD=5, AB=4", True, "labelled"),
    ("AB=4, CD=5", "5, 4", False, "labelled"),
    ("AB=4, CD=5", "AB=5, CD=4", False, "labelled"),
    ("x = 3", "x = 3", True, "labelled"),
    ("x = 3", "3", True, "labelled"),
    ("3", "x = 3", True, "labelled"),
    ("2x + z = 1", "1", False, "labelled"),
    ("k = 4", "k = 5", False, "labelled"),
    ("3, 5", "@So $x = \\boxed{3}$ and $y = \\boxed{5}$.", True, "multi-box"),
    ("6", "@First I get $\\boxed{5}$. Wait, that is wrong: recounting gives $\\boxed{6}$.", True, "multi-box"),
    ("5", "@First I get $\\boxed{5}$. Wait, that is wrong: recounting gives $\\boxed{6}$.", False, "multi-box"),
    # thousands separators
    ("10080", "10,\\!080", True, "thousands"),
    ("1000000", "1,\\!000,\\!000", True, "thousands"),
    ("1000000", "1{,}000{,}000", True, "thousands"),
    ("1000000", "100,\\!000", False, "thousands"),
    # matrices, also when the environment lost its braces
    (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", True, "matrix"),
    (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}", True, "matrix"),
    (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\beginpmatrix 1 & 2 \\ 3 & 4 \endpmatrix", True, "matrix"),
    (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\begin pmatrix 1 & 2 \\ 3 & 4 \end pmatrix", True, "matrix"),
    (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\beginpmatrix 1 & 2 \\ 4 & 3 \endpmatrix", False, "matrix"),
    (r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", r"\begin{pmatrix} 1 & 3 \\ 2 & 4 \end{pmatrix}", False, "matrix"),
    (r"\begin{pmatrix} 1 \\ -2 \end{pmatrix}", r"\beginpmatrix 1 \\ -2 \endpmatrix", True, "matrix"),
    (r"\begin{pmatrix} 1 \\ -2 \end{pmatrix}", r"\begin{pmatrix} 1 & -2 \end{pmatrix}", False, "matrix"),
    # decimals: exact values are exact
    (r"\frac{1}{3}", "0.333", False, "decimal"),
    (r"\frac{1}{3}", "0.33", False, "decimal"),
    (r"\frac{1}{3}", r"0.\overline{3}", True, "decimal"),
    (r"\sqrt{2}", "1.414", False, "decimal"),
    (r"\frac{1}{4}", "0.25", True, "decimal"),
    (r"\frac{1}{8}", "0.125", True, "decimal"),
    (r"\frac{1}{8}", "0.12", False, "decimal"),
    ("2.5", r"\frac{5}{2}", True, "decimal"),
    ("2.5", "2.50", True, "decimal"),
    ("2.5", "2.6", False, "decimal"),
    # complex numbers, expressions, equations
    ("3+4i", "4i+3", True, "expression"),
    ("3+4i", "3-4i", False, "expression"),
    (r"\frac{x+1}{x-1}", r"\frac{1+x}{x-1}", True, "expression"),
    (r"\frac{x+1}{x-1}", r"\frac{x-1}{x+1}", False, "expression"),
    (r"(x+1)^2", "x^2+2x+1", True, "expression"),
    (r"(x+1)^2", "x^2+1", False, "expression"),
    (r"y = 3x - 2", r"3x - y = 2", True, "equation"),
    (r"y = 3x - 2", r"y = 3x + 2", False, "equation"),
    # text answers
    (r"\text{no solution}", "no solution", True, "text"),
    (r"\text{yes}", r"\text{Yes}", True, "text"),
    (r"\text{yes}", r"\text{no}", False, "text"),
]


def _key(*parts: str) -> int:
    return int(hashlib.sha256("/".join(parts).encode()).hexdigest()[:8], 16)


def integer_pairs(n: int, uid: str) -> list[tuple[str, bool, str]]:
    """Rewrites of an integer gold by construction: each equivalent form has value n by the rule that makes it,
    each different one has another value or is not a single answer (a hedge, a range, two alternatives)."""
    same = [
        (f"{n}.0", "trailing-zero"),
        (f"x = {n}", "labelled"),
        (f"\\text{{{n}}}", "text-wrapper"),
        (f"{n} \\text{{ units}}", "units"),
        (f"{n}\\%", "percent"),
        (f"@The answer is $\\boxed{{{n}}}$.", "completion"),
        (f"@Final answer: $\\boxed{{{n + 1}}}$? No, I made an error; recounting gives $\\boxed{{{n}}}$.", "last-box"),
    ]
    if n > 0:
        same.append((f"+{n}", "sign"))
    if abs(n) >= 1000:
        same += [(f"{n:,}".replace(",", ",\\!"), "thousands"), (f"{n:,}".replace(",", "{,}"), "thousands")]
    hedges = [
        (f"{n} \\text{{ or more}}", "hedge"),
        (f"\\text{{at least }} {n}", "hedge"),
        (f"{n} \\text{{ or }} {n + 1}", "alternatives"),
        (f"\\text{{between }} {n - 1} \\text{{ and }} {n + 1}", "range"),
        (f"{n - 1} \\text{{ or }} {n}", "alternatives"),
    ]
    other = [(str(n + 1), "value"), (str(n - 1), "value"), (str(10 * n) if n else "10", "value"), (f"{n}.5", "value")]
    if n != 0:
        other += [(str(-n), "sign"), (f"\\frac{{{n}}}{{2}}", "value")]
    if n not in (0, 1):
        other.append((f"({n})^2" if n < 0 else f"{n}^2", "value"))
    start = _key(uid) % len(same)
    chosen_same = (same[start:] + same[:start])[:3]
    if abs(n) >= 1000:
        chosen_same.append(same[-1])
    pick_hedge = hedges[_key(uid, "hedge") % len(hedges)]
    pick_other = other[_key(uid, "other") % len(other)]
    pick_other2 = other[(_key(uid, "other") + 1) % len(other)]
    return [(p, True, f) for p, f in chosen_same] + [(p, False, f) for p, f in (pick_hedge, pick_other, pick_other2)]


def completion(prediction: str) -> str:
    return prediction[1:] if prediction.startswith("@") else f"\\boxed{{{prediction}}}"


def build(rows: list[dict]) -> str:
    """The file's text for the MATH-500 rows (what is stored: problem ids and completions, not golds)."""
    pairs = []
    for index, row in enumerate(rows):
        uid, gold = row["unique_id"], row["answer"]
        if re.fullmatch(r"-?\d+", gold):
            for prediction, label, family in integer_pairs(int(gold), uid):
                pairs.append(
                    {"problem": uid, "completion": completion(prediction), "equivalent": label, "family": family}
                )
            continue
        equivalent, different = HAND[index]
        pairs += [
            {"problem": uid, "completion": completion(p), "equivalent": True, "family": "hand"} for p in equivalent
        ]
        pairs += [
            {"problem": uid, "completion": completion(p), "equivalent": False, "family": "hand"} for p in different
        ]
    own = [
        {"gold": gold, "completion": completion(prediction), "equivalent": label, "family": family}
        for gold, prediction, label, family in OWN
    ]
    doc = {
        "about": (
            "Completions paired with MATH-500 gold answers (`problem`: its unique_id; the gold is read from "
            "../shared/data/math500_test.json) or with a gold of their own (`gold`), labelled equivalent or not by a "
            "person (hand rewrites) or by the rule that built them (integer golds). Written by "
            "scripts/make_equivalence_set.py, which never calls the grader. Frozen: see BENCHMARKS.md for the sha256."
        ),
        "pairs": pairs,
        "own": own,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--math500", type=Path, default=ROOT.parent / "shared" / "data" / "math500_test.json")
    args = parser.parse_args()
    text = build(json.loads(args.math500.read_text()))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    doc = json.loads(text)
    n_eq = sum(p["equivalent"] for p in doc["pairs"] + doc["own"])
    counts = f"{len(doc['pairs'])} MATH-500 pairs and {len(doc['own'])} own pairs ({n_eq} equivalent)"
    print(f"{counts} -> {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
