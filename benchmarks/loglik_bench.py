"""Log-likelihood scoring on the embedded model against the model's own prompt-processing rate, in one run.

    python benchmarks/loglik_bench.py                       # 8 mmlu-ll-like + 8 hellaswag-like items, stock too
    python benchmarks/loglik_bench.py --items 20 --stock-requests 0

Items are shaped like the real benchmarks' zero-shot requests (deterministic filler text, not benchmark data):
mmlu-ll-like: a context of about 120 tokens and four one-token choices (" A" .. " D"); hellaswag-like: a context of
about 45 tokens and four endings of about 25 tokens. Each item is sent as the pipeline's scorer sends it, one
request at a time: the context alone (no echo, one token, for `usage.prompt_tokens`), then one echo request
(`echo`, `logprobs` 1, `max_tokens` 1, temperature 0) per choice.

- **reference**: the model's prompt-processing rate, `llama_cpp.Llama.eval` in this process (same GGUF, same
  context size, logits of the last position only, as llama.cpp's own prompt processing) on the same echo prompts
  from an empty KV cache; measured before and after the servers run, the mean is used. Also shown: the rate with
  every position's logits computed (`logits_all`, which an echo response's per-token log-probabilities need).
- **allowed items/s** = reference tokens/s / tokens the echo requests of an item must evaluate (the context-only
  request is the scorer's own extra cost).
- **server's engine rate**: llama.cpp's own prompt-evaluation timing of the same requests in the server
  (`llama_perf_context_print`, every request of the run, with every position's logits), measured at the same
  moment as the wall time: on shared cores the most direct reference.
- **ours**: the `llamacpp-python` server type (`_llamacpp_python_main`: fresh start, echo `logprobs` from numpy).
- **stock**: llama-cpp-python's own echo path on the same fresh-start server (the server type before the fast
  path); so slow that only `--stock-requests` echo requests of the first mmlu-ll-like item are timed and its
  items/s is extrapolated from them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nemo_pipeline.config import ServerConfig
from nemo_pipeline.inference._server_context import serving
from nemo_pipeline.inference.servers import ServerSpec
from nemo_pipeline.inference.servers.llamacpp import default_model_path
from nemo_pipeline.inference.servers.llamacpp_python import launch
from nemo_pipeline.process import ManagedProcess, free_port

CONTEXT_LENGTH = 512
_WORD_TEXT = (
    "the of and to in is was for on that with as by at from his her an which were are this be or had it not but "
    "they their have one all been also two first new after who its more other when into time years some city "
    "water system between under three during state many most would used world called part school river light"
)
WORDS = _WORD_TEXT.split()

# llama-cpp-python's own server and echo path, every request evaluated from position 0 (the launcher's stock mode).
STOCK_SERVER = "from nemo_pipeline.inference.servers._llamacpp_python_main import serve; serve(fast_echo=False)"


@dataclass(frozen=True)
class Item:
    """One log-likelihood item: a context and its choices' continuations."""

    benchmark: str
    context: str
    continuations: tuple[str, ...]


def _filler(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def make_items(count: int, seed: int = 0) -> list[Item]:
    """`count` mmlu-ll-like and `count` hellaswag-like items."""
    rng = random.Random(seed)
    items: list[Item] = []
    for _ in range(count):
        options = "\n".join(f"{letter}. {_filler(rng, 12)}" for letter in "ABCD")
        context = f"Question: {_filler(rng, 55)}?\n{options}\nAnswer:"
        items.append(Item("mmlu-ll", context, (" A", " B", " C", " D")))
    for _ in range(count):
        context = f"Activity: {_filler(rng, 38)}."
        items.append(Item("hellaswag", context, tuple(" " + _filler(rng, 22) + "." for _ in range(4))))
    return items


def _post(base_url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base_url}/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=3600) as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


def _echo_body(prompt: str) -> dict[str, Any]:
    return {"prompt": prompt, "max_tokens": 1, "temperature": 0.0, "echo": True, "logprobs": 1}


def score_item(base_url: str, item: Item) -> int:
    """Send `item` as the scorer does; the echo requests' prompt tokens."""
    _post(base_url, {"prompt": item.context, "max_tokens": 1, "temperature": 0.0})
    tokens = 0
    for continuation in item.continuations:
        data = _post(base_url, _echo_body(item.context + continuation))
        assert data["choices"][0]["logprobs"]["token_logprobs"][-2] is not None
        tokens += int(data["usage"]["prompt_tokens"])
    return tokens


def prompt_rate(model: str, prompts: Sequence[str], logits_all: bool = False) -> float:
    """Tokens/s of llama.cpp's prompt processing on `prompts`, each from an empty KV cache, in this process
    (`logits_all`: with every position's logits, as an echo response needs them)."""
    import llama_cpp

    llama = llama_cpp.Llama(
        model_path=model, n_ctx=CONTEXT_LENGTH, n_batch=CONTEXT_LENGTH, logits_all=logits_all, verbose=False
    )
    token_lists = [llama.tokenize(p.encode(), add_bos=True, special=False) for p in prompts]
    llama.eval(token_lists[0])  # warm-up
    started = time.perf_counter()
    for tokens in token_lists:
        llama.reset()
        llama.eval(tokens)
    elapsed = time.perf_counter() - started
    llama.close()
    return sum(len(t) for t in token_lists) / elapsed


