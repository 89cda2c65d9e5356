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
