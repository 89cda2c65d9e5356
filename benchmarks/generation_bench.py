"""Generation speed: our generate stage against references measured in the same run.

    python benchmarks/generation_bench.py [--items 2000] [--concurrency 1,8,64] [--fake lean|scripted|both]
                                          [--repeats 3] [--model-items 30] [--parallel 1,2,4] [--demo]
                                          [--skip-overhead] [--skip-model]

1. Client overhead (the historical reference; the current client's speed against bare aiohttp and bare plain-HTTP
   loops, adaptive concurrency and rate limits is measured by benchmarks/throughput_bench.py):
   `run_generate` (`++server.server_type=openai` at a fake OpenAI-compatible server) against a
   bare httpx loop sending the same request bodies to the same fake server at the same concurrency. The fake
   server runs in its own process, so client and server do not share one GIL. Two fakes: `scripted` is
   `tests/fakes/openai_server.py` (ThreadingHTTPServer, HTTP/1.0: one connection per request); `lean` is an
   asyncio keep-alive server defined below, so that the server is not the bottleneck. Runs are interleaved
   (ours, bare, ours, bare, ...) and the median is reported.
2. Real model: the embedded llama.cpp server (Gemma 3 270M) on GSM8K with `generic/math-fewshot`, 256 tokens,
   at `server.parallel_requests` = `max_concurrent_requests` = 1, 2, 4: start-up time to healthy, items/s,
   generated tokens/s, and the ratio against parallelism 1.
3. `--demo`: the README command end to end once (wall seconds, items/s, accuracy).

The machine is shared: every figure is printed with the 1-minute load average before and after it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from tqdm import tqdm  # noqa: E402

from nemo_pipeline.config import GenerateConfig, compose_config  # noqa: E402
from nemo_pipeline.datasets import load_items  # noqa: E402
from nemo_pipeline.inference import run_generate  # noqa: E402
from nemo_pipeline.inference.prompts import load_prompt  # noqa: E402
from nemo_pipeline.jsonl import JsonlAppender, read_jsonl, write_jsonl_atomic  # noqa: E402

PROMPT = "generic/math-fewshot"
FAKE_ANSWER = (
    "She has 3 * 12 = 36 pencils. After giving away 7 she has 36 - 7 = 29 pencils. "
    "Then she buys 5 more, so 29 + 5 = 34. The answer is 34."
)


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


# --------------------------------------------------------------------------------------------- fake servers


LEAN_SERVER = r"""
import asyncio, json, sys

ANSWER = sys.argv[2]
COMPLETION = json.dumps({
    "choices": [{"text": ANSWER, "finish_reason": "stop", "index": 0}],
    "usage": {"completion_tokens": len(ANSWER.split()), "prompt_tokens": 1},
    "model": "lean-model",
}).encode()
MODELS = json.dumps({"data": [{"id": "lean-model"}]}).encode()


def response(status, body):
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                if line[:15].lower() == "content-length:":
                    length = int(line[15:])
            if length:
                json.loads(await reader.readexactly(length))  # parse like a real server would
            if method == "GET" and path == "/v1/models":
                writer.write(response("200 OK", MODELS))
            elif method == "POST" and path == "/v1/completions":
                writer.write(response("200 OK", COMPLETION))
            else:
                writer.write(response("404 Not Found", b"{}"))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""

SCRIPTED_SERVER = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
from tests.fakes.openai_server import Script, ScriptedServer
server = ScriptedServer(Script(default=sys.argv[2]))
server.httpd.request_queue_size = 1024
with server:
    print(server.httpd.server_address[1], flush=True)
    while True:
        time.sleep(3600)
"""


class FakeServer:
    """A fake OpenAI-compatible server in a child process; `url` is its /v1 base address."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        code = LEAN_SERVER if kind == "lean" else SCRIPTED_SERVER
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(ROOT), FAKE_ANSWER], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{port}/v1"

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# --------------------------------------------------------------------------------------------- client overhead


def write_items(path: Path, n: int) -> list[dict[str, Any]]:
    """`n` GSM8K items (cycled, with fresh ids) written to `path`."""
    source = load_items("gsm8k")
    items = [{**source[i % len(source)], "id": f"bench-{i}"} for i in range(n)]
    write_jsonl_atomic(path, items)
    return items


