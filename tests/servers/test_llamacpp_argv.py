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
