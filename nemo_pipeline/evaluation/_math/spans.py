"""Find the answer inside a piece of text: boxes, math blocks, the number of an answer clause.

- `last_boxed(text)`: the content of the last outermost `\\boxed{...}` / `\\fbox{...}`.
- `final_boxes(text)`: the trailing run of boxes that together form one answer (`\\boxed{1}` and `\\boxed{2}`).
- `answer_span(text)`: the answer written in an answer string that carries prose or delimiters
  (`Answer $ 9 $`, `\\[ 9 \\]`, `The roots are $\\boxed{-2,1}$.`); the text itself when it has none.
- `clause_number(clause)`: the number an answer clause settles on (`4 * 2 = 12 ... and 12 * 2 = 24 bolts` -> `24`).
"""

from __future__ import annotations

import bisect
import re

__all__ = ["answer_span", "box_spans", "clause_number", "final_boxes", "last_boxed", "match_braces"]

_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
# What may stand between two boxes of one answer: delimiters, spacing, punctuation, "and"/"or", "x =".
_SPACING = re.compile(r"\$|\\[()\[\]]|\\q?quad|\\[,;:! ]|~|\\(?:text|textnormal|mbox|textrm)\s*\{|[{}]")
_LINK_WORDS = re.compile(r"^(?:[,;.]|and|or|(?:[A-Za-z](?:_\{?\w+\}?)?|\\[A-Za-z]+)\s*=)$")
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


def box_spans(text: str) -> list[tuple[int, int, str]]:
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
    boxes = box_spans(text)
    return boxes[-1][2] if boxes else None


def final_boxes(text: str) -> str | None:
    """The last box, joined with the boxes right before it when only delimiters, commas, "and"/"or" or a
    `x =` stand between them (`$x=\\boxed{1}$ or $x=\\boxed{2}$` -> `1, 2`; a repeated box counts once);
    None when there is no box."""
    boxes = box_spans(text)
    if not boxes:
        return None
    run = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        if not _links(text[box[1] : run[0][0]]):
            break
        run.insert(0, box)
    contents: list[str] = []
    for _, _, content in run:  # "\\boxed{5} ... \\boxed{5}": a repeated box is one answer
        if content and content not in contents:
            contents.append(content)
    return ", ".join(contents) if contents else None


def _links(between: str) -> bool:
    """True when the text between two boxes only links them: delimiters, spacing, commas, "and"/"or", `x =`, and
    with an "and"/"or" at most three other short words (`\\boxed{1} papers and \\boxed{2}`)."""
    text = re.sub(r"(?:[A-Za-z](?:_\{?\w+\}?)?|\\[A-Za-z]+)\s*=", " ", _SPACING.sub(" ", between))  # x =, y_2 =
    words = re.sub(r"([,;.])", r" \1 ", text).split()
    others = [w for w in words if not _LINK_WORDS.match(w)]
    if not others:
        return True
    linked = any(w in ("and", "or") for w in words)
    return linked and len(others) <= 3 and all(len(w) <= 8 and not re.search(r"\d", w) for w in others)


def _blocks(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), next(g for g in m.groups() if g is not None).strip()) for m in _BLOCK.finditer(text)]


def _sentence(rest: str) -> str:
    """The first sentence of rest: up to a '. ' / '.<end>' / newline outside math blocks."""
    covered = [(a, b) for a, b, _ in _blocks(rest)]
    starts = [a for a, _ in covered]
    for m in re.finditer(r"\.(?:\s|$)|\n", rest):
        i = bisect.bisect_right(starts, m.start()) - 1  # the block that starts last before the stop, if any
        if i < 0 or m.start() >= covered[i][1]:
            return rest[: m.start()].strip()
    return rest.strip()


def answer_span(text: str) -> str:
    """The answer inside an answer string that carries prose, boxes or math delimiters; else the text itself.

    Order: the first sentence after the last "answer is" / "Answer:" / "####" when it comes after the last box;
    else the final box(es) (`final_boxes`). Within that: the last math block, joined with the blocks right before
    it when only "," / "and" / "or" separate them (`$1$ and $2$` -> `1, 2`), unless prose with a number follows
    it (`the largest $n$ is 34.` -> `is 34.`). A string without boxes, anchors or blocks is returned as it is.
    """
    s = text.strip()
    boxes = box_spans(s)
    last_anchors = list(_ANCHOR.finditer(s))[-4:]  # the last few: an answer sentence is near the end
    anchor = next((m for m in reversed(last_anchors) if re.search(r"\w", _sentence(s[m.end() :]))), None)
    if boxes and not (anchor and anchor.start() > boxes[-1][1]):
        boxed = final_boxes(s) or ""
        inner = final_boxes(boxed) if boxed.startswith(("\\boxed", "\\fbox")) else None
        return inner or boxed
    if anchor:
        s = _sentence(s[anchor.end() :])
    blocks = _blocks(s)
    if not blocks:
        return s
    run = [blocks[-1]]
    for block in reversed(blocks[:-1]):
        if not _JOINER.match(s[block[1] : run[0][0]]):
            break
        run.insert(0, block)
    after = s[run[-1][1] :].strip()
    if re.search(r"\d", after) and re.search(r"[A-Za-z]{2,}", after):  # "... $n$ is 34", "there are 12 ways"
        return after
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
