"""Text measures used by the IFEval checks: words, sentences, paragraphs, highlights, bullets.

Written for this project from the IFEval paper's definitions (Zhou et al., 2023, "Instruction-Following Evaluation
for Large Language Models"); where the paper is silent the choice is documented on the function.
"""

from __future__ import annotations

import re

__all__ = [
    "blank_line_paragraphs",
    "count_bullets",
    "count_highlights",
    "count_placeholders",
    "count_sentences",
    "count_words",
    "divider_paragraphs",
    "split_sentences",
    "word_tokens",
]

_WORD = re.compile(r"\w+")


def count_words(text: str) -> int:
    """Number of runs of word characters (letters, digits, underscore): "don't" counts as two, as in IFEval."""
    return len(_WORD.findall(text))


def word_tokens(text: str) -> list[str]:
    """Word-like tokens, keeping inner dots, apostrophes and hyphens ("U.S.", "don't", "e-mail")."""
    return re.findall(r"[^\W_]+(?:[.'’-][^\W_]+)*\.?", text)


# Words that end with a dot without ending a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "jr",
        "sr",
        "prof",
        "inc",
        "ltd",
        "co",
        "corp",
        "vs",
        "e.g",
        "i.e",
        "ph.d",
        "approx",
        "fig",
        "no",
        "dept",
        "est",
        "gen",
        "gov",
        "lt",
        "mt",
        "rev",
        "sgt",
    ]
)
# A sentence ends at one or more of . ! ? (plus closing quotes or brackets) followed by whitespace or the end.
_TERMINATOR = re.compile(r"(?<![.!?])[.!?]+['\"”’)\]]*(?=\s|$)")


def split_sentences(text: str) -> list[str]:
    """Split `text` into sentences.

    Line breaks are not boundaries (a heading runs into the next sentence, as in IFEval's splitter). A single "."
    after a known abbreviation ("Dr.", "e.g."), an initial or acronym ("J.", "U.S."), or a bare list number ("1.")
    is not a boundary. Pieces without any word character are dropped.
    """
    flat = " ".join(text.split())
    sentences: list[str] = []
    start = 0
    for match in _TERMINATOR.finditer(flat):
        if match.group().rstrip("'\"”’)]") == ".":
            space = flat.rfind(" ", start, match.start())
            token = flat[max(start, space + 1) : match.start()].lstrip("(['\"“‘").lower()
            if token in _ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)*[a-z]|\d+", token):
                continue
        piece = flat[start : match.end()].strip()
        start = match.end()
        if _WORD.search(piece):
            sentences.append(piece)
    rest = flat[start:].strip()
    if _WORD.search(rest):
        sentences.append(rest)
    return sentences


def count_sentences(text: str) -> int:
    """Number of sentences as split by `split_sentences`."""
    return len(split_sentences(text))


def blank_line_paragraphs(text: str) -> list[str]:
    """Paragraphs separated by an empty line (two line breaks, spaces between them allowed); empty ones dropped."""
    return [p.strip() for p in re.split(r"\n[ \t]*\n", text) if p.strip()]


def divider_paragraphs(text: str) -> list[str] | None:
    """Paragraphs separated by the markdown divider `***`, or None when an empty paragraph sits between two dividers.

    An empty piece before the first or after the last divider is ignored (a response may start or end with one).
    """
    pieces = text.split("***")
    while pieces and not pieces[0].strip():
        pieces.pop(0)
    while pieces and not pieces[-1].strip():
        pieces.pop()
    if any(not p.strip() for p in pieces):
        return None
    return [p.strip() for p in pieces]


_HIGHLIGHT = re.compile(r"\*\*([^\n*]+)\*\*|\*([^\n*]+)\*")


def count_highlights(text: str) -> int:
    """Number of markdown highlights on one line, `*text*` or `**text**`, whose text is not blank."""
    return sum(1 for m in _HIGHLIGHT.finditer(text) if (m.group(1) or m.group(2) or "").strip())


_BULLET = re.compile(r"^[ \t]*(?:\*|-)[ \t]+\S", re.MULTILINE)


def count_bullets(text: str) -> int:
    """Number of markdown bullet points: lines starting (after indentation) with `*` or `-` and a space."""
    return len(_BULLET.findall(text))


def count_placeholders(text: str) -> int:
    """Number of square-bracket placeholders on one line, such as `[address]`."""
    return len(re.findall(r"\[[^\[\]\n]*\]", text))