def ours(url: str, input_file: Path, work: Path, concurrency: int, progress: bool) -> float:
    """Items/s of run_generate (config composition included, as a user runs it)."""
    output = work / f"ours-{time.monotonic_ns()}.jsonl"
    started = time.perf_counter()
    cfg = compose_config(
        GenerateConfig,
        "generate",
        [
            f"++input_file={input_file}",
            f"++output_file={output}",
            "++server.server_type=openai",
            f"++server.address='{url}'",
            f"++max_concurrent_requests={concurrency}",
            f"++progress={str(progress).lower()}",
            f"++prompt_config={PROMPT}",
            "++inference.tokens_to_generate=256",
        ],
    )
    result = run_generate(cfg)
    elapsed = time.perf_counter() - started
    assert result.generated_now == len(read_jsonl(output)), result
    return result.generated_now / elapsed


def bare(url: str, bodies: list[dict[str, Any]], concurrency: int) -> float:
    """Items/s of a bare httpx loop posting the same bodies at the same concurrency, answers kept in memory."""

    async def run() -> float:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, timeout=300.0, limits=limits) as http:
            limit = asyncio.Semaphore(concurrency)

            async def one(body: dict[str, Any]) -> str:
                async with limit:
                    response = await http.post("/completions", json=body)
                    response.raise_for_status()
                    return str(response.json()["choices"][0]["text"])

            started = time.perf_counter()
            answers = await asyncio.gather(*(one(body) for body in bodies))
            elapsed = time.perf_counter() - started
        assert len(answers) == len(bodies)
        return len(bodies) / elapsed

    return asyncio.run(run())


