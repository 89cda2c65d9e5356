"""The 25 IFEval instruction checks, strict and loose.

Each check is `fn(response, **kwargs) -> bool`, registered under its IFEval instruction id. The kwargs are those of
the data's `kwargs` list (keys with a null value are ignored, as the Hugging Face copy of the data fills every
possible key with null). Written for this project from the definitions in the IFEval paper (Zhou et al., 2023,
appendix: the list of verifiable instructions) and the instruction texts of the data.
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
    divider_paragraphs,
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
    """IFEval's two relations: 'at least' is count >= n, 'less than' is count < n."""
    if relation == "at least":
        return count >= n
    if relation == "less than":
        return count < n
    raise DataError(f"ifeval relation '{relation}' is not known; expected 'at least' or 'less than'")


# --- keywords -------------------------------------------------------------------------------------------------------


@_check("keywords:existence")
def _keywords_existence(response: str, *, keywords: list[str]) -> bool:
    """Every keyword occurs, case-insensitively, anywhere (also inside a longer word, as in IFEval)."""
    text = response.lower()
    return all(k.lower() in text for k in keywords)


@_check("keywords:frequency")
def _keywords_frequency(response: str, *, keyword: str, frequency: int, relation: str) -> bool:
    """The keyword's case-insensitive, non-overlapping occurrence count satisfies the relation."""
    count = len(re.findall(re.escape(keyword), response, flags=re.IGNORECASE))
    return _compare(count, relation, int(frequency))


@_check("keywords:forbidden_words")
def _forbidden_words(response: str, *, forbidden_words: list[str]) -> bool:
    """No forbidden word occurs as a whole word, case-insensitively."""
    return not any(
        re.search(r"(?<!\w)" + re.escape(w) + r"(?!\w)", response, flags=re.IGNORECASE) for w in forbidden_words
    )


@_check("keywords:letter_frequency")
def _letter_frequency(response: str, *, letter: str, let_frequency: int, let_relation: str) -> bool:
    """The letter (or symbol, such as '#'), counted case-insensitively, satisfies the relation."""
    return _compare(response.lower().count(letter.lower()), let_relation, int(let_frequency))


# --- language and case ----------------------------------------------------------------------------------------------


def _is_language(text: str, language: str) -> bool:
    """True when the detector names `language`, or cannot tell (as IFEval's reference does on detector errors)."""
    detected = detect_language(text)
    return detected is None or detected == language


@_check("language:response_language")
def _response_language(response: str, *, language: str) -> bool:
    """The whole response is in the given language (ISO 639-1 code)."""
    return _is_language(response, language)


@_check("change_case:english_capital")
def _english_capital(response: str) -> bool:
    """The response is English and all its letters are capitals."""
    return response.isupper() and _is_language(response.lower(), "en")


@_check("change_case:english_lowercase")
def _english_lowercase(response: str) -> bool:
    """The response is English and all its letters are lowercase."""
    return response.islower() and _is_language(response, "en")


@_check("change_case:capital_word_frequency")
def _capital_word_frequency(response: str, *, capital_frequency: int, capital_relation: str) -> bool:
    """The number of all-capital words ("NASA", "I", "U.S.") satisfies the relation."""
    count = sum(1 for w in word_tokens(response) if w.isupper())
    return _compare(count, capital_relation, int(capital_frequency))


# --- length ---------------------------------------------------------------------------------------------------------


@_check("length_constraints:number_words")
def _number_words(response: str, *, num_words: int, relation: str) -> bool:
    """The word count (runs of word characters) satisfies the relation."""
    return _compare(count_words(response), relation, int(num_words))


@_check("length_constraints:number_sentences")
def _number_sentences(response: str, *, num_sentences: int, relation: str) -> bool:
    """The sentence count satisfies the relation."""
    return _compare(count_sentences(response), relation, int(num_sentences))


@_check("length_constraints:number_paragraphs")
def _number_paragraphs(response: str, *, num_paragraphs: int) -> bool:
    """Exactly `num_paragraphs` paragraphs separated by the markdown divider `***`, none of them empty."""
    paragraphs = divider_paragraphs(response)
    return paragraphs is not None and len(paragraphs) == int(num_paragraphs)


def _first_word(paragraph: str) -> str:
    """The first word, lowercased, without leading quotes, cut at the first punctuation mark."""
    word = paragraph.split()[0].lstrip("'\"“‘")
    return re.split(r"[.,?!'\"”’:;]", word, maxsplit=1)[0].lower()


@_check("length_constraints:nth_paragraph_first_word")
def _nth_paragraph_first_word(response: str, *, num_paragraphs: int, nth_paragraph: int, first_word: str) -> bool:
    """Exactly `num_paragraphs` paragraphs separated by blank lines, and the nth (1-based) starts with `first_word`.

    Empty paragraphs (several blank lines in a row) are not counted.
    """
    paragraphs = blank_line_paragraphs(response)
    nth = int(nth_paragraph)
    if len(paragraphs) != int(num_paragraphs) or not 1 <= nth <= len(paragraphs):
        return False
    return _first_word(paragraphs[nth - 1]) == first_word.strip().lower()


# --- content and format ---------------------------------------------------------------------------------------------


@_check("detectable_content:number_placeholders")
def _number_placeholders(response: str, *, num_placeholders: int) -> bool:
    """At least `num_placeholders` square-bracket placeholders such as `[address]`."""
    return count_placeholders(response) >= int(num_placeholders)


