"""The 25 IFEval instruction checks, strict and loose, with the semantics of IFEval's reference implementation.

Each check is `fn(response, **kwargs) -> bool`, registered under its IFEval instruction id. The kwargs are those of
the data's `kwargs` list (keys with a null value are ignored, as the Hugging Face copy of the data fills every
possible key with null). Reference: google-research `instruction_following_eval` (`instructions.py`,
`evaluation_lib.py`), read at the commit pinned in `nemo_pipeline/datasets/benchmarks/ifeval.py`; the proof is
`tests/evaluation/test_ifeval_reference.py`, against that code's own verdicts on real model responses.

Deliberate differences, listed in docs/GRADING.md: langdetect is seeded (the reference leaves it random), and
`letter_frequency` counts the character it is given even when that is not a letter (the reference then counts a
letter drawn at random).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from nemo_pipeline.errors import DataError
from nemo_pipeline.evaluation.ifeval._language import detect_language
from nemo_pipeline.evaluation.ifeval._text import (
    blank_line_paragraphs,
    count_bullets,
    count_highlights,
    count_placeholders,
    count_sentences,
    count_words,
    divider_paragraph_count,
    word_tokens,
)

__all__ = [
    "INSTRUCTION_CHECKS",
    "INSTRUCTION_IDS",
    "check_instruction",
    "follows_loose",
    "follows_strict",
    "loose_variants",
]

Check = Callable[..., bool]
INSTRUCTION_CHECKS: dict[str, Check] = {}


def _check(instruction_id: str) -> Callable[[Check], Check]:
    def decorator(fn: Check) -> Check:
        if instruction_id in INSTRUCTION_CHECKS:
            raise ValueError(f"ifeval instruction '{instruction_id}' is registered twice")
        INSTRUCTION_CHECKS[instruction_id] = fn
        return fn

    return decorator


def _compare(count: int, relation: str, n: int) -> bool:
    """IFEval's two relations: 'less than' is count < n, 'at least' is count >= n."""
    if relation == "less than":
        return count < n
    if relation == "at least":
        return count >= n
    raise DataError(f"ifeval relation '{relation}' is not known; expected 'at least' or 'less than'")


def _pattern(text: str, what: str) -> re.Pattern[str]:
    """The reference matches keywords and markers as regular expressions, unescaped."""
    try:
        return re.compile(text, flags=re.IGNORECASE)
    except re.error as err:
        raise DataError(f"ifeval {what} {text!r} is not a valid regular expression ({err})") from None


# --- keywords -------------------------------------------------------------------------------------------------------


@_check("keywords:existence")
def _keywords_existence(response: str, *, keywords: list[str]) -> bool:
    """Every keyword occurs, case-insensitively, anywhere (also inside a longer word)."""
    return all(_pattern(k, "keyword").search(response) for k in keywords)


@_check("keywords:frequency")
def _keywords_frequency(response: str, *, keyword: str, frequency: int, relation: str) -> bool:
    """The keyword's case-insensitive, non-overlapping occurrence count (inside words too) satisfies the relation."""
    count = len(_pattern(keyword.strip(), "keyword").findall(response))
    return _compare(count, relation, int(frequency))


@_check("keywords:forbidden_words")
def _forbidden_words(response: str, *, forbidden_words: list[str]) -> bool:
    """No forbidden word occurs between word boundaries (`\\bword\\b`), case-insensitively."""
    return not any(_pattern(r"\b" + w + r"\b", "forbidden word").search(response) for w in forbidden_words)


@_check("keywords:letter_frequency")
def _letter_frequency(response: str, *, letter: str, let_frequency: int, let_relation: str) -> bool:
    """The letter, counted case-insensitively, satisfies the relation.

    A `letter` that is not one ASCII letter ("#", "!") is counted as given; the reference counts a random letter
    instead (a deliberate difference, docs/GRADING.md).
    """
    return _compare(response.lower().count(letter.lower()), let_relation, int(let_frequency))


# --- language and case ----------------------------------------------------------------------------------------------


def _in_language(text: str, language: str) -> bool:
    """langdetect names `language`; a text it finds no features in passes, as in the reference."""
    detected = detect_language(text)
    return detected is None or detected == language


@_check("language:response_language")
def _response_language(response: str, *, language: str) -> bool:
    """The whole response is in the given language (ISO 639-1 code), by langdetect."""
    return _in_language(response, language)


@_check("change_case:english_capital")
def _english_capital(response: str) -> bool:
    """All cased letters are capitals (`str.isupper`) and langdetect calls the response English."""
    return response.isupper() and _in_language(response, "en")


@_check("change_case:english_lowercase")
def _english_lowercase(response: str) -> bool:
    """All cased letters are lowercase (`str.islower`) and langdetect calls the response English."""
    return response.islower() and _in_language(response, "en")


