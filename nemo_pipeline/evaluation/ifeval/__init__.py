"""IFEval: the 25 verifiable-instruction checks (strict and loose) as IFEval's reference scores them, and the text
measures behind them (NLTK Punkt sentences, langdetect languages)."""

from nemo_pipeline.evaluation.ifeval._checks import (
    INSTRUCTION_CHECKS,
    INSTRUCTION_IDS,
    check_instruction,
    follows_loose,
    follows_strict,
    loose_variants,
)
from nemo_pipeline.evaluation.ifeval._language import LANGDETECT_SEED, detect_language
from nemo_pipeline.evaluation.ifeval._punkt import PUNKT_SOURCE, nltk_data_dir
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
    "LANGDETECT_SEED",
    "PUNKT_SOURCE",
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
    "nltk_data_dir",
    "split_sentences",
]
