"""Read one math answer (LaTeX, sloppy LaTeX or plain text) into a small syntax tree; nothing is evaluated here.

Why our own parser rather than `latex2sympy2_extended` (math-verify's, which `rewards.symbolic` still uses for
what this one does not read: integrals, limits, sums with symbolic bounds): on the answers graders meet it is
both more correct and fast enough. latex2sympy reads `52_8` as 52, `(1,2)` always as an open interval, `1:00` as
1/0, `sqrt(2)` as q*r*s*t(2), `pi` as i*p, fails on `\\frac12` and `20\\%`, evaluates `9^{9^{9}}` while parsing, and
takes 2-150 ms per answer in ANTLR's Python runtime. This parser takes about 0.1 ms, reads TeX's own rule for
brace-less arguments (`\\frac12`, `\\sqrt2`, `\\frac\\pi2`), the plain-text forms models write (`sqrt(2)`, `2pi/3`,
`x**2`), and keeps words as words, so `5 \\text{ or more}` is a hedge to refuse, not the number 5.

The tree is made of the small classes below. `parse_answer` returns an `Answer`: the items of a comma, `and`,
`or` or semicolon separated list, each an expression, a relation chain, a bracketed sequence or text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

MAX_DEPTH = 60  # nesting deeper than this is not an answer (and would exhaust the recursion limit)
MAX_TOKENS = 600


class ParseError(ValueError):
    """The text is not a well-formed answer (the reason is the message)."""


class Unsupported(ParseError):
    """Well-formed maths this parser does not read (integrals, limits, ...): `rewards.symbolic` may."""


# ---- syntax tree -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: Fraction
    text: str  # as written, for the decimal-approximation rule (significant digits)
    decimal: bool = False  # written with a decimal point


@dataclass(frozen=True)
class Sym:
    name: str  # x, a_1, alpha


@dataclass(frozen=True)
class Const:
    name: str  # pi, e, i, oo


@dataclass(frozen=True)
class Add:
    terms: tuple  # each term is (sign, node) with sign in {1, -1, 0} (0: plus-or-minus)


@dataclass(frozen=True)
class Mul:
    factors: tuple


@dataclass(frozen=True)
class Div:
    num: object
    den: object


@dataclass(frozen=True)
class Pow:
    base: object
    exp: object


@dataclass(frozen=True)
class Func:
    name: str  # sqrt, root, sin, ..., log, abs, floor, ceil, fact, binom, percent, sum, prod
    args: tuple


@dataclass(frozen=True)
class Matrix:
    rows: tuple  # tuple of tuples of nodes
    env: str = "pmatrix"


@dataclass(frozen=True)
class Seq:
    open: str  # ( [ \{ { <
    close: str
    items: tuple  # of Item
    separator: str = ","


@dataclass(frozen=True)
class SetOp:
    op: str  # cup, cap, setminus
    args: tuple


@dataclass(frozen=True)
class Base:
    digits: str
    base: int


@dataclass(frozen=True)
class Special:
    name: str  # reals, emptyset


@dataclass(frozen=True)
class Rel:
    """A chain `a op b op c ...`; ops are '=', '<', '<=', '>', '>=', '!=', '~' (approx), 'in', ':'."""

    members: tuple
    ops: tuple
    raws: tuple = ()  # the source text of each member (labels are read from it)


@dataclass(frozen=True)
class Text:
    words: tuple


@dataclass
class Item:
    node: object
    raw: str  # the source text of this item, for labels and text comparison
    percent: bool = False
    units: tuple = ()


@dataclass
class Answer:
    items: list  # of Item, or of Answer for semicolon-separated groups
    connectors: list = field(default_factory=list)  # between items: ',', 'and', 'or', ';'
    raw: str = ""


# ---- normalisation: notation that carries no meaning -----------------------------------------------------------

_UNICODE = {
    "\u2212": "-", "\u2013": "-", "\u00d7": r"\times ", "\u00b7": r"\cdot ", "\u22c5": r"\cdot ", "\u00f7": r"\div ",
    "\u2264": r"\le ", "\u2265": r"\ge ", "\u2260": r"\ne ", "\u221a": r"\sqrt ", "\u03c0": r"\pi ",
    "\u221e": r"\infty ", "\u00b0": r"^\circ ", "\u222a": r"\cup ", "\u2229": r"\cap ", "\u00b1": r"\pm ",
    "\u2208": r"\in ", "\u2248": r"\approx ", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2192": r"\to ",
    "\u2026": r"\dots ", "\u00bd": r"\frac{1}{2}", "\u00bc": r"\frac{1}{4}", "\u00be": r"\frac{3}{4}",
    "\u00b2": "^2", "\u00b3": "^3", "\u2032": "'",
}  # fmt: skip
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE)))

# commands a model may write with a doubled backslash (`\\frac`): only these are undoubled, since `\\` is also
# the row separator of a matrix
_DOUBLED = re.compile(
    r"(?<!\\)\\\\(?=(?:d?frac|tfrac|sqrt|pi|left|right|boxed|text|mbox|mathrm|cdot|times|infty|le|ge|leq|geq|ne|neq|pm|"
    r"circ|sin|cos|tan|cot|log|ln|begin|end|in|cup|cap)(?![a-zA-Z]))"
)
_SIZING = re.compile(
    r"\\(?:left|right|[bB]igg?[lrm]?|middle|displaystyle|textstyle|scriptstyle|limits|nolimits)(?![a-zA-Z])\.?"
)
_SPACES = re.compile(r"(?<!\\)\\(?:quad|qquad|enspace|thinspace|medspace|thickspace|hfill|hspace\*?\{[^{}]*\}|[ ,;:>])")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|\^\s*\{\s*\\text\{\s*o\s*\}\s*\}")
_THOUSANDS_THIN = re.compile(r"(?<=\d)(?:\\,|\\!|\\ |\{,\}|,\\!)\s*(?=\d{3}(?!\d))")
_DEGREES_O = re.compile(r"(?<=\d)\s*\^\s*(?:\{\s*o\s*\}|o(?![A-Za-z]))")  # 30^o: a degree sign typed as o
_THOUSANDS_BRACE = re.compile(r"(?<=\d)\s*\{\s*,\s*\}\s*(?=\d{3}(?!\d))")
_BARE_ENV = re.compile(r"(?<![\\A-Za-z])(begin|end)\{([a-zA-Z]*matrix|array)\}")
_DELIMS = re.compile(r"\\[()\[\]]|\$")


def normalize(text: str) -> str:
    """Rewrite what carries no meaning: unicode symbols, `\\left`/`\\right`, spacing, `\\dfrac`, degree signs,
    math delimiters, thousands spacing (`10,\\!080`, `10{,}080`, `10\\,080`), doubled backslashes."""
    s = _UNICODE_RE.sub(lambda m: _UNICODE[m.group(0)], text)
    s = _DOUBLED.sub(r"\\", s)
    s = s.replace(r"\$", " ").replace(r"\%", "%").replace(r"\lbrace", r"\{").replace(r"\rbrace", r"\}")
    s = s.replace(r"\lbrack", "[").replace(r"\rbrack", "]").replace(r"\lvert", "|").replace(r"\rvert", "|")
    s = _DEGREES_O.sub(" ", s)
    s = _THOUSANDS_BRACE.sub(",", _THOUSANDS_THIN.sub(",", s)).replace("{,}", ",").replace(r",\!", ",")
    s = s.replace(r"\{", "\x01").replace(r"\}", "\x02")
    s = _DEGREES.sub(" ", s)
    s = s.replace(r"\!", "")
    s = _DELIMS.sub(" ", s)
    s = s.replace("\x01", r"\{").replace("\x02", r"\}")
    s = _SIZING.sub(" ", s)
    s = _SPACES.sub(" ", s).replace("~", " ")
    for a, b in ((r"\dfrac", r"\frac"), (r"\tfrac", r"\frac"), (r"\cfrac", r"\frac"), (r"\dbinom", r"\binom")):
        s = s.replace(a, b)
    s = s.replace(r"\tbinom", r"\binom").replace("**", "^")
    s = _BARE_ENV.sub(r"\\\1{\2}", s)  # begin{pmatrix} that lost its backslash
    return s.strip().rstrip(".").strip()


# ---- tokens ---------------------------------------------------------------------------------------------------


@dataclass
class Tok:
    kind: str  # num, letter, word, cmd, punct, begin, end, eof
    text: str
    space: bool = False  # whitespace before it
    textual: bool = False  # came from \text{...}: letters there are words, not variables
    pos: int = 0
    plain: bool = False  # a name typed without a backslash (`sqrt`, `pi`)


GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "omicron", "rho", "varrho", "sigma", "varsigma", "tau", "upsilon", "phi", "varphi",
    "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
    "ell",
}  # fmt: skip
FUNCTIONS = {
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "arccot", "sinh", "cosh", "tanh", "coth",
    "log", "ln", "lg", "exp",
}  # fmt: skip
MULTI_ARG = {"gcd", "lcm", "max", "min"}
TEXT_WRAPPERS = {
    "text",
    "textbf",
    "textit",
    "textrm",
    "textnormal",
    "textup",
    "textsf",
    "texttt",
    "mbox",
    "hbox",
    "emph",
}
MATH_WRAPPERS = {"mathrm", "mathbf", "mathit", "mathsf", "mathtt", "boldsymbol", "bm", "mathnormal", "operatorname"}
ACCENTS = {
    "vec",
    "hat",
    "bar",
    "widehat",
    "tilde",
    "widetilde",
    "overrightarrow",
    "underline",
    "overline",
    "dot",
    "ddot",
}
TRANSPARENT = {"boxed", "fbox", "displaystyle", "mathstrut", "phantom"}
RELATIONS = {
    "le": "<=", "leq": "<=", "leqslant": "<=", "lt": "<", "ge": ">=", "geq": ">=", "geqslant": ">=", "gt": ">",
    "ne": "!=", "neq": "!=", "approx": "~", "simeq": "~", "sim": "~", "equiv": "=", "in": "in", "eq": "=",
}  # fmt: skip
UNSUPPORTED = {"int", "iint", "oint", "lim", "liminf", "limsup", "partial", "nabla", "det", "mod", "bmod"}
KNOWN_CMDS = (
    GREEK | FUNCTIONS | MULTI_ARG | TEXT_WRAPPERS | MATH_WRAPPERS | ACCENTS | TRANSPARENT | set(RELATIONS)
    | UNSUPPORTED
    | {
        "frac", "sqrt", "binom", "choose", "pi", "infty", "infin", "cdot", "times", "div", "ast", "pm", "mp", "cup",
        "cap", "setminus", "emptyset", "varnothing", "mathbb", "lfloor", "rfloor", "lceil", "rceil", "langle",
        "rangle", "lvert", "rvert", "vert", "mid", "cdots", "ldots", "dots", "dotsm", "dotsb", "to", "rightarrow",
        "Rightarrow", "implies", "therefore", "notin", "sum", "prod", "begin", "end", "pmod", "prime", "colon",
        "imath", "angle", "triangle", "quad", "qquad",
    }
)  # fmt: skip

# plain-text names inside a run of letters (`2pi`, `sqrt2`, `sinx`): longest first
_PLAIN_NAMES = sorted(
    ["sqrt", "cbrt", "pi", "infinity", "infty", "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos",
     "arctan", "sinh", "cosh", "tanh", "log", "ln", "exp", "abs", "theta", "alpha", "beta", "gamma", "phi", "lambda"],
    key=len, reverse=True,
)  # fmt: skip
# words that are words even outside \text{}: connectors, hedges, units; a run of letters that is one of these is
# never read as a product of variables
WORDS = {
    "or", "and", "more", "less", "least", "most", "than", "fewer", "between", "at", "about", "approximately",
    "approx", "around", "roughly", "nearly", "almost", "either", "neither", "nor", "not", "no", "to", "from", "up",
    "only", "exactly", "plus", "minus", "over", "under", "greater", "smaller", "larger", "below", "above", "none",
    "undefined", "dne", "percent", "percentage", "pct", "units", "unit", "degrees", "degree", "the", "is", "are",
    "all", "any", "real", "numbers", "number", "solution", "solutions", "yes", "true", "false", "maybe", "if",
    "where", "for", "with", "by", "per", "of", "as", "so", "then", "else", "otherwise", "each", "every", "some",
    "in", "inf", "even", "odd", "perhaps", "likely", "possibly", "probably", "guess", "estimate", "range",
    "minimum", "maximum", "many", "several", "unknown", "equals", "be", "was", "answer", "value",
}  # fmt: skip
UNITS = {
    "cm", "mm", "km", "meter", "meters", "metre", "metres", "inch", "inches", "ft", "feet", "foot", "yd", "yard",
    "yards", "mile", "miles", "mi", "mph", "kmh", "kg", "g", "gram", "grams", "mg", "lb", "lbs", "pound", "pounds",
    "oz", "ounce", "ounces", "sec", "second", "seconds", "min", "minute", "minutes", "hr", "hrs", "hour", "hours",
    "day", "days", "week", "weeks", "month", "months", "year", "years", "yr", "dollar", "dollars", "cent", "cents",
    "unit", "units", "sq", "square", "cubic", "cu", "liter", "liters", "litre", "litres", "ml", "gallon", "gallons",
    "degree", "degrees", "deg", "rad", "radian", "radians", "percent", "percentage", "pct", "m", "in", "s", "h",
    "people", "persons", "person", "students", "student", "ways", "way", "times", "points", "point", "yuan",
    "euros", "euro", "rupees", "items", "pieces", "coins", "balls", "cars", "boxes", "games", "teams", "apples",
    "marbles", "cookies", "books", "pages", "tiles", "squares", "triangles", "numbers", "integers", "digits",
    "values", "terms", "sides", "edges", "vertices", "faces", "diagonals", "handshakes", "outfits", "cubes",
    "feet^2", "ft^2", "cm^2", "m^2", "in^2", "per",
}  # fmt: skip
PERCENT_WORDS = {"percent", "percentage", "pct"}


def _wrapped_group(text: str, i: int) -> tuple[str, int]:
    """The content of the `{...}` starting at text[i] (nested braces respected) and the index after it."""
    depth = 0
    for j in range(i, len(text)):
        c = text[j]
        if c == "\\" and j + 1 < len(text) and text[j + 1] in "{}":
            continue
        if c == "{" and (j == 0 or text[j - 1] != "\\"):
            depth += 1
        elif c == "}" and (j == 0 or text[j - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return text[i + 1 : j], j + 1
    raise ParseError("unbalanced braces")


def _split_command(name: str) -> list[str]:
    """`quadx` -> [`quad`, `x`], `pix` -> [`pi`, `x`]: a known command glued to letters (a missing space)."""
    if name in KNOWN_CMDS:
        return [name]
    for k in range(len(name) - 1, 0, -1):
        if name[:k] in KNOWN_CMDS:
            return [name[:k], name[k:]]
    return [name]


_NUM_RE = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_LETTERS_RE = re.compile(r"[A-Za-z]+")


def tokenize(text: str, textual: bool = False) -> list[Tok]:
    toks: list[Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        space = i > 0 and text[i - 1].isspace()
        if c.isspace():
            i += 1
            continue
        if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            m = _NUM_RE.match(text, i)
            toks.append(Tok("num", m.group(0), space, textual, i))
            i = m.end()
            continue
        if c.isalpha() and c.isascii():
            m = _LETTERS_RE.match(text, i)
            word = m.group(0)
            toks += _letter_run(word, space, textual, i)
            i = m.end()
            continue
        if c == "\\":
            if i + 1 < n and text[i + 1] == "\\":
                toks.append(Tok("punct", r"\\", space, textual, i))
                i += 2
                continue
            if i + 1 < n and text[i + 1] in "{}|":
                toks.append(Tok("punct", "\\" + text[i + 1], space, textual, i))
                i += 2
                continue
            m = _LETTERS_RE.match(text, i + 1)
            if not m:
                i += 1  # a stray backslash before punctuation
                continue
            start, name, i = i, m.group(0), m.end()
            i = _command(name, text, i, toks, space, textual, start)
            continue
        if c in "<>!=*" and i + 1 < n and text[i + 1] == "=":
            toks.append(Tok("punct", c + "=", space, textual, i))
            i += 2
            continue
        toks.append(Tok("punct", c, space, textual, i))
        i += 1
    if len(toks) > MAX_TOKENS:
        raise ParseError("answer too long")
    return toks


def _letter_run(word: str, space: bool, textual: bool, pos: int) -> list[Tok]:
    """A run of letters: a word (`or`, `cm`, `Evelyn`, anything in \\text{}), plain-text names (`sqrt`, `pi`),
    or single-letter variables (`ab` is a*b)."""
    lower = word.lower()
    if word == "in" and not textual:  # `x in [1, 2]` (in \\text{ in}, the unit)
        return [Tok("cmd", "in", space, textual, pos)]
    if textual and len(word) > 1:
        return [Tok("word", word, space, True, pos)]
    natural = word.islower() or (word[0].isupper() and word[1:].islower())  # `or`, `Even`; not `NO`, `AB`
    if len(word) > 1 and natural and (lower in WORDS or lower in UNITS):
        return [Tok("word", word, space, textual, pos)]
    if len(word) >= 4 and word[0].isupper() and word[1:].islower():  # `Plane`, `Evelyn`: a word, not E*v*e*l*y*n
        return [Tok("word", word, space, textual, pos)]
    if word == "oo":  # sympy's infinity
        return [Tok("cmd", "infty", space, textual, pos)]
    out: list[Tok] = []
    rest, first = word, True
    while rest:
        for name in _PLAIN_NAMES:
            if rest.startswith(name):
                out.append(Tok("cmd", name, space and first, textual, pos, plain=True))
                rest = rest[len(name) :]
                break
        else:
            out.append(Tok("letter", rest[0], space and first, textual, pos))
            rest = rest[1:]
        first = False
    return out


def _command(name: str, text: str, i: int, toks: list[Tok], space: bool, textual: bool, start: int) -> int:
    """Tokens for the command `\\name` (its arguments when they must be read now); returns the next index."""
    if name in TEXT_WRAPPERS or name in MATH_WRAPPERS:
        j = i
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "{":
            content, i = _wrapped_group(text, j)
            if name == "operatorname":
                toks.append(Tok("cmd", content.strip(), space, textual, start))
                return i
            inner = tokenize(content, textual=name in TEXT_WRAPPERS and _is_prose(content))
            for tok in inner:
                tok.pos += j + 1
            if inner:
                inner[0].space = space or content[:1].isspace()
            if name in MATH_WRAPPERS and len(inner) == 1 and inner[0].kind == "letter":
                inner[0].textual = False
            toks += inner
            return i
        return i
    if name in ("begin", "end"):
        j = i
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "{":
            env, i = _wrapped_group(text, j)
        else:  # the environment lost its braces: \beginpmatrix, \begin pmatrix
            m = re.match(r"\s*([a-zA-Z]*matrix|array|cases|align\*?|aligned)", text[i:])
            env = m.group(1) if m else ""
            i += m.end() if m else 0
        env = env.strip()
        if name == "begin" and env == "array":  # column spec {cc}
            j = i
            while j < len(text) and text[j] == " ":
                j += 1
            if j < len(text) and text[j] == "{":
                _, i = _wrapped_group(text, j)
        toks.append(Tok(name, env, space, textual, start))
        return i
    glued = re.fullmatch(r"(begin|end)([a-zA-Z]*matrix|array)", name)  # \beginpmatrix: the braces were lost
    if glued:
        toks.append(Tok(glued.group(1), glued.group(2), space, textual, start))
        return i
    for part in _split_command(name):
        if part in ("quad", "qquad"):
            continue
        if part in KNOWN_CMDS or part == name:
            toks.append(Tok("cmd", part, space, textual, start))
        else:
            toks += _letter_run(part, False, textual, start)
    return i


def _is_prose(content: str) -> bool:
    """`\\text{ cm}`, `\\text{or more}` are words; `\\text{5}`, `\\text{(C)}`, `\\text{E}` are maths in a wrapper."""
    letters = re.findall(r"[A-Za-z]+", content)
    return any(len(w) > 1 for w in letters) or (letters and content.startswith(" "))


# ---- the parser ------------------------------------------------------------------------------------------------

_ADD_OPS = {"+": 1, "-": -1}
_INTRODUCTIONS = {"is", "are", "equals", "be", "was"}
_MUL_CMDS = {"cdot", "times", "ast"}
_OPEN = {"(": ")", "[": "]", r"\{": r"\}", "{": "}"}
_INTERVAL_CLOSE = {")", "]"}
_REL_PUNCT = {"=": "=", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "!=": "!=", "==": "="}
_ARROWS = {"to", "rightarrow", "Rightarrow", "implies", "therefore"}


class Parser:
    def __init__(self, text: str, toks: list[Tok]) -> None:
        self.text = text
        self.toks = [*toks, Tok("eof", "", pos=len(text))]
        self.i = 0
        self.depth = 0
        self.in_abs = 0
        self.bound: set[str] = set()  # summation indices: `i` and `e` there are variables, not constants
        self.bracket_depth = 0  # inside ( [ \{: a comma separates items, never thousands

    # -- token helpers --
    def peek(self, k: int = 0) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Tok:
        tok = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)
        return tok

    def at(self, kind: str, text: str | None = None) -> bool:
        tok = self.peek()
        return tok.kind == kind and (text is None or tok.text == text)

    def accept(self, kind: str, text: str | None = None) -> Tok | None:
        return self.next() if self.at(kind, text) else None

    def expect(self, kind: str, text: str | None = None) -> Tok:
        tok = self.accept(kind, text)
        if tok is None:
            raise ParseError(f"expected {text or kind}, found {self.peek().text or 'the end'}")
        return tok

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("nested too deeply")

    def leave(self) -> None:
        self.depth -= 1

    # -- answer level --
    def answer(self) -> Answer:
        parts, seps = [self.part()], []
        while self.accept("punct", ";"):
            seps.append(";")
            parts.append(self.part())
        self.expect("eof")
        if len(parts) == 1:
            return parts[0]
        return Answer(items=parts, connectors=seps, raw=self.text)

    def part(self) -> Answer:
        start = self.i
        items, connectors = [self.item()], []
        while True:
            conn = self.connector()
            if conn is None:
                break
            connectors.append(conn)
            items.append(self.item())
            words = items[-1].node.words if isinstance(items[-1].node, Text) else ()
            if words and all(w.lower() in WORDS for w in words):  # `5 or more`, `10 or fewer`
                raise ParseError(f"a hedge or a range, not one answer: {conn} {' '.join(words)!r}")
        return Answer(items=items, connectors=connectors, raw=self._raw(start))

    def connector(self) -> str | None:
        """`,`, `and`, `or`, `, and`, `, or` between items; None if the list ends here."""
        if self.accept("punct", ","):
            if self.at("word") and self.peek().text.lower() in ("and", "or"):
                return self.next().text.lower()
            return ","
        if self.at("word") and self.peek().text.lower() in ("and", "or"):
            return self.next().text.lower()
        return None

    def item(self) -> Item:
        start = self.i
        if self.at("word"):
            words = []
            while self.at("word") and self.peek().text.lower() not in ("and", "or"):
                words.append(self.next().text)
            if not words:
                raise ParseError("no answer before the connector")
            if not (self.at("eof") or self.at("punct", ",") or self.at("punct", ";") or self.at("word")):
                # `the answer is 5`, `Answer: 5` introduce the value; any other words before it (`at least`,
                # `between`, `about`, `not`) change what it means
                if words[-1].lower() in _INTRODUCTIONS or self.accept("punct", ":"):
                    return self.item()
                raise ParseError(f"a hedge or a range, not one answer: {' '.join(words)!r} before a value")
            if " ".join(words).lower() in ("all real numbers", "all reals", "all real values"):
                return Item(Special("reals"), self._raw(start))
            return Item(Text(tuple(words)), self._raw(start))
        node = self.relation()
        item = Item(node, "")
        self.unit_tail(item)
        item.raw = self._raw(start)
        return item

    def unit_tail(self, item: Item) -> None:
        """Trailing units (`cm^2`, `\\text{ square units}`, `percent`) are dropped; any other word is an error,
        so `5 \\text{ or more}` and `10 \\text{ at least}` are not read as numbers."""
        units = []
        while True:
            tok = self.peek()
            if tok.kind == "punct" and tok.text == "%":
                self.next()
                item.percent = True
                continue
            if tok.kind == "word" and tok.text.lower() in ("and", "or"):
                break
            if tok.kind == "word" or (tok.kind == "letter" and tok.textual):
                word = tok.text.lower()
                if word in PERCENT_WORDS:
                    item.percent = True
                elif not _prose_unit(word):
                    raise ParseError(f"a hedge or a range, not one answer: the word {tok.text!r}")
                units.append(word)
                self.next()
                self._unit_decorations()
                continue
            break
        item.units = tuple(units)

    def _unit_decorations(self) -> None:
        """`cm^2`, `sq. in.`, `m/s`: powers, dots and slashes inside a unit."""
        while True:
            if self.at("punct", "^") and self.peek(1).kind == "num":
                self.next()
                self.next()
            elif self.at("punct", "^") and self.peek(1).kind == "punct" and self.peek(1).text == "{":
                self.next()
                self.expect("punct", "{")
                self.expect("num")
                self.expect("punct", "}")
            elif self.at("punct", ".") or (self.at("punct", "/") and self.peek(1).kind in ("word", "letter")):
                self.next()
            else:
                return

    # -- relations --
    def relation(self) -> object:
        self.enter()
        start = self.i
        members, ops, raws = [self.ratio()], [], [self._raw(start)]
        while True:
            op = self.rel_op()
            if op is None:
                break
            start = self.i
            member = self.ratio()
            if op == "=>":  # `... \Rightarrow x = 5`: what follows the arrow is the answer
                members, ops, raws = [member], [], [self._raw(start)]
                continue
            ops.append(op)
            members.append(member)
            raws.append(self._raw(start))
        self.leave()
        if not ops:
            return members[0]
        return Rel(tuple(members), tuple(ops), tuple(raws))

    def rel_op(self) -> str | None:
        tok = self.peek()
        if tok.kind == "punct" and tok.text in _REL_PUNCT:
            self.next()
            return _REL_PUNCT[tok.text]
        if tok.kind == "cmd" and tok.text in RELATIONS:
            self.next()
            return RELATIONS[tok.text]
        if tok.kind == "cmd" and tok.text in _ARROWS:
            self.next()
            return "=>"
        if tok.kind == "cmd" and tok.text == "notin":
            raise Unsupported("\\notin")
        return None

    def ratio(self) -> object:
        parts = [self.setexpr()]
        while self.at("punct", ":") or self.at("cmd", "colon"):
            self.next()
            parts.append(self.setexpr())
        if len(parts) == 1:
            return parts[0]
        return Func("ratio", tuple(parts))

    def setexpr(self) -> object:
        left = self.expr()
        while self.at("cmd") and self.peek().text in ("cup", "cap", "setminus"):
            op = self.next().text
            right = self.expr()
            left = SetOp(op, (left, right))
        return left

    # -- arithmetic --
    def expr(self) -> object:
        self.enter()
        terms = []
        sign = self.sign()
        if sign is None:
            sign = 1
        terms.append((sign, self.term()))
        while True:
            sign = self.sign()
            if sign is None:
                break
            terms.append((sign, self.term()))
        self.leave()
        if len(terms) == 1 and terms[0][0] == 1:
            return terms[0][1]
        return Add(tuple(terms))

    def sign(self) -> int | None:
        tok = self.peek()
        if tok.kind == "punct" and tok.text == "+" and self.peek(1).text == "/" and self.peek(2).text == "-":
            self.i += 3  # +/- typed for \pm
            return 0
        if tok.kind == "punct" and tok.text == "+" and self.peek(1).text == "-" and self.peek(1).kind == "punct":
            self.i += 2  # +- typed for \pm: nobody writes it for a subtraction
            return 0
        if tok.kind == "punct" and tok.text in _ADD_OPS:
            self.next()
            s = _ADD_OPS[tok.text]
            while self.at("punct", "+") or self.at("punct", "-"):  # `+-3`, `--3`
                s *= _ADD_OPS[self.next().text]
            return s
        if tok.kind == "cmd" and tok.text in ("pm", "mp"):
            self.next()
            return 0
        return None

    def term(self) -> object:
        node = self.product()
        while True:
            tok = self.peek()
            if (tok.kind == "punct" and tok.text in ("*", "/")) or (
                tok.kind == "cmd" and tok.text in _MUL_CMDS | {"div"}
            ):
                self.next()
                right = self.product()
                node = Div(node, right) if tok.text in ("/", "div") else Mul((node, right))
                continue
            return node

    def product(self) -> object:
        """Juxtaposition (`2x`, `3\\sqrt{2}`, `(a+5)(b+2)`), which binds tighter than `*` and `/` (1/2x = 1/(2x))."""
        factors = [self.power()]
        while self.starts_factor():
            factors.append(self.power())
        factors = _mixed_numbers(factors)
        return factors[0] if len(factors) == 1 else Mul(tuple(factors))

    def starts_factor(self) -> bool:
        tok = self.peek()
        if tok.kind in ("num", "letter", "begin"):
            return not (tok.kind == "num" and self.toks[self.i - 1].kind == "num")
        if tok.kind == "cmd":
            return tok.text not in RELATIONS and tok.text not in (
                "cup", "cap", "setminus", "pm", "mp", "cdot", "times", "div", "ast", "to", "rightarrow", "Rightarrow",
                "implies", "therefore", "notin", "colon", "rfloor", "rceil", "rangle", "rvert", "mid", "cdots",
                "ldots", "dots",
            )  # fmt: skip
        if tok.kind == "punct":
            if tok.text in ("(", r"\{", "{"):
                return True
            if tok.text == "[":
                return False
            if tok.text in ("|", r"\|"):
                return self.in_abs == 0 and self.toks[self.i - 1].kind not in ("punct",)
        return False

    def power(self) -> object:
        base = self.postfix(self.atom())
        if self.accept("punct", "^"):
            if isinstance(base, Matrix | Seq) and (self.at("letter", "T") or self.at("cmd", "top")):
                self.next()
                return Func("transpose", (base,)) if isinstance(base, Matrix) else base  # a vector either way
            exponent = self.exponent()
            node = Pow(base, exponent)
            return self.postfix(node)
        return base

    def exponent(self) -> object:
        """`x^{...}`, `x^2`, `2^10` (a whole number: what a model means by it), `e^-x`, `x^\\frac12`."""
        self.enter()
        tok = self.peek()
        if tok.kind == "punct" and tok.text in ("-", "+"):
            self.next()
            inner = self.exponent()
            self.leave()
            return Add(((-1 if tok.text == "-" else 1, inner),))
        if tok.kind == "num":
            self.next()
            node = _number(tok.text)
        elif tok.kind == "punct" and tok.text == "{":
            node = self.group()
        elif tok.kind == "punct" and tok.text == "(":
            node = self.atom()
        else:
            node = self.atom()
        self.leave()
        return self.postfix(node) if tok.kind == "num" else node

    def postfix(self, node: object) -> object:
        while True:
            if self.at("punct", "!") and not (self.peek(1).kind == "punct" and self.peek(1).text == "="):
                self.next()
                node = Func("fact", (node,))
            elif self.at("punct", "'"):
                raise Unsupported("primes")
            elif self.at("punct", "_") and isinstance(node, Num) and not node.decimal:
                node = self.base_number(node.text)  # (52)_8
            else:
                return node

    # -- atoms --
    def atom(self) -> object:
        self.enter()
        try:
            return self._atom()
        finally:
            self.leave()

    def _atom(self) -> object:
        tok = self.next()
        if tok.kind == "num":
            return self.number_atom(tok)
        if tok.kind == "letter":
            return self.symbol(tok.text)
        if tok.kind == "punct":
            if tok.text in _OPEN:
                return self.bracketed(tok.text)
            if tok.text in ("|", r"\|"):
                return self.absolute(tok.text)
            raise ParseError(f"unexpected {tok.text!r}")
        if tok.kind == "cmd":
            return self.command(tok)
        if tok.kind == "begin":
            return self.environment(tok.text)
        if tok.kind == "word":
            if tok.text.lower() in ("infinity", "inf", "infty"):
                return Const("oo")
            raise ParseError(f"the word {tok.text!r} is not a value")
        raise ParseError("missing value" if tok.kind == "eof" else f"unexpected {tok.text!r}")

    def number_atom(self, tok: Tok) -> object:
        text = tok.text
        # thousands: 58,500 and 1,000,000 (not inside brackets, where a comma separates items)
        while (
            self.at("punct", ",")
            and self.bracket_depth == 0
            and not self.peek().space
            and "." not in text
            and self.peek(1).kind == "num"
            and not self.peek(1).space
            and re.fullmatch(r"\d{3}(?:\.\d+)?", self.peek(1).text)
            and re.fullmatch(r"\d{1,3}(?:,\d{3})*", text)
        ):
            self.next()
            text += "," + self.next().text
        while (  # 10 080 and 1 000 000: thousands separated by spaces, outside brackets
            self.bracket_depth == 0
            and "," not in text
            and "." not in text
            and self.at("num")
            and self.peek().space
            and re.fullmatch(r"\d{3}(?:\.\d+)?", self.peek().text)
            and re.fullmatch(r"\d{1,3}(?: \d{3})*", text)
        ):
            text += " " + self.next().text
        text = text.replace(" ", "")
        node = _number(text.replace(",", ""))
        if self.at("punct", "_"):
            return self.base_number(text)
        if "." not in text and self.at("punct", ".") and self.peek(1).kind == "cmd" and self.peek(1).text == "overline":
            self.next()
            text += "."
        if self.at("cmd", "overline") and "." in text:  # 0.\overline{36}
            self.next()
            repeat = self.group_text() if self.at("punct", "{") else self.expect("num").text
            return _repeating(text, repeat)
        if self.at("letter", "e") and self.peek(1).kind in ("num",) and not self.peek().space:
            self.next()  # 1.5e3
            exp = int(self.next().text)
            return Num(node.value * Fraction(10) ** exp, text, True) if abs(exp) < 400 else node
        return node

    def base_number(self, digits: str) -> object:
        self.expect("punct", "_")
        tok = self.peek()
        if tok.kind == "num":
            self.next()
            base = tok.text
        elif tok.kind == "punct" and tok.text == "{":
            base = self.group_text()
        else:
            raise ParseError("bad subscript")
        base = base.strip()
        if not base.isdigit() or not 2 <= int(base) <= 36:
            raise ParseError("bad base")
        return Base(digits, int(base))

    def group_text(self) -> str:
        """The raw tokens of a `{...}` group joined (for subscripts and repeating digits)."""
        self.expect("punct", "{")
        parts = []
        while not self.at("punct", "}"):
            tok = self.next()
            if tok.kind == "eof":
                raise ParseError("unbalanced braces")
            parts.append(tok.text)
        self.next()
        return "".join(parts)

    def symbol(self, name: str) -> object:
        if self.at("punct", "_"):
            self.next()
            tok = self.peek()
            if tok.kind in ("num", "letter"):
                self.next()
                name = f"{name}_{tok.text}"
            elif tok.kind == "punct" and tok.text == "{":
                name = f"{name}_{self.group_text()}"
            elif tok.kind == "cmd":
                self.next()
                name = f"{name}_{tok.text}"
            else:
                raise ParseError("bad subscript")
        if name == "i" and name not in self.bound:
            return Const("i")
        if name == "e" and name not in self.bound:
            return Const("e")
        return Sym(name)

    def group(self) -> object:
        """`{...}`: a TeX group, one expression; a comma inside it may separate thousands (`\\frac{20,000}{\\pi}`)."""
        self.expect("punct", "{")
        saved, self.bracket_depth = self.bracket_depth, 0
        node = self.relation()
        self.bracket_depth = saved
        self.expect("punct", "}")
        return node

    def tex_arg(self) -> object:
        """One argument of `\\frac`/`\\sqrt`/`\\binom`: a group, or TeX's single token (`\\frac12`: the digit 1)."""
        tok = self.peek()
        if tok.kind == "punct" and tok.text == "{":
            return self.group()
        if tok.kind == "num":
            self.next()
            if "." in tok.text or len(tok.text) == 1:
                return _number(tok.text)
            rest = Tok("num", tok.text[1:], False, tok.textual, tok.pos + 1)
            self.toks.insert(self.i, rest)
            return _number(tok.text[0])
        if tok.kind == "letter":
            self.next()
            return self.symbol(tok.text)
        if tok.kind == "cmd":
            self.next()
            return self.command(tok)
        raise ParseError("missing argument")

    def bracketed(self, open_: str) -> object:
        close = _OPEN[open_]
        if open_ == r"\{" and self._set_builder_ahead():
            return self.set_builder()
        self.bracket_depth += 1
        items, sep = [], ","
        if not (self.at("punct", close) or (open_ in "([" and self.at("punct", ")" if open_ == "[" else "]"))):
            items.append(self.bracket_item())
            while self.at("punct", ",") or self.at("punct", ";"):
                sep = self.next().text
                items.append(self.bracket_item())
        self.bracket_depth -= 1
        tok = self.next()
        valid = {close} | (_INTERVAL_CLOSE if open_ in ("(", "[") else set())
        if tok.kind != "punct" or tok.text not in valid:
            raise ParseError(f"unbalanced {open_}")
        if open_ == "{" and len(items) == 1:
            return items[0].node  # a TeX group
        if len(items) == 1 and (open_, tok.text) in (("(", ")"), ("[", "]")) and not items[0].percent:
            return items[0].node  # parentheses
        return Seq(open_, tok.text, tuple(items), sep)

    def _set_builder_ahead(self) -> bool:
        """`\\{x \\mid x > 3\\}`, `\\{x : x > 3\\}`, `\\{x | x > 3\\}`: a variable, then a bar or colon."""
        tok, bar = self.peek(), self.peek(1)
        return tok.kind == "letter" and (
            (bar.kind == "punct" and bar.text in ("|", ":")) or (bar.kind == "cmd" and bar.text in ("mid", "colon"))
        )

    def set_builder(self) -> Seq:
        """The conditions of a set-builder set, as items joined by "and" (the set is where all of them hold)."""
        self.next()
        self.next()
        conditions = [self.bracket_item()]
        while self.accept("punct", ",") or (self.at("word") and self.peek().text.lower() == "and" and self.next()):
            conditions.append(self.bracket_item())
        self.expect("punct", r"\}")
        return Seq(r"\{", r"\}", tuple(conditions), "|")

    def bracket_item(self) -> Item:
        start = self.i
        node = self.relation()
        item = Item(node, "")
        self.unit_tail(item)
        item.raw = self._raw(start)
        return item

    def absolute(self, bar: str) -> object:
        self.in_abs += 1
        inner = self.expr()
        self.in_abs -= 1
        self.expect("punct", bar)
        return Func("abs", (inner,))

    def command(self, tok: Tok) -> object:
        name = tok.text
        if name == "frac":
            num = self.tex_arg()
            den = self.tex_arg()
            return Div(num, den)
        if name == "sqrt":
            index = None
            if self.accept("punct", "["):
                index = self.relation()
                self.expect("punct", "]")
            if self.at("punct", "("):  # sqrt(2), and the sloppy \sqrt(2)
                arg = self.atom()
            elif self.at("num") and "." not in self.peek().text:
                # `\sqrt51`: TeX reads sqrt(5)*1, which nobody means; the root of 51 is what is written
                arg = _number(self.next().text)
            else:
                arg = self.tex_arg()
            return Func("sqrt", (arg,)) if index is None else Func("root", (arg, index))
        if name == "cbrt":
            return Func("root", (self.atom() if self.at("punct", "(") else self.tex_arg(), Num(Fraction(3), "3")))
        if name in ("binom", "choose"):
            return Func("binom", (self.tex_arg(), self.tex_arg()))
        if name in ("pi",):
            return Const("pi")
        if name in ("infty", "infin", "infinity"):
            return Const("oo")
        if name == "imath":
            return Const("i")
        if name in GREEK:
            return self.symbol(name)
        if name in FUNCTIONS or name in ("abs",):
            return self.function(name)
        if name in MULTI_ARG:
            return self.multi_arg(name)
        if name in ACCENTS or name in TRANSPARENT:
            if self.at("punct", "{"):
                return self.group()
            return self.atom()
        if name in ("lfloor", "lceil"):
            inner = self.expr()
            self.expect("cmd", "rfloor" if name == "lfloor" else "rceil")
            return Func("floor" if name == "lfloor" else "ceil", (inner,))
        if name == "langle":
            items = [self.bracket_item()]
            while self.accept("punct", ","):
                items.append(self.bracket_item())
            self.expect("cmd", "rangle")
            return Seq("(", ")", tuple(items)) if len(items) > 1 else items[0].node
        if name in ("lvert", "vert"):
            inner = self.expr()
            self.expect("cmd", "rvert" if name == "lvert" else "vert")
            return Func("abs", (inner,))
        if name == "mathbb":
            letter = self.group_text() if self.at("punct", "{") else self.next().text
            if letter.strip() == "R":
                return Special("reals")
            raise Unsupported(f"\\mathbb{{{letter}}}")
        if name in ("emptyset", "varnothing"):
            return Special("emptyset")
        if name in ("sum", "prod"):
            return self.big_operator(name)
        if name in ("angle", "triangle"):
            return Func("label", (self.product(),))
        if name in ("cdots", "ldots", "dots", "dotsm", "dotsb"):
            raise Unsupported("an ellipsis")
        if name == "pmod":
            raise ParseError("\\pmod")
        if name in UNSUPPORTED:
            raise Unsupported(f"\\{name}")
        if name in KNOWN_CMDS:
            raise ParseError(f"unexpected \\{name}")
        return Sym(name)  # an unknown command names a symbol (`\zzz`)

    def function(self, name: str) -> object:
        """`\\sin x`, `\\sin(2x)`, `\\sin^2 x`, `\\sin^{-1} x` (arcsin), `\\log_2 8`, `\\ln x`."""
        power, base = None, None
        if self.accept("punct", "^"):
            power = self.exponent()
        if name in ("log",) and self.accept("punct", "_"):
            base = self.tex_arg() if not self.at("num") else _number(self.next().text)
        arg = self.atom() if self.at("punct", "(") or self.at("punct", "{") else self.function_argument()
        if power is not None and _is_minus_one(power) and name in ("sin", "cos", "tan", "cot", "sec", "csc"):
            return Func("arc" + name, (arg,))
        node = Func(name, (arg,) if base is None else (arg, base))
        return Pow(node, power) if power is not None else node

    def function_argument(self) -> object:
        """`\\sin 2x \\cos y`: the argument runs over juxtaposed factors up to the next function or operator."""
        factors = [self.power()]
        while self.starts_factor() and not (self.at("cmd") and self.peek().text in FUNCTIONS):
            factors.append(self.power())
        return factors[0] if len(factors) == 1 else Mul(tuple(factors))

    def multi_arg(self, name: str) -> object:
        self.expect("punct", "(")
        args = [self.expr()]
        while self.accept("punct", ","):
            args.append(self.expr())
        self.expect("punct", ")")
        return Func(name, tuple(args))

    def big_operator(self, name: str) -> object:
        """`\\sum_{k=1}^{n} f(k)`: index, bounds and body (only numeric bounds are evaluated)."""
        self.expect("punct", "_")
        self.expect("punct", "{")
        var = self.expect("letter").text
        self.expect("punct", "=")
        low = self.expr()
        self.expect("punct", "}")
        self.expect("punct", "^")
        high = self.exponent()
        self.bound.add(var)  # the index is a variable even when it is called i or e
        body = self.term()
        self.bound.discard(var)
        return Func(name, (Sym(var), low, high, body))

    def environment(self, env: str) -> object:
        if not (env.endswith("matrix") or env == "array"):
            raise Unsupported(f"the {env} environment")
        rows, row = [], []
        saved, self.bracket_depth = self.bracket_depth, 1
        while not self.at("end"):
            if self.at("eof"):
                raise ParseError(f"unclosed {env}")
            row.append(self.expr())
            if self.accept("punct", "&"):
                continue
            if self.accept("punct", r"\\"):
                rows.append(tuple(row))
                row = []
                continue
        self.bracket_depth = saved
        self.next()
        if row:
            rows.append(tuple(row))
        if not rows or len({len(r) for r in rows}) != 1:
            raise ParseError("ragged matrix")
        if env == "vmatrix":
            raise Unsupported("a determinant")
        return Matrix(tuple(rows), env)

    def _raw(self, start: int) -> str:
        a = self.toks[start].pos
        b = self.toks[self.i].pos if self.i < len(self.toks) else len(self.text)
        return self.text[a:b].strip()


