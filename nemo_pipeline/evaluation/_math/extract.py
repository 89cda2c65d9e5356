"""Extraction: the final answer of a generation (`extract_answer`); the order is documented on the function."""

from __future__ import annotations

import re

from nemo_pipeline.evaluation._math.spans import box_spans, final_boxes, last_boxed

__all__ = ["extract_answer"]

_BOX_CMDS = ("\\boxed", "\\fbox")
_ANSWER_PHRASE = re.compile(r"(?:final\s+answer|the\s+answer)(?:\s+is)?\s*[:=]?\s*", re.IGNORECASE)
_HASHES = re.compile(r"####\s*")
_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?(?![\d])|(?<![\w.])-?\.\d+")
_MATH_LINE = re.compile(r"^(?:\$\$(.+)\$\$|\$(.+)\$|\\\[(.+)\\\]|\\\((.+)\\\))\.?$")


def _clip_phrase(rest: str) -> str:
    """The answer after an anchor: up to the end of the line or a sentence end ('. ' outside $...$)."""
    rest = rest.strip()
    if rest.startswith("$"):
        width = 2 if rest.startswith("$$") else 1
        close = rest.find("$" * width, width)
        if close > width:
            return rest[width:close].strip()
    line = rest.split("\n", 1)[0]
    stop = re.search(r"\.(?:\s|$)", line)
    if stop:
        line = line[: stop.start()]
    return line.strip().strip("*").strip()


def _anchored(text: str) -> tuple[int, str] | None:
    """(position, answer) of the last answer after 'the answer is' / 'final answer:' / '####', whichever comes
    last in the text."""
    best: tuple[int, str] | None = None
    for pattern in (_ANSWER_PHRASE, _HASHES):
        for m in pattern.finditer(text):
            rest = text[m.end() :]
            if not rest.split("\n", 1)[0].strip():  # the value is on the next non-empty line
                rest = rest.lstrip()
            answer = _clip_phrase(rest)
            if answer and (best is None or m.start() >= best[0]):
                best = (m.start(), answer)
    return best


def extract_answer(text: str) -> str | None:
    """Extract the final answer from a generation, or None when there is none.

    Order (first that yields a non-empty answer wins):
    1. the last complete `\\boxed{...}` or `\\fbox{...}` (nested braces balanced; `\\boxed{\\boxed{5}}` -> `5`),
       joined with the boxes right before it when only delimiters, commas, "and"/"or" or `x =` stand between them
       (`$x=\\boxed{1}$ or $x=\\boxed{2}$` -> `1, 2`);
       unless an anchored answer (2.) comes after the last box (`... \\boxed{255} ... The final answer is $10,455$.`);
    2. the last anchored answer: "The answer is X", "Final answer: X" (any case) or "#### X", whichever occurs last;
       X runs to the end of its line or its sentence, or is the `$...$` right after the anchor;
    3. the final non-empty line when it is a math block by itself (`$...$`, `$$...$$`, `\\[...\\]`, `\\(...\\)`);
    4. the last number in the text (sign, thousands separators, decimals and a/b fractions kept).
    """
    if not text or not text.strip():
        return None
    anchored = _anchored(text)
    boxes = box_spans(text)
    if boxes and not (anchored and anchored[0] > boxes[-1][1]):
        boxed = final_boxes(text) or ""
        inner = final_boxes(boxed) if boxed.startswith(_BOX_CMDS) else None
        return inner or boxed or None
    if anchored:
        return last_boxed(anchored[1]) or anchored[1]
    last_line = text.strip().rsplit("\n", 1)[-1].strip()
    m = _MATH_LINE.match(last_line)
    if m:
        content = next(g for g in m.groups() if g is not None).strip()
        if content:
            return content
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None
