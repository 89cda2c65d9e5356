"""Where a model comes from, and the one owner of the model cache.

A model is a path or served name, or a source URI: `hf://ORG/NAME` (a Hugging Face repo, snapshot-downloaded) or
`hf://ORG/NAME/FILE` (one file of it, e.g. a GGUF), `s3://BUCKET/KEY` or `gs://BUCKET/KEY` (one object, or every
object under a prefix ending in `/`). A URI is fetched by the `fetch_model` job into
`<cache>/<scheme>/<...>` before the server job starts, once: a marker beside the copy records the source, and a
later run (or another model of a campaign) finds it complete and fetches nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nemo_pipeline.errors import ConfigError, DataError, MissingExtraError
from nemo_pipeline.layout import is_complete
from nemo_pipeline.records import write_marker

__all__ = [
    "DEFAULT_LOCAL_CACHE",
    "SCHEMES",
    "ModelSource",
    "fetch",
    "fetched_marker",
    "is_source_uri",
    "parse_model_source",
]

DEFAULT_LOCAL_CACHE = "~/.cache/nemo_pipeline/models"  # the local backend's cache (clusters name theirs)
_HF = re.compile(r"^hf://([\w.\-]+)/([\w.\-]+)(?:/(.+))?$")
_BUCKET = re.compile(r"^(s3|gs)://([a-z0-9][a-z0-9.\-_]{1,221}[a-z0-9])(?:/(.*))?$")
_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
SCHEMES = {"hf": ("huggingface_hub", "hf"), "s3": ("boto3", "s3"), "gs": ("google.cloud.storage", "gcs")}


def is_source_uri(model: str) -> bool:
    """True for `scheme://...`: a model to fetch (or a bad URI), not a path or served name."""
    return _URI.match(model) is not None


@dataclass(frozen=True)
class ModelSource:
    """A parsed source URI: its scheme, where it lives, and the path of its copy under a cache folder."""

    uri: str
    scheme: str  # hf, s3, gs
    location: str  # hf: ORG/NAME; s3/gs: BUCKET
    path: str  # hf: a file of the repo ("" the whole repo); s3/gs: the key or prefix ("" or ending in "/": prefix)

    @property
    def is_folder(self) -> bool:
        return self.path == "" or self.path.endswith("/")

    def cache_path(self, cache: str) -> str:
        """Where the copy lives under `cache` (a path as the jobs see it): `<cache>/hf/ORG/NAME[/FILE]`, ..."""
        parts = [self.scheme, *self.location.split("/"), *(p for p in self.path.split("/") if p)]
        return str(PurePosixPath(cache, *parts))

    def check_installed(self) -> None:
        """MissingExtraError naming the extra whose library fetches this scheme."""
        import importlib.util

        module, extra = SCHEMES[self.scheme]
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # a dotted name whose parent package is missing
            found = False
        if not found:
            raise MissingExtraError(f"fetching {self.uri}", module.split(".")[0], extra)


def parse_model_source(model: str, where: str) -> ModelSource:
    """Parse a source URI; a one-line ConfigError naming `where` (the key or entry) for a bad one."""
    hf = _HF.match(model)
    if hf:
        if hf.group(3) is not None and (".." in hf.group(3).split("/") or hf.group(3).endswith("/")):
            raise ConfigError(
                f"{where}: {model!r}: the file part must be a path inside the repo, e.g. hf://ORG/NAME/model.gguf"
            )
        return ModelSource(model, "hf", f"{hf.group(1)}/{hf.group(2)}", hf.group(3) or "")
    bucket = _BUCKET.match(model)
    if bucket:
        key = bucket.group(3) or ""
        if ".." in key.split("/"):
            raise ConfigError(f"{where}: {model!r}: '..' is not allowed in an object key")
        return ModelSource(model, bucket.group(1), bucket.group(2), key)
    scheme = _URI.match(model)
    if scheme and scheme.group(1) in SCHEMES:
        forms = {"hf": "hf://ORG/NAME or hf://ORG/NAME/FILE", "s3": "s3://BUCKET/KEY", "gs": "gs://BUCKET/KEY"}
        raise ConfigError(f"{where}: {model!r} is not a valid {scheme.group(1)} source; write {forms[scheme.group(1)]}")
    raise ConfigError(
        f"{where}: {model!r} has an unknown scheme; a model is a path, a served name, or one of "
        "hf://ORG/NAME[/FILE], s3://BUCKET/KEY, gs://BUCKET/KEY"
    )


def fetched_marker(dest: Path) -> Path:
    """Written beside a complete copy, recording its source."""
    return dest.with_name(dest.name + ".fetched")


@contextmanager
def _locked(dest: Path) -> Iterator[None]:
    """One fetch of a destination at a time (two jobs of a campaign may start together)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    lock = dest.with_name(dest.name + ".lock")
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def fetch(source: ModelSource, dest: Path) -> bool:
    """Copy `source` to `dest` unless a complete copy is there; True when it fetched. Raises DataError on failure."""
    stamp = {"source": source.uri}
    if is_complete(fetched_marker(dest), stamp):
        return False
    source.check_installed()
    with _locked(dest):
        if is_complete(fetched_marker(dest), stamp):
            return False
        partial = dest.with_name(f".{dest.name}.partial-{hashlib.sha256(source.uri.encode()).hexdigest()[:8]}")
        _remove(partial)
        try:
            _FETCHERS[source.scheme](source, partial)
        except DataError:
            _remove(partial)
            raise
        except Exception as exc:  # the library's own errors (HTTP, credentials, missing objects): one line
            _remove(partial)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(f"cannot fetch {source.uri}: {type(exc).__name__}: {first}") from exc
        _remove(dest)
        os.replace(partial, dest)
        write_marker(fetched_marker(dest), stamp)
    return True


