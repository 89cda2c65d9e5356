"""The process the `llamacpp-python` server type runs: llama-cpp-python's own OpenAI-compatible server, with every
request evaluated from an empty KV cache.

llama-cpp-python reuses the longest token prefix its KV cache shares with the previous request and evaluates only
the rest. The reused positions were computed in another batch shape, so a prompt's log-probabilities then depend on
which request came before it (they differed by 5e-3 between two servers that had seen the same requests in another
order). Scoring must not depend on request history: here each request starts from position 0, so the same prompt
gives the same numbers on any server of this type, whatever it served before. The cost is re-evaluating shared
prefixes, which the server's one-request-at-a-time design makes small next to its own echo handling.

Run as `python -m nemo_pipeline.inference.servers._llamacpp_python_main <llama_cpp.server arguments>`.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any


def _install_fresh_start() -> None:
    """Make `llama_cpp.Llama` (which the server looks up when it loads the model) forget its cached prefix."""
    import llama_cpp

    base: Any = llama_cpp.Llama

    class FreshStartLlama(base):  # type: ignore[misc, valid-type]
        def generate(self, tokens: Sequence[int], *args: Any, **kwargs: Any) -> Generator[int, Any, None]:
            self.reset()  # n_tokens = 0: no prefix match, and eval() clears the KV cache from position 0
            result: Generator[int, Any, None] = super().generate(tokens, *args, **kwargs)
            return result

    llama_cpp.Llama = FreshStartLlama  # type: ignore[misc]


def main() -> None:
    """Start llama-cpp-python's server (its own argument parser and app) with fresh-start evaluation."""
    _install_fresh_start()
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
