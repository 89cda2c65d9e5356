"""A remote cluster for real: an sshd of our own on 127.0.0.1 (its own port, host key and authorized key) in front
of the single-node Slurm. eval.py rsyncs the code and the run directory to `remote_dir`, runs sbatch over ssh,
and the jobs use only the remote paths; --wait copies the results back."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from nemo_pipeline.jsonl import read_jsonl
from nemo_pipeline.process import free_port
from tests.conftest import require_program
from tests.fakes.openai_server import Script, ScriptedServer


def _need(program: str, hint: str) -> str:
    return require_program(program, hint)


@pytest.fixture
def local_sshd(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """(port, private key) of an sshd that accepts only that key, for the current user, on 127.0.0.1."""
    sshd = _need("sshd", "bash scripts/install.sh --dev installs openssh-server")
    _need("rsync", "bash scripts/install.sh --dev installs rsync")
    keys = tmp_path / "ssh"
    keys.mkdir()
    for name in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True, timeout=30)
    shutil.copyfile(keys / "user_key.pub", keys / "authorized_keys")
    port = free_port()
    config = keys / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {keys / 'host_key'}",
                f"AuthorizedKeysFile {keys / 'authorized_keys'}",
                f"PidFile {keys / 'sshd.pid'}",
                "StrictModes no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "PermitRootLogin prohibit-password",
            ]
        )
        + "\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    log = (keys / "sshd.log").open("w")
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, (keys / "sshd.log").read_text()
            assert time.monotonic() < deadline, "sshd did not listen within 20 s: " + (keys / "sshd.log").read_text()
            time.sleep(0.1)
        yield port, keys / "user_key"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.mark.timeout(600)
def test_eval_on_a_remote_cluster_over_ssh(slurm, local_sshd, tmp_path, repo, env_with_repo):
    port, key = local_sshd
    remote_dir = tmp_path / "cluster-side"
    ssh_args = ["-p", str(port), "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]  # fmt: skip
    cluster = yaml.safe_load((repo / "conf" / "cluster" / "slurm-local.yaml").read_text())
    user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    cluster.update(ssh_host=f"{user}@127.0.0.1", remote_dir=str(remote_dir), ssh_args=ssh_args, python=sys.executable)
    cluster_file = tmp_path / "remote.yaml"
    cluster_file.write_text(yaml.safe_dump(cluster))
    out = tmp_path / "run-remote"
    items = 3
    with ScriptedServer(Script(default="The answer is 7.")) as server:
        argv = [
            sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", str(cluster_file), "--benchmarks",
            "gsm8k:0", "--server_type", "openai", "--server_address", server.url, "--output_dir", str(out),
            f"++max_samples={items}", "--wait",
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=540, env=env_with_repo, cwd=repo)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert len(server.script.requests) == items
    remote_run = remote_dir / out.name
    # The code went over rsync, and the jobs ran it and the data from the cluster's side only.
    assert (remote_dir / "code" / "pipeline" / "generate.py").exists()
    script = (remote_run / "jobs" / "generate-gsm8k.sbatch").read_text()
    assert str(remote_run / "data" / "gsm8k.jsonl") in script
    assert str(remote_run / "eval-results" / "gsm8k" / "output.jsonl") in script
    assert str(out) + "/" not in script and str(repo / "pipeline") not in script
    assert len(read_jsonl(remote_run / "eval-results" / "gsm8k" / "output.jsonl")) == items
    # --wait brought the results back.
    records = read_jsonl(out / "eval-results" / "gsm8k" / "output.jsonl")
    assert len(records) == items and all(isinstance(r["is_correct"], bool) for r in records)
    metrics = json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]
    assert metrics["num_entries"] == items
    assert (out / "summary.json").exists() and (out / "report.html").exists()
    # status.py asks the cluster over ssh, and brings the run directory back once every job ended.
    (out / "summary.json").unlink()
    status = subprocess.run(
        [sys.executable, str(repo / "pipeline" / "status.py"), str(out)],
        capture_output=True, text=True, timeout=120, env=env_with_repo, cwd=repo, check=False,
    )  # fmt: skip
    assert status.returncode == 0, status.stdout + status.stderr
    assert "COMPLETED" in status.stdout and (out / "summary.json").exists()
