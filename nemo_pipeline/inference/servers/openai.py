"""A remote OpenAI-compatible endpoint: nothing to start; health is a GET of <address>/models."""

from __future__ import annotations

from nemo_pipeline.inference.servers._base import ServerType, register_server_type

OPENAI = register_server_type(
    ServerType(
        name="openai",
        supports_loglikelihood=True,
        launch=None,
        description="any OpenAI-compatible API given by --server_address",
        guess_s_per_item=0.5,
    )
)
