"""A server that dies at start names its cause: the first error lines of its log (often far above the end), the log
path and the last lines, through the real start path (`serving`), a real llama-server, a job's failure report, and
`explain_log` itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.config import ServerConfig
from nemo_pipeline.errors import ServerStartError
from nemo_pipeline.inference._server_context import serving
from nemo_pipeline.inference.servers import SERVER_TYPES, ServerLaunch, ServerSpec, ServerType, register_server_type
from nemo_pipeline.jobs._status import JobState, JobStatus
from nemo_pipeline.process import explain_log

ROOT_CAUSE = (
    "ValueError: To serve at least one request with the models's max seq len (32768), (3.00 GiB KV cache is "
    "needed, which is larger than the available KV cache memory (0.50 GiB). Try increasing `gpu_memory_utilization`"
)

# What vLLM 0.3x prints when its engine core cannot get its KV cache: the cause, then tracebacks and a long tail
# of shutdown noise ending in "See root cause above".
VLLM_LIKE = r"""
import sys

prefix = "(EngineCore_DP0 pid=4242) "
for i in range(30):
    print(f"INFO 03-01 10:00:{i:02d} [model_runner.py:{i}] loading weights, step {i}")
print(prefix + "ERROR 03-01 10:00:31 [core.py:708] EngineCore failed to start.")
print(prefix + "ERROR 03-01 10:00:31 [core.py:708] Traceback (most recent call last):")
for i in range(6):
    print(prefix + f'ERROR 03-01 10:00:31 [core.py:708]   File "/venv/vllm/v1/engine/core.py", line {100 + i}, in f{i}')
    print(prefix + "ERROR 03-01 10:00:31 [core.py:708]     raise_it()")
print(prefix + "ERROR 03-01 10:00:31 [core.py:708] " + sys.argv[1])
print("Process EngineCore_DP0:")
print("Traceback (most recent call last):")
for i in range(20):
    print(f'  File "/usr/lib/python3.11/multiprocessing/process.py", line {300 + i}, in _bootstrap')
    print("    self.run()")
print(sys.argv[1])
for i in range(60):
    print(f"(APIServer pid=4200) DEBUG 03-01 10:00:32 [utils.py:{i}] shutting down worker {i}")
