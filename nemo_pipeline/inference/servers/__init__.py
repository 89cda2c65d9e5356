"""Server types: importing this package registers the built-in ones."""

import importlib
import importlib.util

from nemo_pipeline.inference.servers import llamacpp, openai
from nemo_pipeline.inference.servers._base import (
    SERVER_TYPES,
    ServerLaunch,
    ServerSpec,
    ServerType,
    register_server_type,
)

for _name in ("vllm", "trtllm", "nemo", "sglang"):
    if importlib.util.find_spec(f"{__name__}.{_name}") is not None:
        importlib.import_module(f"{__name__}.{_name}")

__all__ = ["SERVER_TYPES", "ServerLaunch", "ServerSpec", "ServerType", "llamacpp", "openai", "register_server_type"]
