"""Small helpers shared by benchmark loaders: reading official files and shaping multiple-choice items."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from nemo_pipeline.errors import DataError
from nemo_pipeline.jsonl import read_jsonl

__all__ = [
    "LETTERS",
    "mcq_options",
    "options_text",
    "read_records",
    "require_fields",
    "slug",
]

LETTERS = "ABCDEFGHIJKLMNOP"


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records of a .jsonl, .json (a list of objects) or .parquet file (parquet needs pyarrow)."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return read_jsonl(path)
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise DataError(f"{path}: expected a JSON list of objects")
        return data
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq  # optional: only for parquet files
        except ImportError:
            raise DataError(
                f"{path}: reading parquet needs pyarrow (pip install pyarrow), "
                "or convert the file to JSON Lines with the same name and a .jsonl suffix"
            ) from None
        return [_plain(row) for row in pq.read_table(path).to_pylist()]
    raise DataError(f"{path}: unsupported file type {suffix!r}; expected .jsonl, .json or .parquet")


def _plain(value: Any) -> Any:
    """Turn array-likes from parquet into lists so records serialize as JSON."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def require_fields(path: Path, index: int, row: dict[str, Any], fields: tuple[str, ...]) -> None:
    """Raise DataError naming the file, the record and the missing fields of an official-format record."""
    missing = [field for field in fields if field not in row]
    if missing:
        raise DataError(
            f"{path}: record {index + 1} lacks {', '.join(missing)}; expected the official format with "
            f"fields {', '.join(fields)}"
        )


def mcq_options(choices: list[str]) -> dict[str, str]:
    """{"A": first choice, "B": second, ...}."""
    if len(choices) > len(LETTERS):
        raise DataError(f"{len(choices)} choices is more than the {len(LETTERS)} letters supported")
    return {LETTERS[index]: str(choice) for index, choice in enumerate(choices)}


def options_text(options: dict[str, str]) -> str:
    """One line per option, "A) text", as the multiple-choice prompts show them."""
    return "\n".join(f"{letter}) {text}" for letter, text in options.items())


def slug(text: str) -> str:
    """Lower-case words joined by underscores: "High School Biology" -> "high_school_biology"."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
