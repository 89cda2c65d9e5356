"""Server types: importing this package registers every module in it (one server type each)."""

from nemo_pipeline.inference.servers import llamacpp, openai
from nemo_pipeline.inference.servers._base import (
    SERVER_TYPES,
    ServerLaunch,
    ServerSpec,
    ServerType,
    register_server_type,
)
from nemo_pipeline.registry import import_modules

import_modules(__name__, __path__)

__all__ = ["SERVER_TYPES", "ServerLaunch", "ServerSpec", "ServerType", "llamacpp", "openai", "register_server_type"]
