"""Math answer grading: parse (extract) -> normalize -> verify, each a public, testable step.

- `extract_answer(text)`: pull the final answer out of a model's generation (order documented on the function).
- `normalize_answer(s)`: string clean-up (LaTeX wrappers, units, separators, degrees, `\\text{}` ...).
- `parse_answer(s)`: a normalized string -> a typed `ParsedAnswer` (number, letter, interval, set, tuple, list,
  matrix, equation, text or expression).
- `verify(gold, predicted)`: compare two parsed answers; numbers with a relative tolerance, expressions with sympy,
  and math-verify as the last resort for what our own parser cannot read.
- `is_equivalent(gold, predicted)`: all of the above on two strings.

Conventions (see docs/GRADING.md): a percent answer "50%" matches both 50 and 0.5; numbers match within a relative
tolerance of 1e-4; bare comma lists and sets are unordered, tuples and intervals are ordered and bracket-sensitive,
a set never equals an interval; "x=3" matches "3"; choice letters ignore parentheses, a trailing dot and case.

Nothing here has its own timeout: sympy can run for minutes on a pathological answer, so the evaluate stage calls
the grader through `grade_all` (nemo_pipeline.evaluation._pool), which kills a worker that runs past its limit.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from nemo_pipeline.evaluation._math.extract import extract_answer
from nemo_pipeline.evaluation._math.mv import mv_verify
from nemo_pipeline.evaluation._math.spans import answer_span, clause_number, last_boxed
from nemo_pipeline.evaluation.graders import GraderContext, Verdict, register_grader
from nemo_pipeline.records import Generated

__all__ = [
    "REL_TOL",
    "ParsedAnswer",
    "extract_answer",
    "is_equivalent",
    "math_grader",
    "normalize_answer",
    "parse_answer",
    "verify",
]

REL_TOL = 1e-4
"""Two numbers are equal when |a - b| <= REL_TOL * max(|a|, |b|); when either is an integer, they must be equal
exactly (an evaluated expression within 1e-9 relative). Exact zero only equals exact zero."""

Kind = Literal["number", "letter", "interval", "set", "tuple", "list", "matrix", "equation", "text", "expr"]

# --------------------------------------------------------------------------------------------------- parse (extract)

_BOX_CMDS = ("\\boxed", "\\fbox")
_last_boxed = last_boxed  # the mcq grader reads boxes the same way

# --------------------------------------------------------------------------------------------------------- normalize

_UNITS = {
    # length, area, volume, mass, time, money, misc counting words models append to numbers
    "m", "cm", "mm", "km", "in", "inch", "inches", "ft", "foot", "feet", "yd", "yard", "yards", "mile", "miles",
    "meter", "meters", "metre", "metres", "centimeter", "centimeters", "millimeter", "millimeters", "kilometer",
    "kilometers", "sq", "square", "cubic", "units", "unit", "l", "ml", "liter", "liters", "litre", "litres",
    "gallon", "gallons", "g", "kg", "mg", "gram", "grams", "kilogram", "kilograms", "lb", "lbs", "pound", "pounds",
    "ounce", "ounces", "oz", "ton", "tons", "s", "sec", "secs", "second", "seconds", "min", "mins", "minute",
    "minutes", "h", "hr", "hrs", "hour", "hours", "day", "days", "week", "weeks", "month", "months", "year", "years",
    "dollar", "dollars", "cent", "cents", "usd", "euro", "euros", "degree", "degrees", "deg", "rad", "radian",
    "radians", "mph", "kmh", "percent", "people", "persons", "students", "apples", "items", "times", "points",
}  # fmt: skip
_MATH_WORDS = {"pi", "sqrt", "frac", "infty", "inf", "oo", "cdot", "times", "and", "or", "i", "e", "x", "y", "z"}
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox|operatorname)\s*\{([^{}]*)\}")
_UNIT_TAIL = re.compile(
    r"^(?P<num>[-+]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:/\d+)?)\s*"
    r"(?P<unit>[A-Za-z]+(?:\^\{?\d\}?)?(?:[ ./]+[A-Za-z]+(?:\^\{?\d\}?)?)*)\.?$"
)
_BRACKETED_MATRIX = re.compile(r"^[(\[]\s*(\\begin\{array\}.*\\end\{array\})\s*[)\]]$", re.DOTALL)
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?$")
_SPACED_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?: \d{3})+(?:\.\d+)?%?$")


def _is_unit(tail: str) -> bool:
    words = [w for w in re.split(r"[ ./]+", re.sub(r"\^\{?\d\}?", "", tail.lower())) if w]
    if not words or words[0] in _MATH_WORDS:
        return False
    return words[0] in _UNITS or (len(words[0]) >= 3 and all(w not in _MATH_WORDS or w in _UNITS for w in words))


def normalize_answer(s: str) -> str:
    """Clean one answer string: strip LaTeX wrappers and decorations, units, separators and degree signs.

    Keeps a trailing '%' (parse_answer reads it) and everything with mathematical meaning.
    """
    s = s.strip()
    for _ in range(3):  # unwrap \boxed{...} (possibly nested) and math delimiters
        boxed = _last_boxed(s) if s.startswith(_BOX_CMDS) else None
        if boxed is not None:
            s = boxed
        s = s.strip()
        for left, right in (("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)")):
            if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
                s = s[len(left) : len(s) - len(right)].strip()
    s = s.replace("\\$", "").replace("$", "")
    s = re.sub(r"\\[dt]frac(?![A-Za-z])", r"\\frac", s)
    s = re.sub(r"\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])\s*\.?", "", s)
    s = s.replace("\\displaystyle", "")
    s = re.sub(r"(?<=\d),\\!\s*(?=\d{3}(?!\d))", ",", s)  # 11,\\! 111: a thousands separator
    s = re.sub(r"\\[,;:!]", "", s)
    s = re.sub(r"\\(?:qquad|quad|space(?![A-Za-z]))|(?<!\\)\\ |~", " ", s)
    s = re.sub(r"\s*\{\s*,\s*\}\s*", "", s)  # 14{,}916 and 14 {, }916
    # degrees: ^\circ, ^{\circ}, \circ, °, \degree
    s = re.sub(r"\^\s*\{?\s*\\circ\s*\}?|\\circ(?![A-Za-z])|°|\\degree(?![A-Za-z])", "", s)
    s = s.replace("\\%", "%").replace("\\$", "")
    s = re.sub(r">=|=>", r"\\geq ", re.sub(r"<=|=<", r"\\leq ", s.replace("!=", "\\neq ")))
    s = re.sub(r"\\(?:dollars?|euro)(?![A-Za-z])", "", s)
    # a number followed by a \text{unit}: drop the unit; otherwise \text{...} -> its content
    s = re.sub(r"(\d)\s*\\(?:text|mbox|mathrm)\s*\{\s*([A-Za-z][A-Za-z .]*)\}(\^\{?\d\}?)?", _drop_text_unit, s)
    s = _TRAILING_TEXT.sub(_drop_trailing_text, s)
    for _ in range(3):
        s = _TEXT_CMD.sub(r"\1", s)
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"^(?:USD|usd|Rs\.?|€|£)\s*", "", s)
    s = re.sub(r"(?<!\\)\\$", "", s).rstrip()  # a stray backslash at the end: 185\\
    if s.endswith("."):
        s = s[:-1].rstrip()
    m = _BRACKETED_MATRIX.match(s)
    if m:
        s = m.group(1)
    m = _UNIT_TAIL.match(s)
    if m and _is_unit(m.group("unit")):
        s = m.group("num")
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    elif _SPACED_THOUSANDS.match(s):
        s = s.replace(" ", "")
    return s.strip()


_TRAILING_TEXT = re.compile(
    r"(?<=\S)(?:\s|\\ )*\\(?:text|textnormal|textbf|textrm|textit|mbox|mathrm)\s*\{\s*([A-Za-z][A-Za-z ./]*)\}"
    r"(?:\^\{?\d\}?)?\s*\.?$"
)


def _drop_trailing_text(m: re.Match[str]) -> str:
    """`\\frac{1}{3}\\textnormal{ miles}`, `3\\sqrt{2}\\text{ dollars}`: a unit or word after an answer goes."""
    words = m.group(1).strip()
    return "" if _is_unit(words) or (len(words) >= 2 and words.lower() not in _MATH_WORDS) else m.group(0)


def _drop_text_unit(m: re.Match[str]) -> str:
    words = m.group(2).strip()
    if words.lower() in ("and", "or"):  # 12\text{ and }13: a list, not a unit
        return f"{m.group(1)} {words.lower()} "
    return m.group(1) if _is_unit(words) or len(words) >= 2 else m.group(0)


# ------------------------------------------------------------------------------------------------------ parse (typed)


@dataclass(frozen=True)
class ParsedAnswer:
    """A normalized answer read into a comparable shape.

    kind: number (value: Fraction, percent flag), letter (value: "A".."Z"), interval / tuple (brackets + items),
    set / list (unordered items), matrix (rows of items), equation (lhs text + rhs item), text (lower-cased words),
    expr (LaTeX string for sympy / math-verify).
    """

    kind: Kind
    text: str
    value: Any = None
    items: tuple[ParsedAnswer, ...] = ()
    brackets: str = ""
    percent: bool = False


_LETTER = re.compile(r"^\(?\s*([A-Za-z])\s*\)?\.?$")
_PLAIN_NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")
_FRAC = re.compile(
    r"^([-+]?)\\frac\s*(?:\{\s*([-+]?\d+(?:\.\d+)?)\s*\}|(\d))\s*(?:\{\s*([-+]?\d+(?:\.\d+)?)\s*\}|(\d))$"
)
_SLASH = re.compile(r"^([-+]?\d+(?:\.\d+)?)\s*/\s*([-+]?\d+(?:\.\d+)?)$")
_MATRIX = re.compile(r"^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$", re.DOTALL)
_BETWEEN = re.compile(
    r"^(?P<a>[^<>=]+?)\s*(?P<op1><|\\leq?(?![A-Za-z]))\s*[A-Za-z](?:\([A-Za-z]\))?\s*(?P<op2><|\\leq?(?![A-Za-z]))\s*(?P<b>[^<>=]+)$"
)
_CHOICE_THEN_TEXT = re.compile(r"^\(?([A-Za-z])\)?[.:)]\s+\S")
_AND_OR = re.compile(r"\s*,?\s+(?:and|or)\s+")
_WORDS = re.compile(r"^[A-Za-z][A-Za-z' \-]*$")


def _split_top(s: str, sep: str) -> list[str]:
    """Split on sep outside (), [], {} groups."""
    parts, depth, cur, i = [], 0, [], 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s) and s[i + 1] in "{}":
            cur.append(s[i : i + 2])
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if depth == 0 and s.startswith(sep, i):
            parts.append("".join(cur))
            cur = []
            i += len(sep)
            continue
        cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def _enclosed(s: str, left: str, right: str) -> bool:
    """True when s is one group from its first to its last character."""
    if not (s.startswith(left) and s.endswith(right)):
        return False
    depth = 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0 and i < len(s) - 1:
                return False
    return True


def _number(s: str) -> Fraction | None:
    s = re.sub(r"^([-+])\s+", r"\1", s.strip())
    if _PLAIN_NUMBER.match(s):
        try:
            return Fraction(s)
        except (ValueError, ZeroDivisionError):
            return None
    m = _FRAC.match(s) or _SLASH.match(s)
    if m:
        groups = [g for g in m.groups() if g is not None]
        sign = -1 if groups and groups[0] == "-" else 1
        nums = [g for g in groups if g not in ("", "-", "+")]
        if len(nums) == 2 and Fraction(nums[1]) != 0:
            return sign * Fraction(nums[0]) / Fraction(nums[1])
    return None


@functools.lru_cache(maxsize=4096)
def parse_answer(s: str) -> ParsedAnswer:
    """Read a (normalized) answer string into a ParsedAnswer; never raises. Cached: answers repeat within an item
    (extraction, equivalence both ways) and across seeds."""
    s = normalize_answer(s)
    text = s
    if not s:
        return ParsedAnswer("text", "")
    m = _LETTER.match(s)
    if m:
        return ParsedAnswer("letter", text, m.group(1).upper())
    percent = s.endswith("%")
    core = s[:-1].strip() if percent else s
    value = _number(core)
    if value is not None:
        return ParsedAnswer("number", text, value, percent=percent)
    m = _MATRIX.match(s)
    if m and "\\begin{" not in m.group(2):  # one matrix, not a sum or product of several
        rows = [r for r in _split_top(m.group(2).strip(), "\\\\") if r]
        items = tuple(ParsedAnswer("tuple", r, items=tuple(parse_answer(c) for c in r.split("&"))) for r in rows)
        return ParsedAnswer("matrix", text, items=items)
    if "\\cup" in s:
        parts = _split_top(s, "\\cup")
        if len(parts) > 1:
            return ParsedAnswer("set", text, items=tuple(parse_answer(p) for p in parts), brackets="cup")
    if _enclosed(s, "\\{", "\\}") or (_enclosed(s, "{", "}") and "," in s):
        inner = s[2:-2] if s.startswith("\\{") else s[1:-1]
        return ParsedAnswer("set", text, items=tuple(parse_answer(p) for p in _split_top(inner, ",") if p))
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and _enclosed(s, s[0], s[-1]):
        parts = _split_top(s[1:-1], ",")
        if len(parts) > 1:
            kind: Kind = "interval" if s[0] + s[-1] in ("(]", "[)", "[]") or len(parts) == 2 else "tuple"
            return ParsedAnswer(kind, text, items=tuple(parse_answer(p) for p in parts), brackets=s[0] + s[-1])
    if not _WORDS.match(s):  # "12 and 13", "x = 3 or x = -3": a list when every part is math
        joined = _AND_OR.sub(", ", s)
        if joined != s and all(re.search(r"[\d\\]", part) for part in _split_top(joined, ",")):
            s = joined
    if ";" in s and "=" not in s and len(_split_top(s, ",")) == 1:  # -12; -11; -10
        s = ", ".join(_split_top(s, ";"))
    parts = _split_top(s, ",")
    if len(parts) > 1 and all(parts):
        return ParsedAnswer("list", text, items=tuple(parse_answer(p) for p in parts))
    m = _BETWEEN.match(s)
    if m:  # -3 < x \le 3 is the interval (-3, 3]
        brackets = ("(" if m.group("op1") == "<" else "[") + (")" if m.group("op2") == "<" else "]")
        items = (parse_answer(m.group("a")), parse_answer(m.group("b")))
        return ParsedAnswer("interval", text, items=items, brackets=brackets)
    sides = _split_top(s, "=")
    if len(sides) >= 2 and all(sides) and not s.startswith(("\\le", "\\ge")):
        # x = 5+5+1 = 11: a chain of equalities settles on its last side
        return ParsedAnswer("equation", text, value=sides[0], items=(parse_answer(sides[-1]),))
    if _WORDS.match(s) and (" " in s or len(s) > 3) and s.lower() not in _MATH_WORDS:
        return ParsedAnswer("text", text, s.lower().strip())
    return ParsedAnswer("expr", text)


# ----------------------------------------------------------------------------------------------------------- verify


def _close(a: float | Fraction, b: float | Fraction) -> bool:
    """Equal within REL_TOL, except that an integer is compared exactly (up to float evaluation noise, 1e-9).

    Integers are exact answers: 123456 vs 123457 is wrong although they differ by less than 1e-4 relative.
    An infinite or NaN value (overflowed evaluation) is never close to anything.
    """
    if isinstance(a, Fraction) and isinstance(b, Fraction) and a == b:
        return True
    integer = any(isinstance(x, Fraction) and x.denominator == 1 for x in (a, b))
    if integer and isinstance(a, Fraction) and isinstance(b, Fraction):
        return False
    try:
        fa, fb = float(a), float(b)
    except OverflowError:
        return False
    if math.isnan(fa) or math.isnan(fb) or math.isinf(fa) or math.isinf(fb):
        return False
    return abs(fa - fb) <= (1e-9 if integer else REL_TOL) * max(abs(fa), abs(fb), 1e-300 if integer else 0.0)


def _number_candidates(p: ParsedAnswer) -> list[Fraction]:
    return [p.value, p.value / 100] if p.percent else [p.value]


def _to_latex_for_sympy(text: str) -> str:
    t = text.replace("**", "^")
    t = re.sub(r"(?<![\\A-Za-z])sqrt\s*\(([^()]*)\)", r"\\sqrt{\1}", t)
    t = re.sub(r"(?<![\\A-Za-z])pi(?![A-Za-z])", r"\\pi ", t)
    t = t.replace("%", "")
    return t


def _sympy(text: str) -> Any | None:
    """Parse LaTeX (or plain math) into sympy with latex2sympy; None when it cannot. No eval of the input."""
    try:
        from latex2sympy2_extended import latex2sympy

        return latex2sympy(_to_latex_for_sympy(text))
    except Exception:
        return None


def _sympy_equal(a: Any, b: Any) -> bool | None:
    """True/False when sympy can decide, None when it cannot."""
    import sympy

    try:
        if isinstance(a, sympy.Basic) and isinstance(b, sympy.Basic):
            if a == b:
                return True
            if a.is_Rational and b.is_Rational:  # exact values (1112112 vs 1112122) compare exactly
                return False
            if a.is_number and b.is_number:
                va, vb = complex(a.evalf(30)), complex(b.evalf(30))
                return _close(va.real, vb.real) and _close(va.imag, vb.imag)
            if isinstance(a, sympy.Equality) or isinstance(b, sympy.Equality):
                return None
            diff = sympy.simplify(a - b)
            if diff == 0:
                return True
            return False if diff.is_number else (sympy.expand(a - b) == 0) or None
    except Exception:
        return None
    return None


def _unordered(gold: Sequence[ParsedAnswer], pred: Sequence[ParsedAnswer]) -> bool:
    if len(gold) != len(pred):
        return False
    left = list(pred)
    for g in gold:
        for i, p in enumerate(left):
            if verify(g, p):
                del left[i]
                break
        else:
            return False
    return True


def _ordered(gold: Sequence[ParsedAnswer], pred: Sequence[ParsedAnswer]) -> bool:
    return len(gold) == len(pred) and all(verify(g, p) for g, p in zip(gold, pred, strict=True))


_NAME = re.compile(r"(?:[A-Za-z]+|\\[A-Za-z]+)(?:_\{?[\w,]+\}?)?(?:\^\{?\w+\}?)?(?:\([A-Za-z, ]*\))?")
_NAMES = re.compile(r"^\(?N(?:[:,/;]N)*\)?$")


def _named(lhs: str) -> bool:
    """True when an equation's left side only names what it gives: `x`, `f(x)`, `x_{1}`, `x^2`, `(p,q)`,
    `V_{1}:V_{2}`, `\\frac{NO}{BO}`; not `2x + z` or `a^2 + b`."""
    t = re.sub(r"\s+", "", lhs)
    t = re.sub(r"\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}", r"\1/\2", t)
    return bool(_NAMES.match(_NAME.sub("N", t)))


def _strip_equation(p: ParsedAnswer) -> ParsedAnswer:
    """`x = 3` -> 3 when the left side names the answer (`_named`: `x`, `x^2`, `(p,q)`), in a chain
    (`x = 5+5+1 = 11`), or when both sides are arithmetic (`\\frac{1}{2} \\cdot 4 = 2`)."""
    if p.kind == "list" and any(i.kind == "equation" for i in p.items):
        return ParsedAnswer("list", p.text, items=tuple(_strip_equation(i) for i in p.items))
    if p.kind != "equation":
        return p
    lhs, rhs = str(p.value).strip(), p.items[0]
    chain = p.text.count("=") >= 2
    arithmetic = not re.search(r"[A-Za-z]", re.sub(r"\\[A-Za-z]+", "", lhs + rhs.text))
    return rhs if _named(lhs) or chain or arithmetic else p


def _assignments(p: ParsedAnswer) -> dict[str, ParsedAnswer] | None:
    """`k = 45, n = 2` -> {"k": 45, "n": 2} when every item assigns a different variable; else None."""
    if p.kind != "list" or not all(i.kind == "equation" and _named(str(i.value)) for i in p.items):
        return None
    names = {re.sub(r"\s+", "", str(i.value)): i.items[0] for i in p.items}
    return names if len(names) == len(p.items) else None


def verify(gold: ParsedAnswer, predicted: ParsedAnswer) -> bool:
    """Compare two parsed answers under the documented conventions."""
    if gold.text == predicted.text and gold.percent == predicted.percent:
        return bool(gold.text)
    g, p = gold, predicted
    named_g, named_p = _assignments(g), _assignments(p)
    if named_g is not None and named_p is not None:  # k = 45, n = 2: compared by name, in any order
        return named_g.keys() == named_p.keys() and all(verify(v, named_p[k]) for k, v in named_g.items())
    for one, other in ((g, p), (p, g)):  # {3} = 3: a set of one element equals that element
        if one.kind == "set" and len(one.items) == 1 and other.kind in ("number", "expr"):
            return verify(one.items[0], other) if one is g else verify(other, one.items[0])
    if g.kind == "letter" or p.kind == "letter":
        letter, other = (g, p) if g.kind == "letter" else (p, g)
        if other.kind != "letter":  # "C. x = 42": a choice letter, then its option text
            m = _CHOICE_THEN_TEXT.match(other.text)
            return m is not None and m.group(1).upper() == letter.value
        return g.value == p.value
    if g.kind == "equation" and p.kind == "equation":
        g_rhs, p_rhs = g.items[0], p.items[0]
        same_lhs = verify(parse_answer(str(g.value)), parse_answer(str(p.value)))
        if same_lhs and verify(g_rhs, p_rhs):
            return True
        return _expr_equal(g.text, p.text)
    if g.kind == "equation" or p.kind == "equation" or "equation" in {i.kind for i in (*g.items, *p.items)}:
        g2, p2 = _strip_equation(g), _strip_equation(p)
        if (g2, p2) != (g, p):
            return verify(g2, p2)
        return False
    if g.kind == "number" and p.kind == "number":
        return any(_close(a, b) for a in _number_candidates(g) for b in _number_candidates(p))
    if g.kind == "text" or p.kind == "text":
        if g.kind == p.kind == "text":
            return g.value == p.value
        return False
    containers = {"interval", "tuple", "set", "list", "matrix"}
    if g.kind in containers or p.kind in containers:
        if g.kind != p.kind:
            # a two-element tuple and an open interval are written the same way: "(1, 2)"
            if {g.kind, p.kind} == {"interval", "tuple"} and g.brackets == p.brackets:
                return _ordered(g.items, p.items)
            if {g.kind, p.kind} == {"set", "list"} and "cup" not in (g.brackets, p.brackets):
                return _unordered(g.items, p.items)
            if "expr" in (g.kind, p.kind):  # a matrix sum, a product of matrices ...: math-verify reads them
                return bool(mv_verify(g.text, p.text))
            return False
        if g.kind in ("set", "list"):
            return _unordered(g.items, p.items)
        if g.kind == "matrix":
            return len(g.items) == len(p.items) and all(
                _ordered(a.items, b.items) for a, b in zip(g.items, p.items, strict=True)
            )
        return g.brackets == p.brackets and _ordered(g.items, p.items)
    # number vs expr, or expr vs expr
    if (g.kind == "number" and p.kind == "expr") or (g.kind == "expr" and p.kind == "number"):
        number, expr = (g, p) if g.kind == "number" else (p, g)
        value = _sympy(expr.text)
        if value is not None and getattr(value, "is_number", False):
            try:
                v = complex(value.evalf(30))
            except (TypeError, ValueError):
                return False
            return v.imag == 0 and any(_close(c, v.real) for c in _number_candidates(number))
        if value is not None and not number.percent:
            return bool(_sympy_equal(value, _sympy(str(number.value))))
        return False
    return _expr_equal(g.text, p.text)


def _expr_equal(gold: str, predicted: str) -> bool:
    a, b = _sympy(gold), _sympy(predicted)
    if a is not None and b is not None:
        decided = _sympy_equal(a, b)
        if decided is not None:
            return decided
    return bool(mv_verify(gold, predicted))


_CONVENTION_KINDS = {"number", "letter", "text", "interval", "tuple", "set", "list", "equation"}


def _ours_decides(g: ParsedAnswer, p: ParsedAnswer) -> bool:
    """True when one of our conventions settles the pair: numbers, letters, words, percent, and containers or
    equations on both sides (bracket- and variable-sensitive); math-verify gets the rest (expressions, matrices)."""
    if g.percent or p.percent or "letter" in (g.kind, p.kind) or "number" in (g.kind, p.kind):
        return True
    return g.kind in _CONVENTION_KINDS and p.kind in _CONVENTION_KINDS


def equivalent_ours_first(gold: str, predicted: str) -> bool:
    """Design B: our parser and sympy decide; math-verify only where sympy cannot read an expression."""
    g, p = answer_span(gold), answer_span(predicted)
    return verify(parse_answer(numeric_prediction(p, g)), parse_answer(numeric_prediction(g, p)))


def equivalent_mv_first(gold: str, predicted: str) -> bool:
    """Design A: our fast path and conventions where they apply (`_ours_decides`), else math-verify first, then
    our parser when math-verify cannot read a side."""
    g_span, p_span = answer_span(gold), answer_span(predicted)
    g, p = parse_answer(g_span), parse_answer(p_span)
    if _ours_decides(g, p):
        return verify(g, p)
    decided = mv_verify(g_span, p_span)
    return verify(g, p) if decided is None else decided


DESIGNS = {"mv_first": equivalent_mv_first, "ours_first": equivalent_ours_first}


def is_equivalent(gold: str, predicted: str) -> bool:
    """True when `predicted` is mathematically the same answer as `gold`.

    Either side may carry prose, boxes or math delimiters (`Answer $ 9 $`, `The roots are $\\boxed{-2,1}$.`):
    `answer_span` finds the answer first; then normalize -> parse -> verify.
    """
    if predicted is None or gold is None:
        return False
    return equivalent_ours_first(str(gold), str(predicted))


# ----------------------------------------------------------------------------------------------------------- grader


@register_grader("math")
def math_grader(item: Mapping[str, Any], context: GraderContext) -> Verdict:
    """Grade item['generation'] against item['expected_answer']."""
    return grade_math(item)


def grade_math(item: Mapping[str, Any], equivalent: Callable[[str, str], bool] | None = None) -> Verdict:
    """The math grader's steps, with `equivalent` (default `is_equivalent`; benchmarks pass a DESIGNS entry)."""
    equivalent = equivalent or is_equivalent
    predicted = extract_answer(Generated.answer_of(item))
    if predicted is None:
        return Verdict(False, None, "no_answer")
    gold = item.get("expected_answer")
    if gold is None:
        return Verdict(False, predicted, "no_expected_answer")
    predicted = numeric_prediction(str(gold), predicted)
    correct = equivalent(str(gold), predicted)
    return Verdict(correct, predicted, "equivalent" if correct else "not_equivalent")


