"""Submit time of a 20-job graph on the real Slurm cluster, against single `sbatch` round trips in the same run.

Usage: python benchmarks/slurm_submit_bench.py [--jobs 20] [--repeats 3]
Prints the median over repeats of: one bare `sbatch --parsable` round trip, rendering the graph (dry run), and
submitting it (render + one sbatch per job with dependencies); then jobs/s and the ratio of the graph's submit
time to N bare round trips. Every submitted job is cancelled at the end.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nemo_pipeline.jobs._graph import Component, Job, JobGraph
from nemo_pipeline.jobs.slurm import SlurmBackend, SlurmClusterConfig


def build(output_dir: Path, n: int) -> JobGraph:
    """An eval-shaped graph: generate -> evaluate -> metrics per benchmark, one summarize after all."""
    graph = JobGraph(output_dir)
    metrics: list[str] = []
    i = 0
    while len(graph.jobs) < n - 1:
        gen = graph.add(Job(f"generate-{i}", (Component("server", ("sleep", "60")), Component("main", ("true",)))))
        if len(graph.jobs) < n - 1:
            graph.add(Job(f"evaluate-{i}", (Component("main", ("true",)),), after_ok=(gen.name,)))
        if len(graph.jobs) < n - 1:
            metrics.append(
                graph.add(Job(f"metrics-{i}", (Component("main", ("true",)),), after_ok=(f"evaluate-{i}",))).name
            )
        i += 1
    graph.add(Job("summarize", (Component("main", ("true",)),), after_any=tuple(metrics)))
    return graph


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cluster = SlurmClusterConfig()
    ids: list[str] = []
    single, render, submit = [], [], []
    with tempfile.TemporaryDirectory(prefix="slurm-bench-") as tmp:
        script = Path(tmp) / "one.sbatch"
        script.write_text(f"#!/bin/bash\n#SBATCH --output={tmp}/one-%j.log\ntrue\n")
        try:
            for r in range(args.repeats):
                start = time.perf_counter()
                out = subprocess.run(["sbatch", "--parsable", "--hold", str(script)], capture_output=True, text=True,
                                     check=True, timeout=60)  # fmt: skip
                single.append(time.perf_counter() - start)
                ids.append(out.stdout.strip().split(";")[0])

                graph = build(Path(tmp) / f"dry{r}", args.jobs)
                start = time.perf_counter()
                SlurmBackend(cluster, dry_run=True).submit(graph)
                render.append(time.perf_counter() - start)

                graph = build(Path(tmp) / f"run{r}", args.jobs)
                start = time.perf_counter()
                handle = SlurmBackend(cluster).submit(graph)
                submit.append(time.perf_counter() - start)
                ids.extend(handle.job_ids.values())
                handle.cancel()
        finally:
            if ids:
                subprocess.run(["scancel", *ids], check=False, timeout=60)
    one, rend, sub = statistics.median(single), statistics.median(render), statistics.median(submit)
    print(f"single sbatch round trip: {one:.4f} s")
    print(f"render {args.jobs}-job graph (dry run): {rend:.4f} s")
    print(f"submit {args.jobs}-job graph: {sub:.4f} s = {args.jobs / sub:.1f} jobs/s")
    print(f"ratio submit / ({args.jobs} x single round trip): {sub / (args.jobs * one):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
