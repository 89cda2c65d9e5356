"""Model servers, the async OpenAI-compatible client, prompts and the generate stage."""

from nemo_pipeline.inference.client import Completion, OpenAIClient, RequestError, SamplingParams
from nemo_pipeline.inference.generate import GenerateResult, run_generate
from nemo_pipeline.inference.prompts import PromptConfig, load_prompt
from nemo_pipeline.inference.servers import SERVER_TYPES, ServerLaunch, ServerSpec, ServerType

__all__ = [
    "SERVER_TYPES",
    "Completion",
    "GenerateResult",
    "OpenAIClient",
    "PromptConfig",
    "RequestError",
    "SamplingParams",
    "ServerLaunch",
    "ServerSpec",
    "ServerType",
    "load_prompt",
    "run_generate",
]