@_check("detectable_content:postscript")
def _postscript(response: str, *, postscript_marker: str) -> bool:
    """The postscript marker ("P.S.", "P.P.S") occurs, case-insensitively, spaces allowed after its dots."""
    letters = [c for c in postscript_marker.strip().lower() if c != " "]
    pattern = "".join(re.escape(c) + (r"\s?" if c == "." else "") for c in letters)
    return re.search(r"(?<!\w)" + pattern, response.lower()) is not None


@_check("detectable_format:number_bullet_lists")
def _number_bullet_lists(response: str, *, num_bullets: int) -> bool:
    """Exactly `num_bullets` markdown bullet points (`* item` or `- item`)."""
    return count_bullets(response) == int(num_bullets)


@_check("detectable_format:number_highlighted_sections")
def _number_highlighted_sections(response: str, *, num_highlights: int) -> bool:
    """At least `num_highlights` markdown highlights (`*text*` or `**text**`)."""
    return count_highlights(response) >= int(num_highlights)


@_check("detectable_format:multiple_sections")
def _multiple_sections(response: str, *, section_spliter: str, num_sections: int) -> bool:
    """At least `num_sections` section headers "<spliter> <number>" (e.g. "SECTION 1"), matched case-sensitively."""
    headers = re.findall(re.escape(section_spliter.strip()) + r"\s?\d+", response)
    return len(headers) >= int(num_sections)


@_check("detectable_format:json_format")
def _json_format(response: str) -> bool:
    """The whole response is JSON, optionally inside one markdown code fence (```json ... ```)."""
    text = response.strip()
    if text.startswith("```") and text.endswith("```") and len(text) >= 6:
        first_line, _, body = text[3:-3].partition("\n")
        if first_line.strip().lower() in ("", "json"):
            text = body.strip()
        elif not body:  # all on one line: ```{"a": 1}```
            text = first_line.strip()
    try:
        json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: deeply nested brackets
        return False
    return True


@_check("detectable_format:title")
def _title(response: str) -> bool:
    """A title in double angular brackets, such as `<<poem of joy>>`, with some text inside, on one line."""
    for line in response.split("\n"):
        first, last = line.find("<<"), line.rfind(">>")
        if first != -1 and last > first + 1 and line[first + 2 : last].lstrip("<").rstrip(">").strip():
            return True
    return False


@_check("detectable_format:constrained_response")
def _constrained_response(response: str) -> bool:
    """The response contains one of IFEval's fixed answers: "My answer is yes.", "... no.", "... maybe."."""
    return any(option in response for option in ("My answer is yes.", "My answer is no.", "My answer is maybe."))


@_check("combination:two_responses")
def _two_responses(response: str) -> bool:
    """Two different, non-empty responses separated by six asterisks `******`."""
    pieces = response.split("******")
    while pieces and not pieces[0].strip():
        pieces.pop(0)
    while pieces and not pieces[-1].strip():
        pieces.pop()
    return len(pieces) == 2 and all(p.strip() for p in pieces) and pieces[0].strip() != pieces[1].strip()


@_check("combination:repeat_prompt")
def _repeat_prompt(response: str, *, prompt_to_repeat: str) -> bool:
    """The response starts with the request repeated word for word (case-insensitive)."""
    return response.strip().lower().startswith(prompt_to_repeat.strip().lower())


@_check("startend:end_checker")
def _end_checker(response: str, *, end_phrase: str) -> bool:
    """The response ends with the exact phrase (case-insensitive; a closing double quote around it is allowed)."""
    return response.strip().strip('"').strip().lower().endswith(end_phrase.strip().lower())


@_check("startend:quotation")
def _quotation(response: str) -> bool:
    """The whole response is wrapped in double quotation marks."""
    text = response.strip()
    return len(text) > 1 and text[0] == '"' and text[-1] == '"'


@_check("punctuation:no_comma")
def _no_comma(response: str) -> bool:
    """No comma at all: neither ',' nor the full-width '，'."""
    return "," not in response and "，" not in response


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
    """Whether `response` follows one instruction. An empty response follows none (as in IFEval); unknown ids or
    wrong kwargs raise DataError."""
    bound = _bind(instruction_id, kwargs)
    return bool(response.strip()) and INSTRUCTION_CHECKS[instruction_id](response, **bound)


def loose_variants(response: str) -> list[str]:
    """The responses the loose variant tries: as is, without its first line, its last line, or both, each also with
    every markdown `*` removed (IFEval paper, section 2.2). Empty variants are left out."""
    lines = response.split("\n")
    cuts = [response, "\n".join(lines[1:]), "\n".join(lines[:-1]), "\n".join(lines[1:-1])]
    variants: list[str] = []
    for text in cuts + [c.replace("*", "") for c in cuts]:
        if text.strip() and text not in variants:
            variants.append(text)
    return variants


def follows_strict(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None = None) -> bool:
    """Strict: the response as given follows the instruction."""
    return check_instruction(instruction_id, response, kwargs)


def follows_loose(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None = None) -> bool:
    """Loose: any of `loose_variants(response)` follows the instruction."""
    bound = _bind(instruction_id, kwargs)
    check = INSTRUCTION_CHECKS[instruction_id]
    return any(check(v, **bound) for v in loose_variants(response))