@_check("change_case:capital_word_frequency")
def _capital_word_frequency(response: str, *, capital_frequency: int, capital_relation: str) -> bool:
    """The number of all-capital `nltk.word_tokenize` tokens ("NASA", "I", "U.S.") satisfies the relation."""
    count = sum(1 for w in word_tokens(response) if w.isupper())
    return _compare(count, capital_relation, int(capital_frequency))


# --- length ---------------------------------------------------------------------------------------------------------


@_check("length_constraints:number_words")
def _number_words(response: str, *, num_words: int, relation: str) -> bool:
    """The word count (runs of word characters) satisfies the relation."""
    return _compare(count_words(response), relation, int(num_words))


@_check("length_constraints:number_sentences")
def _number_sentences(response: str, *, num_sentences: int, relation: str) -> bool:
    """The Punkt sentence count satisfies the relation."""
    return _compare(count_sentences(response), relation, int(num_sentences))


@_check("length_constraints:number_paragraphs")
def _number_paragraphs(response: str, *, num_paragraphs: int) -> bool:
    """Exactly `num_paragraphs` paragraphs separated by the markdown divider `***`, none of them empty."""
    return divider_paragraph_count(response) == int(num_paragraphs)


_FIRST_WORD_STOP = frozenset(".,?!'\"")


@_check("length_constraints:nth_paragraph_first_word")
def _nth_paragraph_first_word(response: str, *, num_paragraphs: int, nth_paragraph: int, first_word: str) -> bool:
    """Exactly `num_paragraphs` non-blank paragraphs separated by "\\n\\n", and the nth (1-based, counted among all
    pieces) starts with `first_word`: its first whitespace-separated token without leading quotes, up to the
    first of . , ? ! ' " (so "Summary:" is not "summary"), lowercased."""
    pieces, count = blank_line_paragraphs(response)
    nth = int(nth_paragraph)
    if not 1 <= nth <= count:
        return False
    paragraph = pieces[nth - 1].strip()
    if not paragraph:
        return False
    token = paragraph.split()[0].lstrip("'").lstrip('"')
    word = ""
    for char in token:
        if char in _FIRST_WORD_STOP:
            break
        word += char
    return count == int(num_paragraphs) and word.lower() == first_word.lower()


# --- content and format ---------------------------------------------------------------------------------------------


@_check("detectable_content:number_placeholders")
def _number_placeholders(response: str, *, num_placeholders: int) -> bool:
    """At least `num_placeholders` square-bracket placeholders such as `[address]`."""
    return count_placeholders(response) >= int(num_placeholders)


@_check("detectable_content:postscript")
def _postscript(response: str, *, postscript_marker: str) -> bool:
    """Some line holds the postscript marker, case-insensitively: "P.S." as "p.s." or "p. s.", "P.P.S" as "p.p.s"
    with optional spaces after its dots; another marker as a regular expression."""
    marker = postscript_marker.strip()
    if marker == "P.P.S":
        pattern = r"p\.\s?p\.\s?s"
    elif marker == "P.S.":
        pattern = r"p\.\s?s\."
    else:
        pattern = marker.lower()
    return _pattern(pattern, "postscript marker").search(response.lower()) is not None


@_check("detectable_format:number_bullet_lists")
def _number_bullet_lists(response: str, *, num_bullets: int) -> bool:
    """Exactly `num_bullets` markdown bullet lines (`* item` or `- item`)."""
    return count_bullets(response) == int(num_bullets)


@_check("detectable_format:number_highlighted_sections")
def _number_highlighted_sections(response: str, *, num_highlights: int) -> bool:
    """At least `num_highlights` markdown highlights (`*text*` or `**text**`)."""
    return count_highlights(response) >= int(num_highlights)


@_check("detectable_format:multiple_sections")
def _multiple_sections(response: str, *, section_spliter: str, num_sections: int) -> bool:
    """At least `num_sections` section headers "<spliter> <number>" ("SECTION 1"), matched case-sensitively."""
    splitter = section_spliter.strip()
    try:
        pieces = re.split(r"\s?" + splitter + r"\s?\d+\s?", response)
    except re.error as err:
        raise DataError(f"ifeval section_spliter {splitter!r} is not a valid regular expression ({err})") from None
    return len(pieces) - 1 >= int(num_sections)


_JSON_FENCES = ("```json", "```Json", "```JSON", "```")


@_check("detectable_format:json_format")
def _json_format(response: str) -> bool:
    """The whole response parses as JSON, after removing one leading fence (```json, ```Json, ```JSON or ```) and
    one trailing ```."""
    text = response.strip()
    for fence in _JSON_FENCES:
        if text.startswith(fence):
            text = text[len(fence) :]
            break
    text = text.removesuffix("```").strip()
    try:
        json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: deeply nested brackets (the reference crashes there)
        return False
    return True


