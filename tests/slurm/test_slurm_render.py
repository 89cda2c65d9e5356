"""Rendered sbatch scripts (golden files), sbatch argv, the cluster config and remote (ssh/rsync) commands."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.jobs._graph import Component, Job, JobGraph
from nemo_pipeline.jobs.slurm import (
    RemoteCommands,
    SlurmBackend,
    SlurmClusterConfig,
    load_cluster_config,
    render_sbatch,
    sbatch_argv,
    srun_argv,
)
from nemo_pipeline.jobs.slurm._render import job_paths

GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).resolve().parents[2]
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

CLUSTER = SlurmClusterConfig(
    partition="batch",
    account="llm-eval",
    time_limit="04:00:00",
    gpus_per_node=8,
    images={"server": "nvcr.io/nvidia/vllm:25.09-py3"},
    mounts=("/lustre/models:/models:ro", "/lustre/out:/out"),
    env={"HF_HOME": "/lustre/hf cache", "NCCL_DEBUG": "WARN"},
    sbatch_flags=("--qos=normal", "--exclusive"),
    python="/opt/venv/bin/python",
    code_dir="/opt/nemo-pipeline",
)
SERVE_GENERATE = Job(
    name="generate-gsm8k-rs0",
    components=(
        Component(
            "server",
            (
                "vllm",
                "serve",
                "/models/Qwen3-8B",
                "--port",
                "5000",
                "--tensor-parallel-size",
                "8",
            ),
            env={"VLLM_NO_USAGE_STATS": "1"},
        ),
        Component(
            "sandbox",
            ("python", "-m", "nemo_pipeline.sandbox.server", "--port", "6000"),
            image="sandbox:1",
        ),
        Component(
            "main",
            (
                "python",
                "-m",
                "nemo_pipeline.inference.generate",
                '++prompt=it\'s a "test"',
                "$HOME",
            ),
        ),
    ),
    gpus=8,
)
METRICS = Job(
    "metrics-gsm8k",
    (Component("main", ("python", "pipeline/compute_metrics.py", "--benchmark", "gsm8k")),),
)


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{path} differs; rerun with UPDATE_GOLDEN=1 and review the diff"


@pytest.mark.timeout(10)
@pytest.mark.parametrize("job", [SERVE_GENERATE, METRICS], ids=lambda j: j.name)
def test_sbatch_script_matches_golden(job: Job) -> None:
    text = render_sbatch(CLUSTER, job, job_paths(PurePosixPath("/lustre/out/run1"), job.name))
    _check_golden(f"{job.name}.sbatch", text)


@pytest.mark.timeout(10)
def test_minimal_cluster_script_matches_golden() -> None:
    cluster = SlurmClusterConfig(python="python3", code_dir="/code")
    _check_golden(
        "minimal.sbatch",
        render_sbatch(cluster, METRICS, job_paths(PurePosixPath("/out"), METRICS.name)),
    )


@pytest.mark.timeout(10)
def test_sbatch_script_is_valid_bash_and_quotes_once(tmp_path: Path) -> None:
    import subprocess

    text = render_sbatch(
        CLUSTER,
        SERVE_GENERATE,
        job_paths(PurePosixPath("/lustre/out/run1"), SERVE_GENERATE.name),
    )
    script = tmp_path / "job.sbatch"
    script.write_text(text)
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    # Replace exec with a printer of its argv: each argument must come back exactly as given.
    body = text.split("exec ", 1)[1]
    probe = tmp_path / "probe.sh"
    probe.write_text("printf '%s\\n' " + body)
    args = subprocess.run(["bash", str(probe)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert '++prompt=it\'s a "test"' in args and "$HOME" in args
    assert args[args.index("--env") : args.index("--env") + 3] == ["--env", "server", "VLLM_NO_USAGE_STATS=1"]
    assert args[args.index("--component") :][:8] == [
        "--component",
        "server",
        "--",
        "srun",
        "--overlap",
        "--ntasks=1",
        "--job-name=server",
        "--container-image=nvcr.io/nvidia/vllm:25.09-py3",
    ]


@pytest.mark.timeout(10)
def test_srun_uses_container_only_when_configured() -> None:
    sandbox = SERVE_GENERATE.components[1]
    assert srun_argv(CLUSTER, sandbox) == [
        "srun", "--overlap", "--ntasks=1", "--job-name=sandbox", *sandbox.argv
    ]  # fmt: skip
    with_defaults = SlurmClusterConfig(use_default_images=True, mounts=("/a:/b",), srun_flags=("--mpi=none",))
    assert srun_argv(with_defaults, sandbox) == [
        "srun", "--overlap", "--ntasks=1", "--job-name=sandbox", "--mpi=none",
        "--container-image=sandbox:1", "--container-mounts=/a:/b", *sandbox.argv,
    ]  # fmt: skip


@pytest.mark.timeout(10)
def test_too_many_gpus_fail_before_submission() -> None:
    job = Job("big", (Component("main", ("x",)),), gpus=16)
    with pytest.raises(ConfigError, match="asks for 16 GPUs"):
        render_sbatch(CLUSTER, job, job_paths(PurePosixPath("/o"), "big"))
    two_nodes = SlurmClusterConfig(nodes=2, gpus_per_node=8)
    assert "#SBATCH --gpus-per-node=8" in render_sbatch(two_nodes, job, job_paths(PurePosixPath("/o"), "big"))


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "ok, any_, expected",
    [
        ([], [], ["sbatch", "--parsable", "/o/jobs/x.sbatch"]),
        (
            ["11", "12"],
            [],
            [
                "sbatch",
                "--parsable",
                "--dependency=afterok:11:12",
                "--kill-on-invalid-dep=yes",
            ],
        ),
        (
            ["11"],
            ["13"],
            [
                "sbatch",
                "--parsable",
                "--dependency=afterok:11,afterany:13",
                "--kill-on-invalid-dep=yes",
            ],
        ),
        (
            [],
            ["13", "14"],
            [
                "sbatch",
                "--parsable",
                "--dependency=afterany:13:14",
                "--kill-on-invalid-dep=yes",
            ],
        ),
    ],
)
def test_sbatch_argv(ok: list[str], any_: list[str], expected: list[str]) -> None:
    argv = sbatch_argv(PurePosixPath("/o/jobs/x.sbatch"), ok, any_)
    assert argv[: len(expected)] == expected and argv[-1] == "/o/jobs/x.sbatch"


@pytest.mark.timeout(10)
def test_dry_run_plan_holds_exactly_the_graph_whatever_files_exist(tmp_path: Path) -> None:
    # "Is this step complete" is the graph builder's question (nemo_pipeline.layout); the backend submits what the
    # graph holds, so an old marker in the run directory cannot make it skip a job.
    graph = JobGraph(tmp_path)
    graph.add(Job("gen", (Component("main", ("true",)),)))
    graph.add(Job("eval", (Component("main", ("true",)),), after_ok=("gen",)))
    graph.add(Job("sum", (Component("main", ("true",)),), after_any=("eval", "gen")))
    (tmp_path / "eval-results" / "b").mkdir(parents=True)
    (tmp_path / "eval-results" / "b" / "output.jsonl.done").write_text("{}")
    handle = SlurmBackend(SlurmClusterConfig(), dry_run=True).submit(graph)
    plan = handle.plan
    assert plan.skipped == [] and plan.order == ["gen", "eval", "sum"]
    assert plan.commands[0] == ["sbatch", "--parsable", str(tmp_path / "jobs" / "gen.sbatch")]
    assert plan.commands[1][2] == "--dependency=afterok:{gen}"
    assert plan.commands[2][2] == "--dependency=afterany:{eval}:{gen}"
    assert set(plan.scripts) == {"gen", "eval", "sum"}
    assert handle.status() == {"gen": "UNKNOWN", "eval": "UNKNOWN", "sum": "UNKNOWN"}
    assert (tmp_path / "jobs" / "submit.sh").exists()


@pytest.mark.timeout(10)
def test_cluster_yaml_files_load() -> None:
    cfg = load_cluster_config(REPO / "conf" / "cluster" / "slurm.yaml")
    # The shipped default runs everything as plain processes; images are opt-in per cluster.
    assert cfg.gpus_per_node is None and dict(cfg.images) == {} and not cfg.remote and cfg.time_limit == "04:00:00"
    local = load_cluster_config(REPO / "conf" / "cluster" / "slurm-local.yaml")
    assert local.time_limit == "60" and local.poll_min_s == 0.2


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"partiton": "x"},
            "cluster: unknown key 'partiton'. Did you mean 'partition'?",
        ),
        ({"nodes": "two"}, "'nodes' must be int"),
        ({"nodes": True}, "'nodes' must be int"),
        ({"mounts": "/a:/b"}, "'mounts' must be a list of strings"),
        ({"env": ["A=1"]}, "'env' must be a mapping"),
        ({"ssh_host": "me@login"}, "give both"),
        ({"ssh_host": "me@login", "remote_dir": "relative"}, "absolute path"),
        ({"executor": "local"}, "needs executor: slurm"),
    ],
)
def test_cluster_config_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("?", r"\?")):
        load_cluster_config(data)


REMOTE = SlurmClusterConfig(ssh_host="me@login.example", remote_dir="/lustre/me/np", ssh_args=("-p", "2222"))


@pytest.mark.timeout(10)
def test_remote_commands_are_argv_lists() -> None:
    remote = RemoteCommands(REMOTE)
    assert remote.ssh(["sbatch", "--parsable", "/lustre/me/np/run 1/jobs/a.sbatch"]) == [
        "ssh", "-p", "2222", "me@login.example", "sbatch --parsable '/lustre/me/np/run 1/jobs/a.sbatch'"
    ]  # fmt: skip
    assert remote.push_code(Path("/home/me/nemo-pipeline"), "/lustre/me/np/code") == [
        "rsync", "-az", "-e", "ssh -p 2222",
        "--exclude=.git", "--exclude=__pycache__", "--exclude=*.pyc", "--exclude=.venv", "--exclude=outputs",
        "/home/me/nemo-pipeline/", "me@login.example:/lustre/me/np/code/",
    ]  # fmt: skip
    assert remote.pull_dir(PurePosixPath("/lustre/me/np/run1/logs"), Path("/tmp/run1/logs")) == [
        "rsync", "-az", "-e", "ssh -p 2222", "me@login.example:/lustre/me/np/run1/logs/", "/tmp/run1/logs/"
    ]  # fmt: skip


@pytest.mark.timeout(10)
def test_remote_dry_run_renders_cluster_paths(tmp_path: Path) -> None:
    out = tmp_path / "run1"
    graph = JobGraph(out)
    graph.add(Job("a", (Component("main", ("true",)),)))
    graph.add(Job("b", (Component("main", ("true",)),), after_ok=("a",)))
    plan = SlurmBackend(REMOTE, dry_run=True).render(graph)
    script = plan.scripts["b"].read_text()
    assert "#SBATCH --output=/lustre/me/np/run1/logs/b/slurm-%j.log" in script
    assert "cd /lustre/me/np/run1" in script and "export PYTHONPATH=/lustre/me/np/code$" in script
    assert "exec python3 -m nemo_pipeline.jobs.supervise" in script
    assert plan.commands[1] == [
        "ssh", "-p", "2222", "me@login.example",
        "sbatch --parsable '--dependency=afterok:{a}' --kill-on-invalid-dep=yes /lustre/me/np/run1/jobs/b.sbatch",
    ]  # fmt: skip
