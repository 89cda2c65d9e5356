"""The job supervisor with real processes: logs per component, stop on main exit, fail fast with a log tail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nemo_pipeline.jobs.supervise import (
    ComponentSpec,
    SupervisorSpec,
    parse_args,
    render_argv,
    supervise,
)

PY = sys.executable
REPO = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def _run(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [PY, "-m", "nemo_pipeline.jobs.supervise", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)


@pytest.mark.timeout(10)
def test_parse_args_round_trips_render_argv() -> None:
    spec = SupervisorSpec(
        job="gen",
        log_dir=Path("/out/logs/gen"),
        components=(
            ComponentSpec("server", ("srun", "--overlap", "serve", "--component", "x"), {"A": "1", "B": "x=y z"}),
            ComponentSpec("main", (PY, "-c", "print('--component main --')")),
        ),
        grace_s=2.5,
    )
    argv = render_argv(spec, python=PY)
    assert argv[:3] == [PY, "-m", "nemo_pipeline.jobs.supervise"]
    assert parse_args(argv[3:]) == spec


@pytest.mark.timeout(10)
def test_parse_args_reads_a_spec_file(tmp_path: Path) -> None:
    spec_file = tmp_path / "job.json"
    spec_file.write_text(
        json.dumps(
            {
                "job": "j",
                "log_dir": str(tmp_path),
                "components": [{"name": "main", "argv": ["true"]}],
            }
        )
    )
    assert parse_args(["--spec", str(spec_file)]) == SupervisorSpec("j", tmp_path, (ComponentSpec("main", ("true",)),))


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "argv, message",
    [
        (["--job", "j", "--log-dir", "/tmp"], "no component"),
        (["--job", "j", "--log-dir", "/tmp", "--component", "a", "--"], "empty argv"),
        (
            [
                "--job",
                "j",
                "--log-dir",
                "/tmp",
                "--component",
                "a",
                "--",
                "x",
                "--component",
                "a",
                "--",
                "y",
            ],
            "unique",
        ),
        (["--component", "a", "--", "x"], "--job and --log-dir"),
        (["--job", "j", "--log-dir", "/tmp", "--env", "a", "NOEQUALS", "--component", "a", "--", "x"], "KEY=VALUE"),
        (["--job", "j", "--log-dir", "/tmp", "--env", "b", "K=V", "--component", "a", "--", "x"], "['b']"),
    ],
)
def test_parse_args_rejects_bad_command_lines(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert message in capsys.readouterr().err


@pytest.mark.timeout(30)
def test_main_success_stops_background_component(tmp_path: Path) -> None:
    pid_file = tmp_path / "server.pid"
    server = (
        f"import os,time; open({str(pid_file)!r},'w').write(str(os.getpid())); "
        "print('serving', flush=True); time.sleep(300)"
    )
    client = f"import os,time\nwhile not os.path.exists({str(pid_file)!r}): time.sleep(0.05)\nprint('client done')"
    start = time.monotonic()
    proc = _run(
        [
            "--job",
            "j",
            "--log-dir",
            str(tmp_path / "logs"),
            "--grace-s",
            "5",
            "--component",
            "server",
            "--",
            PY,
            "-c",
            server,
            "--component",
            "main",
            "--",
            PY,
            "-c",
            client,
        ]
    )
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start < 20
    assert not _alive(int(pid_file.read_text()))
    assert "serving" in (tmp_path / "logs" / "server.log").read_text()
    assert "client done" in (tmp_path / "logs" / "main.log").read_text()
    assert "main component 'main' succeeded; stopped ['server']" in proc.stderr


@pytest.mark.timeout(30)
def test_background_death_fails_job_with_log_tail(tmp_path: Path) -> None:
    pid_file = tmp_path / "main.pid"
    # The server dies once the main component is running (it waits, bounded, for main's pid file): on a loaded
    # machine main could otherwise be stopped before it wrote the file the test reads.
    bad = (
        f"import os, sys, time\ndeadline = time.monotonic() + 20\n"
        f"while not os.path.exists({str(pid_file)!r}) and time.monotonic() < deadline: time.sleep(0.01)\n"
        "for i in range(100): print('line', i)\nprint('server crashed: CUDA OOM'); sys.exit(3)"
    )
    main = f"import os,time; open({str(pid_file)!r},'w').write(str(os.getpid())); time.sleep(300)"
    proc = _run(
        [
            "--job",
            "gen",
            "--log-dir",
            str(tmp_path),
            "--grace-s",
            "5",
            "--component",
            "server",
            "--",
            PY,
            "-c",
            bad,
            "--component",
            "main",
            "--",
            PY,
            "-c",
            main,
        ]
    )
    assert proc.returncode == 3
    assert "job 'gen' FAILED: component 'server' ended before the main one, exit code 3" in proc.stderr
    assert f"log: {tmp_path / 'server.log'}" in proc.stderr
    assert "server crashed: CUDA OOM" in proc.stderr
    assert "line 61\n" in proc.stderr and "line 60\n" not in proc.stderr  # exactly the last 40 lines
    assert not _alive(int(pid_file.read_text()))


@pytest.mark.timeout(30)
def test_main_failure_returns_its_exit_code(tmp_path: Path) -> None:
    proc = _run(
        [
            "--job",
            "j",
            "--log-dir",
            str(tmp_path),
            "--component",
            "main",
            "--",
            PY,
            "-c",
            "import sys; print('bad answer'); sys.exit(7)",
        ]
    )
    assert proc.returncode == 7
    assert "component 'main' exit code 7" in proc.stderr and "bad answer" in proc.stderr


@pytest.mark.timeout(30)
def test_background_ignoring_sigterm_is_killed_after_grace(tmp_path: Path) -> None:
    pid_file = tmp_path / "stubborn.pid"
    stubborn = (
        "import os,signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"open({str(pid_file)!r},'w').write(str(os.getpid())); time.sleep(300)"
    )
    main = f"import os,time\nwhile not os.path.exists({str(pid_file)!r}): time.sleep(0.05)"
    start = time.monotonic()
    proc = _run(
        [
            "--job",
            "j",
            "--log-dir",
            str(tmp_path),
            "--grace-s",
            "1",
            "--component",
            "stubborn",
            "--",
            PY,
            "-c",
            stubborn,
            "--component",
            "main",
            "--",
            PY,
            "-c",
            main,
        ]
    )
    assert proc.returncode == 0, proc.stderr
    assert "ignored SIGTERM for 1s; sending SIGKILL" in proc.stderr
    assert time.monotonic() - start < 15
    assert not _alive(int(pid_file.read_text()))


@pytest.mark.timeout(30)
def test_missing_executable_fails_with_127(tmp_path: Path) -> None:
    proc = _run(
        [
            "--job",
            "j",
            "--log-dir",
            str(tmp_path),
            "--component",
            "main",
            "--",
            "/nonexistent/binary",
        ]
    )
    assert proc.returncode == 127
    assert "component 'main' could not start" in proc.stderr


@pytest.mark.timeout(30)
def test_sigterm_to_supervisor_stops_components(tmp_path: Path) -> None:
    pid_file = tmp_path / "main.pid"
    main = f"import os,time; open({str(pid_file)!r},'w').write(str(os.getpid())); time.sleep(300)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    sup = subprocess.Popen(
        [
            PY,
            "-m",
            "nemo_pipeline.jobs.supervise",
            "--job",
            "j",
            "--log-dir",
            str(tmp_path),
            "--grace-s",
            "2",
            "--component",
            "main",
            "--",
            PY,
            "-c",
            main,
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    sup.terminate()
    assert sup.wait(timeout=10) == 143
    assert not _alive(int(pid_file.read_text()))


@pytest.mark.timeout(10)
def test_supervise_in_process_runs_single_component(tmp_path: Path) -> None:
    spec = SupervisorSpec(
        "one",
        tmp_path,
        (ComponentSpec("main", (PY, "-c", "print('hello')")),),
        grace_s=1,
    )
    assert supervise(spec) == 0
    assert (tmp_path / "main.log").read_text().strip() == "hello"


@pytest.mark.timeout(30)
def test_a_components_env_reaches_that_process_only(tmp_path: Path) -> None:
    show = (
        "import os; print('SETTING=' + os.environ.get('SETTING', '<unset>'), 'KEEP=' + os.environ['KEEP'], flush=True)"
    )
    server_log = tmp_path / "logs" / "server.log"
    wait = f"import time\nwhile 'KEEP=' not in open({str(server_log)!r}).read(): time.sleep(0.05)"  # the server spoke
    spec = SupervisorSpec(
        job="j",
        log_dir=tmp_path / "logs",
        components=(
            ComponentSpec("server", (PY, "-c", show + "; import time; time.sleep(300)"), {"SETTING": "on"}),
            ComponentSpec("main", (PY, "-c", f"{wait}\n{show}")),
        ),
        grace_s=5,
    )
    proc = subprocess.run(
        render_argv(spec, python=PY),
        capture_output=True,
        text=True,
        timeout=25,
        env={**os.environ, "PYTHONPATH": str(REPO), "KEEP": "kept"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "SETTING=on KEEP=kept" in (tmp_path / "logs" / "server.log").read_text()
    assert "SETTING=<unset> KEEP=kept" in (tmp_path / "logs" / "main.log").read_text()
    assert "SETTING=on " in proc.stderr  # the supervisor's start line shows the setting with the command
