"""Generation throughput: the generate stage with default settings against scripted servers of known capacity,
against the ideal rate and a bare aiohttp loop measured in the same run.

    python benchmarks/throughput_bench.py [--items 1319] [--repeats 3] [--only queue,ratelimit,overhead]
                                          [--reference-items 200]

Servers are `tests/fakes/queue_server.py` processes (asyncio; their CPU time per request is printed as their
ceiling). The stage runs as users run it: `pipeline/generate.py` as a subprocess, `generic/math-fewshot` prompts
over GSM8K-shaped items. Rates are items / the server's busy window (first request in to last answer out), so
Python start-up is left out (the stage's wall time is printed beside it); medians of `--repeats` interleaved runs.

1. Queueing servers (S slots of latency L; requests beyond S wait): ideal S/L. With N items a perfect client
   still needs ceil(N/S) rounds, so the best reachable rate, N / (ceil(N/S) L), is printed too. Fixed 512 and
   fixed 8 are run once each for reference (fixed 8 on `--reference-items` items).
2. A rate-limited server: 429 + Retry-After above C requests in progress; ideal C/L; the share of 429s.
3. Client overhead: a zero-latency server, the stage pinned at 1, 8, 64 in flight against the bare loops at the
   same concurrency.
The bare loop posts the same request bodies, rendered beforehand, with aiohttp and a fixed number of workers; the
"bare plain" loop does the same on the stage's own http:// transport (`nemo_pipeline.inference._http.PlainHttp`),
so ours / bare plain is what the stage costs above its HTTP layer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPT = "generic/math-fewshot"
QUEUE_CASES = [(0.5, 16), (0.2, 64), (1.0, 512), (0.05, 256)]  # (latency s, slots)
RATE_CASE = (0.2, 64, 0.5)  # latency s, concurrent requests allowed, Retry-After s
OVERHEAD_CONCURRENCY = [1, 8, 64]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

from nemo_pipeline.layout import client_stats_file  # noqa: E402  (the repository root is on the path now)
from nemo_pipeline.records import read_client_report  # noqa: E402


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


@dataclass
class Run:
    items: int
    window_s: float  # server busy window
    wall_s: float  # the subprocess, start-up included
    requests: int
    refused: int  # 429s
    server_cpu_s: float
    settled: int | None = None  # the stage's settled in-flight limit
    peak: int | None = None

    @property
    def rate(self) -> float:
        return self.items / self.window_s if self.window_s > 0 else 0.0


class FakeServer:
    def __init__(self, *args: str) -> None:
        self.argv = [sys.executable, "-m", "tests.fakes.queue_server", *args]
        self.url = ""

    def __enter__(self) -> FakeServer:
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "URL http://..." once listening
        if not line.startswith("URL "):
            raise RuntimeError(f"fake server did not start: {line!r}")
        self.url = line.split()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def _call(self, method: str, path: str) -> dict[str, Any]:
        root = self.url.rsplit("/v1", 1)[0]
        request = urllib.request.Request(root + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=10) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def reset(self) -> None:
        self._call("POST", "/reset")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")


def make_items(path: Path, n: int) -> None:
    """GSM8K-shaped items: a word problem of about 200 characters and a numeric answer."""
    rows = []
    for i in range(n):
        a, b = 12 + i % 37, 3 + i % 11
        problem = (
            f"A baker makes {a} loaves of bread every morning and sells {b} of them before noon. In the afternoon "
            f"she bakes {b + 4} more and sells half of what she has. How many loaves are left at the end of day {i}?"
        )
        rows.append({"id": f"gsm8k-{i}", "problem": problem, "expected_answer": str((a - b + b + 4) // 2)})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def run_stage(server: FakeServer, data: Path, work: Path, n: int, *extra: str) -> Run:
    out = work / f"out-{time.monotonic_ns()}.jsonl"
    argv = [
        sys.executable, str(ROOT / "pipeline" / "generate.py"), f"++input_file={data}", f"++output_file={out}",
        f"++prompt_config={PROMPT}", "++server.server_type=openai", f"++server.address='{server.url}'",
        "++progress=false", "++inference.tokens_to_generate=256", "++inference.temperature=0.0", *extra,
    ]  # fmt: skip
    if n:
        argv.append(f"++max_samples={n}")
    server.reset()
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900, check=False)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"generate failed ({done.returncode}): {done.stderr[-2000:]}")
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    expected = n or sum(1 for _ in data.open())
    if len(ids) != expected or len(set(ids)) != expected:
        raise RuntimeError(f"{out}: {len(ids)} records, {len(set(ids))} distinct, expected {expected}")
    report = read_client_report(client_stats_file(out))
    stats = server.stats()
    return Run(
        expected, stats["window_s"], wall, stats["requests"], stats["statuses"].get("429", 0), stats["cpu_s"],
        report.limit_settled, report.limit_peak,
    )  # fmt: skip


def run_bare(server: FakeServer, bodies: Path, concurrency: int, stack: str = "aiohttp") -> Run:
    server.reset()
    started = time.monotonic()
    argv = [sys.executable, str(Path(__file__).resolve()), "--bare", server.url, str(bodies), str(concurrency), stack]
    done = subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900, check=False)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"bare loop failed: {done.stderr[-2000:]}")
    n = int(done.stdout.split()[0])
    stats = server.stats()
    return Run(n, stats["window_s"], wall, stats["requests"], stats["statuses"].get("429", 0), stats["cpu_s"])


async def bare_loop(url: str, bodies: list[bytes], concurrency: int) -> int:
    """Post every body with `concurrency` workers; retry 429s after their Retry-After. Returns answers read."""
    import aiohttp

    queue = list(reversed(bodies))
    answered = 0
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            nonlocal answered
            while queue:
                body = queue.pop()
                while True:
                    async with session.post(url + "/completions", data=body) as response:
                        raw = await response.read()
                        if response.status == 429:
                            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                            continue
                    answered += bool(json.loads(raw)["choices"][0]["text"] is not None)  # parse it, as a client must
                    break

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return answered


async def bare_plain_loop(url: str, bodies: list[bytes], concurrency: int) -> int:
    """The same loop on the stage's own http:// transport (`nemo_pipeline.inference._http.PlainHttp`): what the
    stage costs above the HTTP layer it uses."""
    from nemo_pipeline.inference._http import PlainHttp

    queue = list(reversed(bodies))
    answered = 0
    transport = PlainHttp(url, {"Content-Type": "application/json"}, timeout_s=300.0, connect_timeout_s=10.0)

    async def worker() -> None:
        nonlocal answered
        while queue:
            body = queue.pop()
            while True:
                answer = await transport.request("POST", url + "/completions", body)
                if answer.status == 429:
                    await asyncio.sleep(float(answer.retry_after or "1"))
                    continue
                answered += bool(json.loads(answer.body)["choices"][0]["text"] is not None)
                break

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await transport.aclose()
    return answered


def render_bodies(data: Path, path: Path) -> None:
    from nemo_pipeline.inference.prompts import load_prompt
    from nemo_pipeline.jsonl import read_jsonl

    prompt = load_prompt(PROMPT)
    with path.open("w") as out:
        for item in read_jsonl(data):
            body = {"model": "scripted-model", "prompt": prompt.render(item), "temperature": 0.0, "top_p": 1.0,
                    "max_tokens": 256, "seed": 0, "stop": list(prompt.stop)}  # fmt: skip
            out.write(json.dumps(body) + "\n")


def median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.rate)[len(runs) // 2]


def line(label: str, run: Run, *ratios: tuple[str, float]) -> str:
    extra = "".join(f"  {name} {value:.2f}" for name, value in ratios)
    limit = f"  limit settled {run.settled} (peak {run.peak})" if run.settled is not None else ""
    refused = f"  429s {run.refused}/{run.requests}" if run.refused else ""
    return f"  {label:<22} {run.rate:8.0f} items/s  (wall {run.wall_s:5.1f} s){extra}{limit}{refused}"


def ceiling(run: Run) -> float:
    return run.requests / run.server_cpu_s if run.server_cpu_s > 0 else float("inf")


def queue_cases(
    data: Path,
    bodies: Path,
    work: Path,
    n: int,
    repeats: int,
    ref_items: int,
    cases: list[tuple[float, int]],
    with_pinned: bool = False,
) -> None:
    for latency, slots in cases:
        ideal = slots / latency
        reachable = n / (math.ceil(n / slots) * latency)
        with FakeServer("--slots", str(slots), "--latency", str(latency)) as server:
            ours: list[Run] = []
            bare: list[Run] = []
            pinned: list[Run] = []
            for _ in range(repeats):
                ours.append(run_stage(server, data, work, 0))
                bare.append(run_bare(server, bodies, slots))
                if with_pinned:  # the stage told the slot count, as the bare loop is
                    pinned.append(run_stage(server, data, work, 0, f"++max_concurrent_requests={slots}"))
            fixed512 = run_stage(server, data, work, 0, "++max_concurrent_requests=512")
            fixed8 = run_stage(server, data, work, min(ref_items, n), "++max_concurrent_requests=8")
            plain = run_bare(server, bodies, slots, "plain") if latency < 0.5 else None
        o, b = median_run(ours), median_run(bare)
        print(f"queueing server L={latency} s, S={slots}: ideal {ideal:.0f}/s, reachable with {n} items "
              f"{reachable:.0f}/s; server ceiling {ceiling(b):.0f} req/s per CPU-s; load {load()}")  # fmt: skip
        print(line("ours (default)", o, ("/ideal", o.rate / ideal), ("/reachable", o.rate / reachable),
                   ("/bare", o.rate / b.rate)))  # fmt: skip
        print(f"    runs: {', '.join(f'{r.rate:.0f}' for r in ours)} items/s")
        print(line(f"bare aiohttp @{slots}", b, ("/ideal", b.rate / ideal)))
        if pinned:
            p = median_run(pinned)
            print(line(f"ours pinned {slots}", p, ("/ideal", p.rate / ideal), ("/bare", p.rate / b.rate)))
        if plain is not None:
            print(line(f"bare plain http @{slots}", plain, ("/ideal", plain.rate / ideal)))
        print(line("ours fixed 512", fixed512, ("/ideal", fixed512.rate / ideal)))
        print(line(f"ours fixed 8 ({fixed8.items})", fixed8, ("/ideal", fixed8.rate / ideal)))
        sys.stdout.flush()


def rate_case(data: Path, bodies: Path, work: Path, n: int, repeats: int, ref_items: int) -> None:
    latency, capacity, retry_after = RATE_CASE
    ideal = capacity / latency
    args = ["--slots", str(capacity), "--latency", str(latency), "--rate-limit", str(capacity)]
    with FakeServer(*args, "--retry-after", str(retry_after)) as server:
        ours = [run_stage(server, data, work, 0) for _ in range(repeats)]
        bare = run_bare(server, bodies, capacity)
        fixed512 = run_stage(server, data, work, 0, "++max_concurrent_requests=512", "++max_retries=50")
        fixed8 = run_stage(server, data, work, min(ref_items, n), "++max_concurrent_requests=8")
    o = median_run(ours)
    print(f"rate-limited server: 429 + Retry-After {retry_after} s above C={capacity} in progress, L={latency} s: "
          f"ideal C/L {ideal:.0f}/s; load {load()}")  # fmt: skip
    print(line("ours (default)", o, ("/ideal", o.rate / ideal), ("429 share", o.refused / max(1, o.requests))))
    print(f"    runs: {', '.join(f'{r.rate:.0f}/s, 429s {r.refused}/{r.requests}' for r in ours)}")
    print(line(f"bare aiohttp @{capacity}", bare, ("/ideal", bare.rate / ideal)))
    print(line("ours fixed 512", fixed512, ("/ideal", fixed512.rate / ideal)))
    print(line(f"ours fixed 8 ({fixed8.items})", fixed8, ("/ideal", fixed8.rate / ideal)))
    sys.stdout.flush()


def overhead_cases(data: Path, bodies: Path, work: Path, repeats: int) -> None:
    with FakeServer() as server:
        for concurrency in OVERHEAD_CONCURRENCY:
            ours: list[Run] = []
            bare: list[Run] = []
            plain: list[Run] = []
            for _ in range(repeats):
                ours.append(run_stage(server, data, work, 0, f"++max_concurrent_requests={concurrency}"))
                bare.append(run_bare(server, bodies, concurrency))
                plain.append(run_bare(server, bodies, concurrency, "plain"))
            o, b, p = median_run(ours), median_run(bare), median_run(plain)
            print(f"zero-latency server, {concurrency} in flight: server ceiling {ceiling(b):.0f} req/s per CPU-s; "
                  f"load {load()}")  # fmt: skip
            print(
                line(
                    f"ours pinned {concurrency}",
                    o,
                    ("/bare aiohttp", o.rate / b.rate),
                    ("/bare plain", o.rate / p.rate),
                )
            )
            print(f"    runs: ours {', '.join(f'{r.rate:.0f}' for r in ours)}; "
                  f"bare aiohttp {', '.join(f'{r.rate:.0f}' for r in bare)}; "
                  f"bare plain {', '.join(f'{r.rate:.0f}' for r in plain)} items/s")  # fmt: skip
            print(line(f"bare aiohttp @{concurrency}", b))
            print(line(f"bare plain http @{concurrency}", p))
            sys.stdout.flush()


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--bare":
        url, path, concurrency, stack = sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        payloads = [line.encode() for line in path.read_text().splitlines()]
        loop = bare_plain_loop if stack == "plain" else bare_loop
        print(asyncio.run(loop(url, payloads, concurrency)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1319)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="queue,ratelimit,overhead")
    parser.add_argument("--queue-cases", default="", help="e.g. 0.05:256,0.2:64 (latency:slots); default: all four")
    parser.add_argument("--reference-items", type=int, default=200, help="items for the slow fixed-8 reference")
    parser.add_argument("--with-pinned", action="store_true", help="queue cases: also the stage pinned at S")
    args = parser.parse_args()
    only = set(args.only.split(","))
    print(f"throughput_bench: {args.items} items, {args.repeats} repeats; {os.cpu_count()} cores; load {load()}")
    with tempfile.TemporaryDirectory(prefix="throughput-bench-") as tmp:
        work = Path(tmp)
        data, bodies = work / "items.jsonl", work / "bodies.jsonl"
        make_items(data, args.items)
        render_bodies(data, bodies)
        if "queue" in only:
            cases = [(float(c.split(":")[0]), int(c.split(":")[1])) for c in args.queue_cases.split(",") if c]
            queue_cases(
                data, bodies, work, args.items, args.repeats, args.reference_items, cases or QUEUE_CASES,
                args.with_pinned,
            )  # fmt: skip
        if "ratelimit" in only:
            rate_case(data, bodies, work, args.items, args.repeats, args.reference_items)
        if "overhead" in only:
            overhead_cases(data, bodies, work, args.repeats)
    print(f"load at the end {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