print("Traceback (most recent call last):")
print('  File "/venv/bin/vllm", line 8, in <module>')
print("    sys.exit(main())")
print("RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}")
sys.exit(1)
"""


def _dies_at_start(spec: ServerSpec) -> ServerLaunch:
    script = Path(spec.model)
    base = f"http://127.0.0.1:{spec.port}"
    return ServerLaunch((sys.executable, str(script), ROOT_CAUSE), f"{base}/v1", f"{base}/health")


if "test-dies-at-start" not in SERVER_TYPES.names():
    register_server_type(ServerType("test-dies-at-start", _dies_at_start, description="tests: a vLLM-like death"))


def _vllm_like_script(tmp_path: Path) -> Path:
    script = tmp_path / "vllm_like.py"
    script.write_text(VLLM_LIKE, encoding="utf-8")
    return script


def test_a_server_that_dies_at_start_names_its_root_cause(tmp_path):
    cfg = ServerConfig(server_type="test-dies-at-start", model=str(_vllm_like_script(tmp_path)), start_timeout_s=60)
    with pytest.raises(ServerStartError) as caught, serving(cfg, tmp_path / "logs"):
        pass
    message = str(caught.value)
    (log,) = (tmp_path / "logs").glob("server-test-dies-at-start-*.log")
    assert f"log: {log}" in message
    assert "exited with code 1" in message
    cause = message.split("--- first error lines", 1)[1].split("--- last", 1)[0]
    assert ROOT_CAUSE in cause  # the ValueError is ~100 lines above the end
    assert "EngineCore failed to start." in cause
    assert "RuntimeError: Engine core initialization failed" in message.split("--- last", 1)[1]  # and the tail
    assert len(ROOT_CAUSE) < 400 and message.count(ROOT_CAUSE) == 1  # shown once, not once per copy in the log
    assert len(message) < 40 * 400 + 12 * 420  # bounded


def test_explain_log_keeps_the_cause_of_a_long_log_and_is_bounded(tmp_path):
    log = tmp_path / "big.log"
    with log.open("w", encoding="utf-8") as handle:
        handle.write("starting\nOSError: [Errno 98] Address already in use\n")
        for i in range(200_000):
            handle.write(f"INFO line {i} " + "x" * 80 + "\n")
        handle.write("last line\n")
    text = explain_log(log, tail_lines=5)
    assert "     2: OSError: [Errno 98] Address already in use" in text
    assert text.splitlines()[-1] == "last line" and "--- last 5 lines of the log ---" in text
    assert len(text) < 2000
    short = explain_log(log, tail_lines=3, scan_bytes=1024)  # past scan_bytes: the head is still searched
    assert "OSError: [Errno 98]" in short and short.endswith("last line")
    assert "cannot be read" in explain_log(tmp_path / "missing.log")


def test_explain_log_shows_a_multi_line_message_and_skips_traceback_source(tmp_path):
    log = tmp_path / "server.log"
    lines = [
        "Traceback (most recent call last):",
        '  File "/x/config.py", line 10, in check',
        "    raise error_for(model)  # an error in source code is not the cause",
        "pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig",
        "  Value error, Invalid repository ID or local directory specified: '/models/missing'",
        "",
        *[f"INFO shutting down {i}" for i in range(50)],
    ]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cause = explain_log(log, tail_lines=10).split("--- last", 1)[0]
    assert "ValidationError: 1 validation error for ModelConfig" in cause
    assert "Value error, Invalid repository ID" in cause
    assert "Traceback (most recent call last):" in cause
    assert "raise error_for" not in cause


def test_a_failed_job_is_described_with_its_cause(tmp_path):
    log = tmp_path / "main.log"
    done = subprocess.run(
        [sys.executable, str(_vllm_like_script(tmp_path)), ROOT_CAUSE], stdout=log.open("w"), check=False
    )
    assert done.returncode == 1
    status = JobStatus("generate-gsm8k", "17", JobState.FAILED, "exit code 1", log, log_tail="tail of 40 lines")
    text = status.describe()
    assert text.startswith("generate-gsm8k (job 17): FAILED [exit code 1]")
    assert f"log: {log}" in text and ROOT_CAUSE in text
    assert "See root cause above" in text


@pytest.fixture
def llama_server(embedded_model):
    return embedded_model[0]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("settings", "cause"),
    [
        ({"model": "/nonexistent/model.gguf"}, "/nonexistent/model.gguf"),
        ({"extra_args": ["--no-such-option"]}, "--no-such-option"),
    ],
    ids=["missing-model-file", "bad-argument"],
)
def test_a_real_llama_server_that_dies_at_start_names_its_cause(tmp_path, llama_server, settings, cause):
    cfg = ServerConfig(server_type="llamacpp", start_timeout_s=60, context_length=256, **settings)
    with pytest.raises(ServerStartError) as caught, serving(cfg, tmp_path / "logs"):
        pass
    message = str(caught.value)
    (log,) = (tmp_path / "logs").glob("server-llamacpp-*.log")
    assert f"log: {log}" in message and "exited with code" in message
    # The log's own line that names the cause is in the error.
    cause_lines = [line for line in log.read_text(errors="replace").splitlines() if cause in line and "error" in line]
    assert cause_lines, log.read_text(errors="replace")
    assert any(line in message for line in cause_lines), message


@pytest.mark.timeout(300)
def test_eval_names_the_cause_when_its_server_dies_at_start(tmp_path, llama_server, repo, env_with_repo):
    missing = tmp_path / "missing-model.gguf"
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", "local", "--benchmarks", "gsm8k:0",
         "--model", str(missing), "--output_dir", str(out), "++max_samples=1"],
        capture_output=True, text=True, timeout=240, env=env_with_repo, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    report = done.stderr.split("did not complete", 1)[1]  # the failure report at the end, not the streamed log
    assert f"log: {out / 'logs' / 'generate-gsm8k' / 'main.log'}" in report
    assert "llamacpp server: exited with code" in report
    assert f"failed to open GGUF file '{missing}'" in report  # llama-server's own line naming the cause