_PROSE_WORD = re.compile(r"\b[A-Za-z]{2,}\b")


def numeric_prediction(gold: str, predicted: str) -> str:
    """For a numeric gold answer, the number a predicted answer clause settles on when the clause is not a number
    itself: the value of `y = \\frac{1}{2}` or `9 * 2 = 18 dollars`; else `clause_number` of a clause with prose or
    '=' (`4 * 2 = 12 bolts of blue fiber and 12 * 2 = 24 bolts of white fiber` -> `24`). A list counts as a clause
    only with prose besides "and"/"or" (`1, 2` and `x = 3, y = 4` stay lists)."""
    if parse_answer(gold).kind != "number":
        return predicted
    parsed = parse_answer(predicted)
    if parsed.kind == "equation":
        value = _strip_equation(parsed)
        if value.kind == "number":
            return value.text
    if parsed.kind not in ("text", "expr", "equation", "list"):
        return predicted
    text = normalize_answer(predicted)
    prose = _PROSE_WORD.search(re.sub(r"\b(?:and|or)\b|\\[A-Za-z]+", " ", text))
    if prose or (parsed.kind in ("text", "expr") and "=" in text):
        return clause_number(text) or predicted
    return predicted  # an expression such as 2^{10}, compared as it is


def _math_predicted(item: Mapping[str, Any]) -> str | None:
    predicted = extract_answer(Generated.answer_of(item))
    gold = item.get("expected_answer")
    return numeric_prediction(str(gold), predicted) if predicted is not None and gold is not None else predicted


# The pool reports this answer when grading times out.
math_grader.extract_predicted = _math_predicted  # type: ignore[attr-defined]
