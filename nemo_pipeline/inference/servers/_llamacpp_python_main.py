"""The process the `llamacpp-python` server type runs: llama-cpp-python's own OpenAI-compatible server, with every
request evaluated from an empty KV cache.

llama-cpp-python reuses the longest token prefix its KV cache shares with the previous request and evaluates only
the rest. The reused positions were computed in another batch shape, so a prompt's log-probabilities then depend on
which request came before it (they differed by 5e-3 between two servers that had seen the same requests in another
order). Scoring must not depend on request history: here each request starts from position 0, so the same prompt
gives the same numbers on any server of this type, whatever it served before. The cost is re-evaluating shared
prefixes, which the server's one-request-at-a-time design makes small next to its own echo handling.

Echoed completions with `logprobs` (what log-likelihood scoring sends) get their `logprobs` block from
`_echo_logprobs` (numpy top-n, one pass of detokenization) instead of llama-cpp-python's per-token sort of the whole
vocabulary; the response is the same field for field (tests/loglik/test_echo_fast_path.py). Everything else,
generation included, stays on llama-cpp-python's own path.

Run as `python -m nemo_pipeline.inference.servers._llamacpp_python_main <llama_cpp.server arguments>`.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any


def _fast_echo(llama: Any, arguments: dict[str, Any]) -> bool:
    """Whether `_echo_logprobs` can build this completion's `logprobs` exactly as llama-cpp-python would."""
    from llama_cpp.llama_tokenizer import LlamaTokenizer

    logprobs = arguments.get("logprobs")
    return (
        bool(arguments.get("echo"))
        and isinstance(logprobs, int)
        and logprobs >= 0
        and not arguments.get("stream")
        and arguments.get("suffix") is None
        and len(arguments.get("prompt") or "") > 0  # an empty prompt completes from BOS: left to llama-cpp-python
        and type(llama.tokenizer_) is LlamaTokenizer  # detokenize() ignores prev_tokens, as _echo_logprobs assumes
        and bool(llama._logits_all)
        and not llama.cache
    )


def _install_fresh_start(fast_echo: bool = True) -> None:
    """Make `llama_cpp.Llama` (which the server looks up when it loads the model) forget its cached prefix, and
    (with `fast_echo`) serve echoed `logprobs` from numpy."""
    import inspect

    import llama_cpp

    from nemo_pipeline.inference.servers._echo_logprobs import echo_logprobs

    base: Any = llama_cpp.Llama
    signature = inspect.signature(base._create_completion)

    class FreshStartLlama(base):  # type: ignore[misc, valid-type]
        _echo_capture: list[list[int]] | None = None  # [prompt tokens, generated tokens] while a fast echo runs

        def generate(self, tokens: Sequence[int], *args: Any, **kwargs: Any) -> Generator[int, Any, None]:
            self.reset()  # n_tokens = 0: no prefix match, and eval() clears the KV cache from position 0
            result: Generator[int, Any, None] = super().generate(tokens, *args, **kwargs)
            capture = self._echo_capture
            if capture is None:
                return result
            capture[0][:] = list(tokens)
            return _recording(result, capture[1])

        def _create_completion(self, *args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            arguments.pop("self")
            if not (fast_echo and _fast_echo(self, arguments)):
                yield from super()._create_completion(*args, **kwargs)
                return
            top_n = arguments["logprobs"]
            capture: list[list[int]] = [[], []]
            self._echo_capture = capture
            try:
                arguments["logprobs"] = None  # llama-cpp-python's own path, less its sort: text, usage, finish
                completion = next(super()._create_completion(**arguments))
            finally:
                self._echo_capture = None
            prompt_tokens, generated = capture
            completion_tokens = generated[: completion["usage"]["completion_tokens"]]
            completion["choices"][0]["logprobs"] = echo_logprobs(self, prompt_tokens, completion_tokens, top_n)
            yield completion

    llama_cpp.Llama = FreshStartLlama  # type: ignore[misc]


def _recording(tokens: Generator[int, Any, None], record: list[int]) -> Generator[int, Any, None]:
    """Yield `tokens`, appending each to `record`."""
    for token in tokens:
        record.append(token)
        yield token


def serve(fast_echo: bool = True) -> None:
    """Start llama-cpp-python's server (its own argument parser and app) with fresh-start evaluation; without
    `fast_echo`, echoed log-probabilities take llama-cpp-python's own path (the reference the fast one is measured
    and tested against)."""
    _install_fresh_start(fast_echo)
    from llama_cpp.server.__main__ import main as llama_cpp_main

    llama_cpp_main()


def main() -> None:
    """The server type's process: `serve` with the fast echo path."""
    serve()


if __name__ == "__main__":
    main()