def _number(text: str) -> Num:
    return Num(Fraction(text), text, "." in text)


def _repeating(prefix: str, repeat: str) -> Num:
    """0.1\\overline{6} = 1/6: the digits under the bar repeat for ever."""
    if not repeat.isdigit():
        raise ParseError("bad repeating decimal")
    _whole, _, frac = prefix.partition(".")
    fixed = Fraction(prefix or "0")
    period = Fraction(int(repeat), 10 ** len(repeat) - 1) / 10 ** len(frac)
    return Num(fixed + period, prefix + "(" + repeat + ")", False)


def _is_minus_one(node: object) -> bool:
    return (
        isinstance(node, Add)
        and len(node.terms) == 1
        and node.terms[0][0] == -1
        and node.terms[0][1] == Num(Fraction(1), "1")
    )


def _mixed_numbers(factors: list) -> list:
    """`137 \\frac{1}{2}` is 137 + 1/2 (MATH's mixed numbers): an integer followed by a fraction of integers."""
    out = []
    for f in factors:
        if (
            out
            and isinstance(f, Div)
            and isinstance(out[-1], Num)
            and not out[-1].decimal
            and isinstance(f.num, Num)
            and isinstance(f.den, Num)
            and not f.num.decimal
            and not f.den.decimal
            and 0 < f.num.value < f.den.value
        ):
            out[-1] = Add(((1, out[-1]), (1, f)))
        else:
            out.append(f)
    return out


def _prose_unit(word: str) -> bool:
    """A word from `\\text{}` after a value may be a unit unless it changes what the value means."""
    return word not in WORDS or word in UNITS


def parse_answer(text: str) -> Answer:
    """The answer in `text` (already extracted from its box), or ParseError / Unsupported with the reason."""
    clean = normalize(text)
    if not clean:
        raise ParseError("empty answer")
    toks = tokenize(clean)
    while toks and toks[-1].kind == "punct" and toks[-1].text in (".", ",", ";"):
        toks.pop()  # `5\text{.}`, `1, 2,`: punctuation that ends a sentence, not the answer
    if not toks:
        raise ParseError("empty answer")
    return Parser(clean, toks).answer()
