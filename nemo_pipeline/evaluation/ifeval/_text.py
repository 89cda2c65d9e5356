"""Text measures behind the IFEval checks, each counting as IFEval's reference implementation counts.

Reference: google-research `instruction_following_eval` (`instructions.py`, `instructions_util.py`), read at the
commit pinned in `nemo_pipeline/datasets/benchmarks/ifeval.py`. Sentences and the words of
`capital_word_frequency` come from NLTK (see `_punkt`); the other measures are regular expressions with the
reference's semantics, quirks included (a line starting with "-" is a bullet, a bold `**x**` is one highlight).
"""

from __future__ import annotations

import re

from nemo_pipeline.evaluation.ifeval._punkt import sentence_split, word_tokenize

__all__ = [
    "blank_line_paragraphs",
    "count_bullets",
    "count_highlights",
    "count_placeholders",
    "count_sentences",
    "count_words",
    "divider_paragraph_count",
    "split_sentences",
    "word_tokens",
]

_WORD = re.compile(r"\w+")


def count_words(text: str) -> int:
    """Number of runs of word characters: "don't" is two words, "3.5" two (NLTK's `RegexpTokenizer(r"\\w+")`)."""
    return len(_WORD.findall(text))


def split_sentences(text: str) -> list[str]:
    """The sentences of `text` by NLTK's English Punkt model."""
    return sentence_split(text)


def count_sentences(text: str) -> int:
    """Number of Punkt sentences."""
    return len(sentence_split(text))


def word_tokens(text: str) -> list[str]:
    """`nltk.word_tokenize(text)`: "U.S." and "NASA" are one token each, "don't" is "do" + "n't"."""
    return word_tokenize(text)


def blank_line_paragraphs(text: str) -> tuple[list[str], int]:
    """The pieces of `text` between each "\\n\\n" (blank pieces kept, in place) and the number of non-blank ones.

    Three line breaks in a row leave a piece starting with "\\n"; four leave a blank piece that is not counted but
    still takes its place when a paragraph is picked by position, as in the reference.
    """
    pieces = text.split("\n\n")
    return pieces, sum(1 for piece in pieces if piece.strip())


_DIVIDER = re.compile(r"\s?\*\*\*\s?")


def divider_paragraph_count(text: str) -> int | None:
    """Number of paragraphs separated by the markdown divider `***` (one optional space or line break either side).

    A blank piece before the first or after the last divider is not a paragraph; a blank piece between two
    dividers makes the response fail (None).
    """
    pieces = _DIVIDER.split(text)
    count = len(pieces)
    for index, piece in enumerate(pieces):
        if piece.strip():
            continue
        if index in (0, len(pieces) - 1):
            count -= 1
        else:
            return None
    return count


_SINGLE_HIGHLIGHT = re.compile(r"\*[^\n*]*\*")
_DOUBLE_HIGHLIGHT = re.compile(r"\*\*[^\n*]*\*\*")


def count_highlights(text: str) -> int:
    """Markdown highlights: `*text*` matches plus `**text**` matches (each counted where its text is not blank).

    A bold `**text**` counts once: the single-star pattern only finds the two empty `**` around it.
    """
    singles = sum(1 for m in _SINGLE_HIGHLIGHT.findall(text) if m.strip("*").strip())
    doubles = sum(1 for m in _DOUBLE_HIGHLIGHT.findall(text) if m[2:-2].strip())
    return singles + doubles


def _bullet_lines(text: str, marker: str, single: bool) -> int:
    """Count the matches of the reference's bullet pattern, `^\\s*<marker>...$` (MULTILINE), in linear time.

    As in the regular expression, the blanks before the marker may span empty lines (one match then covers them);
    with `single`, the marker must be followed by a character other than itself, a line break included (the match
    then runs to the end of the next line). Scanning line starts one by one as `re.findall` does is quadratic on
    a run of blank lines; here a failed line start skips every line start up to the blank run's end.
    """
    n = len(text)
    count = 0
    start = 0  # a line start: 0, or just after a "\n"
    while start <= n:
        first = start
        while first < n and text[first].isspace():
            first += 1
        matched = first < n and text[first] == marker
        if matched and single:
            matched = first + 1 < n and text[first + 1] != marker
        if matched:
            count += 1
            end = text.find("\n", first + (2 if single else 1))
        else:
            end = text.find("\n", first)
        if end == -1:
            break
        start = end + 1
    return count


def count_bullets(text: str) -> int:
    """Markdown bullets: lines starting (after blanks) with one `*` not followed by another, plus lines starting
    with `-` (a `---` rule or "-5 degrees" counts too, as in the reference)."""
    return _bullet_lines(text, "*", single=True) + _bullet_lines(text, "-", single=False)


def count_placeholders(text: str) -> int:
    """Square-bracket placeholders such as `[address]`: the matches of `\\[.*?\\]` (each "[" with the next "]" on
    its line, "[]" and "[a [b]" included), counted line by line in linear time."""
    count = 0
    for line in text.split("\n"):
        position = line.find("[")
        while position != -1:
            close = line.find("]", position + 1)
            if close == -1:
                break
            count += 1
            position = line.find("[", close + 1)
    return count