def _fetch_hf(source: ModelSource, dest: Path) -> None:
    """A repo snapshot or one file, from HF_ENDPOINT (default the Hub), with HF_TOKEN when it is set."""
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import huggingface_hub

    token = os.environ.get("HF_TOKEN") or None
    if source.is_folder:
        huggingface_hub.snapshot_download(source.location, local_dir=str(dest), token=token)
        shutil.rmtree(dest / ".cache", ignore_errors=True)  # the download's own bookkeeping
        return
    folder = dest.with_name(dest.name + ".d")
    got = huggingface_hub.hf_hub_download(source.location, source.path, local_dir=str(folder), token=token)
    os.replace(got, dest)
    shutil.rmtree(folder, ignore_errors=True)


def _fetch_s3(source: ModelSource, dest: Path) -> None:
    """One object, or every object under a prefix; boto3 reads AWS_ENDPOINT_URL (an S3-compatible store),
    the credentials and the region as it always does."""
    import boto3

    client = boto3.client("s3")
    if not source.is_folder:
        dest.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(source.location, source.path, str(dest))
        return
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=source.location, Prefix=source.path)
    keys = [obj["Key"] for page in pages for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]
    if not keys:
        raise DataError(f"cannot fetch {source.uri}: no object under it")
    for key in keys:
        target = dest / key[len(source.path) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(source.location, key, str(target))


def _fetch_gs(source: ModelSource, dest: Path) -> None:
    """The same with google-cloud-storage (application default credentials; STORAGE_EMULATOR_HOST for an emulator)."""
    from google.cloud import storage  # type: ignore[import-not-found,unused-ignore]

    bucket = storage.Client().bucket(source.location)
    blobs = [bucket.blob(source.path)] if not source.is_folder else list(bucket.list_blobs(prefix=source.path))
    blobs = [blob for blob in blobs if not blob.name.endswith("/")]
    if not blobs:
        raise DataError(f"cannot fetch {source.uri}: no object under it")
    for blob in blobs:
        target = dest if not source.is_folder else dest / blob.name[len(source.path) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(target))


_FETCHERS = {"hf": _fetch_hf, "s3": _fetch_s3, "gs": _fetch_gs}