ENGINE_LINE = re.compile(r"prompt eval time =\s*([0-9.]+) ms /\s*([0-9]+) tokens")


def engine_rate(log_lines: Sequence[str]) -> float:
    """Tokens/s of llama.cpp's own prompt evaluation in the server, from its `llama_perf_context_print` lines."""
    matches = [m for m in map(ENGINE_LINE.search, log_lines) if m]
    seconds = sum(float(m.group(1)) for m in matches) / 1000
    return sum(int(m.group(2)) for m in matches) / seconds if seconds else float("nan")


def run_ours(items: Sequence[Item], log_dir: Path) -> tuple[float, int, float]:
    """(seconds, echo tokens, the server's own prompt-evaluation tokens/s) for scoring `items` on the
    llamacpp-python server type."""
    config = ServerConfig(server_type="llamacpp-python", context_length=CONTEXT_LENGTH)
    with serving(config, log_dir) as endpoint:
        score_item(endpoint.base_url, items[0])  # warm-up
        log = max(log_dir.glob("server-llamacpp-python-*.log"), key=lambda path: path.stat().st_mtime)
        skip = len(log.read_text(errors="replace").splitlines())
        started = time.perf_counter()
        tokens = sum(score_item(endpoint.base_url, item) for item in items)
        seconds = time.perf_counter() - started
        return seconds, tokens, engine_rate(log.read_text(errors="replace").splitlines()[skip:])


def run_stock(item: Item, requests: int, log_dir: Path) -> tuple[float, float]:
    """(seconds of the context request, mean seconds of an echo request) on llama-cpp-python's own echo path."""
    spec = ServerSpec(model="", port=free_port(), context_length=CONTEXT_LENGTH)
    ours = launch(spec)
    argv = [sys.executable, "-c", STOCK_SERVER, *ours.argv[3:]]
    with ManagedProcess("stock llama-cpp-python server", argv, log_dir / "stock.log") as server:
        server.wait_healthy(ours.health_url, 300)
        started = time.perf_counter()
        _post(ours.base_url, {"prompt": item.context, "max_tokens": 1, "temperature": 0.0})
        context_s = time.perf_counter() - started
        started = time.perf_counter()
        for continuation in item.continuations[:requests]:
            _post(ours.base_url, _echo_body(item.context + continuation))
        return context_s, (time.perf_counter() - started) / requests


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=8, help="items per benchmark shape")
    parser.add_argument("--stock-requests", type=int, default=1, help="echo requests timed on the stock path")
    args = parser.parse_args()
    model = default_model_path()
    items = make_items(args.items)
    echo_prompts = [item.context + c for item in items for c in item.continuations]
    print(f"load average: {os.getloadavg()}")
    rate_before = prompt_rate(model, echo_prompts)
    log_dir = Path(tempfile.mkdtemp(prefix="loglik_bench_"))
    results: dict[str, tuple[float, int, int, float]] = {}
    for benchmark in ("mmlu-ll", "hellaswag"):
        subset = [item for item in items if item.benchmark == benchmark]
        seconds, tokens, engine = run_ours(subset, log_dir)
        results[benchmark] = (seconds, tokens, len(subset), engine)
    stock = None
    if args.stock_requests > 0:
        stock = run_stock(items[0], min(args.stock_requests, len(items[0].continuations)), log_dir)
    rate_after = prompt_rate(model, echo_prompts)
    all_logits = prompt_rate(model, echo_prompts, logits_all=True)
    rate = (rate_before + rate_after) / 2
    print(f"reference: llama.cpp prompt processing {rate:.0f} tokens/s", end=" ")
    print(f"(before {rate_before:.0f}, after {rate_after:.0f}); with every position's logits {all_logits:.0f} tokens/s")
    print(f"load average: {os.getloadavg()}")
    print(
        "| benchmark | items | echo tokens/item | ours items/s | echo tokens/s | allowed items/s | ratio"
        " | ratio, all logits | server's engine tokens/s | ratio to it |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for benchmark, (seconds, tokens, count, engine) in results.items():
        per_item = tokens / count
        allowed = rate / per_item
        ours = count / seconds
        print(
            f"| {benchmark} | {count} | {per_item:.0f} | {ours:.2f} | {tokens / seconds:.0f} | {allowed:.2f} |"
            f" {ours / allowed:.2f} | {ours / (all_logits / per_item):.2f} | {engine:.0f} |"
            f" {ours / (engine / per_item):.2f} |"
        )
    if stock is not None:
        context_s, echo_s = stock
        item_s = context_s + echo_s * len(items[0].continuations)
        print(
            f"stock llama-cpp-python echo path (mmlu-ll-like item 0): context request {context_s:.2f} s, "
            f"echo request {echo_s:.1f} s (mean of {args.stock_requests}); about {1 / item_s:.4f} items/s"
        )


if __name__ == "__main__":
    main()
