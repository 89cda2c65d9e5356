"""Table tests for the 25 IFEval instruction checks: each id has rows that pass and rows that fail."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from nemo_pipeline.errors import DataError
from nemo_pipeline.evaluation.ifeval import (
    INSTRUCTION_CHECKS,
    INSTRUCTION_IDS,
    check_instruction,
    count_highlights,
    count_sentences,
    follows_loose,
    loose_variants,
)

LOWER_EN = "the quick brown fox jumps over the lazy dog and then it runs back to the barn for the night."

# (instruction id, kwargs, response, strictly followed)
ROWS: list[tuple[str, dict[str, Any], str, bool]] = [
    # keywords
    ("keywords:existence", {"keywords": ["cat", "Moon"]}, "The cat looked at the moon.", True),
    ("keywords:existence", {"keywords": ["cat", "moon"]}, "The CATS looked at the MOONLIGHT.", True),
    ("keywords:existence", {"keywords": ["cat", "moon"]}, "The cat looked at the sun.", False),
    ("keywords:frequency", {"keyword": "data", "frequency": 3, "relation": "at least"}, "Data, data and DATA.", True),
    ("keywords:frequency", {"keyword": "data", "frequency": 3, "relation": "at least"}, "data and data", False),
    ("keywords:frequency", {"keyword": "data", "frequency": 2, "relation": "less than"}, "one data point", True),
    ("keywords:frequency", {"keyword": "data", "frequency": 2, "relation": "less than"}, "data, data", False),
    # The reference matches keywords as regular expressions: "a.b" is found in "axb".
    ("keywords:frequency", {"keyword": "a.b", "frequency": 1, "relation": "at least"}, "axb", True),
    ("keywords:frequency", {"keyword": " data ", "frequency": 1, "relation": "at least"}, "big data", True),
    ("keywords:forbidden_words", {"forbidden_words": ["run", "bark"]}, "The dog runs and barks.", True),
    ("keywords:forbidden_words", {"forbidden_words": ["run", "bark"]}, "The dog will Run.", False),
    ("keywords:forbidden_words", {"forbidden_words": ["BC"]}, "It was built in 300 bc.", False),
    ("keywords:forbidden_words", {"forbidden_words": ["run"]}, "A rerun, running.", True),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 3, "let_relation": "at least"}, "Zizz", True),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 3, "let_relation": "at least"}, "zebra", False),
    ("keywords:letter_frequency", {"letter": "#", "let_frequency": 2, "let_relation": "less than"}, "# one", True),
    ("keywords:letter_frequency", {"letter": "#", "let_frequency": 2, "let_relation": "less than"}, "## x", False),
    # language and case
    ("language:response_language", {"language": "it"}, "Questa è una risposta scritta in italiano per te.", True),
    ("language:response_language", {"language": "it"}, "This answer is written in English for you.", False),
    ("change_case:english_lowercase", {}, LOWER_EN, True),
    ("change_case:english_lowercase", {}, LOWER_EN.replace("the quick", "The quick"), False),
    (
        "change_case:english_lowercase",
        {},
        "questa è una risposta scritta in italiano per te e per la tua famiglia.",
        False,
    ),
    ("change_case:english_capital", {}, LOWER_EN.upper(), True),
    ("change_case:english_capital", {}, LOWER_EN.upper().replace("FOX", "fox"), False),
    ("change_case:english_capital", {}, "ЭТО ОТВЕТ НА РУССКОМ ЯЗЫКЕ ДЛЯ ТЕБЯ И ТВОЕЙ СЕМЬИ.", False),
    # langdetect reads the capitals as written (as in the reference) and takes this Italian for English.
    (
        "change_case:english_capital",
        {},
        "QUESTA È UNA RISPOSTA SCRITTA IN ITALIANO PER TE E PER LA TUA FAMIGLIA.",
        True,
    ),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": "at least"},
        "NASA and the U.S. agreed.",
        True,
    ),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 2, "capital_relation": "at least"},
        "Nasa and the Us agreed.",
        False,
    ),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 3, "capital_relation": "less than"},
        "ONLY TWO words",
        True,
    ),
    (
        "change_case:capital_word_frequency",
        {"capital_frequency": 3, "capital_relation": "less than"},
        "NOW THREE WORDS",
        False,
    ),
    # length
    ("length_constraints:number_words", {"num_words": 5, "relation": "at least"}, "one two three four five", True),
    ("length_constraints:number_words", {"num_words": 5, "relation": "at least"}, "one two three-four", False),
    ("length_constraints:number_words", {"num_words": 4, "relation": "less than"}, "Hi there, friend!", True),
    ("length_constraints:number_words", {"num_words": 4, "relation": "less than"}, "I don't know", False),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": "at least"},
        "Dr. Smith came. He saw! Did he win?",
        True,
    ),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 3, "relation": "at least"},
        "Dr. Smith came at 5 p.m. to the U.S. embassy. He saw it.",
        False,
    ),
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": "less than"}, "One sentence only.", True),
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": "less than"}, "One. Two.", False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3}, "First.\n***\nSecond.\n***\nThird.", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "***\nFirst.\n***\nSecond.\n***", True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3}, "First.\n***\nSecond.", False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3}, "First.\n***\n\n***\nThird.", False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First.\n\nSecond.", False),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "elm"},
        'Trees are tall.\n\n"Elm, the tree," is old.\n\nThe end.',
        True,
    ),
    # Four line breaks leave a blank piece, which is not counted but keeps its position: paragraph 2 is blank.
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "elm"},
        "Trees.\n\n\n\nElm trees grow.\n",
        False,
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "elm"},
        "Trees.\n\n\nElm trees grow.\n",
        True,
    ),
    # The first word stops at . , ? ! ' " only: "Elm:" is not "elm".
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "elm"},
        "Trees.\n\nElm: a tree.",
        False,
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "elm"},
        "Trees are tall.\n\nOak is old.\n\nThe end.",
        False,
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "elm"},
        "Trees are tall.\n\nElm is old.",
        False,
    ),  # wrong paragraph count
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "elm"},
        "Trees.\n\nElmwood is a town.",
        False,
    ),
    # detectable content
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], at [address].", True),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], at your address.", False),
    ("detectable_content:number_placeholders", {"num_placeholders": 1}, "A bracket [that spans\nlines] only.", False),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Empty [] and nested [a [b]] ones.", True),
    ("detectable_content:number_placeholders", {"num_placeholders": 3}, "Empty [] and nested [a [b]] ones.", False),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hello.\n\nP.S. See you soon.", True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hello.\n\np. s. see you soon.", True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hello.\n\nPS see you soon.", False),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Hi.\nP.S. one\nP.P.S two", True),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Hi.\nP.S. only one", False),
    # detectable format
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}, "Intro:\n* one\n* two\n  - three", True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}, "* one\n* two", False),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n* two\n* three", False),  # exactly
    ("detectable_format:number_bullet_lists", {"num_bullets": 1}, "**Bold** line\n* item", True),
    # A line starting with "-" is a bullet to the reference, a "---" rule included.
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n---\nText.", True),
    # A lone "*" swallows the next line: one bullet for both.
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "*\n* two\n* three", True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*part 1* and **part 2**", True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*part 1* and ** ** and **", False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 1}, "a * b * c", True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 1}, "no highlight *\nhere*", False),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "SECTION", "num_sections": 2},
        "SECTION 1\nIntro\nSECTION 2\nBody",
        True,
    ),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "Section", "num_sections": 2},
        "Section 1\nIntro\nSection two\nBody",
        False,
    ),
    (
        "detectable_format:multiple_sections",
        {"section_spliter": "SECTION", "num_sections": 2},
        "Section 1\nIntro\nSection 2\nBody",
        False,
    ),  # case-sensitive
    ("detectable_format:json_format", {}, '{"a": [1, 2]}', True),
    ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', True),
    ("detectable_format:json_format", {}, '```JSON\n{"a": 1}\n```\n', True),
    ("detectable_format:json_format", {}, 'Here it is: {"a": 1}', False),
    ("detectable_format:json_format", {}, "{'a': 1}", False),
    ("detectable_format:title", {}, "<<A Poem of Joy>>\nRoses are red.", True),
    ("detectable_format:title", {}, "<< >>\nRoses are red.", False),
    ("detectable_format:title", {}, "<A Poem of Joy>\nRoses are red.", False),
    ("detectable_format:constrained_response", {}, "My answer is yes.", True),
    ("detectable_format:constrained_response", {}, "Let me think. My answer is maybe.", True),
    ("detectable_format:constrained_response", {}, "My answer is yes", False),
    ("detectable_format:constrained_response", {}, "Yes.", False),
    # combinations
    ("combination:two_responses", {}, "First answer.\n******\nSecond answer.", True),
    ("combination:two_responses", {}, "Same answer.\n******\nSame answer.", False),
    ("combination:two_responses", {}, "One.\n******\nTwo.\n******\nThree.", False),
    ("combination:two_responses", {}, "Only one answer.", False),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "write a poem. Roses are red.", True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "Sure! Write a poem. Roses.", False),
    # start and end
    ("startend:end_checker", {"end_phrase": "Peace!"}, "Goodbye for now. Peace!", True),
    ("startend:end_checker", {"end_phrase": "Peace!"}, '"Goodbye for now. peace!"', True),
    ("startend:end_checker", {"end_phrase": "Peace!"}, "Peace! Goodbye for now.", False),
    ("startend:quotation", {}, '  "The whole answer is quoted."\n', True),
    ("startend:quotation", {}, '"The answer" is partly quoted.', False),
    ("startend:quotation", {}, '"', False),
    # punctuation
    ("punctuation:no_comma", {}, "No commas here at all.", True),
    ("punctuation:no_comma", {}, "One, two.", False),
    ("punctuation:no_comma", {}, "全角逗号，不算。", True),  # only the ASCII comma counts
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("instruction_id", "kwargs", "response", "expected"), ROWS)
def test_check_strict(instruction_id: str, kwargs: dict[str, Any], response: str, expected: bool) -> None:
    assert check_instruction(instruction_id, response, kwargs) is expected


@pytest.mark.timeout(10)
def test_every_instruction_has_pass_and_fail_rows() -> None:
    assert len(INSTRUCTION_IDS) == 25
    covered = {(i, e) for i, _, _, e in ROWS}
    missing = [(i, e) for i in INSTRUCTION_IDS for e in (True, False) if (i, e) not in covered]
    assert not missing


# The kwargs names that the IFEval data (541 prompts) uses for each instruction id.
DATA_KWARGS = {
    "change_case:capital_word_frequency": {"capital_relation", "capital_frequency"},
    "combination:repeat_prompt": {"prompt_to_repeat"},
    "detectable_content:number_placeholders": {"num_placeholders"},
    "detectable_content:postscript": {"postscript_marker"},
    "detectable_format:multiple_sections": {"section_spliter", "num_sections"},
    "detectable_format:number_bullet_lists": {"num_bullets"},
    "detectable_format:number_highlighted_sections": {"num_highlights"},
    "keywords:existence": {"keywords"},
    "keywords:forbidden_words": {"forbidden_words"},
    "keywords:frequency": {"relation", "keyword", "frequency"},
    "keywords:letter_frequency": {"let_relation", "letter", "let_frequency"},
    "language:response_language": {"language"},
    "length_constraints:nth_paragraph_first_word": {"first_word", "num_paragraphs", "nth_paragraph"},
    "length_constraints:number_paragraphs": {"num_paragraphs"},
    "length_constraints:number_sentences": {"relation", "num_sentences"},
    "length_constraints:number_words": {"relation", "num_words"},
    "startend:end_checker": {"end_phrase"},
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("instruction_id", INSTRUCTION_IDS)
def test_check_takes_the_data_kwargs(instruction_id: str) -> None:
    params = set(inspect.signature(INSTRUCTION_CHECKS[instruction_id]).parameters) - {"response"}
    assert params == DATA_KWARGS.get(instruction_id, set())


@pytest.mark.timeout(10)
def test_null_kwargs_are_ignored_as_in_the_hugging_face_copy() -> None:
    kwargs = {"num_highlights": 1, "language": None, "keywords": None, "relation": None}
    assert check_instruction("detectable_format:number_highlighted_sections", "*one*", kwargs)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("instruction_id", "kwargs", "message"),
    [
        ("punctuation:no_commas", {}, "Known:"),
        ("keywords:existence", {}, "expected ['keywords']"),
        ("punctuation:no_comma", {"num_words": 3}, "got kwargs ['num_words']"),
        ("keywords:frequency", {"keyword": "a", "frequency": 1, "relation": "at most"}, "'at least' or 'less than'"),
    ],
)
def test_bad_instruction_data_raise(instruction_id: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_instruction(instruction_id, "some text", kwargs)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("instruction_id", INSTRUCTION_IDS)
def test_empty_response_follows_nothing(instruction_id: str) -> None:
    row = next(r for r in ROWS if r[0] == instruction_id)
    assert check_instruction(instruction_id, "  \n ", row[1]) is False


# (instruction id, kwargs, response): strict fails, loose passes.
LOOSE_ROWS = [
    ("startend:end_checker", {"end_phrase": "Peace!"}, "Goodbye. Peace!\nLet me know if you need more."),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "Sure, here it is:\nWrite a poem. Roses."),
    (
        "length_constraints:nth_paragraph_first_word",
        {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "elm"},
        "**Elm** trees are old.\n\nThey grow.",
    ),
    ("detectable_format:json_format", {}, 'Here is the JSON:\n{"a": 1}'),
    ("startend:quotation", {}, '"All quoted."\nI hope this helps.'),
    ("change_case:english_lowercase", {}, "Here is your answer:\n" + LOWER_EN),
    ("detectable_format:title", {}, "<<*A Poem*>>\nRoses."),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("instruction_id", "kwargs", "response"), LOOSE_ROWS)
def test_loose_forgives_first_last_line_and_asterisks(
    instruction_id: str, kwargs: dict[str, Any], response: str
) -> None:
    if instruction_id != "detectable_format:title":
        assert check_instruction(instruction_id, response, kwargs) is False
    assert follows_loose(instruction_id, response, kwargs) is True


@pytest.mark.timeout(10)
def test_loose_still_fails_a_real_failure() -> None:
    assert follows_loose("punctuation:no_comma", "Intro line\nOne, two, three.\nEnd line", {}) is False
    assert (
        follows_loose("length_constraints:number_words", "one two", {"num_words": 3, "relation": "at least"}) is False
    )


@pytest.mark.timeout(10)
def test_loose_variants_are_the_references_eight() -> None:
    variants = loose_variants("*first*\nmiddle  \n*last*\n")
    assert variants == [
        "*first*\nmiddle  \n*last*\n",  # as given
        "first\nmiddle  \nlast\n",  # every "*" removed, not stripped
        "middle  \n*last*",  # without the first line, stripped
        "*first*\nmiddle  \n*last*",  # without the last line (here empty), stripped
        "middle  \n*last*",  # without both
        "middle  \nlast",  # the three cuts without "*"
        "first\nmiddle  \nlast",
        "middle  \nlast",
    ]
    assert loose_variants("one line") == ["one line", "one line", "", "", "", "", "", ""]
    assert follows_loose("startend:quotation", "  ", {}) is False  # blank variants follow nothing


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four.", 4),
        ("Mr. and Mrs. Smith met Dr. Jones at St. Mary's. They talked.", 2),
        ('He said "Stop!" Then he left.', 2),
        ("Prices rose 3.5 percent. Wages did not.", 2),
        ("Wait... what? Really?!", 3),
        ("1. First point is here. 2. Second point.", 4),  # Punkt: "1." and "2." are sentences
        ("# Title\nA line without a stop\nAnother one.", 1),
        ("", 0),
        ("...", 1),
    ],
)
def test_sentence_counts(text: str, expected: int) -> None:
    assert count_sentences(text) == expected


@pytest.mark.timeout(10)
def test_highlights_count_as_the_reference() -> None:
    assert count_highlights("**bold** and *italic*") == 2  # bold once: "*" finds only the empty "**" around it
    assert count_highlights("***both***") == 2  # once as "*both*", once as "**both**"
    assert count_highlights("** ** and *\n*") == 0


PATHOLOGICAL = [
    "*" * 20000,
    " " * 20000 + "x",
    " ***" * 5000,
    "<<" * 10000,
    "[" * 20000,  # also too deep for json.loads: a plain "not JSON", not a RecursionError
    "." * 20000 + "x",
    "```" * 5000,
    "Dr. " * 10000,
    "\n" * 20000 + "x",
    "a, " * 10000,
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("response", PATHOLOGICAL, ids=[repr(p[:6]) for p in PATHOLOGICAL])
def test_pathological_responses_are_graded_fast(response: str) -> None:
    """Every check, loose, well within the grader's 10 s per answer (Punkt and langdetect, the reference's own
    tools, take about a second on 40,000 characters; the rest is linear)."""
    import time

    rows = {r[0]: r for r in ROWS}.values()
    for instruction_id, kwargs, _, _ in rows:  # load langdetect's profiles and the Punkt model first
        follows_loose(instruction_id, "A short answer. It is fine.", kwargs)
    start = time.perf_counter()
    for instruction_id, kwargs, _, _ in rows:
        follows_loose(instruction_id, response, kwargs)
    assert time.perf_counter() - start < 5.0


@pytest.mark.timeout(60)
def test_linear_counts_equal_the_references_patterns_on_random_text() -> None:
    """Bullets, placeholders and titles are counted without the reference's quadratic patterns; on random text
    over the characters that matter (blanks of every kind included) the counts are the patterns' own."""
    import random
    import re

    from nemo_pipeline.evaluation.ifeval import count_bullets, count_placeholders

    rng = random.Random(1234)
    alphabet = ["*", "-", " ", "\n", "\t", "a", "[", "]", "<", ">", "\x0b", "\x1c", "\x85", "\u2028", "\u3000"]
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        bullets = len(re.findall(r"^\s*\*[^\*].*$", text, flags=re.MULTILINE))
        bullets += len(re.findall(r"^\s*-.*$", text, flags=re.MULTILINE))
        assert count_bullets(text) == bullets, repr(text)
        assert count_placeholders(text) == len(re.findall(r"\[.*?\]", text)), repr(text)
        title = any(m.lstrip("<").rstrip(">").strip() for m in re.findall(r"<<[^\n]+>>", text))
        assert INSTRUCTION_CHECKS["detectable_format:title"](text) is title, repr(text)
