"""IFEval: the 25 verifiable-instruction checks (strict and loose), and the text measures behind them."""

from nemo_pipeline.evaluation.ifeval._checks import (
    INSTRUCTION_CHECKS,
    INSTRUCTION_IDS,
    check_instruction,
    follows_loose,
    follows_strict,
    loose_variants,
)
from nemo_pipeline.evaluation.ifeval._language import SUPPORTED_LANGUAGES, detect_language
from nemo_pipeline.evaluation.ifeval._text import (
    count_bullets,
    count_highlights,
    count_placeholders,
    count_sentences,
    count_words,
    split_sentences,
)

__all__ = [
    "INSTRUCTION_CHECKS",
    "INSTRUCTION_IDS",
    "SUPPORTED_LANGUAGES",
    "check_instruction",
    "count_bullets",
    "count_highlights",
    "count_placeholders",
    "count_sentences",
    "count_words",
    "detect_language",
    "follows_loose",
    "follows_strict",
    "loose_variants",
    "split_sentences",
]
