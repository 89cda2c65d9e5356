"""Write the summary files of a run: summary.json, summary.md, summary.csv and report.html."""

from __future__ import annotations

from pathlib import Path

from nemo_pipeline.errors import DataError
from nemo_pipeline.jsonl import write_text_atomic
from nemo_pipeline.layout import SummaryFiles
from nemo_pipeline.report._export import to_csv, to_json
from nemo_pipeline.report._html import to_html
from nemo_pipeline.report._summary import Summary
from nemo_pipeline.report._tables import to_markdown

__all__ = ["WrittenReport", "write_reports"]


WrittenReport = SummaryFiles  # the paths `write_reports` wrote


def _write_atomic(path: Path, text: str) -> None:
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise DataError(f"cannot write {path}: {exc.strerror or exc}; pass a writable --output folder") from None


def write_reports(summary: Summary, output_dir: str | Path, html_path: str | Path | None = None) -> WrittenReport:
    """Write the four files into `output_dir` (the HTML to `html_path` when given); return their paths."""
    written = SummaryFiles.of(Path(output_dir), None if html_path is None else Path(html_path))
    _write_atomic(written.json, to_json(summary))
    _write_atomic(written.markdown, to_markdown(summary))
    _write_atomic(written.csv, to_csv(summary))
    _write_atomic(written.html, to_html(summary))
    return written