def request_bodies(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bodies our stage sends (same prompt, same sampling fields), rendered ahead of the timed loop."""
    prompt = load_prompt(PROMPT)
    sampling = {"temperature": 0.0, "top_p": 1.0, "max_tokens": 256, "seed": 0, "stop": list(prompt.stop)}
    return [{"model": "lean-model", "prompt": prompt.render(item), **sampling} for item in items]


def median_of(repeats: int, first: Callable[[], float], second: Callable[[], float]) -> tuple[float, float]:
    a, b = [], []
    for _ in range(repeats):
        a.append(first())
        b.append(second())
    return statistics.median(a), statistics.median(b)


def breakdown(url: str, items: list[dict[str, Any]], input_file: Path, work: Path) -> None:
    """Where the stage's extra time goes: fixed start-up cost and per-item bookkeeping, each timed alone."""
    n = len(items)
    prompt = load_prompt(PROMPT)
    one_file = work / "one.jsonl"
    write_jsonl_atomic(one_file, items[:1])
    fixed = statistics.median(1 / ours(url, one_file, work, 1, False) for _ in range(3))
    started = time.perf_counter()
    for item in items:
        prompt.render(item)
    render = (time.perf_counter() - started) / n
    record = {**items[0], "generation": FAKE_ANSWER, "num_generated_tokens": 30, "generation_time_s": 0.01}
    started = time.perf_counter()
    with JsonlAppender(work / f"fsync-{time.monotonic_ns()}.jsonl") as out:
        for _ in range(n):
            out.append(record)
    append = (time.perf_counter() - started) / n
    started = time.perf_counter()
    with open(os.devnull, "w") as sink, tqdm(total=n, file=sink) as bar:
        for _ in range(n):
            bar.update(1)
    progress = (time.perf_counter() - started) / n
    real_fsync = os.fsync
    with_fsync, without_fsync = [], []
    for _ in range(3):
        with_fsync.append(ours(url, input_file, work, 8, False))
        os.fsync = lambda fd: None  # diagnostic only: what the stage would do without its durability
        try:
            without_fsync.append(ours(url, input_file, work, 8, False))
        finally:
            os.fsync = real_fsync
    print(f"\nWhere the stage's extra time goes ({n} items, load {load()}):")
    print(
        f"- ours at concurrency 8, no progress bar: {statistics.median(with_fsync):.0f} items/s; with os.fsync "
        f"made a no-op: {statistics.median(without_fsync):.0f} items/s (median of 3)"
    )
    print(
        "- fixed: compose config + run_generate of 1 item (reachability check, client, done marker): "
        f"{fixed * 1e3:.0f} ms"
    )
    print(
        f"- per item: render prompt {render * 1e6:.0f} us, append + fsync {append * 1e6:.0f} us, "
        f"progress bar update {progress * 1e6:.1f} us"
    )


def client_overhead(args: argparse.Namespace, work: Path) -> None:
    input_file = work / "items.jsonl"
    items = write_items(input_file, args.items)
    bodies = request_bodies(items)
    kinds = ["lean", "scripted"] if args.fake == "both" else [args.fake]
    print(f"\n## Client overhead: {args.items} items, median of {args.repeats} interleaved repeats")
    print("| fake server | concurrency | ours (items/s) | bare httpx (items/s) | ours / bare | load before-after |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind in kinds:
        with FakeServer(kind) as server:
            bare(server.url, bodies[:50], 8)  # warm up both sides
            for concurrency in args.concurrency:
                before = load()
                ours_rate, bare_rate = median_of(
                    args.repeats,
                    lambda: ours(server.url, input_file, work, concurrency, args.progress),  # noqa: B023
                    lambda: bare(server.url, bodies, concurrency),  # noqa: B023
                )
                print(
                    f"| {kind} | {concurrency} | {ours_rate:.0f} | {bare_rate:.0f} | {ours_rate / bare_rate:.2f} "
                    f"| {before}-{load()} |",
                    flush=True,
                )
    with FakeServer(kinds[0]) as server:
        breakdown(server.url, items, input_file, work)


# --------------------------------------------------------------------------------------------- real model


def real_model(args: argparse.Namespace, work: Path) -> None:
    from nemo_pipeline.inference._server_context import serving

    gsm8k = Path(work / "gsm8k.jsonl")
    write_jsonl_atomic(gsm8k, load_items("gsm8k")[: args.model_items])
    print(f"\n## Real model: llama.cpp + Gemma 3 270M, {args.model_items} GSM8K items, {PROMPT}, 256 tokens")
    print(
        "| parallel | start-up to healthy (s) | items/s | generated tokens/s | tokens | ratio vs 1 "
        "| load before-after |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    base_rate = None
    for parallel in args.parallel:
        overrides = [
            f"++input_file={gsm8k}",
            f"++output_file={work / f'model-p{parallel}.jsonl'}",
            f"++prompt_config={PROMPT}",
            "++inference.tokens_to_generate=256",
            f"++server.parallel_requests={parallel}",
            f"++max_concurrent_requests={parallel}",
            "++progress=false",
        ]
        cfg = compose_config(GenerateConfig, "generate", overrides)
        before = load()
        started = time.perf_counter()
        # The stage's own server start-up path; generation then goes through the stage at that address.
        with serving(cfg.server, work / "logs") as endpoint:
            startup = time.perf_counter() - started
            staged = compose_config(GenerateConfig, "generate", [*overrides, f"++server.address='{endpoint.base_url}'"])
            gen_started = time.perf_counter()
            result = run_generate(staged)
            elapsed = time.perf_counter() - gen_started
        records = read_jsonl(Path(staged.output_file))
        tokens = sum(r["num_generated_tokens"] for r in records)
        rate = result.generated_now / elapsed
        base_rate = base_rate or rate
        print(
            f"| {parallel} | {startup:.1f} | {rate:.2f} | {tokens / elapsed:.1f} | {tokens} | {rate / base_rate:.2f} "
            f"| {before}-{load()} |",
            flush=True,
        )


# --------------------------------------------------------------------------------------------- README demo


def demo(work: Path, max_samples: int) -> None:
    output_dir = work / "demo"
    argv = [
        sys.executable,
        str(ROOT / "pipeline" / "eval.py"),
        "--cluster",
        "local",
        "--benchmarks",
        "gsm8k:0",
        "--output_dir",
        str(output_dir),
        f"++max_samples={max_samples}",
    ]
    before = load()
    started = time.perf_counter()
    subprocess.run(argv, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    metrics = json.loads((output_dir / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]
    print(f"\n## README demo: {' '.join(argv[1:])}")
    print("| wall (s) | items/s | accuracy (%) | no answer (%) | avg tokens | load before-after |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| {wall:.1f} | {metrics['num_entries'] / wall:.2f} | {metrics['accuracy']:.1f} | {metrics['no_answer']:.1f} "
        f"| {metrics['avg_tokens']:.0f} | {before}-{load()} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ints = lambda text: [int(x) for x in text.split(",")]  # noqa: E731
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--concurrency", type=ints, default=[1, 8, 64])
    parser.add_argument("--fake", choices=["lean", "scripted", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="turn the stage's tqdm bar off")
    parser.add_argument("--model-items", type=int, default=30)
    parser.add_argument("--parallel", type=ints, default=[1, 2, 4])
    parser.add_argument("--demo", action="store_true", help="also time the README command once")
    parser.add_argument("--demo-samples", type=int, default=50)
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-model", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="generation_bench-", dir=os.environ.get("BENCH_TMPDIR")) as tmp:
        work = Path(tmp)
        if not args.skip_overhead:
            client_overhead(args, work)
        if not args.skip_model:
            real_model(args, work)
        if args.demo:
            demo(work, args.demo_samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
