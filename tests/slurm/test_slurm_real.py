"""The Slurm backend against the real single-node cluster (scripts/install_slurm.sh + scripts/start_slurm.sh)."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import pytest

from nemo_pipeline.errors import JobFailedError
from nemo_pipeline.jobs._graph import Component, Job, JobGraph
from nemo_pipeline.jobs._status import JobState
from nemo_pipeline.jobs.slurm import SlurmBackend, SlurmClusterConfig

PY = sys.executable
CLUSTER = SlurmClusterConfig(poll_min_s=0.2, poll_max_s=1.0, grace_s=5)
pytestmark = pytest.mark.usefixtures("slurm")


def _py(code: str, name: str = "main") -> Component:
    return Component(name, (PY, "-c", code))


def _stamp(name: str) -> str:
    return f"import time; open('stamps.txt', 'a').write('{name} %.6f\\n' % time.time())"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] not in (
        "Z",
        "X",
    )


@pytest.mark.timeout(120)
def test_three_job_chain_completes_in_order(tmp_path: Path) -> None:
    graph = JobGraph(tmp_path)
    graph.add(Job("a", (_py(_stamp("a")),)))
    graph.add(Job("b", (_py(_stamp("b")),), after_ok=("a",)))
    graph.add(Job("c", (_py(_stamp("c")),), after_ok=("b",)))
    handle = SlurmBackend(CLUSTER).submit(graph)
    assert list(handle.job_ids) == ["a", "b", "c"]
    states = handle.wait(90)
    assert states == {
        "a": JobState.COMPLETED,
        "b": JobState.COMPLETED,
        "c": JobState.COMPLETED,
    }
    stamps = [line.split() for line in (tmp_path / "stamps.txt").read_text().splitlines()]
    assert [s[0] for s in stamps] == ["a", "b", "c"]
    assert [float(s[1]) for s in stamps] == sorted(float(s[1]) for s in stamps)
    handle.raise_for_failures(states)  # no error
    assert handle.log_path("b") == tmp_path / "logs" / "b" / f"slurm-{handle.job_ids['b']}.log"


@pytest.mark.timeout(120)
def test_failed_job_cancels_dependents_and_status_names_it(tmp_path: Path) -> None:
    graph = JobGraph(tmp_path)
    graph.add(Job("prep", (_py("print('prep ok')"),)))
    graph.add(
        Job(
            "generate",
            (_py("import sys; print('model exploded'); sys.exit(5)"),),
            after_ok=("prep",),
        )
    )
    graph.add(Job("evaluate", (_py("print('never')"),), after_ok=("generate",)))
    graph.add(Job("metrics", (_py("print('never')"),), after_ok=("evaluate",)))
    graph.add(
        Job(
            "summarize",
            (_py("print('summary runs anyway')"),),
            after_any=("metrics", "prep"),
        )
    )
    handle = SlurmBackend(CLUSTER).submit(graph)
    states = handle.wait(90)
    assert states == {
        "prep": JobState.COMPLETED,
        "generate": JobState.FAILED,
        "evaluate": JobState.CANCELLED,
        "metrics": JobState.CANCELLED,
        "summarize": JobState.COMPLETED,
    }
    report = handle.report(states)
    assert f"generate (job {handle.job_ids['generate']}): FAILED" in report
    assert str(handle.log_path("generate")) in report
    assert "model exploded" in report  # the component's log tail, through the job log
    with pytest.raises(JobFailedError) as err:
        handle.raise_for_failures(states)
    assert "generate (FAILED)" in str(err.value) and "evaluate (CANCELLED)" in str(err.value)
    assert "model exploded" in str(err.value)
    assert "summary runs anyway" in (tmp_path / "logs" / "summarize" / "main.log").read_text()


@pytest.mark.timeout(120)
def test_server_and_client_components_share_a_job(tmp_path: Path) -> None:
    port = _free_port()
    server = (
        "import http.server, os\n"
        "open('server.pid', 'w').write(str(os.getpid()))\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers(); self.wfile.write(b'pong')\n"
        f"http.server.HTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
    )
    client = (
        "import time, urllib.request\n"
        "deadline = time.time() + 30\n"
        "while True:\n"
        "    try:\n"
        f"        body = urllib.request.urlopen('http://127.0.0.1:{port}/health', timeout=2).read()\n"
        "        break\n"
        "    except OSError:\n"
        "        assert time.time() < deadline, 'server never answered'\n"
        "        time.sleep(0.2)\n"
        "open('client.out', 'w').write(body.decode())\n"
    )
    graph = JobGraph(tmp_path)
    graph.add(Job("serve-generate", (_py(server, "server"), _py(client, "main"))))
    handle = SlurmBackend(CLUSTER).submit(graph)
    assert handle.wait(90) == {"serve-generate": JobState.COMPLETED}, handle.report()
    assert (tmp_path / "client.out").read_text() == "pong"
    assert not _alive(int((tmp_path / "server.pid").read_text()))
    assert "GET /health" in (tmp_path / "logs" / "serve-generate" / "server.log").read_text()
    job_log = handle.log_path("serve-generate").read_text()
    assert "main component 'main' succeeded; stopped ['server']" in job_log
    script = (tmp_path / "jobs" / "serve-generate.sbatch").read_text()
    assert script.count("srun --overlap --ntasks=1") == 2


@pytest.mark.timeout(120)
def test_dying_component_fails_job_with_log_tail(tmp_path: Path) -> None:
    sandbox = "import sys, time; time.sleep(0.5); print('sandbox: bwrap not found'); sys.exit(2)"
    graph = JobGraph(tmp_path)
    graph.add(
        Job(
            "evaluate",
            (_py(sandbox, "sandbox"), _py("import time; time.sleep(120)", "main")),
        )
    )
    handle = SlurmBackend(CLUSTER).submit(graph)
    states = handle.wait(90)
    assert states == {"evaluate": JobState.FAILED}
    job_log = handle.log_path("evaluate").read_text()
    assert "job 'evaluate' FAILED: component 'sandbox' ended before the main one, exit code 2" in job_log
    assert "sandbox: bwrap not found" in job_log
    assert str(tmp_path / "logs" / "evaluate" / "sandbox.log") in job_log


@pytest.mark.timeout(180)
def test_the_backend_submits_exactly_the_graph_it_is_given(tmp_path: Path) -> None:
    # The graph builder leaves out complete steps (nemo_pipeline.layout); a rerun's graph holds only what is left.
    metrics_ok = "import json; json.dump({'acc': 1}, open('m.json','w'))"

    def build(with_generate: bool, metrics: str) -> JobGraph:
        graph = JobGraph(tmp_path)
        if with_generate:
            graph.add(Job("generate", (_py(_stamp("generate")),)))
        after = ("generate",) if with_generate else ()
        graph.add(Job("metrics", (_py(_stamp("metrics") + "\n" + metrics),), after_ok=after))
        return graph

    first = SlurmBackend(CLUSTER).submit(build(True, "import sys; sys.exit(1)"))
    assert first.wait(90) == {"generate": JobState.COMPLETED, "metrics": JobState.FAILED}
    second = SlurmBackend(CLUSTER).submit(build(False, metrics_ok))
    assert list(second.job_ids) == ["metrics"]
    assert second.wait(90) == {"metrics": JobState.COMPLETED}
    assert json.loads((tmp_path / "m.json").read_text()) == {"acc": 1}
    names = [line.split()[0] for line in (tmp_path / "stamps.txt").read_text().splitlines()]
    assert names == ["generate", "metrics", "metrics"]


@pytest.mark.timeout(60)
def test_dry_run_writes_scripts_and_submits_nothing(tmp_path: Path) -> None:
    graph = JobGraph(tmp_path)
    graph.add(Job("a", (_py("raise SystemExit(1)"),)))
    graph.add(Job("b", (_py("pass"),), after_ok=("a",)))
    handle = SlurmBackend(CLUSTER, dry_run=True).submit(graph)
    assert handle.job_ids == {} and handle.plan.order == ["a", "b"]
    assert handle.plan.commands[1][:3] == [
        "sbatch",
        "--parsable",
        "--dependency=afterok:{a}",
    ]
    assert (tmp_path / "jobs" / "a.sbatch").is_file() and (tmp_path / "jobs" / "b.sbatch").is_file()
    assert not any((tmp_path / "logs" / "a").iterdir())
    assert os.access(tmp_path / "jobs" / "a.sbatch", os.X_OK)


@pytest.mark.timeout(90)
def test_cancel_stops_running_and_pending_jobs(tmp_path: Path) -> None:
    graph = JobGraph(tmp_path)
    graph.add(Job("long", (_py("import time; time.sleep(300)"),)))
    graph.add(Job("after", (_py("pass"),), after_ok=("long",)))
    handle = SlurmBackend(CLUSTER).submit(graph)
    handle.cancel()
    assert handle.wait(60) == {"long": JobState.CANCELLED, "after": JobState.CANCELLED}
