"""Server-seconds spent starting model servers for a two-model campaign, before and after grouping generate tasks
into server jobs.

Usage: python benchmarks/server_starts_bench.py [--start-s 3] [--model-load-s 120] [--skip-run]

1. From the job graphs (exact): for `gsm8k:4,aime25:8,math500:4` of two models, the number of server starts
   locally and as rendered for Slurm, "before" (one server job per benchmark x seed x chunk, `++num_jobs=0`, which
   is what every run did before grouping) and "after" (the default: one server job per model), and the
   server-seconds at `--model-load-s` per start (a GPU model load takes minutes).
2. For real, on the local backend: `pipeline/eval.py --models` with two models of a scripted server type whose
   start takes `--start-s` seconds (a fake `vllm` executable that sleeps, then serves tests/fakes/queue_server),
   on `gsm8k:2,aime25:4` (math500 has no offline data here), ++max_samples=2, before and after; the server starts
   counted from the server logs the jobs left, and the wall time of each run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nemo_pipeline.config import EvalConfig, compose_config  # noqa: E402
from nemo_pipeline.jobs import JobGraph, add_model_jobs, parse_benchmarks  # noqa: E402
from nemo_pipeline.jobs.eval_graph import ClusterPaths  # noqa: E402

SUITE = "gsm8k:4,aime25:8,math500:4"
FAKE_VLLM = """#!{python}
# A stand-in for `vllm serve MODEL --host H --port P ...`: takes {start_s} s to "load the model", then serves.
import os, sys, time
args = sys.argv[1:]
port = args[args.index("--port") + 1]
time.sleep({start_s})
os.chdir({repo!r})
os.execv(sys.executable, [sys.executable, "-m", "tests.fakes.queue_server", "--port", port, "--latency", "0.01"])
"""


def graph_starts(num_jobs: int, separate: bool) -> int:
    """Server starts of a two-model campaign's graph: generate jobs that start a server."""
    graph = JobGraph(Path(tempfile.mkdtemp()) / "out")
    requests = parse_benchmarks(SUITE)
    data = {r.name: Path("/data") / f"{r.name}.jsonl" for r in requests}
    for name in ("a", "b"):
        cfg = compose_config(
            EvalConfig,
            "eval",
            ["++server.server_type=vllm", f"++server.model=/models/{name}", f"++num_jobs={num_jobs}"],
        )
        add_model_jobs(graph, requests, cfg, data, ClusterPaths(python="python"), separate, name)
    generate = [job for job in graph.jobs if "-generate" in job.name]
    if separate:
        return sum(1 for job in generate for c in job.components if c.name == "server")
    return len(generate)  # locally the generate stage starts the server itself, once per job


def real_run(num_jobs: int, start_s: float, workdir: Path) -> tuple[int, float]:
    """Run the campaign locally with a server type that takes `start_s` to start; (server starts, wall seconds)."""
    bin_dir, module_dir = workdir / "bin", workdir / "pymod" / "vllm"
    bin_dir.mkdir(parents=True, exist_ok=True)
    module_dir.mkdir(parents=True, exist_ok=True)
    (module_dir / "__init__.py").write_text("# stand-in so that the vllm server type counts as installed\n")
    fake = bin_dir / "vllm"
    fake.write_text(FAKE_VLLM.format(python=sys.executable, start_s=start_s, repo=str(REPO)))
    fake.chmod(0o755)
    models = workdir / "models.yaml"
    models.write_text(
        "- name: a\n  server_type: vllm\n  model: /models/a\n  baseline: true\n"
        "- name: b\n  server_type: vllm\n  model: /models/b\n"
    )
    out = workdir / f"out-{num_jobs}"
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(workdir / "pymod"), env.get("PYTHONPATH", "")])
    argv = [
        sys.executable, str(REPO / "pipeline" / "eval.py"), "--models", str(models), "--benchmarks", "gsm8k:2,aime25:4",
        "--output_dir", str(out), "++max_samples=2", f"++num_jobs={num_jobs}", "++server.start_timeout_s=120",
    ]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800, check=False)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"campaign failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    starts = len(list(out.glob("*/logs/*/server-vllm-*.log")))
    return starts, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start-s", type=float, default=3.0, help="start time of the scripted server (real run)")
    parser.add_argument("--model-load-s", type=float, default=120.0, help="start time assumed for a GPU model load")
    parser.add_argument("--skip-run", action="store_true", help="only count from the graphs")
    args = parser.parse_args()
    print(f"two models x {SUITE}: server starts from the job graphs (server-seconds at {args.model_load_s:g} s each)")
    print(f"{'where':<8} {'before':>8} {'after':>8} {'ratio':>8} {'before s':>10} {'after s':>10}")
    for where, separate in (("local", False), ("slurm", True)):
        before, after = graph_starts(0, separate), graph_starts(1, separate)
        print(
            f"{where:<8} {before:>8} {after:>8} {before / after:>7.1f}x "
            f"{before * args.model_load_s:>10.0f} {after * args.model_load_s:>10.0f}"
        )
    if args.skip_run:
        return 0
    print(f"\nfor real, local backend, two models x gsm8k:2,aime25:4, a server that takes {args.start_s:g} s to start")
    with tempfile.TemporaryDirectory() as tmp:
        runs = {label: real_run(jobs, args.start_s, Path(tmp)) for label, jobs in (("before", 0), ("after", 1))}
    (b_starts, b_wall), (a_starts, a_wall) = runs["before"], runs["after"]
    print(f"{'':<8} {'starts':>8} {'start s':>10} {'wall s':>10}")
    print(f"{'before':<8} {b_starts:>8} {b_starts * args.start_s:>10.0f} {b_wall:>10.1f}")
    print(f"{'after':<8} {a_starts:>8} {a_starts * args.start_s:>10.0f} {a_wall:>10.1f}")
    print(f"wall time after/before: {a_wall / b_wall:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