@_check("detectable_format:title")
def _title(response: str) -> bool:
    """A title in double angular brackets, such as `<<poem of joy>>`, on one line and not blank.

    The reference's pattern `<<[^\\n]+>>` matches at most once per line, from the first "<<" to the last ">>" with
    a character between; found here with `find`/`rfind` (the pattern is quadratic on a line of many "<<").
    """
    for line in response.split("\n"):
        first, last = line.find("<<"), line.rfind(">>")
        if first != -1 and last >= first + 3 and line[first : last + 2].lstrip("<").rstrip(">").strip():
            return True
    return False


_CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


@_check("detectable_format:constrained_response")
def _constrained_response(response: str) -> bool:
    """The response contains one of IFEval's fixed answers: "My answer is yes.", "... no.", "... maybe."."""
    text = response.strip()
    return any(option in text for option in _CONSTRAINED_OPTIONS)


@_check("combination:two_responses")
def _two_responses(response: str) -> bool:
    """Two different responses separated by six asterisks `******`; only the first and last piece may be blank."""
    pieces = response.split("******")
    kept = []
    for index, piece in enumerate(pieces):
        if piece.strip():
            kept.append(piece)
        elif index not in (0, len(pieces) - 1):
            return False
    return len(kept) == 2 and kept[0].strip() != kept[1].strip()


@_check("combination:repeat_prompt")
def _repeat_prompt(response: str, *, prompt_to_repeat: str) -> bool:
    """The response starts with the request repeated word for word (case-insensitive)."""
    return response.strip().lower().startswith(prompt_to_repeat.strip().lower())


@_check("startend:end_checker")
def _end_checker(response: str, *, end_phrase: str) -> bool:
    """The response, stripped of blanks and then of double quotes, ends with the phrase (case-insensitive)."""
    return response.strip().strip('"').lower().endswith(end_phrase.strip().lower())


@_check("startend:quotation")
def _quotation(response: str) -> bool:
    """The whole response is wrapped in double quotation marks."""
    text = response.strip()
    return len(text) > 1 and text[0] == '"' and text[-1] == '"'


@_check("punctuation:no_comma")
def _no_comma(response: str) -> bool:
    """No ASCII comma (the full-width '，' is not a comma to IFEval)."""
    return "," not in response


# --- running a check ------------------------------------------------------------------------------------------------

INSTRUCTION_IDS: tuple[str, ...] = tuple(sorted(INSTRUCTION_CHECKS))
_SIGNATURES = {name: inspect.signature(fn) for name, fn in INSTRUCTION_CHECKS.items()}


def _bind(instruction_id: str, kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    if instruction_id not in INSTRUCTION_CHECKS:
        raise DataError(f"ifeval instruction id '{instruction_id}' is not known. Known: {', '.join(INSTRUCTION_IDS)}")
    given = {k: v for k, v in (kwargs or {}).items() if v is not None}
    try:
        _SIGNATURES[instruction_id].bind("", **given)
    except TypeError as err:
        params = [p for p in _SIGNATURES[instruction_id].parameters if p != "response"]
        raise DataError(
            f"ifeval instruction '{instruction_id}' got kwargs {sorted(given)}, expected {params}: {err}. "
            "Check the item's 'kwargs' list against its 'instruction_id_list'."
        ) from None
    return given


def check_instruction(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None = None) -> bool:
    """Whether `response` follows one instruction. A blank response follows none (as in IFEval); unknown ids or
    wrong kwargs raise DataError."""
    bound = _bind(instruction_id, kwargs)
    return bool(response.strip()) and INSTRUCTION_CHECKS[instruction_id](response, **bound)


def loose_variants(response: str) -> list[str]:
    """The eight responses IFEval's loose accuracy tries, in its order: the response, the response without `*`,
    then without its first line, its last line, or both (each stripped), and those three without `*`."""
    lines = response.split("\n")
    cuts = ["\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    return [response, response.replace("*", ""), *cuts, *(c.replace("*", "") for c in cuts)]


def follows_strict(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None = None) -> bool:
    """Strict: the response as given follows the instruction."""
    return check_instruction(instruction_id, response, kwargs)


def follows_loose(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None = None) -> bool:
    """Loose: one of `loose_variants(response)` that is not blank follows the instruction (each distinct variant
    checked once)."""
    bound = _bind(instruction_id, kwargs)
    check = INSTRUCTION_CHECKS[instruction_id]
    return any(v.strip() and check(v, **bound) for v in dict.fromkeys(loose_variants(response)))
