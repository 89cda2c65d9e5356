"""Sandbox latency and throughput against plain `subprocess` (no isolation), measured in the same run.

    python benchmarks/sandbox_bench.py [--requests 200] [--workers 4] [--rounds 1]

Prints p50/p99 latency of a trivial program (sequential requests) and throughput at 1, 8 and 32 concurrent
requests, for the sandbox (HTTP + bubblewrap + uid + rlimits + cgroups) and for `python3 -c` run directly with
the same interpreter, and the ratios sandbox/plain. With --rounds N each throughput pair is measured N times,
alternating which side goes first (on a shared machine the load drifts), and the medians are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nemo_pipeline.sandbox import LocalSandbox, SandboxClient

PROGRAM = "print(1)"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def plain_once(python: str) -> None:
    out = subprocess.run([python, "-c", PROGRAM], capture_output=True, timeout=30)
    assert out.stdout == b"1\n", out


def plain_latency(python: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        plain_once(python)
        times.append(time.perf_counter() - started)
    return times


def plain_throughput(python: str, n: int, concurrency: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: plain_once(python), range(n)))
    return n / (time.perf_counter() - started)


def sandbox_latency(client: SandboxClient, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        result = client.execute(PROGRAM)
        times.append(time.perf_counter() - started)
        assert result.stdout == "1\n", result
    return times


def sandbox_throughput(url: str, n: int, concurrency: int) -> float:
    async def run() -> float:
        client = SandboxClient(url)
        limit = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with limit:
                result = await client.execute_async(PROGRAM)
                assert result.stdout == "1\n", result

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        elapsed = time.perf_counter() - started
        await client.aclose()
        return n / elapsed

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="requests per measurement")
    parser.add_argument("--workers", type=int, default=4, help="sandbox workers (parallel runs)")
    parser.add_argument("--rounds", type=int, default=1, help="throughput pairs per concurrency (medians printed)")
    args = parser.parse_args()
    with LocalSandbox(workers=args.workers) as sandbox:
        client = SandboxClient(sandbox.url)
        python = client.health()["isolation"]["python"]
        sandbox_latency(client, 10)  # warm-up
        plain_latency(python, 10)
        box = sandbox_latency(client, args.requests)
        plain = plain_latency(python, args.requests)
        print(f"trivial program {PROGRAM!r}, {args.requests} sequential requests, interpreter {python}")
        print(f"{'':24}{'p50 ms':>10}{'p99 ms':>10}")
        for name, values in (("sandbox (HTTP)", box), ("plain subprocess", plain)):
            print(f"{name:24}{1000 * statistics.median(values):10.1f}{1000 * percentile(values, 0.99):10.1f}")
        print(f"{'ratio sandbox/plain':24}{statistics.median(box) / statistics.median(plain):10.2f}"
              f"{percentile(box, 0.99) / percentile(plain, 0.99):10.2f}")  # fmt: skip
        rounds = f", median of {args.rounds} rounds" if args.rounds > 1 else ""
        print(f"\nthroughput (programs/s), {args.workers} sandbox workers{rounds}")
        print(f"{'concurrency':14}{'sandbox':>10}{'plain':>10}{'ratio':>8}")
        for concurrency in (1, 8, 32):
            boxed, direct, ratios = [], [], []
            for round_ in range(args.rounds):
                pair = {}
                for side in ("sandbox", "plain") if round_ % 2 == 0 else ("plain", "sandbox"):
                    if side == "sandbox":
                        pair[side] = sandbox_throughput(sandbox.url, args.requests, concurrency)
                    else:
                        pair[side] = plain_throughput(python, args.requests, concurrency)
                boxed.append(pair["sandbox"])
                direct.append(pair["plain"])
                ratios.append(pair["sandbox"] / pair["plain"])
            print(
                f"{concurrency:<14}{statistics.median(boxed):10.1f}{statistics.median(direct):10.1f}"
                f"{statistics.median(ratios):8.2f}"
            )
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
