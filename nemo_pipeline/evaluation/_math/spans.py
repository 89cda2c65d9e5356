"""Find the answer inside a piece of text: boxes, math blocks, the number of an answer clause.

- `last_boxed(text)`: the content of the last outermost `\\boxed{...}` / `\\fbox{...}`.
- `final_boxes(text)`: the trailing run of boxes that together form one answer (`\\boxed{1}` and `\\boxed{2}`).
- `answer_span(text)`: the answer written in an answer string that carries prose or delimiters
  (`Answer $ 9 $`, `\\[ 9 \\]`, `The roots are $\\boxed{-2,1}$.`); the text itself when it has none.
- `clause_number(clause)`: the number an answer clause settles on (`4 * 2 = 12 ... and 12 * 2 = 24 bolts` -> `24`).
"""

from __future__ import annotations

import re

__all__ = ["answer_span", "clause_number", "final_boxes", "last_boxed", "match_braces"]

_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
# What may stand between two boxes of one answer: delimiters, punctuation, "and"/"or", "x =", "\text{ and }".
_BETWEEN = re.compile(
    r"^(?:\s|\$|\\[()\[\]]|[,;.]|\\(?:text|textnormal|mbox)\{\s*(?:and|or|,)?\s*\}|\band\b|\bor\b|"
    r"(?:[A-Za-z](?:_\{?\w+\}?)?|\\[A-Za-z]+)\s*=)*$"
)
_ANCHOR = re.compile(r"\b(?:final\s+answer|the\s+answer|answer)\b(?:\s+is)?\s*[:=]?\s*|####\s*", re.IGNORECASE)
# A math block: $$...$$, \[...\], \(...\) or $...$ (a `\$` is a dollar sign, not a delimiter).
_BLOCK = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$(?!\$)(.+?)(?<!\\)\$", re.DOTALL)
_JOINER = re.compile(r"^\s*(?:,|,?\s*and|,?\s*or)\s*$")
_CLAUSE_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?(?![\d])|-?\.\d+")


def match_braces(text: str, start: int) -> int | None:
    """Index just past the brace group opening at text[start] == '{', or None when it never closes."""
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif ch == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """Every outermost complete box as (start, end, content); `\\boxed 5` (one token) included."""
    found: list[tuple[int, int, str]] = []
    pos = 0
    while (m := _BOX.search(text, pos)) is not None:
        i = m.end()
        while i < len(text) and text[i] == " ":
            i += 1
        pos = m.end()
        if i < len(text) and text[i] == "{":
            close = match_braces(text, i)
            if close is not None:
                found.append((m.start(), close, text[i + 1 : close - 1].strip()))
                pos = close
        elif i > m.end():
            token = re.match(r"[^\s$]+", text[i:])
            if token:
                found.append((m.start(), i + token.end(), token.group(0)))
                pos = i + token.end()
    return found


def last_boxed(text: str) -> str | None:
    """Content of the last outermost complete `\\boxed{...}` / `\\fbox{...}` (or `\\boxed 5`) in text."""
    boxes = _boxes(text)
    return boxes[-1][2] if boxes else None


def final_boxes(text: str) -> str | None:
    """The last box, joined with the boxes right before it when only delimiters, commas, "and"/"or" or a
    `x =` stand between them (`$x=\\boxed{1}$ or $x=\\boxed{2}$` -> `1, 2`; a repeated box counts once);
    None when there is no box."""
    boxes = _boxes(text)
    if not boxes:
        return None
    run = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        if not _BETWEEN.match(text[box[1] : run[0][0]]):
            break
        run.insert(0, box)
    contents: list[str] = []
    for _, _, content in run:  # "\\boxed{5} ... \\boxed{5}": a repeated box is one answer
        if content and content not in contents:
            contents.append(content)
    return ", ".join(contents) if contents else None


def _blocks(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), next(g for g in m.groups() if g is not None).strip()) for m in _BLOCK.finditer(text)]


def answer_span(text: str) -> str:
    """The answer inside an answer string that carries prose, boxes or math delimiters; else the text itself.

    Order: the final box(es) (`final_boxes`); the math after the last "answer is" / "Answer:" / "####"; the last
    math block, joined with the blocks right before it when only "," / "and" / "or" separate them
    (`$1$ and $2$` -> `1, 2`). A string that is one math block or has none is returned stripped.
    """
    s = text.strip()
    boxed = final_boxes(s)
    if boxed is not None:
        inner = final_boxes(boxed) if boxed.startswith(("\\boxed", "\\fbox")) else None
        return inner or boxed
    anchors = list(_ANCHOR.finditer(s))
    if anchors:
        rest = s[anchors[-1].end() :].strip()
        if rest:
            s = rest
    blocks = _blocks(s)
    if not blocks:
        return s.rstrip(".").strip() if anchors else s
    run = [blocks[-1]]
    for block in reversed(blocks[:-1]):
        if not _JOINER.match(s[block[1] : run[0][0]]):
            break
        run.insert(0, block)
    return ", ".join(c for _, _, c in run if c) or s


def clause_number(clause: str) -> str | None:
    """The number an answer clause settles on: the first number after its last '=' (`... = 25 dollars per person,
    for 4 people` -> `25`), else the last number of the clause; None when it has no number."""
    tail = clause.rsplit("=", 1)[1] if "=" in clause else None
    if tail is not None:
        first = _CLAUSE_NUMBER.search(tail)
        if first:
            return first.group(0)
    numbers = _CLAUSE_NUMBER.findall(clause)
    return numbers[-1] if numbers else None
