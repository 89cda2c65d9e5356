"""Wall time of the README demo as dependent Slurm jobs against the same command run locally, in the same run.

Usage: python benchmarks/slurm_vs_local_bench.py [--samples 10] [--repeats 2]

Runs `pipeline/eval.py --benchmarks gsm8k:0 ++max_samples=N` with `--cluster local` and with
`--cluster slurm --wait` (the single-node cluster of scripts/install_slurm.sh), alternating, each into a fresh
output directory, and prints the median wall seconds of each and their ratio. Both start the embedded llama.cpp
server, so the difference is Slurm's own cost: submission, scheduling of four dependent jobs, `srun` steps and the
status polling of `--wait`. Needs the [local] extra and a running Slurm.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(cluster: str, output_dir: Path, samples: int) -> float:
    argv = [sys.executable, str(ROOT / "pipeline" / "eval.py"), "--cluster", cluster, "--benchmarks", "gsm8k:0",
            "--output_dir", str(output_dir), f"++max_samples={samples}"]  # fmt: skip
    if cluster != "local":
        argv.append("--wait")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{cluster} run failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    times: dict[str, list[float]] = {"local": [], "slurm": []}
    # Slurm's job output must be on a path the (local) slurmd can write: a temporary directory is.
    with tempfile.TemporaryDirectory(prefix="slurm-vs-local-") as tmp:
        for repeat in range(args.repeats):
            for cluster in ("local", "slurm"):
                seconds = run_once(cluster, Path(tmp) / f"{cluster}-{repeat}", args.samples)
                times[cluster].append(seconds)
                print(f"{cluster} run {repeat}: {seconds:.1f} s (load {os.getloadavg()[0]:.2f})", flush=True)
    local, slurm = statistics.median(times["local"]), statistics.median(times["slurm"])
    print("| backend | median wall (s) | ratio vs local |")
    print("| --- | --- | --- |")
    print(f"| local | {local:.1f} | 1.00 |")
    print(f"| slurm (--wait) | {slurm:.1f} | {slurm / local:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
